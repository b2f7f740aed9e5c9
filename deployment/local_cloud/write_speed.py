"""How fast the local cloud itself answers the export's writes, with no quota, fault or latency on.

A first export writes every item (a user and a membership per user) by conditional PutItem, which
DynamoDB answers by the thousands per second. The local cloud is one Python process: this is its own
ceiling, to compare with the write rate a first export needs (2 items per user at the export's listing
rate: 2 × 60 × 15 calls/s × --quota-scale).

    (cd deployment && ../.local-cloud/venv/bin/python -m local_cloud.write_speed http://127.0.0.1:4577)

Creates a table shaped as the backup table (streams, point-in-time recovery, a replica in us-west-2), then
puts new membership-shaped items with the export's condition from 16 connections side by side for
SECONDS (10 by default). The clients speak raw HTTP, so that they cost the 2-core machine little next to
the server. Prints writes per second.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import sys
import threading
import time
import urllib.parse
import uuid

import boto3

PROCESSES = 2
THREADS_PER_PROCESS = 8
AUTHORIZATION = "AWS4-HMAC-SHA256 Credential=local-cloud/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"


def membership_put(table: str) -> str:
    sub = str(uuid.uuid4())
    return json.dumps({
        "TableName": table,
        "Item": {"pk": {"S": "GROUP#write-speed"}, "sk": {"S": f"MEMBER#{sub}"}, "sub": {"S": sub},
                 "username": {"S": "user-0000001"}, "groupName": {"S": "write-speed"}, "itemType": {"S": "MEMBERSHIP"},
                 "lastConfirmedAt": {"N": "1795841666585"}, "schemaVersion": {"N": "1"}, "federated": {"BOOL": False},
                 "exportRunId": {"S": "arn:aws:states:us-east-1:123456789012:execution:ExportWorkflow:write-speed"}},
        "ConditionExpression": "attribute_not_exists(#pk) OR attribute_not_exists(#confirmed) OR #confirmed <= :observed",
        "ExpressionAttributeNames": {"#pk": "pk", "#confirmed": "lastConfirmedAt"},
        "ExpressionAttributeValues": {":observed": {"N": "1795841666585"}},
        "ReturnConsumedCapacity": "TOTAL",
    })


def writer(endpoint: str, table: str, until: float, counts: list[int]) -> None:
    url = urllib.parse.urlparse(endpoint)
    headers = {"Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810.PutItem",
               "Authorization": AUTHORIZATION}
    n = 0
    while time.monotonic() < until:
        # The local cloud closes each connection after its answer, as its HTTP server does for every client.
        connection = http.client.HTTPConnection(url.hostname, url.port)
        connection.request("POST", "/", membership_put(table), headers)
        response = connection.getresponse()
        response.read()
        connection.close()
        if response.status != 200:
            raise RuntimeError(f"PutItem answered {response.status}")
        n += 1
    counts.append(n)


def process(endpoint: str, table: str, until: float, results) -> None:
    counts: list[int] = []
    threads = [threading.Thread(target=writer, args=(endpoint, table, until, counts)) for _ in range(THREADS_PER_PROCESS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    results.put(sum(counts))


def main() -> None:
    endpoint = sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:4577"
    seconds = float(sys.argv[2]) if len(sys.argv) > 2 else 10.0
    ddb = boto3.client("dynamodb", endpoint_url=endpoint, region_name="us-east-1",
                       aws_access_key_id="local-cloud", aws_secret_access_key="local-cloud")
    table = f"write-speed-{int(time.time())}"
    ddb.create_table(
        TableName=table, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    ddb.update_continuous_backups(TableName=table, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True})
    ddb.update_table(TableName=table, ReplicaUpdates=[{"Create": {"RegionName": "us-west-2"}}])
    try:
        results = multiprocessing.Queue()
        until = time.monotonic() + seconds
        workers = [multiprocessing.Process(target=process, args=(endpoint, table, until, results)) for _ in range(PROCESSES)]
        for w in workers:
            w.start()
        writes = sum(results.get() for _ in workers)
        for w in workers:
            w.join()
        print(f"{writes} conditional PutItems on a replicated table in {seconds:.0f} s: {writes / seconds:.0f} writes/s "
              f"({PROCESSES * THREADS_PER_PROCESS} connections side by side)")
    finally:
        ddb.update_table(TableName=table, ReplicaUpdates=[{"Delete": {"RegionName": "us-west-2"}}])
        ddb.delete_table(TableName=table)


if __name__ == "__main__":
    main()
