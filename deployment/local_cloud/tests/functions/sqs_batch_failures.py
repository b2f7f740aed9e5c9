"""Test function for SQS event source mappings: reports every record whose body contains "fail" as a
batch item failure, and forwards a summary of each batch (message IDs, bodies, receive counts) to the
queue in env FORWARD_QUEUE_URL when it is set."""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_loop import run  # noqa: E402

sqs = None
if os.environ.get("FORWARD_QUEUE_URL"):
    import boto3

    sqs = boto3.client("sqs")


def handler(event, context):
    records = event["Records"]
    if sqs is not None:
        summary = [
            {"messageId": r["messageId"], "body": r["body"], "receiveCount": r["attributes"]["ApproximateReceiveCount"]}
            for r in records
        ]
        sqs.send_message(QueueUrl=os.environ["FORWARD_QUEUE_URL"], MessageBody=json.dumps(summary))
    if any(r["body"] == "crash" for r in records):
        raise RuntimeError("the function failed on the whole batch")
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records if "fail" in r["body"]]}


run(handler)
