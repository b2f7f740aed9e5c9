"""Cognito user import jobs of the local cloud (cognito_import_jobs.py): Cognito's file, row and name
limits, the pace of a job, per-row checks that do not scan the pool."""

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
REGION = "us-east-1"
ROLE = "arn:aws:iam::123456789012:role/CognitoImportLogs"


def client(service: str):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=REGION,
        aws_access_key_id="local-cloud",
        aws_secret_access_key="local-cloud",
        config=Config(retries={"total_max_attempts": 1}),
    )


class ImportJobTest(unittest.TestCase):
    def setUp(self):
        self.cognito = client("cognito-idp")
        self.pool_id = self.cognito.create_user_pool(
            PoolName=f"import-{uuid.uuid4().hex[:8]}", AutoVerifiedAttributes=["email"]
        )["UserPool"]["Id"]
        self.header = self.cognito.get_csv_header(UserPoolId=self.pool_id)["CSVHeader"]

    def tearDown(self):
        self.cognito.delete_user_pool(UserPoolId=self.pool_id)

    def row(self, username: str, email: str | None = None) -> str:
        values = {
            "cognito:username": username,
            "cognito:mfa_enabled": "false",
            "email": email or f"{username}@example.com",
            "email_verified": "true",
        }
        return ",".join(values.get(column, "") for column in self.header)

    def start(self, body: bytes, name: str = "job") -> str:
        job = self.cognito.create_user_import_job(UserPoolId=self.pool_id, JobName=name, CloudWatchLogsRoleArn=ROLE)[
            "UserImportJob"
        ]
        # A Content-Type other than a form's, or the server would read the body as form fields.
        upload = urllib.request.Request(
            job["PreSignedUrl"], data=body, method="PUT", headers={"Content-Type": "text/csv"}
        )
        urllib.request.urlopen(upload).read()
        self.cognito.start_user_import_job(UserPoolId=self.pool_id, JobId=job["JobId"])
        return job["JobId"]

    def csv(self, rows: list[str]) -> bytes:
        return ("\n".join([",".join(self.header)] + rows) + "\n").encode()

    def describe(self, job_id: str) -> dict:
        return self.cognito.describe_user_import_job(UserPoolId=self.pool_id, JobId=job_id)["UserImportJob"]

    def wait(self, job_id: str, timeout: float = 30) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            job = self.describe(job_id)
            if job["Status"] in ("Succeeded", "Failed", "Stopped"):
                return job
            time.sleep(0.1)
        self.fail(f"job {job_id} did not finish")

    def user_count(self) -> int:
        return self.cognito.describe_user_pool(UserPoolId=self.pool_id)["UserPool"]["EstimatedNumberOfUsers"]

    def test_job_names_follow_cognitos_pattern(self):
        for bad in ("slash/name", "x" * 129, "caf\u00e9", "semi;colon"):
            with self.assertRaises(ClientError) as caught:
                self.cognito.create_user_import_job(UserPoolId=self.pool_id, JobName=bad, CloudWatchLogsRoleArn=ROLE)
            self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidParameterException", bad)
        good = "Restore 2024-01-01 user+list=a,b.c@d_e"
        job = self.cognito.create_user_import_job(UserPoolId=self.pool_id, JobName=good, CloudWatchLogsRoleArn=ROLE)
        self.assertEqual(job["UserImportJob"]["JobName"], good)

    def test_a_file_over_500000_users_fails_and_imports_nothing(self):
        row = self.row("u")
        job = self.wait(self.start(self.csv([row] * 500_001)))
        self.assertEqual(job["Status"], "Failed")
        self.assertIn("500,000", job["CompletionMessage"])
        self.assertEqual((job["ImportedUsers"], job["FailedUsers"]), (0, 0))
        self.assertEqual(self.user_count(), 0)

    def test_a_file_over_100_mb_fails_and_imports_nothing(self):
        body = self.csv([self.row(f"user{i}") for i in range(10)])
        padding = b"\n" * (100_000_001 - len(body))  # blank lines: the size, not the row count, is over
        job = self.wait(self.start(body + padding))
        self.assertEqual(job["Status"], "Failed")
        self.assertIn("100 MB", job["CompletionMessage"])
        self.assertEqual(self.user_count(), 0)

    def test_a_row_over_16000_characters_fails_alone_and_is_logged(self):
        long_row = self.row("long", email="x" * 16_000 + "@example.com")
        job = self.wait(self.start(self.csv([self.row("before"), long_row, self.row("after")]), name="long-row"))
        self.assertEqual(job["Status"], "Succeeded")
        self.assertEqual((job["ImportedUsers"], job["FailedUsers"]), (2, 1))
        events = client("logs").get_log_events(
            logGroupName=f"/aws/cognito/userpools/{self.pool_id}/long-row", logStreamName=job["JobId"]
        )["events"]
        self.assertEqual([json.loads(e["message"])["lineNumber"] for e in events], [2])
        self.assertIn("16,000", json.loads(events[0]["message"])["message"])

    def test_jobs_import_at_the_configured_pace(self):
        rows = [self.row(f"paced{i}") for i in range(68)]  # two seconds at the default 34 users/s
        began = time.monotonic()
        job_id = self.start(self.csv(rows))
        time.sleep(1.2)
        midway = self.describe(job_id)
        self.assertEqual(midway["Status"], "InProgress")
        self.assertTrue(0 < midway["ImportedUsers"] < 68, midway["ImportedUsers"])
        job = self.wait(job_id)
        self.assertEqual((job["Status"], job["ImportedUsers"]), ("Succeeded", 68))
        self.assertGreater(time.monotonic() - began, 1.8)
        user = self.cognito.admin_get_user(UserPoolId=self.pool_id, Username="paced7")
        self.assertEqual(user["UserStatus"], "RESET_REQUIRED")

    def test_duplicates_are_found_in_a_large_pool_without_slowing_rows(self):
        email_pool = self.cognito.create_user_pool(
            PoolName=f"import-{uuid.uuid4().hex[:8]}", AutoVerifiedAttributes=["email"], UsernameAttributes=["email"]
        )["UserPool"]["Id"]
        self.addCleanup(self.cognito.delete_user_pool, UserPoolId=email_pool)
        users = [
            {"key": f"s{i}", "username": f"s{i}", "attributes": {"email": f"s{i}@example.com"}} for i in range(20_000)
        ]
        request = urllib.request.Request(
            ENDPOINT + "/_local_cloud/cognito/seed",
            data=json.dumps({"region": REGION, "userPoolId": email_pool, "users": users}).encode(),
            method="POST",
            headers={"Content-Type": "application/json"},
        )
        urllib.request.urlopen(request).read()
        self.pool_id, pool = email_pool, self.pool_id
        try:
            header = self.header
            self.header = self.cognito.get_csv_header(UserPoolId=email_pool)["CSVHeader"]
            local("/_local_cloud/config", {"cognito": {"importUsersPerSecond": 100_000}})
            try:
                rows = [self.row(f"n{i}@example.com", f"n{i}@example.com") for i in range(300)]
                rows += [self.row("s5@example.com", "s5@example.com"), self.row("n0@example.com", "n0@example.com")]
                began = time.monotonic()
                job = self.wait(self.start(self.csv(rows)))
                took = time.monotonic() - began
            finally:
                local("/_local_cloud/config", {"cognito": {"importUsersPerSecond": 34}})
        finally:
            self.pool_id, self.header = pool, header
        self.assertEqual((job["ImportedUsers"], job["FailedUsers"]), (300, 2))
        self.assertLess(took, 5.0)


def local(path: str, body: dict) -> dict:
    request = urllib.request.Request(
        ENDPOINT + path, data=json.dumps(body).encode(), method="POST", headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read())


if __name__ == "__main__":
    unittest.main()
