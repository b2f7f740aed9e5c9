"""Test function: answers the log settings Lambda gave it (from the function's LoggingConfig)."""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_loop import run  # noqa: E402

run(lambda event, context: {"format": os.environ.get("AWS_LAMBDA_LOG_FORMAT"), "level": os.environ.get("AWS_LAMBDA_LOG_LEVEL")})
