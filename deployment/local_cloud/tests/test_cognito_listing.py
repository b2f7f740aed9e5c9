"""ListUsers / ListUsersInGroup of the local cloud (cognito_fast.py): indexed filters, stable tokens,
AWS's limits and errors, the pool's user estimate, AdminGetUser by sub."""

from __future__ import annotations

import json
import os
import threading
import time
import unittest
import urllib.request
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get("LOCAL_CLOUD_ENDPOINT", "http://127.0.0.1:4577")
REGION = "us-east-1"


def cognito():
    return boto3.client(
        "cognito-idp",
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id="local-cloud",
        aws_secret_access_key="local-cloud",
        config=Config(retries={"total_max_attempts": 1}, max_pool_connections=16),
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


def seed(pool_id: str, users: list[dict], **extra) -> list[dict]:
    return local("/_local_cloud/cognito/seed", {"region": REGION, "userPoolId": pool_id, "users": users, **extra})[
        "users"
    ]


def user_specs(count: int, prefix: str = "user") -> list[dict]:
    return [
        {"key": f"{prefix}{i}", "username": f"{prefix}{i}", "attributes": {"email": f"{prefix}{i}@example.com"}}
        for i in range(count)
    ]


def sub_of(user: dict) -> str:
    return next(a["Value"] for a in user["Attributes"] if a["Name"] == "sub")


def walk(client, pool_id: str, **kwargs) -> list[dict]:
    users, token = [], None
    while True:
        page = client.list_users(
            UserPoolId=pool_id, Limit=60, **kwargs, **({"PaginationToken": token} if token else {})
        )
        users += page["Users"]
        token = page.get("PaginationToken")
        if not token:
            return users


class ListUsersTest(unittest.TestCase):
    def setUp(self):
        self.cognito = cognito()
        self.pool_id = self.cognito.create_user_pool(PoolName=f"listing-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]

    def tearDown(self):
        self.cognito.delete_user_pool(UserPoolId=self.pool_id)

    def assert_invalid(self, call, message_part: str):
        with self.assertRaises(ClientError) as caught:
            call()
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidParameterException")
        self.assertIn(message_part, caught.exception.response["Error"]["Message"])

    def test_a_walk_during_concurrent_creates_and_deletes_returns_every_stable_user_once(self):
        seeded = seed(self.pool_id, user_specs(1500))
        doomed = seeded[::3]
        stable = {u["sub"] for u in seeded} - {u["sub"] for u in doomed}
        stop, started = threading.Event(), threading.Event()
        deleted: list[str] = []
        created: list[str] = []

        def churn():
            client = cognito()
            for i, user in enumerate(doomed):
                if stop.is_set():
                    break
                client.admin_delete_user(UserPoolId=self.pool_id, Username=user["username"])
                deleted.append(user["sub"])
                new = client.admin_create_user(UserPoolId=self.pool_id, Username=f"new{i}", MessageAction="SUPPRESS")
                created.append(sub_of(new["User"]))
                started.set()

        worker = threading.Thread(target=churn)
        worker.start()
        started.wait(10)
        try:
            seen, token = [], None
            while True:  # small pages, so the walk overlaps many changes
                page = self.cognito.list_users(
                    UserPoolId=self.pool_id, Limit=10, **({"PaginationToken": token} if token else {})
                )
                seen += [sub_of(u) for u in page["Users"]]
                token = page.get("PaginationToken")
                if not token:
                    break
        finally:
            stop.set()
            worker.join()
        self.assertGreater(len(deleted), 10, "the walk did not overlap the changes")
        self.assertEqual(len(seen), len(set(seen)), "a user was listed twice")
        self.assertLessEqual(stable, set(seen), "a user present during the whole walk was skipped")
        final = {sub_of(u) for u in walk(self.cognito, self.pool_id)}
        self.assertEqual(final, ({u["sub"] for u in seeded} - set(deleted)) | set(created))

    def test_sub_prefix_filters_are_exact_for_any_characters(self):
        odd = ["ABC-upper", "abc-lower", "zz-not-hex", "Ωmega", 'a"quote']
        seed(self.pool_id, [{**spec, "sub": sub} for spec, sub in zip(user_specs(len(odd), "odd"), odd)])
        seed(self.pool_id, user_specs(300))

        def subs(filter_text: str) -> list[str]:
            return [sub_of(u) for u in walk(self.cognito, self.pool_id, Filter=filter_text)]

        self.assertEqual(subs('sub ^= "A"'), ["ABC-upper"])
        self.assertEqual(subs('sub ^= "abc"'), ["abc-lower"])
        self.assertEqual(subs('sub ^= "Ω"'), ["Ωmega"])
        self.assertEqual(subs('sub = "a\\"quote"'), ['a"quote'])
        hex_segments = [s for digit in "0123456789abcdef" for s in subs(f'sub ^= "{digit}"')]
        everyone = subs('sub ^= ""')
        self.assertEqual(len(everyone), 305)
        self.assertEqual(sorted(set(everyone) - set(hex_segments)), sorted(["ABC-upper", "zz-not-hex", "Ωmega"]))
        for digit in "0123456789abcdef":
            self.assertTrue(all(s.startswith(digit) for s in subs(f'sub ^= "{digit}"')))

    def test_attribute_and_status_filters(self):
        seed(self.pool_id, user_specs(120))
        self.cognito.admin_disable_user(UserPoolId=self.pool_id, Username="user7")
        self.cognito.admin_update_user_attributes(
            UserPoolId=self.pool_id, Username="user8", UserAttributes=[{"Name": "email", "Value": "moved@example.org"}]
        )
        names = lambda f: sorted(u["Username"] for u in walk(self.cognito, self.pool_id, Filter=f))  # noqa: E731
        self.assertEqual(names('status = "Disabled"'), ["user7"])
        self.assertEqual(len(names('status = "Enabled"')), 119)
        self.assertEqual(names('email = "moved@example.org"'), ["user8"])
        self.assertEqual(names('email = "user8@example.com"'), [])
        self.assertEqual(names('username = "user11"'), ["user11"])
        self.assertEqual(
            names('username ^= "user11"'),
            [
                "user11",
                "user110",
                "user111",
                "user112",
                "user113",
                "user114",
                "user115",
                "user116",
                "user117",
                "user118",
                "user119",
            ],
        )
        self.assertEqual(len(names('cognito:user_status = "CONFIRMED"')), 120)
        self.cognito.admin_delete_user(UserPoolId=self.pool_id, Username="user11")
        self.assertEqual(names('username = "user11"'), [])

    def test_limit_and_filter_errors(self):
        seed(self.pool_id, user_specs(70))
        self.assertEqual(len(self.cognito.list_users(UserPoolId=self.pool_id, Limit=60)["Users"]), 60)
        self.assertEqual(len(self.cognito.list_users(UserPoolId=self.pool_id)["Users"]), 60)
        self.assert_invalid(
            lambda: self.cognito.list_users(UserPoolId=self.pool_id, Limit=61), "less than or equal to 60"
        )
        self.assert_invalid(
            lambda: self.cognito.list_users(UserPoolId=self.pool_id, Filter="sub ^= 0"), "Error while parsing filter"
        )
        self.assert_invalid(
            lambda: self.cognito.list_users(UserPoolId=self.pool_id, Filter='custom:x = "1"'), "custom:x"
        )
        with self.assertRaises(ClientError) as caught:
            self.cognito.list_users(UserPoolId=f"{REGION}_doesnotexist")
        self.assertEqual(caught.exception.response["Error"]["Code"], "ResourceNotFoundException")

    def test_tokens_resume_by_position_and_belong_to_their_pool_and_filter(self):
        seed(self.pool_id, user_specs(130))
        first = self.cognito.list_users(UserPoolId=self.pool_id, Limit=60)
        last_sub = sub_of(first["Users"][-1])
        # Users sorting before the position do not shift the next page (an offset would).
        seed(self.pool_id, [{**spec, "sub": f"0000-{i}"} for i, spec in enumerate(user_specs(5, "early"))])
        second = self.cognito.list_users(UserPoolId=self.pool_id, Limit=60, PaginationToken=first["PaginationToken"])
        self.assertGreater(sub_of(second["Users"][0]), last_sub)
        other = self.cognito.create_user_pool(PoolName=f"other-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
        try:
            self.assert_invalid(
                lambda: self.cognito.list_users(UserPoolId=other, PaginationToken=first["PaginationToken"]),
                "Paging marker",
            )
        finally:
            self.cognito.delete_user_pool(UserPoolId=other)
        self.assert_invalid(
            lambda: self.cognito.list_users(
                UserPoolId=self.pool_id, Filter='sub ^= "a"', PaginationToken=first["PaginationToken"]
            ),
            "is invalid",
        )
        self.assert_invalid(
            lambda: self.cognito.list_users(UserPoolId=self.pool_id, PaginationToken="garbage"), "is invalid"
        )

    def test_expired_tokens_are_refused_when_a_ttl_is_set(self):
        seed(self.pool_id, user_specs(70))
        local("/_local_cloud/config", {"cognito": {"paginationTokenTtlSeconds": 1}})
        try:
            token = self.cognito.list_users(UserPoolId=self.pool_id)["PaginationToken"]
            self.cognito.list_users(UserPoolId=self.pool_id, PaginationToken=token)
            time.sleep(1.3)
            self.assert_invalid(
                lambda: self.cognito.list_users(UserPoolId=self.pool_id, PaginationToken=token), "is invalid"
            )
        finally:
            local("/_local_cloud/config", {"cognito": {"paginationTokenTtlSeconds": 0}})

    def test_attributes_to_get(self):
        seed(self.pool_id, [{"key": "a", "username": "a", "attributes": {"email": "a@x.com", "given_name": "Ann"}}])
        user = self.cognito.list_users(UserPoolId=self.pool_id, AttributesToGet=["given_name"])["Users"][0]
        self.assertEqual(user["Attributes"], [{"Name": "given_name", "Value": "Ann"}])
        self.assertEqual(
            set(user), {"Username", "Attributes", "UserCreateDate", "UserLastModifiedDate", "Enabled", "UserStatus"}
        )
        self.assertEqual(
            self.cognito.list_users(UserPoolId=self.pool_id, AttributesToGet=[])["Users"][0]["Attributes"], []
        )
        self.assert_invalid(
            lambda: self.cognito.list_users(UserPoolId=self.pool_id, AttributesToGet=["custom:nope"]), "do not exist"
        )
        self.assert_invalid(
            lambda: self.cognito.list_users(UserPoolId=self.pool_id, AttributesToGet=["sub"]), "constraints"
        )

    def test_estimate_counts_users_plus_the_configured_offset(self):
        seed(self.pool_id, user_specs(42))
        self.cognito.admin_delete_user(UserPoolId=self.pool_id, Username="user0")
        describe = lambda: self.cognito.describe_user_pool(UserPoolId=self.pool_id)["UserPool"][
            "EstimatedNumberOfUsers"
        ]  # noqa: E731
        self.assertEqual(describe(), 41)
        local(
            "/_local_cloud/cognito/pool-settings", {"region": REGION, "userPoolId": self.pool_id, "estimateOffset": -5}
        )
        self.assertEqual(describe(), 36)

    def test_admin_get_user_accepts_the_sub(self):
        sub = seed(self.pool_id, user_specs(3))[1]["sub"]
        self.assertEqual(self.cognito.admin_get_user(UserPoolId=self.pool_id, Username=sub)["Username"], "user1")
        self.cognito.admin_disable_user(UserPoolId=self.pool_id, Username=sub)
        self.assertFalse(self.cognito.admin_get_user(UserPoolId=self.pool_id, Username="user1")["Enabled"])

    def test_pages_stay_fast_in_a_large_pool(self):
        for start in range(0, 20000, 5000):
            seed(self.pool_id, user_specs(5000, f"b{start}-"))
        began = time.monotonic()
        token = None
        for _ in range(40):
            page = self.cognito.list_users(
                UserPoolId=self.pool_id, Limit=60, Filter='sub ^= "7"', **({"PaginationToken": token} if token else {})
            )
            token = page.get("PaginationToken")
        # moto itself needs about 2 s per call at this size; the index answers in milliseconds.
        self.assertLess(time.monotonic() - began, 8.0)


class ListUsersInGroupTest(unittest.TestCase):
    def setUp(self):
        self.cognito = cognito()
        self.pool_id = self.cognito.create_user_pool(PoolName=f"group-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]

    def tearDown(self):
        self.cognito.delete_user_pool(UserPoolId=self.pool_id)

    def members(self, group: str, limit: int | None = 60) -> list[list[str]]:
        pages, token = [], None
        while True:
            page = self.cognito.list_users_in_group(
                UserPoolId=self.pool_id,
                GroupName=group,
                **({"Limit": limit} if limit else {}),
                **({"NextToken": token} if token else {}),
            )
            pages.append([u["Username"] for u in page["Users"]])
            token = page.get("NextToken")
            if not token:
                return pages

    def test_pages_of_members_in_a_stable_order(self):
        seeded = seed(self.pool_id, user_specs(150))
        local(
            "/_local_cloud/cognito/seed",
            {
                "region": REGION,
                "userPoolId": self.pool_id,
                "groups": [{"name": "big", "members": [u["key"] for u in seeded[:130]]}],
            },
        )
        pages = self.members("big")
        self.assertEqual([len(p) for p in pages], [60, 60, 10])
        self.assertEqual(sorted(sum(pages, [])), sorted(u["username"] for u in seeded[:130]))
        by_sub = {u["username"]: u["sub"] for u in seeded}
        listed = [by_sub[name] for name in sum(pages, [])]
        self.assertEqual(listed, sorted(listed))
        self.assertEqual([len(p) for p in self.members("big", limit=None)][:1], [25])
        self.cognito.admin_delete_user(UserPoolId=self.pool_id, Username=seeded[0]["username"])
        self.cognito.admin_remove_user_from_group(
            UserPoolId=self.pool_id, GroupName="big", Username=seeded[1]["username"]
        )
        self.assertEqual(len(sum(self.members("big"), [])), 128)
        user = self.cognito.list_users_in_group(UserPoolId=self.pool_id, GroupName="big", Limit=1)["Users"][0]
        self.assertEqual(
            set(user), {"Username", "Attributes", "UserCreateDate", "UserLastModifiedDate", "Enabled", "UserStatus"}
        )

    def test_missing_group_and_missing_pool_are_told_apart(self):
        with self.assertRaises(ClientError) as group:
            self.cognito.list_users_in_group(UserPoolId=self.pool_id, GroupName="nope")
        with self.assertRaises(ClientError) as pool:
            self.cognito.list_users_in_group(UserPoolId=f"{REGION}_nopool", GroupName="nope")
        self.assertEqual(group.exception.response["Error"]["Code"], "ResourceNotFoundException")
        self.assertEqual(group.exception.response["Error"]["Message"], "Group not found.")
        self.assertEqual(pool.exception.response["Error"]["Message"], f"User pool {REGION}_nopool does not exist.")
        self.cognito.create_group(UserPoolId=self.pool_id, GroupName="g")
        with self.assertRaises(ClientError) as limit:
            self.cognito.list_users_in_group(UserPoolId=self.pool_id, GroupName="g", Limit=61)
        self.assertEqual(limit.exception.response["Error"]["Code"], "InvalidParameterException")


if __name__ == "__main__":
    unittest.main()
