"""Test function: reads event["key"] from the DynamoDB table event["table"] (an AWS call a fault rule
can match), then answers {"found": bool}."""
import os
import sys

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_loop import run  # noqa: E402

dynamodb = boto3.client("dynamodb")


def handler(event, context):
    item = dynamodb.get_item(TableName=event["table"], Key={"pk": {"S": event["key"]}}).get("Item")
    return {"found": item is not None}


run(handler)
