"""Fault injection rules: every / durationMs (throttling storms), bodyHas, unprocessedShare,
killFunction, and the original count / skip / delay."""

from __future__ import annotations

import json
import time
import unittest

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from .script_functions import ENDPOINT, client, local_cloud, script_function, unique


def dynamodb():
    """A client that does not retry, so every injected error is seen."""
    return boto3.client(
        "dynamodb",
        endpoint_url=ENDPOINT,
        region_name="us-east-1",
        aws_access_key_id="local-cloud",
        aws_secret_access_key="local-cloud",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def make_table() -> str:
    name = unique("b1-faults")
    dynamodb().create_table(
        TableName=name,
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return name


def outcome(call) -> str:
    try:
        call()
        return "ok"
    except ClientError as e:
        return e.response["Error"]["Code"]


class FaultRulesTest(unittest.TestCase):
    def setUp(self):
        self.table = make_table()
        self.rules = []

    def tearDown(self):
        for rule_id in self.rules:
            local_cloud("DELETE", "/_local_cloud/faults", {"id": rule_id})

    def rule(self, **rule) -> dict:
        created = local_cloud("POST", "/_local_cloud/faults", dict(rule, match=self.table))
        self.rules.append(created["id"])
        return created

    def get_item(self):
        return dynamodb().get_item(TableName=self.table, Key={"pk": {"S": "k"}})

    def test_throttling_storm_every_second_call_for_a_while(self):
        self.rule(operation="GetItem", errorCode="ThrottlingException", status=400, every=2, durationMs=1000)
        storm = [outcome(self.get_item) for _ in range(6)]
        self.assertEqual(storm, ["ok", "ThrottlingException"] * 3)
        time.sleep(1.1)
        self.assertEqual([outcome(self.get_item) for _ in range(4)], ["ok"] * 4)

    def test_body_has_selects_follow_up_pages(self):
        self.rule(operation="Scan", bodyHas="ExclusiveStartKey", errorCode="ValidationException", status=400, message="expired")
        ddb = dynamodb()
        self.assertEqual(outcome(lambda: ddb.scan(TableName=self.table, Limit=1)), "ok")
        self.assertEqual(
            outcome(lambda: ddb.scan(TableName=self.table, Limit=1, ExclusiveStartKey={"pk": {"S": "a"}})), "ValidationException"
        )

    def test_count_skip_and_delay_still_work(self):
        self.rule(operation="GetItem", errorCode="InternalServerError", skip=1, count=1)
        self.assertEqual([outcome(self.get_item) for _ in range(3)], ["ok", "InternalServerError", "ok"])
        self.rule(operation="GetItem", delayMs=300)
        started = time.monotonic()
        self.assertEqual(outcome(self.get_item), "ok")
        self.assertGreaterEqual(time.monotonic() - started, 0.3)

    def test_unprocessed_share_of_batch_write_and_get(self):
        self.rule(operation="BatchWriteItem", unprocessedShare=0.5)
        ddb = dynamodb()
        requests = [{"PutRequest": {"Item": {"pk": {"S": f"k{i}"}}}} for i in range(10)]
        answer = ddb.batch_write_item(RequestItems={self.table: requests})
        self.assertEqual(answer["UnprocessedItems"][self.table], requests[5:])
        self.assertEqual(sorted(i["pk"]["S"] for i in ddb.scan(TableName=self.table)["Items"]), [f"k{i}" for i in range(5)])
        # Resubmitting what came back: half of it again, then the last one (one is always processed).
        left = answer["UnprocessedItems"]
        rounds = 1
        while left:
            left = ddb.batch_write_item(RequestItems=left)["UnprocessedItems"]
            rounds += 1
        self.assertEqual(rounds, 4)  # unprocessed: 5 of 10, 2 of 5, 1 of 2, none of 1
        self.assertEqual(ddb.scan(TableName=self.table)["Count"], 10)

        self.rule(operation="BatchGetItem", unprocessedShare=0.4)
        keys = [{"pk": {"S": f"k{i}"}} for i in range(5)]
        got = ddb.batch_get_item(RequestItems={self.table: {"Keys": keys, "ConsistentRead": True}})
        self.assertEqual(len(got["Responses"][self.table]), 3)
        self.assertEqual(got["UnprocessedKeys"][self.table], {"Keys": keys[3:], "ConsistentRead": True})

    def test_kill_function_mid_call(self):
        fn = script_function("dynamodb_get_item.py", Timeout=20)["FunctionName"]
        self.rule(operation="GetItem", killFunction=fn, count=1)
        answer = client("lambda").invoke(FunctionName=fn, Payload=json.dumps({"table": self.table, "key": "k"}).encode())
        payload = json.loads(answer["Payload"].read())
        self.assertEqual(answer.get("FunctionError"), "Unhandled")
        self.assertEqual(payload["errorType"], "Runtime.ExitError")
        # The rule fired once: the next invocation runs normally.
        answer = client("lambda").invoke(FunctionName=fn, Payload=json.dumps({"table": self.table, "key": "k"}).encode())
        self.assertEqual(json.loads(answer["Payload"].read()), {"found": False})


if __name__ == "__main__":
    unittest.main()
