"""Test function: answers {"blob": "<event["bytes"] x characters>"}."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_loop import run  # noqa: E402

run(lambda event, context: {"blob": "x" * int(event["bytes"])})
