"""Test function: answers {"event": <the event>, "requestId": ...}."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_loop import run  # noqa: E402

run(lambda event, context: {"event": event, "requestId": context["request_id"]})
