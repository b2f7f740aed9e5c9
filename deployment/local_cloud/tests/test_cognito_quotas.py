"""Cognito request-rate quotas of the local cloud (cognito_quotas.py). Each test uses its own Region, so
its token buckets start full and its counts are its own."""

from __future__ import annotations

import json
import os
import time
import unittest
import urllib.request
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get("LOCAL_CLOUD_ENDPOINT", "http://127.0.0.1:4577")


def cognito(region: str):
    return boto3.client(
        "cognito-idp",
        endpoint_url=ENDPOINT,
        region_name=region,
        aws_access_key_id="local-cloud",
        aws_secret_access_key="local-cloud",
        config=Config(retries={"total_max_attempts": 1}),  # the SDK would retry TooManyRequestsException
    )


def local(path: str, body: dict | None = None) -> dict:
    request = urllib.request.Request(
        ENDPOINT + path,
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read())


def stats(region: str, category: str) -> dict:
    rows = local("/_local_cloud/cognito/quota-stats")["categories"]
    return next(
        (r for r in rows if r["region"] == region and r["category"] == category), {"allowed": 0, "throttled": 0}
    )


class QuotaTest(unittest.TestCase):
    REGION = ""

    def setUp(self):
        self.cognito = cognito(self.REGION)
        self.pool_id = self.cognito.create_user_pool(PoolName=f"quota-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
        local("/_local_cloud/config", {"cognito": {"quotas": True}})

    def tearDown(self):
        local("/_local_cloud/config", {"cognito": {"quotas": False, "applicationTrafficShare": 0.0}})
        self.cognito.delete_user_pool(UserPoolId=self.pool_id)

    def burst(self, call, count: int) -> tuple[int, int, float]:
        """Makes `count` calls at once; (allowed, throttled, seconds taken)."""
        allowed = throttled = 0
        began = time.monotonic()
        for _ in range(count):
            try:
                call()
                allowed += 1
            except ClientError as e:
                self.assertEqual(e.response["Error"]["Code"], "TooManyRequestsException")
                self.assertEqual(e.response["Error"]["Message"], "Too many requests")
                self.assertEqual(e.response["ResponseMetadata"]["HTTPStatusCode"], 400)
                throttled += 1
        return allowed, throttled, time.monotonic() - began


class UserListBurstTest(QuotaTest):
    REGION = "eu-central-1"

    def test_a_burst_over_thirty_list_calls_a_second_is_throttled(self):
        before = stats(self.REGION, "UserList")
        allowed, throttled, took = self.burst(lambda: self.cognito.list_users(UserPoolId=self.pool_id), 60)
        # A full bucket holds one second (30 calls), refilled at 30/s while the burst runs.
        self.assertLessEqual(allowed, 30 + 30 * took + 1)
        self.assertGreaterEqual(allowed, 30)
        self.assertGreater(throttled, 0)
        counted = stats(self.REGION, "UserList")
        self.assertEqual(
            (counted["allowed"] - before["allowed"], counted["throttled"] - before["throttled"]), (allowed, throttled)
        )
        self.assertEqual(counted["rate"], 30)


class PerPoolCapTest(QuotaTest):
    REGION = "eu-west-2"

    def test_group_creation_is_capped_at_five_per_second_per_pool(self):
        other = self.cognito.create_user_pool(PoolName=f"quota-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
        try:
            names = iter(range(1000))
            create = lambda pool: self.cognito.create_group(UserPoolId=pool, GroupName=f"g{next(names)}")  # noqa: E731
            allowed, throttled, took = self.burst(lambda: create(self.pool_id), 12)
            self.assertLessEqual(allowed, 5 + 5 * took + 1)
            self.assertGreater(throttled, 0)
            # The category (15/s for the account and Region) still has room: another pool is served.
            create(other)
        finally:
            self.cognito.delete_user_pool(UserPoolId=other)


class ApplicationTrafficTest(QuotaTest):
    REGION = "eu-west-3"

    def test_application_traffic_leaves_a_share_of_the_rate(self):
        local("/_local_cloud/config", {"cognito": {"applicationTrafficShare": 0.5}})
        allowed, throttled, took = self.burst(lambda: self.cognito.list_users(UserPoolId=self.pool_id), 40)
        self.assertLessEqual(allowed, 15 + 15 * took + 1)
        self.assertGreater(throttled, 0)
        self.assertEqual(stats(self.REGION, "UserList")["rate"], 15)


class SeedingTest(QuotaTest):
    REGION = "ap-northeast-1"

    def test_seeding_is_not_an_api_call_and_never_counts(self):
        before = stats(self.REGION, "UserCreation")["allowed"]
        users = [{"key": f"u{i}", "username": f"u{i}", "attributes": {}} for i in range(500)]
        local("/_local_cloud/cognito/seed", {"region": self.REGION, "userPoolId": self.pool_id, "users": users})
        self.assertEqual(stats(self.REGION, "UserCreation")["allowed"], before)
        self.cognito.admin_create_user(UserPoolId=self.pool_id, Username="after", MessageAction="SUPPRESS")
        self.assertEqual(stats(self.REGION, "UserCreation")["allowed"], before + 1)
        self.assertEqual(
            self.cognito.describe_user_pool(UserPoolId=self.pool_id)["UserPool"]["EstimatedNumberOfUsers"], 501
        )


if __name__ == "__main__":
    unittest.main()
