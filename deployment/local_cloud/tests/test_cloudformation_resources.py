"""A template with every resource type the product's templates use deploys through the local
CloudFormation, and each resource really exists in its service with the properties given.

Runs against the local cloud at LOCAL_CLOUD_ENDPOINT (see deployment/local_cloud/cloudformation_gaps.py).
"""

import datetime
import json
import os
import time
import unittest
import uuid

import boto3
from botocore.exceptions import ClientError

from .script_functions import wait_stack

ENDPOINT = os.environ.get("LOCAL_CLOUD_ENDPOINT", "http://127.0.0.1:4577")


def client(service, region="us-east-1"):
    return boto3.client(
        service, endpoint_url=ENDPOINT, region_name=region, aws_access_key_id="test", aws_secret_access_key="test"
    )


def allow(principal, action, resource="*"):
    return {"Effect": "Allow", "Principal": {"Service": principal}, "Action": action, "Resource": resource}


def resources_template():
    """Every resource type the product's templates use beyond the ones moto always handled."""
    resources = {
        "Role": {"Type": "AWS::IAM::Role", "Properties": {"AssumeRolePolicyDocument": {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": ["lambda.amazonaws.com", "events.amazonaws.com", "states.amazonaws.com"]},
             "Action": "sts:AssumeRole"}]}}},
        "Key": {"Type": "AWS::KMS::Key", "Properties": {
            "Description": "alarms and events", "EnableKeyRotation": True,
            "KeyPolicy": {"Version": "2012-10-17", "Statement": [
                {"Sid": "Root", "Effect": "Allow", "Principal": {"AWS": {"Fn::Sub": "arn:aws:iam::${AWS::AccountId}:root"}},
                 "Action": "kms:*", "Resource": "*"},
                allow(["cloudwatch.amazonaws.com", "events.amazonaws.com"], ["kms:Decrypt", "kms:GenerateDataKey*"])]}}},
        "KeyAlias": {"Type": "AWS::KMS::Alias", "Properties": {
            "AliasName": {"Fn::Sub": "alias/${AWS::StackName}"}, "TargetKeyId": {"Ref": "Key"}}},
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {
            "TopicName": {"Fn::Sub": "${AWS::StackName}-alarms"}, "KmsMasterKeyId": {"Ref": "Key"}}},
        "Parameter": {"Type": "AWS::SSM::Parameter", "Properties": {
            "Name": {"Fn::Sub": "/${AWS::StackName}/setting"}, "Type": "String", "Value": "on"}},
        "DeadLetters": {"Type": "AWS::SQS::Queue", "Properties": {"MessageRetentionPeriod": 1209600}},
        "Queue": {"Type": "AWS::SQS::Queue", "Properties": {
            "VisibilityTimeout": 60, "KmsMasterKeyId": {"Ref": "Key"},
            "RedrivePolicy": {"deadLetterTargetArn": {"Fn::GetAtt": ["DeadLetters", "Arn"]}, "maxReceiveCount": 3}}},
        "QueuePolicy": {"Type": "AWS::SQS::QueuePolicy", "Properties": {
            "Queues": [{"Ref": "Queue"}],
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                dict(allow("events.amazonaws.com", "sqs:SendMessage", {"Fn::GetAtt": ["Queue", "Arn"]}),
                     Condition={"ArnEquals": {"aws:SourceArn": {"Fn::GetAtt": ["Rule", "Arn"]}}})]}}},
        "Function": {"Type": "AWS::Lambda::Function", "Properties": {
            "FunctionName": {"Fn::Sub": "${AWS::StackName}-fn"}, "Runtime": "provided.al2023",
            "Handler": "local-cloud-test:echo.py", "Role": {"Fn::GetAtt": ["Role", "Arn"]},
            "Code": {"ZipFile": "placeholder"}, "Timeout": 30, "MemorySize": 256}},
        "Mapping": {"Type": "AWS::Lambda::EventSourceMapping", "Properties": {
            "EventSourceArn": {"Fn::GetAtt": ["Queue", "Arn"]}, "FunctionName": {"Ref": "Function"},
            "BatchSize": 5, "MaximumBatchingWindowInSeconds": 2, "FunctionResponseTypes": ["ReportBatchItemFailures"],
            "ScalingConfig": {"MaximumConcurrency": 2}}},
        "Permission": {"Type": "AWS::Lambda::Permission", "Properties": {
            "FunctionName": {"Fn::GetAtt": ["Function", "Arn"]}, "Action": "lambda:InvokeFunction",
            "Principal": "events.amazonaws.com", "SourceArn": {"Fn::GetAtt": ["Rule", "Arn"]}}},
        "Workflow": {"Type": "AWS::StepFunctions::StateMachine", "Properties": {
            "StateMachineName": {"Fn::Sub": "${AWS::StackName}-wf"}, "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
            "Definition": {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}}},
        "Rule": {"Type": "AWS::Events::Rule", "Properties": {
            "Name": {"Fn::Sub": "${AWS::StackName}-rule"},
            "EventPattern": {"source": ["aws.cognito-idp"], "detail-type": ["AWS API Call via CloudTrail"]},
            "Targets": [
                {"Id": "queue", "Arn": {"Fn::GetAtt": ["Queue", "Arn"]}},
                {"Id": "function", "Arn": {"Fn::GetAtt": ["Function", "Arn"]}},
                {"Id": "workflow", "Arn": {"Ref": "Workflow"}, "RoleArn": {"Fn::GetAtt": ["Role", "Arn"]},
                 "Input": "{\"mode\": \"scheduled\"}"}]}},
        "Reports": {"Type": "AWS::S3::Bucket", "Properties": {
            "LifecycleConfiguration": {"Rules": [
                {"Id": "expire-reports", "Status": "Enabled", "ExpirationInDays": 30, "Prefix": "reports/"}]}}},
        "TrailBucket": {"Type": "AWS::S3::Bucket"},
        "TrailBucketPolicy": {"Type": "AWS::S3::BucketPolicy", "Properties": {
            "Bucket": {"Ref": "TrailBucket"},
            "PolicyDocument": {"Version": "2012-10-17", "Statement": [
                allow("cloudtrail.amazonaws.com", "s3:GetBucketAcl", {"Fn::GetAtt": ["TrailBucket", "Arn"]}),
                allow("cloudtrail.amazonaws.com", "s3:PutObject", {"Fn::Sub": "${TrailBucket.Arn}/AWSLogs/*"})]}}},
        "Trail": {"Type": "AWS::CloudTrail::Trail", "DependsOn": "TrailBucketPolicy", "Properties": {
            "TrailName": {"Fn::Sub": "${AWS::StackName}-trail"}, "S3BucketName": {"Ref": "TrailBucket"},
            "IsLogging": True, "IsMultiRegionTrail": False, "IncludeGlobalServiceEvents": True}},
        "Alarm": {"Type": "AWS::CloudWatch::Alarm", "Properties": {
            "AlarmName": {"Fn::Sub": "${AWS::StackName}-failures"}, "Namespace": "AWS/States",
            "MetricName": "ExecutionsFailed", "Dimensions": [{"Name": "StateMachineArn", "Value": {"Ref": "Workflow"}}],
            "Statistic": "Sum", "Period": 300, "EvaluationPeriods": 1, "Threshold": 1,
            "ComparisonOperator": "GreaterThanOrEqualToThreshold", "TreatMissingData": "notBreaching",
            "AlarmActions": [{"Ref": "Topic"}]}},
        "Ledger": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "TableName": {"Fn::Sub": "${AWS::StackName}-ledger"}, "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "DeletionProtectionEnabled": True,
            "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}},
        "Backups": {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {
            "TableName": {"Fn::Sub": "${AWS::StackName}-backup"}, "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"},
                                     {"AttributeName": "run", "AttributeType": "S"}],
            "GlobalSecondaryIndexes": [{"IndexName": "by-run", "KeySchema": [{"AttributeName": "run", "KeyType": "HASH"}],
                                        "Projection": {"ProjectionType": "KEYS_ONLY"}}],
            "TimeToLiveSpecification": {"AttributeName": "expires", "Enabled": True},
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"},
            "SSESpecification": {"SSEEnabled": True, "SSEType": "KMS"},
            "Replicas": [
                {"Region": "us-east-1", "DeletionProtectionEnabled": True,
                 "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}},
                {"Region": "us-west-2", "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}}]}},
    }
    outputs = {
        "KeyArn": {"Fn::GetAtt": ["Key", "Arn"]}, "KeyId": {"Ref": "Key"}, "KeyIdAttribute": {"Fn::GetAtt": ["Key", "KeyId"]},
        
        "AliasName": {"Ref": "KeyAlias"}, "TopicArn": {"Ref": "Topic"}, "TopicName": {"Fn::GetAtt": ["Topic", "TopicName"]},
        "ParameterName": {"Ref": "Parameter"}, "QueueUrl": {"Ref": "Queue"}, "QueueArn": {"Fn::GetAtt": ["Queue", "Arn"]},
        "FunctionArn": {"Fn::GetAtt": ["Function", "Arn"]}, "MappingId": {"Ref": "Mapping"}, "RuleArn": {"Fn::GetAtt": ["Rule", "Arn"]},
        "WorkflowArn": {"Ref": "Workflow"}, "ReportsBucket": {"Ref": "Reports"}, "ReportsArn": {"Fn::GetAtt": ["Reports", "Arn"]},
        "TrailArn": {"Fn::GetAtt": ["Trail", "Arn"]}, "AlarmArn": {"Fn::GetAtt": ["Alarm", "Arn"]}, "AlarmName": {"Ref": "Alarm"},
        "LedgerArn": {"Fn::GetAtt": ["Ledger", "Arn"]}, "BackupsName": {"Ref": "Backups"},
        "BackupsArn": {"Fn::GetAtt": ["Backups", "Arn"]}, "BackupsStreamArn": {"Fn::GetAtt": ["Backups", "StreamArn"]},
    }
    return json.dumps({"Resources": resources, "Outputs": {k: {"Value": v} for k, v in outputs.items()}})


class ResourceTypesTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.cfn = client("cloudformation")
        cls.name = f"lc-res-{uuid.uuid4().hex[:8]}"
        cls.stack_id = cls.cfn.create_stack(StackName=cls.name, TemplateBody=resources_template())["StackId"]
        cls.stack = wait_stack(cls.cfn, cls.stack_id)
        cls.out = {o["OutputKey"]: o["OutputValue"] for o in cls.stack.get("Outputs", [])}

    @classmethod
    def tearDownClass(cls):
        for region in ("us-east-1", "us-west-2"):  # the tables are protected: unprotect, then delete
            for table in (f"{cls.name}-ledger", f"{cls.name}-backup"):
                try:
                    client("dynamodb", region).update_table(TableName=table, DeletionProtectionEnabled=False)
                except ClientError:
                    pass
        cls.cfn.delete_stack(StackName=cls.stack_id)
        wait_stack(cls.cfn, cls.stack_id)

    def test_the_stack_is_created_with_its_outputs(self):
        self.assertEqual(self.stack["StackStatus"], "CREATE_COMPLETE")
        self.assertEqual(len(self.out), 22)
        self.assertEqual(self.out["KeyIdAttribute"], self.out["KeyId"])

    def test_kms_key_and_alias(self):
        kms = client("kms")
        key = kms.describe_key(KeyId=self.out["KeyId"])["KeyMetadata"]
        self.assertEqual((key["Arn"], key["Description"]), (self.out["KeyArn"], "alarms and events"))
        policy = json.loads(kms.get_key_policy(KeyId=self.out["KeyId"], PolicyName="default")["Policy"])
        self.assertIn("cloudwatch.amazonaws.com", json.dumps(policy["Statement"][1]))
        aliases = {a["AliasName"]: a.get("TargetKeyId") for a in kms.list_aliases()["Aliases"]}
        self.assertEqual(aliases[self.out["AliasName"]], self.out["KeyId"])
        self.assertTrue(kms.get_key_rotation_status(KeyId=self.out["KeyId"])["KeyRotationEnabled"])

    def test_topic_encrypted_with_the_key(self):
        attributes = client("sns").get_topic_attributes(TopicArn=self.out["TopicArn"])["Attributes"]
        self.assertEqual(attributes["KmsMasterKeyId"], self.out["KeyId"])

    def test_ssm_parameter(self):
        self.assertEqual(client("ssm").get_parameter(Name=self.out["ParameterName"])["Parameter"]["Value"], "on")

    def test_queue_with_redrive_key_and_policy(self):
        attributes = client("sqs").get_queue_attributes(QueueUrl=self.out["QueueUrl"], AttributeNames=["All"])["Attributes"]
        redrive = json.loads(attributes["RedrivePolicy"])
        self.assertEqual(int(redrive["maxReceiveCount"]), 3)
        self.assertTrue(redrive["deadLetterTargetArn"].startswith("arn:aws:sqs:us-east-1:"))
        self.assertEqual(attributes["KmsMasterKeyId"], self.out["KeyId"])
        policy = json.loads(attributes["Policy"])
        self.assertEqual(policy["Statement"][0]["Principal"], {"Service": "events.amazonaws.com"})
        self.assertEqual(policy["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"], self.out["RuleArn"])

    def test_event_source_mapping(self):
        mapping = client("lambda").get_event_source_mapping(UUID=self.out["MappingId"])
        self.assertEqual(mapping["EventSourceArn"], self.out["QueueArn"])
        self.assertEqual(mapping["FunctionArn"], self.out["FunctionArn"])
        self.assertEqual((mapping["BatchSize"], mapping["MaximumBatchingWindowInSeconds"]), (5, 2))
        self.assertEqual(mapping["FunctionResponseTypes"], ["ReportBatchItemFailures"])
        self.assertEqual(mapping["ScalingConfig"], {"MaximumConcurrency": 2})

    def test_lambda_permission(self):
        policy = json.loads(client("lambda").get_policy(FunctionName=self.out["FunctionArn"])["Policy"])
        statement = policy["Statement"][0]
        self.assertEqual(statement["Principal"], {"Service": "events.amazonaws.com"})
        self.assertEqual(statement["Action"], "lambda:InvokeFunction")
        self.assertEqual(statement["Condition"]["ArnLike"]["AWS:SourceArn"], self.out["RuleArn"])

    def test_rule_with_pattern_and_targets(self):
        events = client("events")
        rule = events.describe_rule(Name=f"{self.name}-rule")
        self.assertEqual(json.loads(rule["EventPattern"]), {"source": ["aws.cognito-idp"], "detail-type": ["AWS API Call via CloudTrail"]})
        targets = {t["Id"]: t for t in events.list_targets_by_rule(Rule=f"{self.name}-rule")["Targets"]}
        self.assertEqual(set(targets), {"queue", "function", "workflow"})
        self.assertEqual(targets["queue"]["Arn"], self.out["QueueArn"])
        self.assertEqual(targets["workflow"]["Arn"], self.out["WorkflowArn"])
        self.assertEqual(json.loads(targets["workflow"]["Input"]), {"mode": "scheduled"})
        self.assertTrue(targets["workflow"]["RoleArn"].startswith("arn:aws:iam::"))

    def test_bucket_lifecycle_and_trail_bucket_policy(self):
        s3 = client("s3")
        rules = s3.get_bucket_lifecycle_configuration(Bucket=self.out["ReportsBucket"])["Rules"]
        self.assertEqual(len(rules), 1)
        self.assertEqual((rules[0]["ID"], rules[0]["Status"], rules[0]["Expiration"]["Days"]), ("expire-reports", "Enabled", 30))
        trail = client("cloudtrail").describe_trails(trailNameList=[self.out["TrailArn"]])["trailList"][0]
        policy = json.loads(s3.get_bucket_policy(Bucket=trail["S3BucketName"])["Policy"])
        self.assertEqual({s["Action"] for s in policy["Statement"]}, {"s3:GetBucketAcl", "s3:PutObject"})

    def test_trail_is_logging(self):
        cloudtrail = client("cloudtrail")
        self.assertTrue(cloudtrail.get_trail_status(Name=self.out["TrailArn"])["IsLogging"])

    def test_alarm_exists(self):
        alarms = client("cloudwatch").describe_alarms(AlarmNames=[self.out["AlarmName"]])["MetricAlarms"]
        self.assertEqual(len(alarms), 1)
        self.assertEqual(alarms[0]["AlarmArn"], self.out["AlarmArn"])
        self.assertEqual(alarms[0]["AlarmActions"], [self.out["TopicArn"]])
        self.assertEqual(alarms[0]["ComparisonOperator"], "GreaterThanOrEqualToThreshold")

    def test_table_with_deletion_protection_and_pitr(self):
        ddb = client("dynamodb")
        table = ddb.describe_table(TableName=f"{self.name}-ledger")["Table"]
        self.assertTrue(table["DeletionProtectionEnabled"])
        pitr = ddb.describe_continuous_backups(TableName=f"{self.name}-ledger")["ContinuousBackupsDescription"]
        self.assertEqual(pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"], "ENABLED")

    def test_global_table_replicas_indexes_ttl_protection_and_pitr(self):
        name = self.out["BackupsName"]
        for region, protected in (("us-east-1", True), ("us-west-2", False)):
            ddb = client("dynamodb", region)
            table = ddb.describe_table(TableName=name)["Table"]
            self.assertEqual([i["IndexName"] for i in table["GlobalSecondaryIndexes"]], ["by-run"])
            self.assertEqual(table["DeletionProtectionEnabled"], protected)
            self.assertEqual(ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]["AttributeName"], "expires")
            pitr = ddb.describe_continuous_backups(TableName=name)["ContinuousBackupsDescription"]
            self.assertEqual(pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"], "ENABLED")
        self.assertEqual({r["RegionName"] for r in client("dynamodb").describe_table(TableName=name)["Table"]["Replicas"]},
                         {"us-east-1", "us-west-2"})
        # The replica's PITR history started with the stack: a write mirrored there can be undone.
        client("dynamodb").put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"S": "b"}})
        time.sleep(0.05)
        point = datetime.datetime.now(datetime.timezone.utc)
        time.sleep(0.05)
        client("dynamodb").delete_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"S": "b"}})
        west = client("dynamodb", "us-west-2")
        target = f"{name}-restored"
        west.restore_table_to_point_in_time(SourceTableName=name, TargetTableName=target, RestoreDateTime=point)
        self.addCleanup(west.delete_table, TableName=target)
        self.assertEqual(west.scan(TableName=target)["Count"], 1)

    def test_deleting_a_stack_with_a_protected_table_fails_until_unprotected(self):
        cfn = self.cfn
        name = f"lc-res-protected-{uuid.uuid4().hex[:8]}"
        body = json.dumps({"Resources": {"Table": {"Type": "AWS::DynamoDB::Table", "Properties": {
            "TableName": name, "BillingMode": "PAY_PER_REQUEST", "DeletionProtectionEnabled": True,
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}]}}}})
        stack_id = cfn.create_stack(StackName=name, TemplateBody=body)["StackId"]
        self.assertEqual(wait_stack(cfn, stack_id)["StackStatus"], "CREATE_COMPLETE")
        cfn.delete_stack(StackName=stack_id)
        stack = wait_stack(cfn, stack_id)
        self.assertEqual(stack["StackStatus"], "DELETE_FAILED")
        self.assertIn("protected against deletion", json.dumps(cfn.describe_stack_events(StackName=stack_id)["StackEvents"], default=str))
        client("dynamodb").update_table(TableName=name, DeletionProtectionEnabled=False)
        cfn.delete_stack(StackName=stack_id)
        self.assertEqual(wait_stack(cfn, stack_id)["StackStatus"], "DELETE_COMPLETE")
        with self.assertRaises(ClientError):
            client("dynamodb").describe_table(TableName=name)


if __name__ == "__main__":
    unittest.main()
