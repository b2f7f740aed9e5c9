"""CloudFormation updates, rollbacks and deletions with a custom resource, as AWS runs them.

The custom resource is the test-only function tests/functions/cfn_custom_resource.py (Handler
`local-cloud-test:cfn_custom_resource.py`): it logs every request it gets to a DynamoDB table and, like
the product's update guard, refuses an update that changes its `Protected` property (but accepts the
rollback back to the value it was created with). Runs against the local cloud at LOCAL_CLOUD_ENDPOINT.
"""

import json
import os
import time
import unittest
import urllib.request
import uuid

import boto3
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get("LOCAL_CLOUD_ENDPOINT", "http://127.0.0.1:4577")
TERMINAL = {
    "CREATE_COMPLETE", "CREATE_FAILED", "ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "UPDATE_COMPLETE",
    "UPDATE_ROLLBACK_COMPLETE", "UPDATE_ROLLBACK_FAILED", "DELETE_COMPLETE", "DELETE_FAILED",
}


def client(service, region="us-east-1"):
    return boto3.client(
        service, endpoint_url=ENDPOINT, region_name=region, aws_access_key_id="test", aws_secret_access_key="test"
    )


def set_config(update):
    request = urllib.request.Request(ENDPOINT + "/_local_cloud/config", data=json.dumps(update).encode(), method="POST")
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read())


def template(protected="A", value="v1", refuse_on=(), silent_on=(), extra_outputs=None):
    resources = {
        "Guard": {
            "Type": "Custom::TestGuard",
            "Properties": {
                "ServiceToken": {"Ref": "FunctionArn"},
                "LogTable": {"Ref": "LogTable"},
                "Protected": protected,
                "Value": {"Ref": "Value"},
                "RefuseOn": list(refuse_on),
                "SilentOn": list(silent_on),
            },
        },
        "Topic": {"Type": "AWS::SNS::Topic", "Properties": {"TopicName": {"Fn::Sub": "${AWS::StackName}-topic"}}},
    }
    outputs = {"Echo": {"Value": {"Fn::GetAtt": ["Guard", "Echo"]}}, "GuardId": {"Value": {"Ref": "Guard"}}}
    outputs.update(extra_outputs or {})
    return json.dumps({
        "Parameters": {
            "FunctionArn": {"Type": "String"}, "LogTable": {"Type": "String"},
            "Value": {"Type": "String", "Default": value},
        },
        "Resources": resources,
        "Outputs": outputs,
    })


class CustomResourceStackTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        iam = client("iam")
        role = f"lc-cfn-test-{uuid.uuid4().hex[:8]}"
        trust = {"Version": "2012-10-17", "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}]}
        arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
        cls.function = client("lambda").create_function(
            FunctionName=role, Runtime="provided.al2023", Role=arn, Handler="local-cloud-test:cfn_custom_resource.py",
            Code={"ZipFile": b"PK\x05\x06" + b"\x00" * 18}, Timeout=30,
        )["FunctionArn"]

    def setUp(self):
        self.cfn = client("cloudformation")
        self.ddb = client("dynamodb")
        self.name = f"lc-cfn-{uuid.uuid4().hex[:10]}"
        self.log_table = f"{self.name}-log"
        self.ddb.create_table(
            TableName=self.log_table, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        )
        self.addCleanup(self.ddb.delete_table, TableName=self.log_table)

    def tearDown(self):
        set_config({"cloudformation": {"customResourceTimeoutSeconds": 60}})
        try:
            self.cfn.delete_stack(StackName=self.name)
        except ClientError:
            pass

    def parameters(self, **values):
        given = {"FunctionArn": self.function, "LogTable": self.log_table, **values}
        return [{"ParameterKey": k, "ParameterValue": v} for k, v in given.items()]

    def wait(self, stack_id, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            stack = self.cfn.describe_stacks(StackName=stack_id)["Stacks"][0]
            if stack["StackStatus"] in TERMINAL:
                return stack
            time.sleep(0.1)
        self.fail(f"stack still {stack['StackStatus']} after {timeout} s")

    def create(self, body=None, **values):
        stack_id = self.cfn.create_stack(StackName=self.name, TemplateBody=body or template(), Parameters=self.parameters(**values))["StackId"]
        return stack_id, self.wait(stack_id)

    def requests(self):
        """The requests the custom resource got, oldest first."""
        items = self.ddb.scan(TableName=self.log_table, ConsistentRead=True)["Items"]
        return [json.loads(i["event"]["S"]) for i in sorted(items, key=lambda i: float(i["at"]["N"]))]

    def outputs(self, stack):
        return {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}

    def events(self, stack_id, logical_id):
        events = self.cfn.describe_stack_events(StackName=stack_id)["StackEvents"]
        return [(e["ResourceStatus"], e.get("ResourceStatusReason")) for e in reversed(events) if e["LogicalResourceId"] == logical_id]

    def test_create_then_an_accepted_update(self):
        stack_id, stack = self.create()
        self.assertEqual(stack["StackStatus"], "CREATE_COMPLETE")
        self.assertEqual(self.outputs(stack), {"Echo": "v1", "GuardId": "resource-A"})
        self.cfn.update_stack(StackName=self.name, TemplateBody=template(), Parameters=self.parameters(Value="v2"))
        self.assertEqual(self.cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"], "UPDATE_IN_PROGRESS")
        stack = self.wait(stack_id)
        self.assertEqual(stack["StackStatus"], "UPDATE_COMPLETE")
        self.assertEqual(self.outputs(stack), {"Echo": "v2", "GuardId": "resource-A"})
        create, update = self.requests()
        self.assertEqual(create["RequestType"], "Create")
        self.assertEqual(update["RequestType"], "Update")
        self.assertEqual(update["PhysicalResourceId"], "resource-A")
        self.assertEqual(update["ResourceProperties"]["Value"], "v2")
        self.assertEqual(update["OldResourceProperties"]["Value"], "v1")
        self.assertEqual(update["ResourceProperties"]["ServiceToken"], self.function)

    def test_a_refused_update_rolls_back_with_old_and_new_swapped(self):
        stack_id, _ = self.create()
        self.cfn.update_stack(StackName=self.name, TemplateBody=template(protected="B"), Parameters=self.parameters(Value="v2"))
        stack = self.wait(stack_id)
        self.assertEqual(stack["StackStatus"], "UPDATE_ROLLBACK_COMPLETE")
        self.assertEqual(self.outputs(stack)["Echo"], "v1")
        self.assertEqual({p["ParameterKey"]: p["ParameterValue"] for p in stack["Parameters"]}["Value"], "v1")
        body = self.cfn.get_template(StackName=stack_id)["TemplateBody"]
        body = json.loads(body) if isinstance(body, str) else body  # boto3 parses a JSON template
        self.assertEqual(body["Resources"]["Guard"]["Properties"]["Protected"], "A")
        _create, refused, rollback = self.requests()
        self.assertEqual((refused["RequestType"], refused["ResourceProperties"]["Protected"], refused["OldResourceProperties"]["Protected"]),
                         ("Update", "B", "A"))
        self.assertEqual((rollback["RequestType"], rollback["ResourceProperties"]["Protected"], rollback["OldResourceProperties"]["Protected"]),
                         ("Update", "A", "B"))
        self.assertEqual(rollback["PhysicalResourceId"], "resource-A")
        statuses = self.events(stack_id, "Guard")
        failed = [reason for status, reason in statuses if status == "UPDATE_FAILED"]
        self.assertEqual(len(failed), 1)
        self.assertIn("Received response status [FAILED] from custom resource. Message returned: Protected cannot change from A to B", failed[0])
        stack_events = [s for s, _ in self.events(stack_id, self.name)]
        self.assertEqual(stack_events[-3:], ["UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE_CLEANUP_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"])
        # The stack can be updated again afterwards.
        self.cfn.update_stack(StackName=self.name, TemplateBody=template(), Parameters=self.parameters(Value="v3"))
        self.assertEqual(self.wait(stack_id)["StackStatus"], "UPDATE_COMPLETE")

    def test_a_refused_rollback_leaves_update_rollback_failed(self):
        stack_id, _ = self.create(body=template(refuse_on=["Update"]))
        self.cfn.update_stack(StackName=self.name, TemplateBody=template(refuse_on=["Update"]), Parameters=self.parameters(Value="v2"))
        stack = self.wait(stack_id)
        self.assertEqual(stack["StackStatus"], "UPDATE_ROLLBACK_FAILED")
        self.assertEqual([r["RequestType"] for r in self.requests()], ["Create", "Update", "Update"])
        with self.assertRaises(ClientError) as caught:
            self.cfn.update_stack(StackName=self.name, TemplateBody=template(), Parameters=self.parameters())
        self.assertIn("UPDATE_ROLLBACK_FAILED", caught.exception.response["Error"]["Message"])
        self.cfn.continue_update_rollback(StackName=self.name, ResourcesToSkip=["Guard"])
        self.assertEqual(self.wait(stack_id)["StackStatus"], "UPDATE_ROLLBACK_COMPLETE")

    def test_a_failed_create_rolls_back_and_deletes_the_resource(self):
        stack_id, stack = self.create(body=template(refuse_on=["Create"]))
        self.assertEqual(stack["StackStatus"], "ROLLBACK_COMPLETE")
        self.assertEqual([r["RequestType"] for r in self.requests()], ["Create", "Delete"])
        self.assertEqual(client("sns").list_topics()["Topics"].count({"TopicArn": f"arn:aws:sns:us-east-1:123456789012:{self.name}-topic"}), 0)
        reasons = [r for s, r in self.events(stack_id, "Guard") if s == "CREATE_FAILED"]
        self.assertIn("Create refused by the test resource", reasons[0])

    def test_a_silent_resource_fails_after_the_timeout(self):
        set_config({"cloudformation": {"customResourceTimeoutSeconds": 1}})
        stack_id, stack = self.create(body=template(silent_on=["Create"]))
        self.assertEqual(stack["StackStatus"], "ROLLBACK_COMPLETE")
        reasons = [r for s, r in self.events(stack_id, "Guard") if s == "CREATE_FAILED"]
        self.assertIn("CloudFormation did not receive a response from your Custom Resource", reasons[0])

    def test_delete_reaches_the_custom_resource(self):
        stack_id, _ = self.create()
        self.cfn.delete_stack(StackName=self.name)
        stack = self.wait(stack_id)
        self.assertEqual(stack["StackStatus"], "DELETE_COMPLETE")
        delete = self.requests()[-1]
        self.assertEqual((delete["RequestType"], delete["PhysicalResourceId"]), ("Delete", "resource-A"))
        self.assertEqual(self.cfn.describe_stacks(StackName=stack_id)["Stacks"][0]["StackStatus"], "DELETE_COMPLETE")
        with self.assertRaises(ClientError):
            self.cfn.describe_stacks(StackName=self.name)  # by name, a deleted stack is gone

    def test_a_refused_delete_leaves_delete_failed(self):
        stack_id, _ = self.create(body=template(refuse_on=["Delete"]))
        self.cfn.delete_stack(StackName=self.name)
        stack = self.wait(stack_id)
        self.assertEqual(stack["StackStatus"], "DELETE_FAILED")
        self.assertIn("Guard", stack["StackStatusReason"])
        self.cfn.delete_stack(StackName=self.name)  # asks the custom resource again
        self.assertEqual(self.wait(stack_id)["StackStatus"], "DELETE_FAILED")
        self.cfn.delete_stack(StackName=self.name, RetainResources=["Guard"])
        self.assertEqual(self.wait(stack_id)["StackStatus"], "DELETE_COMPLETE")
        self.assertEqual([r["RequestType"] for r in self.requests()], ["Create", "Delete", "Delete"])


REGIONAL_TEMPLATE = json.dumps({
    "Parameters": {"Greeting": {"Type": "String"}, "Prefix": {"Type": "String"}},
    "Resources": {"Setting": {"Type": "AWS::SSM::Parameter", "Properties": {
        "Name": {"Fn::Sub": "/${Prefix}/${AWS::Region}/greeting"}, "Type": "String", "Value": {"Ref": "Greeting"}}}},
    "Outputs": {"Greeting": {"Value": {"Ref": "Greeting"}}, "SettingName": {"Value": {"Ref": "Setting"}}},
})


class StackSetTest(unittest.TestCase):
    """The StackSet resource deploys its instances in two Regions; updating the main stack's
    parameters updates them; each instance's outputs are readable from its StackId."""

    def setUp(self):
        self.cfn = client("cloudformation")
        self.name = f"lc-set-{uuid.uuid4().hex[:8]}"
        s3 = client("s3")
        s3.create_bucket(Bucket=self.name)
        s3.put_object(Bucket=self.name, Key="regional.json", Body=REGIONAL_TEMPLATE.encode())
        self.template = json.dumps({
            "Parameters": {"Greeting": {"Type": "String"}},
            "Resources": {"Set": {"Type": "AWS::CloudFormation::StackSet", "Properties": {
                "StackSetName": self.name, "PermissionModel": "SELF_MANAGED",
                "TemplateURL": f"https://{self.name}.s3.amazonaws.com/regional.json",
                "Parameters": [{"ParameterKey": "Greeting", "ParameterValue": {"Ref": "Greeting"}},
                               {"ParameterKey": "Prefix", "ParameterValue": self.name}],
                "StackInstancesGroup": [{"DeploymentTargets": {"Accounts": [{"Ref": "AWS::AccountId"}]},
                                         "Regions": ["us-east-1", "us-west-2"]}]}}},
        })

    def tearDown(self):
        self.cfn.delete_stack(StackName=self.name)

    def instance_outputs(self):
        found = {}
        for instance in self.cfn.list_stack_instances(StackSetName=self.name)["Summaries"]:
            stack = client("cloudformation", instance["Region"]).describe_stacks(StackName=instance["StackId"])["Stacks"][0]
            found[instance["Region"]] = {o["OutputKey"]: o["OutputValue"] for o in stack.get("Outputs", [])}
        return found

    def wait(self, stack_id):
        return CustomResourceStackTest.wait(self, stack_id)

    def test_instances_follow_the_main_stack(self):
        stack_id = self.cfn.create_stack(StackName=self.name, TemplateBody=self.template,
                                         Parameters=[{"ParameterKey": "Greeting", "ParameterValue": "hello"}])["StackId"]
        self.assertEqual(self.wait(stack_id)["StackStatus"], "CREATE_COMPLETE")
        outputs = self.instance_outputs()
        self.assertEqual({r: o["Greeting"] for r, o in outputs.items()}, {"us-east-1": "hello", "us-west-2": "hello"})
        self.cfn.update_stack(StackName=self.name, TemplateBody=self.template,
                              Parameters=[{"ParameterKey": "Greeting", "ParameterValue": "bonjour"}])
        self.assertEqual(self.wait(stack_id)["StackStatus"], "UPDATE_COMPLETE")
        self.assertEqual({r: o["Greeting"] for r, o in self.instance_outputs().items()}, {"us-east-1": "bonjour", "us-west-2": "bonjour"})
        setting = client("ssm", "us-west-2").get_parameter(Name=f"/{self.name}/us-west-2/greeting")["Parameter"]
        self.assertEqual(setting["Value"], "bonjour")


class GlobalTableUpdateTest(unittest.TestCase):
    """Changing a global table's replica Regions adds and removes replicas, as AWS does (a removed
    replica's table is deleted)."""

    def template(self, regions, protect_west=False):
        replicas = [{"Region": r, "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True}} for r in regions]
        for replica in replicas:
            if replica["Region"] == "us-west-2" and protect_west:
                replica["DeletionProtectionEnabled"] = True
        return json.dumps({"Resources": {"Table": {"Type": "AWS::DynamoDB::GlobalTable", "Properties": {
            "TableName": self.name, "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "StreamSpecification": {"StreamViewType": "NEW_AND_OLD_IMAGES"}, "Replicas": replicas}}}})

    def setUp(self):
        self.cfn = client("cloudformation")
        self.name = f"lc-gt-{uuid.uuid4().hex[:8]}"

    def tearDown(self):
        for region in ("us-east-1", "us-west-2", "eu-west-1"):
            try:
                client("dynamodb", region).update_table(TableName=self.name, DeletionProtectionEnabled=False)
            except ClientError:
                pass
        self.cfn.delete_stack(StackName=self.name)

    def tables(self):
        """The Regions holding the table (DescribeTable: ListTables pages at 100 tables, and the suite makes many)."""
        def exists(region):
            try:
                client("dynamodb", region).describe_table(TableName=self.name)
                return True
            except ClientError:
                return False

        return {r for r in ("us-east-1", "us-west-2", "eu-west-1") if exists(r)}

    def wait(self, stack_id):
        return CustomResourceStackTest.wait(self, stack_id)

    def test_moving_a_replica(self):
        stack_id = self.cfn.create_stack(StackName=self.name, TemplateBody=self.template(["us-east-1", "us-west-2"]))["StackId"]
        self.assertEqual(self.wait(stack_id)["StackStatus"], "CREATE_COMPLETE")
        client("dynamodb").put_item(TableName=self.name, Item={"pk": {"S": "kept"}})
        self.cfn.update_stack(StackName=self.name, TemplateBody=self.template(["us-east-1", "eu-west-1"]))
        self.assertEqual(self.wait(stack_id)["StackStatus"], "UPDATE_COMPLETE")
        self.assertEqual(self.tables(), {"us-east-1", "eu-west-1"})
        self.assertEqual(client("dynamodb", "eu-west-1").scan(TableName=self.name)["Count"], 1)

    def test_a_protected_replica_is_not_removed(self):
        stack_id = self.cfn.create_stack(StackName=self.name, TemplateBody=self.template(["us-east-1", "us-west-2"], True))["StackId"]
        self.assertEqual(self.wait(stack_id)["StackStatus"], "CREATE_COMPLETE")
        self.cfn.update_stack(StackName=self.name, TemplateBody=self.template(["us-east-1"], True))
        self.assertEqual(self.wait(stack_id)["StackStatus"], "UPDATE_ROLLBACK_COMPLETE")
        self.assertEqual(self.tables(), {"us-east-1", "us-west-2"})


if __name__ == "__main__":
    unittest.main()
