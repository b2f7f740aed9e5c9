"""Test function: sends each event it receives, as JSON, to the queue in env FORWARD_QUEUE_URL."""
import json
import os
import sys

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_loop import run  # noqa: E402

sqs = boto3.client("sqs")


def handler(event, context):
    sqs.send_message(QueueUrl=os.environ["FORWARD_QUEUE_URL"], MessageBody=json.dumps(event))
    return {"forwarded": True}


run(handler)
