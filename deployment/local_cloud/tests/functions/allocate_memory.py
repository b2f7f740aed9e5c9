"""Test function: holds event["mb"] MiB of memory (touched, so it is resident) for a moment."""
import os
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_loop import run  # noqa: E402


def handler(event, context):
    block = bytearray(int(event["mb"]) * 1024 * 1024)
    for i in range(0, len(block), 4096):
        block[i] = 1
    time.sleep(float(event.get("holdSeconds", 0.3)))
    return {"allocatedMb": len(block) // (1024 * 1024)}


run(handler)
