"""CloudTrail change events for Cognito (cloudtrail_events.py): emitted after successful changes only,
only while a trail logs the Region's management writes, shaped as AWS delivers them to EventBridge."""

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
HIDDEN = "HIDDEN_DUE_TO_SECURITY_REASONS"
PASSWORD = "Passw0rd!long"


def client(service: str, region: str = REGION):
    return boto3.client(
        service,
        endpoint_url=ENDPOINT,
        region_name=region,
        aws_access_key_id="AKIALOCALCLOUDTEST",
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


def delivered(pool_id: str, region: str = REGION) -> list[dict]:
    """The events of one pool among the Region's recently delivered ones, oldest first."""
    events = local("/_local_cloud/cloudtrail/recent")["events"].get(region, [])
    return [
        e
        for e in events
        if pool_id
        in (e["detail"]["requestParameters"].get("userPoolId"), e["detail"]["additionalEventData"].get("userPoolId"))
    ]


def trail_bucket_policy(bucket: str) -> str:
    """The bucket policy CloudTrail needs to create a trail on the bucket (cloudtrail_trails.py)."""
    service = {"Service": "cloudtrail.amazonaws.com"}
    return json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": service, "Action": "s3:GetBucketAcl", "Resource": f"arn:aws:s3:::{bucket}"},
        {"Effect": "Allow", "Principal": service, "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{bucket}/AWSLogs/*"},
    ]})


def sub_of(user: dict, key: str = "Attributes") -> str:
    return next(a["Value"] for a in user[key] if a["Name"] == "sub")


class CloudTrailTest(unittest.TestCase):
    def setUp(self):
        self.cognito = client("cognito-idp")
        self.cloudtrail = client("cloudtrail")
        self.pool_id = self.cognito.create_user_pool(
            PoolName=f"trail-{uuid.uuid4().hex[:8]}",
            AutoVerifiedAttributes=["email"],
            Policies={"PasswordPolicy": {"MinimumLength": 8}},
        )["UserPool"]["Id"]
        self.trails: list[tuple[str, str]] = []

    def tearDown(self):
        for name, region in self.trails:
            trails = client("cloudtrail", region)
            trails.stop_logging(Name=name)
            trails.delete_trail(Name=name)
        self.cognito.delete_user_pool(UserPoolId=self.pool_id)

    def add_trail(self, region: str = REGION, multi_region: bool = True, logging: bool = True, selectors=None) -> str:
        name = f"trail-{uuid.uuid4().hex[:8]}"
        bucket = f"trail-logs-{uuid.uuid4().hex[:8]}"
        client("s3", region).create_bucket(
            Bucket=bucket,
            **({} if region == "us-east-1" else {"CreateBucketConfiguration": {"LocationConstraint": region}}),
        )
        client("s3", region).put_bucket_policy(Bucket=bucket, Policy=trail_bucket_policy(bucket))
        trails = client("cloudtrail", region)
        trails.create_trail(Name=name, S3BucketName=bucket, IsMultiRegionTrail=multi_region)
        if selectors:
            trails.put_event_selectors(TrailName=name, EventSelectors=selectors)
        if logging:
            trails.start_logging(Name=name)
        self.trails.append((name, region))
        return name

    def skip_if_another_trail_logs(self):
        """Trails are account-wide state: a logging trail another test left behind would log our calls."""
        for trail in self.cloudtrail.describe_trails(includeShadowTrails=True)["trailList"]:
            if (trail["Name"], trail["HomeRegion"]) in self.trails:
                continue
            status = client("cloudtrail", trail["HomeRegion"]).get_trail_status(Name=trail["Name"])
            if status["IsLogging"]:
                self.skipTest(f"trail {trail['Name']} of another test logs {REGION}")

    def wait_for(self, count: int, timeout: float = 5.0) -> list[dict]:
        deadline = time.monotonic() + timeout
        while True:
            events = delivered(self.pool_id)
            if len(events) >= count or time.monotonic() > deadline:
                return events
            time.sleep(0.05)


class ChangeEventsTest(CloudTrailTest):
    def test_every_change_emits_one_event_with_the_affected_sub(self):
        self.add_trail()
        c, pool = self.cognito, self.pool_id
        app = c.create_user_pool_client(
            UserPoolId=pool,
            ClientName="app",
            ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
        )["UserPoolClient"]["ClientId"]
        alice = c.admin_create_user(
            UserPoolId=pool,
            Username="alice",
            TemporaryPassword=PASSWORD,
            MessageAction="SUPPRESS",
            UserAttributes=[
                {"Name": "email", "Value": "alice@example.com"},
                {"Name": "email_verified", "Value": "true"},
            ],
        )["User"]
        alice_sub = sub_of(alice)
        expected = [("AdminCreateUser", alice_sub)]

        def admin(operation: str, call, sub=alice_sub):
            call()
            expected.append((operation, sub))

        admin(
            "AdminUpdateUserAttributes",
            lambda: c.admin_update_user_attributes(
                UserPoolId=pool, Username="alice", UserAttributes=[{"Name": "given_name", "Value": "Alice"}]
            ),
        )
        admin("AdminDisableUser", lambda: c.admin_disable_user(UserPoolId=pool, Username="alice"))
        admin("AdminEnableUser", lambda: c.admin_enable_user(UserPoolId=pool, Username="alice"))
        admin(
            "AdminSetUserPassword",
            lambda: c.admin_set_user_password(UserPoolId=pool, Username="alice", Password=PASSWORD, Permanent=True),
        )
        admin("AdminResetUserPassword", lambda: c.admin_reset_user_password(UserPoolId=pool, Username="alice"))
        admin(
            "AdminDeleteUserAttributes",
            lambda: c.admin_delete_user_attributes(
                UserPoolId=pool, Username="alice", UserAttributeNames=["given_name"]
            ),
        )
        admin(
            "AdminSetUserMFAPreference",
            lambda: c.admin_set_user_mfa_preference(
                UserPoolId=pool, Username="alice", SMSMfaSettings={"Enabled": False}
            ),
        )
        admin("CreateGroup", lambda: c.create_group(UserPoolId=pool, GroupName="staff"), None)
        admin("UpdateGroup", lambda: c.update_group(UserPoolId=pool, GroupName="staff", Description="d"), None)
        admin(
            "AdminAddUserToGroup",
            lambda: c.admin_add_user_to_group(UserPoolId=pool, GroupName="staff", Username="alice"),
        )
        admin(
            "AdminRemoveUserFromGroup",
            lambda: c.admin_remove_user_from_group(UserPoolId=pool, GroupName="staff", Username="alice"),
        )
        admin("DeleteGroup", lambda: c.delete_group(UserPoolId=pool, GroupName="staff"), None)
        # Reads and failed calls are not changes.
        c.list_users(UserPoolId=pool)
        c.admin_get_user(UserPoolId=pool, Username="alice")
        with self.assertRaises(ClientError):
            c.admin_delete_user(UserPoolId=pool, Username="nobody")

        bob_sub = c.sign_up(
            ClientId=app,
            Username="bob",
            Password=PASSWORD,
            UserAttributes=[{"Name": "email", "Value": "bob@example.com"}],
        )["UserSub"]
        expected.append(("SignUp", None))
        admin(
            "ConfirmSignUp", lambda: c.confirm_sign_up(ClientId=app, Username="bob", ConfirmationCode="123456"), bob_sub
        )
        token = c.initiate_auth(
            ClientId=app, AuthFlow="USER_PASSWORD_AUTH", AuthParameters={"USERNAME": "bob", "PASSWORD": PASSWORD}
        )["AuthenticationResult"]["AccessToken"]
        admin(
            "UpdateUserAttributes",
            lambda: c.update_user_attributes(AccessToken=token, UserAttributes=[{"Name": "name", "Value": "Bob"}]),
            bob_sub,
        )
        admin(
            "DeleteUserAttributes",
            lambda: c.delete_user_attributes(AccessToken=token, UserAttributeNames=["name"]),
            bob_sub,
        )
        admin("DeleteUser", lambda: c.delete_user(AccessToken=token), bob_sub)
        carol_sub = c.sign_up(ClientId=app, Username="carol", Password=PASSWORD)["UserSub"]
        expected.append(("SignUp", None))
        admin("AdminConfirmSignUp", lambda: c.admin_confirm_sign_up(UserPoolId=pool, Username="carol"), carol_sub)
        job = c.create_user_import_job(
            UserPoolId=pool, JobName="restore", CloudWatchLogsRoleArn="arn:aws:iam::123456789012:role/logs"
        )
        expected.append(("CreateUserImportJob", None))
        admin(
            "StartUserImportJob",
            lambda: c.start_user_import_job(UserPoolId=pool, JobId=job["UserImportJob"]["JobId"]),
            None,
        )
        admin("AdminDeleteUser", lambda: c.admin_delete_user(UserPoolId=pool, Username="alice"))

        events = self.wait_for(len(expected))
        self.assertEqual(
            [(e["detail"]["eventName"], e["detail"]["additionalEventData"].get("sub")) for e in events], expected
        )
        by_name = {e["detail"]["eventName"]: e for e in events}
        for event in events:
            self.assertEqual(event["detail-type"], "AWS API Call via CloudTrail")
            self.assertEqual(event["source"], "aws.cognito-idp")
            self.assertEqual((event["region"], event["resources"]), (REGION, []))
            detail = event["detail"]
            self.assertEqual(detail["eventSource"], "cognito-idp.amazonaws.com")
            self.assertEqual(
                (detail["eventType"], detail["eventCategory"], detail["readOnly"]), ("AwsApiCall", "Management", False)
            )
            self.assertEqual(detail["awsRegion"], REGION)
        created = by_name["AdminCreateUser"]["detail"]
        self.assertEqual(created["requestParameters"]["username"], "alice")
        self.assertEqual(created["requestParameters"]["temporaryPassword"], HIDDEN)
        self.assertEqual({a["value"] for a in created["requestParameters"]["userAttributes"]}, {HIDDEN})
        self.assertEqual(created["userIdentity"]["accessKeyId"], "AKIALOCALCLOUDTEST")
        self.assertEqual(by_name["AdminSetUserPassword"]["detail"]["requestParameters"]["password"], HIDDEN)
        grouped = by_name["AdminAddUserToGroup"]["detail"]
        self.assertEqual(grouped["requestParameters"], {"userPoolId": pool, "groupName": "staff", "username": "alice"})
        self.assertIsNone(grouped["responseElements"])
        signed_up = [e["detail"] for e in events if e["detail"]["eventName"] == "SignUp"][0]
        self.assertEqual(signed_up["requestParameters"]["username"], HIDDEN)
        self.assertEqual(signed_up["requestParameters"]["password"], HIDDEN)
        self.assertEqual(signed_up["responseElements"]["userSub"], bob_sub)
        self.assertEqual(signed_up["additionalEventData"]["userPoolId"], pool)
        self.assertEqual(signed_up["userIdentity"]["principalId"], "Anonymous")
        self.assertEqual(by_name["DeleteUser"]["detail"]["requestParameters"]["accessToken"], HIDDEN)
        self.assertEqual(by_name["DeleteUser"]["detail"]["additionalEventData"]["userPoolId"], pool)
        with self.assertRaises(ClientError):  # the user is gone, and so is the token
            c.admin_get_user(UserPoolId=pool, Username="bob")


class WhenCloudTrailLogsTest(CloudTrailTest):
    def change(self):
        self.cognito.admin_create_user(
            UserPoolId=self.pool_id, Username=f"u{uuid.uuid4().hex[:6]}", MessageAction="SUPPRESS"
        )

    def test_no_event_without_a_logging_trail_that_covers_the_region(self):
        self.add_trail(region="us-west-2", multi_region=False)  # another Region only
        self.add_trail(logging=False)  # not started
        self.add_trail(selectors=[{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}])  # reads only
        self.skip_if_another_trail_logs()
        self.change()
        time.sleep(0.3)
        self.assertEqual(delivered(self.pool_id), [])
        self.add_trail(selectors=[{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}])
        self.change()
        self.assertEqual(len(self.wait_for(1)), 1)

    def test_require_trail_can_be_switched_off(self):
        self.skip_if_another_trail_logs()
        local("/_local_cloud/config", {"cloudtrail": {"requireTrail": False}})
        try:
            self.change()
        finally:
            local("/_local_cloud/config", {"cloudtrail": {"requireTrail": True}})
        self.assertEqual(len(self.wait_for(1)), 1)

    def test_delivery_can_be_delayed(self):
        self.add_trail()
        local("/_local_cloud/config", {"cloudtrail": {"deliveryDelayMs": 800}})
        try:
            self.change()
            time.sleep(0.3)
            self.assertEqual(delivered(self.pool_id), [])
            self.assertEqual(len(self.wait_for(1, timeout=3)), 1)
        finally:
            local("/_local_cloud/config", {"cloudtrail": {"deliveryDelayMs": 0}})


class CloudFormationTrailTest(CloudTrailTest):
    def test_a_trail_deployed_by_cloudformation_with_is_logging_counts(self):
        self.skip_if_another_trail_logs()
        cloudformation = client("cloudformation")
        stack, trail = f"trail-{uuid.uuid4().hex[:8]}", f"cfn-trail-{uuid.uuid4().hex[:8]}"
        template = {
            "Resources": {
                "Logs": {"Type": "AWS::S3::Bucket"},
                "LogsPolicy": {
                    "Type": "AWS::S3::BucketPolicy",
                    "Properties": {"Bucket": {"Ref": "Logs"}, "PolicyDocument": {"Fn::Sub": trail_bucket_policy("${Logs}")}},
                },
                "Trail": {
                    "Type": "AWS::CloudTrail::Trail",
                    "DependsOn": "LogsPolicy",
                    "Properties": {
                        "TrailName": trail,
                        "S3BucketName": {"Ref": "Logs"},
                        "IsLogging": True,
                        "IsMultiRegionTrail": True,
                    },
                },
            }
        }
        cloudformation.create_stack(StackName=stack, TemplateBody=json.dumps(template))
        self.addCleanup(cloudformation.delete_stack, StackName=stack)
        deadline = time.monotonic() + 30
        while cloudformation.describe_stacks(StackName=stack)["Stacks"][0]["StackStatus"].endswith("IN_PROGRESS"):
            self.assertLess(time.monotonic(), deadline, "the stack did not finish")
            time.sleep(0.2)
        names = [t["Name"] for t in self.cloudtrail.describe_trails(includeShadowTrails=True)["trailList"]]
        if trail not in names:
            self.skipTest("AWS::CloudTrail::Trail is not emulated by this local cloud's CloudFormation yet")
        self.trails.append((trail, REGION))
        self.assertTrue(
            self.cloudtrail.get_trail_status(Name=trail)["IsLogging"], "IsLogging: true did not start logging"
        )
        self.cognito.admin_create_user(UserPoolId=self.pool_id, Username="via-cfn-trail", MessageAction="SUPPRESS")
        self.assertEqual(len(self.wait_for(1)), 1)


class EventBridgeDeliveryTest(CloudTrailTest):
    def test_a_rule_on_the_pool_id_delivers_the_pools_events_to_sqs(self):
        if "eventbridge" not in local("/_local_cloud/config"):
            self.skipTest("the EventBridge delivery engine (eventbridge.py) is not installed")
        self.add_trail()
        sqs, events = client("sqs"), client("events")
        queue = sqs.create_queue(QueueName=f"changes-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        rule = f"cognito-changes-{uuid.uuid4().hex[:8]}"
        pattern = {
            "source": ["aws.cognito-idp"],
            "detail-type": ["AWS API Call via CloudTrail"],
            "detail": {"requestParameters": {"userPoolId": [self.pool_id]}},
        }
        events.put_rule(Name=rule, EventPattern=json.dumps(pattern))
        events.put_targets(Rule=rule, Targets=[{"Id": "queue", "Arn": arn}])
        other = self.cognito.create_user_pool(PoolName=f"other-{uuid.uuid4().hex[:8]}")["UserPool"]["Id"]
        try:
            self.cognito.admin_create_user(UserPoolId=other, Username="elsewhere", MessageAction="SUPPRESS")
            user = self.cognito.admin_create_user(UserPoolId=self.pool_id, Username="here", MessageAction="SUPPRESS")[
                "User"
            ]
            received = []
            deadline = time.monotonic() + 10
            while not received and time.monotonic() < deadline:
                received = sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=1, MaxNumberOfMessages=10).get(
                    "Messages", []
                )
            self.assertEqual(len(received), 1)
            event = json.loads(received[0]["Body"])
            self.assertEqual(event["detail"]["eventName"], "AdminCreateUser")
            self.assertEqual(event["detail"]["additionalEventData"]["sub"], sub_of(user))
        finally:
            events.remove_targets(Rule=rule, Ids=["queue"])
            events.delete_rule(Name=rule)
            sqs.delete_queue(QueueUrl=queue)
            self.cognito.delete_user_pool(UserPoolId=other)


if __name__ == "__main__":
    unittest.main()
