"""Sub formats of the local cloud's user pools (cognito_subs.py, bulk_seed.py): UUIDv7-shaped subs as
new Cognito pools issue them, on every path that creates users, and seeded pools that grew over time."""

from __future__ import annotations

import datetime
import json
import os
import re
import time
import unittest
import urllib.error
import urllib.request
import uuid

import boto3
from botocore.config import Config

ENDPOINT = os.environ.get("LOCAL_CLOUD_ENDPOINT", "http://127.0.0.1:4577")
REGION = "us-east-1"
# 48-bit ms timestamp, version 7, variant nibble c or d (not RFC 9562's 8-b), lower case.
UUIDV7 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[cd][0-9a-f]{3}-[0-9a-f]{12}$")
UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")


def cognito():
    return boto3.client(
        "cognito-idp",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id="local-cloud",
        aws_secret_access_key="local-cloud",
        config=Config(retries={"total_max_attempts": 1}),
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


def sub_ms(sub: str) -> int:
    return int(sub.replace("-", "")[:12], 16)


def attribute(user: dict, name: str, key: str = "Attributes") -> str:
    return next(a["Value"] for a in user[key] if a["Name"] == name)


class SubFormatTest(unittest.TestCase):
    def setUp(self):
        self.cognito = cognito()
        self.pool_id = self.cognito.create_user_pool(
            PoolName=f"subs-{uuid.uuid4().hex[:8]}", Policies={"PasswordPolicy": {"MinimumLength": 6}}
        )["UserPool"]["Id"]

    def tearDown(self):
        self.cognito.delete_user_pool(UserPoolId=self.pool_id)

    def use_uuidv7(self):
        local(
            "/_local_cloud/cognito/pool-settings", {"region": REGION, "userPoolId": self.pool_id, "subFormat": "uuidv7"}
        )

    def test_pools_issue_uuid4_subs_by_default(self):
        user = self.cognito.admin_create_user(UserPoolId=self.pool_id, Username="plain", MessageAction="SUPPRESS")[
            "User"
        ]
        self.assertRegex(attribute(user, "sub"), UUID4)

    def test_uuidv7_pools_give_admin_created_and_signed_up_users_time_ordered_subs(self):
        self.use_uuidv7()
        before = int(time.time() * 1000)
        created = self.cognito.admin_create_user(UserPoolId=self.pool_id, Username="admin", MessageAction="SUPPRESS")[
            "User"
        ]
        client_id = self.cognito.create_user_pool_client(UserPoolId=self.pool_id, ClientName="app")["UserPoolClient"][
            "ClientId"
        ]
        signed_up = self.cognito.sign_up(ClientId=client_id, Username="self", Password="Passw0rd!")["UserSub"]
        after = int(time.time() * 1000)
        for sub in (attribute(created, "sub"), signed_up):
            self.assertRegex(sub, UUIDV7)
            self.assertTrue(before - 5 <= sub_ms(sub) <= after + 5, sub)
        # The sub is also what AdminGetUser and ListUsers report.
        self.assertEqual(
            attribute(self.cognito.admin_get_user(UserPoolId=self.pool_id, Username="self"), "sub", "UserAttributes"),
            signed_up,
        )

    def test_the_config_default_applies_to_pools_without_a_setting(self):
        local("/_local_cloud/config", {"cognito": {"subFormat": "uuidv7"}})
        try:
            user = self.cognito.admin_create_user(UserPoolId=self.pool_id, Username="cfg", MessageAction="SUPPRESS")[
                "User"
            ]
        finally:
            local("/_local_cloud/config", {"cognito": {"subFormat": "uuid4"}})
        self.assertRegex(attribute(user, "sub"), UUIDV7)

    def test_seeded_uuidv7_subs_spread_over_the_pool_history(self):
        users = [{"key": f"u{i}", "username": f"u{i}", "attributes": {}} for i in range(1000)]
        seeded = local(
            "/_local_cloud/cognito/seed",
            {
                "region": REGION,
                "userPoolId": self.pool_id,
                "users": users,
                "subFormat": "uuidv7",
                "createdOverDays": 365,
            },
        )["users"]
        subs = [u["sub"] for u in seeded]
        self.assertTrue(all(UUIDV7.match(s) for s in subs))
        stamps = sorted(sub_ms(s) for s in subs)
        now = time.time() * 1000
        self.assertGreater(stamps[0], now - 366 * 86_400_000)
        self.assertLess(stamps[-1], now + 1000)
        self.assertGreater(stamps[-1] - stamps[0], 360 * 86_400_000)
        # A year of growth: the first 4 hex digits vary, yet the first digit is the same for everyone, so
        # `sub ^= "x"` segments by first digit are as skewed as in a real UUIDv7 pool.
        self.assertGreater(len({s[:5] for s in subs}), 1)
        self.assertEqual(len({s[0] for s in subs}), 1)
        listed = self.cognito.list_users(UserPoolId=self.pool_id, Filter=f'sub = "{subs[0]}"')["Users"][0]
        created = listed["UserCreateDate"].timestamp() * 1000
        self.assertAlmostEqual(created, sub_ms(subs[0]), delta=1000)

    def test_seeding_keeps_explicit_subs_and_refuses_duplicates(self):
        odd = ["UPPER-CASE-SUB", "not hex at all", "ü-unicode"]
        users = [{"key": s, "username": f"x{i}", "attributes": {}, "sub": s} for i, s in enumerate(odd)]
        seeded = local("/_local_cloud/cognito/seed", {"region": REGION, "userPoolId": self.pool_id, "users": users})[
            "users"
        ]
        self.assertEqual([u["sub"] for u in seeded], odd)
        for sub in odd:
            self.assertEqual(len(self.cognito.list_users(UserPoolId=self.pool_id, Filter=f'sub = "{sub}"')["Users"]), 1)
        with self.assertRaises(urllib.error.HTTPError):
            local(
                "/_local_cloud/cognito/seed",
                {
                    "region": REGION,
                    "userPoolId": self.pool_id,
                    "users": [{"username": "dup", "attributes": {}, "sub": odd[0]}],
                },
            )

    def test_seeding_without_a_spread_stamps_users_now(self):
        self.use_uuidv7()
        seeded = local(
            "/_local_cloud/cognito/seed",
            {"region": REGION, "userPoolId": self.pool_id, "users": [{"username": "n", "attributes": {}}]},
        )["users"]
        self.assertRegex(seeded[0]["sub"], UUIDV7)
        moment = datetime.datetime.fromtimestamp(sub_ms(seeded[0]["sub"]) / 1000)
        self.assertLess(abs(time.time() - moment.timestamp()), 5)


if __name__ == "__main__":
    unittest.main()
