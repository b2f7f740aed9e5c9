"""Continuous protection's change capture, deployed through the local CloudFormation as the regional
template declares it: a CloudTrail trail (conditional, on Fn::Equals of a parameter) makes Cognito
calls produce "AWS API Call via CloudTrail" events; an EventBridge rule with a `$or` pattern on the
pool's ID sends them to an SQS queue (RedrivePolicy object to a dead-letter queue, queue policy for
EventBridge), read by a function through an event source mapping with ReportBatchItemFailures; an
alarm watches the dead-letter queue.

End to end: a change to the watched pool reaches the function as a CloudTrail-shaped event (through
either branch of the `$or`); a change to another pool does not; a message the function keeps failing
lands in the dead-letter queue; an update changes the trail in place or (condition false) removes it;
deleting the stack deletes the trail, and then no event is produced. `cloudtrail.requireTrail` stays at
its default (true): the stack's trail is what turns the events on. A trail whose bucket policy does not
let CloudTrail write fails the stack, as CreateTrail refuses it on AWS.

Trails and config switches are shared by every test on the server: the checks that no event is made
skip when another test's logging trail covers the Region, or requireTrail is off.

Runs against the local cloud at LOCAL_CLOUD_ENDPOINT (see cloudformation_gaps.py, cloudtrail_events.py,
cloudtrail_trails.py, eventbridge.py, sqs_lambda.py).
"""

from __future__ import annotations

import json
import time
import unittest

from botocore.exceptions import ClientError

from .script_functions import ACCOUNT, client, local_cloud, unique, wait_for, wait_stack

REGION = "us-east-1"


def change_capture_template() -> dict:
    """The regional template's change-capture resources, with small timeouts so a test takes seconds
    (the product's queue: VisibilityTimeout 360, maxReceiveCount 5)."""
    sub = lambda text: {"Fn::Sub": text}  # noqa: E731
    resources = {
        "ChangeTrailBucket": {"Type": "AWS::S3::Bucket", "Condition": "CreateTrail", "Properties": {
            "BucketName": sub("${ResourcePrefix}-trail-${AWS::Region}-${AWS::AccountId}"),
            "PublicAccessBlockConfiguration": {"BlockPublicAcls": True, "BlockPublicPolicy": True,
                                               "IgnorePublicAcls": True, "RestrictPublicBuckets": True},
            "BucketEncryption": {"ServerSideEncryptionConfiguration": [
                {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]},
            "LifecycleConfiguration": {"Rules": [{"Id": "expire", "Status": "Enabled", "ExpirationInDays": 90}]}}},
        "ChangeTrailBucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Condition": "CreateTrail", "Properties": {
            "Bucket": {"Ref": "ChangeTrailBucket"},
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:GetBucketAcl",
                 "Resource": {"Fn::GetAtt": ["ChangeTrailBucket", "Arn"]}},
                {"Effect": "Allow", "Principal": {"Service": "cloudtrail.amazonaws.com"}, "Action": "s3:PutObject",
                 "Resource": sub("${ChangeTrailBucket.Arn}/AWSLogs/${AWS::AccountId}/*"),
                 "Condition": {"StringEquals": {"s3:x-amz-acl": "bucket-owner-full-control"}}}]}}},
        "ChangeTrail": {"Type": "AWS::CloudTrail::Trail", "Condition": "CreateTrail", "DependsOn": ["ChangeTrailBucketPolicy"],
                        "Properties": {
            "TrailName": sub("${ResourcePrefix}-changes"), "S3BucketName": {"Ref": "ChangeTrailBucket"},
            "IsLogging": True, "IsMultiRegionTrail": False, "IncludeGlobalServiceEvents": False,
            "EventSelectors": [{"ReadWriteType": "WriteOnly", "IncludeManagementEvents": True}]}},
        "ChangeQueue": {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": sub("${ResourcePrefix}-changes"), "VisibilityTimeout": 5, "MessageRetentionPeriod": 1209600,
            "SqsManagedSseEnabled": True,
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["ChangeDeadLetterQueue", "Arn"]}, "maxReceiveCount": 2}}},
        "ChangeDeadLetterQueue": {"Type": "AWS::SQS::Queue", "Properties": {
            "QueueName": sub("${ResourcePrefix}-changes-dlq"), "MessageRetentionPeriod": 1209600, "SqsManagedSseEnabled": True}},
        "ChangeQueuePolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "Queues": [{"Ref": "ChangeQueue"}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                {"Effect": "Allow", "Principal": {"Service": "events.amazonaws.com"}, "Action": "sqs:SendMessage",
                 "Resource": {"Fn::GetAtt": ["ChangeQueue", "Arn"]},
                 "Condition": {"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["ChangeRule", "Arn"]}}}}]}}},
        "ChangeRule": {"Type": "AWS::Events::Rule", "Properties": {
            "Name": sub("${ResourcePrefix}-ChangeCapture"),
            "EventPattern": {
                "source": ["aws.cognito-idp"], "detail-type": ["AWS API Call via CloudTrail"],
                "detail": {"$or": [
                    {"requestParameters": {"userPoolId": [{"Ref": "PrimaryUserPoolId"}]}},
                    {"additionalEventData": {"userPoolId": [{"Ref": "PrimaryUserPoolId"}]}}]}},
            "Targets": [{"Id": "change-queue", "Arn": {"Fn::GetAtt": ["ChangeQueue", "Arn"]}}]}},
        "FunctionRole": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}}},
        # Observation post: the test function reports each batch it gets here.
        "ObservedQueue": {"Type": "AWS::SQS::Queue", "Properties": {"QueueName": sub("${ResourcePrefix}-observed")}},
        "CaptureChangesFunction": {"Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": sub("${ResourcePrefix}-capture"), "Runtime": "provided.al2023",
            "Handler": "local-cloud-test:sqs_batch_failures.py", "Role": {"Fn::GetAtt": ["FunctionRole", "Arn"]},
            "Code": {"ZipFile": "placeholder"}, "Timeout": 1,
            "Environment": {"Variables": {"FORWARD_QUEUE_URL": {"Ref": "ObservedQueue"}}}}},
        "CaptureChangesEventSource": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "FunctionName": {"Ref": "CaptureChangesFunction"}, "EventSourceArn": {"Fn::GetAtt": ["ChangeQueue", "Arn"]},
            "BatchSize": 10, "MaximumBatchingWindowInSeconds": 1, "FunctionResponseTypes": ["ReportBatchItemFailures"]}},
        "NotificationTopic": {"Type": "AWS::SNS::Topic"},
        "ChangeDeadLetterAlarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "MetricName": "ApproximateNumberOfMessagesVisible", "Namespace": "AWS/SQS",
            "Dimensions": [{"Name": "QueueName", "Value": {"Fn::GetAtt": ["ChangeDeadLetterQueue", "QueueName"]}}],
            "Statistic": "Maximum", "Period": 60, "EvaluationPeriods": 1, "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold", "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": "NotificationTopic"}]}},
    }
    outputs = {
        "TrailName": {"Value": {"Fn::If": ["CreateTrail", {"Ref": "ChangeTrail"}, "none"]}},
        "TrailArn": {"Value": {"Fn::If": ["CreateTrail", {"Fn::GetAtt": ["ChangeTrail", "Arn"]}, "none"]}},
        "QueueUrl": {"Value": {"Ref": "ChangeQueue"}},
        "QueueArn": {"Value": {"Fn::GetAtt": ["ChangeQueue", "Arn"]}},
        "DeadLetterQueueUrl": {"Value": {"Ref": "ChangeDeadLetterQueue"}},
        "DeadLetterQueueArn": {"Value": {"Fn::GetAtt": ["ChangeDeadLetterQueue", "Arn"]}},
        "DeadLetterQueueName": {"Value": {"Fn::GetAtt": ["ChangeDeadLetterQueue", "QueueName"]}},
        "RuleArn": {"Value": {"Fn::GetAtt": ["ChangeRule", "Arn"]}},
        "RuleName": {"Value": {"Ref": "ChangeRule"}},
        "MappingId": {"Value": {"Ref": "CaptureChangesEventSource"}},
        "ObservedQueueUrl": {"Value": {"Ref": "ObservedQueue"}},
        "AlarmName": {"Value": {"Ref": "ChangeDeadLetterAlarm"}},
        "TopicArn": {"Value": {"Ref": "NotificationTopic"}},
    }
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {
            "ResourcePrefix": {"Type": "String"},
            "PrimaryUserPoolId": {"Type": "String"},
            "CreateChangeTrail": {"Type": "String", "AllowedValues": ["true", "false"], "Default": "true"},
        },
        "Conditions": {"CreateTrail": {"Fn::Equals": [{"Ref": "CreateChangeTrail"}, "true"]}},
        "Resources": resources,
        "Outputs": outputs,
    }


def drain(url: str) -> list[dict]:
    """Receives (and deletes) what a queue holds now."""
    sqs = client("sqs")
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0).get("Messages", [])
    for message in messages:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def cloudtrail_events(pool_id: str) -> list[dict]:
    """The CloudTrail events of a pool the local cloud emitted lately (cloudtrail_events.py)."""
    recent = local_cloud("GET", "/_local_cloud/cloudtrail/recent")["events"].get(REGION, [])
    return [
        e for e in recent
        if pool_id in (e["detail"]["requestParameters"].get("userPoolId"), e["detail"]["additionalEventData"].get("userPoolId"))
    ]


class ChangeCaptureStackTest(unittest.TestCase):
    def setUp(self):
        self.cfn = client("cloudformation")
        self.cognito = client("cognito-idp")
        self.prefix = unique("cc")
        self.pool = self.cognito.create_user_pool(PoolName=unique("cc-watched"))["UserPool"]["Id"]
        self.other_pool = self.cognito.create_user_pool(PoolName=unique("cc-other"))["UserPool"]["Id"]
        self.stack_id = None

    def tearDown(self):
        if self.stack_id:
            self.cfn.delete_stack(StackName=self.stack_id)
            wait_stack(self.cfn, self.stack_id, timeout=30)
        for pool in (self.pool, self.other_pool):
            self.cognito.delete_user_pool(UserPoolId=pool)

    def parameters(self, create_trail: str) -> list[dict]:
        return [
            {"ParameterKey": "ResourcePrefix", "ParameterValue": self.prefix},
            {"ParameterKey": "PrimaryUserPoolId", "ParameterValue": self.pool},
            {"ParameterKey": "CreateChangeTrail", "ParameterValue": create_trail},
        ]

    def deploy(self, create_trail: str = "true", template: dict | None = None) -> dict:
        """Creates the stack; answers it as DescribeStacks does once it is done."""
        self.stack_id = self.cfn.create_stack(
            StackName=self.prefix,
            TemplateBody=json.dumps(template or change_capture_template()),
            Parameters=self.parameters(create_trail),
            Capabilities=["CAPABILITY_IAM"],
        )["StackId"]
        return wait_stack(self.cfn, self.stack_id, timeout=30)

    def deployed_outputs(self, create_trail: str = "true") -> dict[str, str]:
        stack = self.deploy(create_trail)
        self.assertEqual(stack["StackStatus"], "CREATE_COMPLETE", stack.get("StackStatusReason"))
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def update(self, template: dict, create_trail: str) -> None:
        self.cfn.update_stack(StackName=self.stack_id, TemplateBody=json.dumps(template), Parameters=self.parameters(create_trail),
                              Capabilities=["CAPABILITY_IAM"])
        stack = wait_stack(self.cfn, self.stack_id, timeout=30)
        self.assertEqual(stack["StackStatus"], "UPDATE_COMPLETE", stack.get("StackStatusReason"))

    def function_batches(self, url: str, until, timeout: float = 10) -> list[dict]:
        """The records the function received (its batch reports: messageId, body, receiveCount), read
        until until(records) holds or the timeout passes."""
        records: list[dict] = []

        def collect():
            for message in drain(url):
                records.extend(json.loads(message["Body"]))
            return until(records)

        wait_for(collect, timeout, 0.2)
        return records

    def create_user(self, pool: str, username: str) -> None:
        self.cognito.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")

    def skip_if_events_are_on_without_our_trail(self, own_trail: str | None = None) -> None:
        """Trails and config are shared by the tests running on the server: a negative check means
        something only while no other logging trail covers the Region and the trail is required."""
        if not local_cloud("GET", "/_local_cloud/config").get("cloudtrail", {}).get("requireTrail", True):
            self.skipTest("cloudtrail.requireTrail is switched off by another test")
        cloudtrail = client("cloudtrail")
        for trail in cloudtrail.describe_trails(includeShadowTrails=True)["trailList"]:
            if trail["Name"] == own_trail:
                continue
            if client("cloudtrail", trail["HomeRegion"]).get_trail_status(Name=trail["Name"])["IsLogging"]:
                self.skipTest(f"trail {trail['Name']} of another test logs {REGION}")

    # --- the resources -----------------------------------------------------------------------------
    def test_resources_exist_as_declared(self):
        out = self.deployed_outputs()
        cloudtrail = client("cloudtrail")
        trail = cloudtrail.get_trail(Name=out["TrailName"])["Trail"]
        self.assertEqual(out["TrailName"], f"{self.prefix}-changes")
        self.assertEqual(trail["TrailARN"], out["TrailArn"])
        self.assertEqual(trail["S3BucketName"], f"{self.prefix}-trail-{REGION}-{ACCOUNT}")
        self.assertFalse(trail["IsMultiRegionTrail"])
        self.assertFalse(trail["IncludeGlobalServiceEvents"])
        self.assertTrue(cloudtrail.get_trail_status(Name=out["TrailName"])["IsLogging"])
        selectors = cloudtrail.get_event_selectors(TrailName=out["TrailName"])["EventSelectors"]
        self.assertEqual([(s["ReadWriteType"], s["IncludeManagementEvents"]) for s in selectors], [("WriteOnly", True)])

        s3 = client("s3")
        bucket = trail["S3BucketName"]
        block = s3.get_public_access_block(Bucket=bucket)["PublicAccessBlockConfiguration"]
        self.assertEqual(set(block.values()), {True})
        rule = s3.get_bucket_encryption(Bucket=bucket)["ServerSideEncryptionConfiguration"]["Rules"][0]
        self.assertEqual(rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"], "AES256")
        self.assertEqual(s3.get_bucket_lifecycle_configuration(Bucket=bucket)["Rules"][0]["Expiration"]["Days"], 90)
        statements = json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"]
        self.assertEqual(statements[1]["Resource"], f"arn:aws:s3:::{bucket}/AWSLogs/{ACCOUNT}/*")

        attributes = client("sqs").get_queue_attributes(QueueUrl=out["QueueUrl"], AttributeNames=["All"])["Attributes"]
        self.assertEqual(json.loads(attributes["RedrivePolicy"]), {"deadLetterTargetArn": out["DeadLetterQueueArn"], "maxReceiveCount": 2})
        self.assertEqual(attributes["SqsManagedSseEnabled"], "true")
        self.assertEqual(attributes["VisibilityTimeout"], "5")
        statement = json.loads(attributes["Policy"])["Statement"][0]
        self.assertEqual(statement["Condition"], {"ArnEquals": {"aws:SourceArn": out["RuleArn"]}})
        self.assertEqual(statement["Resource"], out["QueueArn"])
        self.assertEqual(out["DeadLetterQueueName"], f"{self.prefix}-changes-dlq")
        self.assertEqual(out["RuleArn"], f"arn:aws:events:{REGION}:{ACCOUNT}:rule/{self.prefix}-ChangeCapture")

        pattern = json.loads(client("events").describe_rule(Name=out["RuleName"])["EventPattern"])
        self.assertEqual(pattern["detail"]["$or"], [{"requestParameters": {"userPoolId": [self.pool]}},
                                                    {"additionalEventData": {"userPoolId": [self.pool]}}])

        mapping = client("lambda").get_event_source_mapping(UUID=out["MappingId"])
        self.assertEqual(mapping["FunctionResponseTypes"], ["ReportBatchItemFailures"])
        self.assertEqual((mapping["BatchSize"], mapping["MaximumBatchingWindowInSeconds"]), (10, 1))
        self.assertEqual(mapping["EventSourceArn"], out["QueueArn"])

        alarm = client("cloudwatch").describe_alarms(AlarmNames=[out["AlarmName"]])["MetricAlarms"][0]
        self.assertEqual(alarm["Dimensions"], [{"Name": "QueueName", "Value": f"{self.prefix}-changes-dlq"}])
        self.assertEqual((alarm["Namespace"], alarm["MetricName"]), ("AWS/SQS", "ApproximateNumberOfMessagesVisible"))
        self.assertEqual(alarm["AlarmActions"], [out["TopicArn"]])

    def test_condition_false_leaves_the_trail_out_and_no_event_is_made(self):
        out = self.deployed_outputs(create_trail="false")
        self.assertEqual(out["TrailName"], "none")
        names = [t["Name"] for t in client("cloudtrail").describe_trails()["trailList"]]
        self.assertNotIn(f"{self.prefix}-changes", names)
        with self.assertRaises(ClientError):
            client("s3").head_bucket(Bucket=f"{self.prefix}-trail-{REGION}-{ACCOUNT}")
        self.skip_if_events_are_on_without_our_trail()
        self.create_user(self.pool, "unlogged")
        time.sleep(0.5)
        self.assertEqual(cloudtrail_events(self.pool), [])

    def test_a_trail_whose_bucket_policy_does_not_let_cloudtrail_write_fails_the_stack(self):
        template = change_capture_template()
        del template["Resources"]["ChangeTrailBucketPolicy"]
        template["Resources"]["ChangeTrail"].pop("DependsOn")
        stack = self.deploy(template=template)
        self.assertEqual(stack["StackStatus"], "ROLLBACK_COMPLETE")
        events = self.cfn.describe_stack_events(StackName=self.stack_id)["StackEvents"]
        failed = [e for e in events if e["ResourceStatus"] == "CREATE_FAILED" and e["LogicalResourceId"] == "ChangeTrail"]
        self.assertIn(f'"Invalid request provided: Incorrect S3 bucket policy is detected for bucket: {self.prefix}-trail-{REGION}-{ACCOUNT} '
                      "(Service: CloudTrail, Status Code: 400", failed[0]["ResourceStatusReason"])
        with self.assertRaises(ClientError):  # rolled back
            client("s3").head_bucket(Bucket=f"{self.prefix}-trail-{REGION}-{ACCOUNT}")

    # --- end to end --------------------------------------------------------------------------------
    def test_changes_to_the_pool_reach_the_function_and_other_pools_do_not(self):
        out = self.deployed_outputs()
        app = self.cognito.create_user_pool_client(UserPoolId=self.pool, ClientName="app")["UserPoolClient"]["ClientId"]
        self.create_user(self.other_pool, "outsider")
        self.create_user(self.pool, "alice")  # requestParameters.userPoolId
        client("cognito-idp").sign_up(ClientId=app, Username="bob", Password="Passw0rd!long")  # additionalEventData.userPoolId
        records = self.function_batches(out["ObservedQueueUrl"], lambda r: len({x["body"] for x in r}) >= 2)
        time.sleep(1)  # the other pool's event, were it matched, would be there by now
        records += self.function_batches(out["ObservedQueueUrl"], lambda r: True, timeout=0)
        # A message may come twice (SQS and EventBridge deliver at least once): count distinct events.
        events = {e["id"]: e for e in (json.loads(r["body"]) for r in records)}.values()
        by_name = {e["detail"]["eventName"]: e for e in events}
        self.assertEqual(sorted(by_name), ["AdminCreateUser", "SignUp"])
        created = by_name["AdminCreateUser"]
        self.assertEqual((created["source"], created["detail-type"]), ("aws.cognito-idp", "AWS API Call via CloudTrail"))
        self.assertEqual(created["detail"]["eventSource"], "cognito-idp.amazonaws.com")
        self.assertEqual(created["detail"]["requestParameters"], {"userPoolId": self.pool, "username": "alice", "messageAction": "SUPPRESS"})
        self.assertEqual(by_name["SignUp"]["detail"]["additionalEventData"]["userPoolId"], self.pool)
        self.assertNotIn("userPoolId", by_name["SignUp"]["detail"]["requestParameters"])
        # CloudTrail did log the other pool's change: the rule's pattern is what kept it out.
        self.assertEqual([e["detail"]["requestParameters"]["username"] for e in cloudtrail_events(self.other_pool)], ["outsider"])
        # The function reported no failure: both messages were deleted, none dead-lettered.
        depth = lambda url: sum(int(v) for v in client("sqs").get_queue_attributes(  # noqa: E731
            QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"].values())
        self.assertTrue(wait_for(lambda: depth(out["QueueUrl"]) == 0, 3))
        self.assertEqual(depth(out["DeadLetterQueueUrl"]), 0)

    def test_a_message_the_function_keeps_failing_lands_in_the_dead_letter_queue(self):
        out = self.deployed_outputs()
        self.create_user(self.pool, "fail-bob")  # sqs_batch_failures.py reports bodies containing "fail" as failed
        self.create_user(self.pool, "carol")
        # Visibility 5 s, not less: on a loaded machine a slow invocation would otherwise see a good
        # message come back before it is deleted, and dead-letter it too (as AWS would).
        dead = wait_for(lambda: drain(out["DeadLetterQueueUrl"]), 30, 0.2)
        self.assertEqual([json.loads(m["Body"])["detail"]["requestParameters"]["username"] for m in dead], ["fail-bob"])
        records = self.function_batches(out["ObservedQueueUrl"], lambda r: False, timeout=0)
        failing = sorted(int(r["receiveCount"]) for r in records if "fail-bob" in r["body"])
        # Given to the function maxReceiveCount (2) times, then redriven on the next receive.
        self.assertEqual(failing[0], 1)
        self.assertEqual(failing[-1], 2)
        self.assertIn("carol", " ".join(r["body"] for r in records))

    def test_updates_change_the_trail_in_place_or_remove_it(self):
        out = self.deployed_outputs()
        template = change_capture_template()
        template["Resources"]["ChangeTrail"]["Properties"]["EventSelectors"] = [{"ReadWriteType": "ReadOnly", "IncludeManagementEvents": True}]
        self.update(template, "true")
        cloudtrail = client("cloudtrail")
        self.assertEqual(cloudtrail.get_trail(Name=out["TrailName"])["Trail"]["TrailARN"], out["TrailArn"])
        self.assertEqual(cloudtrail.get_event_selectors(TrailName=out["TrailName"])["EventSelectors"][0]["ReadWriteType"], "ReadOnly")
        self.assertTrue(cloudtrail.get_trail_status(Name=out["TrailName"])["IsLogging"])
        self.skip_if_events_are_on_without_our_trail(own_trail=out["TrailName"])
        self.create_user(self.pool, "read-only-trail")
        time.sleep(0.5)
        self.assertEqual(cloudtrail_events(self.pool), [], "a trail of read events logged a write")

        self.update(template, "false")  # the condition turns false: the trail and its bucket go
        with self.assertRaises(ClientError) as caught:
            cloudtrail.get_trail(Name=out["TrailName"])
        self.assertEqual(caught.exception.response["Error"]["Code"], "TrailNotFoundException")
        with self.assertRaises(ClientError):
            client("s3").head_bucket(Bucket=f"{self.prefix}-trail-{REGION}-{ACCOUNT}")

    def test_deleting_the_stack_deletes_the_trail_and_stops_the_events(self):
        out = self.deployed_outputs()
        self.create_user(self.pool, "before-delete")
        self.assertTrue(wait_for(lambda: cloudtrail_events(self.pool), 3))
        self.cfn.delete_stack(StackName=self.stack_id)
        stack = wait_stack(self.cfn, self.stack_id, timeout=30)
        self.assertEqual(stack["StackStatus"], "DELETE_COMPLETE")
        self.stack_id = None
        with self.assertRaises(ClientError) as caught:
            client("cloudtrail").get_trail(Name=out["TrailName"])
        self.assertEqual(caught.exception.response["Error"]["Code"], "TrailNotFoundException")
        self.skip_if_events_are_on_without_our_trail()
        self.create_user(self.pool, "after-delete")
        time.sleep(0.5)
        usernames = [e["detail"]["requestParameters"].get("username") for e in cloudtrail_events(self.pool)]
        self.assertEqual(usernames, ["before-delete"])


class TrailBucketPolicyTest(unittest.TestCase):
    """CreateTrail/UpdateTrail check the bucket policy as AWS does (cloudtrail_trails.py)."""

    def setUp(self):
        self.s3, self.cloudtrail = client("s3"), client("cloudtrail")
        self.bucket, self.trail = unique("cc-logs"), unique("cc-trail")
        self.s3.create_bucket(Bucket=self.bucket)
        self.addCleanup(self.s3.delete_bucket, Bucket=self.bucket)

    def policy(self, put_resource: str, source_arn: str | None = None) -> None:
        condition = {"StringEquals": {"aws:SourceArn": source_arn}} if source_arn else {}
        service = {"Service": "cloudtrail.amazonaws.com"}
        self.s3.put_bucket_policy(Bucket=self.bucket, Policy=json.dumps({"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": service, "Action": "s3:GetBucketAcl", "Resource": f"arn:aws:s3:::{self.bucket}",
             "Condition": condition},
            {"Effect": "Allow", "Principal": service, "Action": "s3:PutObject", "Resource": put_resource,
             "Condition": dict(condition, StringEquals={**condition.get("StringEquals", {}), "s3:x-amz-acl": "bucket-owner-full-control"})},
        ]}))

    def create_trail(self, **extra) -> None:
        self.cloudtrail.create_trail(Name=self.trail, S3BucketName=self.bucket, **extra)
        self.addCleanup(self.cloudtrail.delete_trail, Name=self.trail)

    def assert_refused(self, call, **kwargs) -> None:
        with self.assertRaises(ClientError) as caught:
            call(**kwargs)
        self.assertEqual(caught.exception.response["Error"]["Code"], "InsufficientS3BucketPolicyException")
        self.assertEqual(caught.exception.response["Error"]["Message"], f"Incorrect S3 bucket policy is detected for bucket: {self.bucket}")

    def test_a_bucket_without_a_policy_is_refused(self):
        self.assert_refused(self.cloudtrail.create_trail, Name=self.trail, S3BucketName=self.bucket)

    def test_the_key_prefix_must_be_covered(self):
        self.policy(f"arn:aws:s3:::{self.bucket}/AWSLogs/{ACCOUNT}/*")
        self.assert_refused(self.cloudtrail.create_trail, Name=self.trail, S3BucketName=self.bucket, S3KeyPrefix="trail")
        self.create_trail()  # without the prefix the same policy is enough
        self.assert_refused(self.cloudtrail.update_trail, Name=self.trail, S3KeyPrefix="trail")
        self.policy(f"arn:aws:s3:::{self.bucket}/trail/AWSLogs/{ACCOUNT}/*")
        self.cloudtrail.update_trail(Name=self.trail, S3KeyPrefix="trail")

    def test_a_source_arn_condition_must_name_the_trail(self):
        trail_arn = f"arn:aws:cloudtrail:{REGION}:{ACCOUNT}:trail/{self.trail}"
        self.policy(f"arn:aws:s3:::{self.bucket}/AWSLogs/{ACCOUNT}/*", source_arn=trail_arn + "-other")
        self.assert_refused(self.cloudtrail.create_trail, Name=self.trail, S3BucketName=self.bucket)
        self.policy(f"arn:aws:s3:::{self.bucket}/AWSLogs/{ACCOUNT}/*", source_arn=trail_arn)
        self.create_trail()
        self.assertEqual(self.cloudtrail.get_trail(Name=self.trail)["Trail"]["TrailARN"], trail_arn)


if __name__ == "__main__":
    unittest.main()
