"""Test function: a CloudFormation custom resource whose behaviour its properties choose.

- every request is logged (RequestType, properties, old properties, physical ID) to the DynamoDB table
  named by `LogTable`, so a test can see which requests CloudFormation sent;
- `Protected`: like the product's update guard, an Update that changes it is refused, unless the new
  value is the one the resource was created with (that is the rollback of a refused update);
- `RefuseOn`: request types answered FAILED (e.g. ["Update"]); `SilentOn`: request types never answered;
- the PhysicalResourceId is `resource-<Protected>` (or `PhysicalId` when given), Data {"Echo": Value}.
"""
import json
import os
import sys
import time
import urllib.request
import uuid

import boto3

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from runtime_loop import run  # noqa: E402


def log(event):
    table = event["ResourceProperties"].get("LogTable")
    if not table:
        return
    boto3.client("dynamodb").put_item(TableName=table, Item={
        "id": {"S": str(uuid.uuid4())},
        "at": {"N": repr(time.time())},
        "event": {"S": json.dumps({k: event.get(k) for k in (
            "RequestType", "ResourceProperties", "OldResourceProperties", "PhysicalResourceId", "LogicalResourceId")})},
    })


def decide(event):
    props = event["ResourceProperties"]
    kind = event["RequestType"]
    physical = props.get("PhysicalId") or f"resource-{props.get('Protected', 'none')}"
    if kind in props.get("RefuseOn", []):
        return "FAILED", f"{kind} refused by the test resource", event.get("PhysicalResourceId", physical)
    if kind == "Update":
        created_with = event["PhysicalResourceId"].removeprefix("resource-")
        old, new = event["OldResourceProperties"].get("Protected"), props.get("Protected")
        if old != new and new != created_with:
            return "FAILED", f"Protected cannot change from {old} to {new}", event["PhysicalResourceId"]
        if not props.get("PhysicalId"):
            physical = event["PhysicalResourceId"]
    if kind == "Delete":
        physical = event["PhysicalResourceId"]
    return "SUCCESS", "ok", physical


def handle(event, context):
    log(event)
    if event["RequestType"] in event["ResourceProperties"].get("SilentOn", []):
        return {"answered": False}
    status, reason, physical = decide(event)
    answer = {
        "Status": status, "Reason": reason, "PhysicalResourceId": physical, "StackId": event["StackId"],
        "RequestId": event["RequestId"], "LogicalResourceId": event["LogicalResourceId"],
        "Data": {"Echo": event["ResourceProperties"].get("Value", "")},
    }
    request = urllib.request.Request(event["ResponseURL"], data=json.dumps(answer).encode(), method="PUT",
                                     headers={"Content-Type": ""})
    urllib.request.urlopen(request).read()
    return {"answered": status}


run(handle)
