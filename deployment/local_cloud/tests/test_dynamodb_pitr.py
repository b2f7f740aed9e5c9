"""Point-in-time recovery restores the items as they were at the time asked, whatever path wrote them.

Runs against the local cloud at LOCAL_CLOUD_ENDPOINT (see deployment/local_cloud/dynamodb_history.py).
"""

import datetime
import json
import os
import time
import unittest
import urllib.request
import uuid

import boto3
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get("LOCAL_CLOUD_ENDPOINT", "http://127.0.0.1:4577")
GAP = 0.05  # seconds between a change and a restore point, so their order is unambiguous


def client(region="us-east-1"):
    return boto3.client(
        "dynamodb", endpoint_url=ENDPOINT, region_name=region, aws_access_key_id="test", aws_secret_access_key="test"
    )


def set_config(update):
    request = urllib.request.Request(ENDPOINT + "/_local_cloud/config", data=json.dumps(update).encode(), method="POST")
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read())


def s(value):
    return {"S": value}


def key(name):
    return {"pk": s(name)}


class PitrCase(unittest.TestCase):
    def setUp(self):
        self.ddb = client()
        self.tables = []  # (region, name) to delete
        self.table = self.new_table(pitr=True)

    def tearDown(self):
        for region, name in self.tables:
            try:
                client(region).delete_table(TableName=name)
            except ClientError:
                pass

    def new_table(self, pitr=False, region="us-east-1"):
        name = f"lc-pitr-{uuid.uuid4().hex[:10]}"
        ddb = client(region)
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "g", "AttributeType": "S"}],
            GlobalSecondaryIndexes=[
                {"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}], "Projection": {"ProjectionType": "ALL"}}
            ],
            BillingMode="PAY_PER_REQUEST",
            SSESpecification={"Enabled": True},
        )
        self.tables.append((region, name))
        if pitr:
            self.enable_pitr(name, ddb)
        return name

    def enable_pitr(self, name, ddb=None):
        (ddb or self.ddb).update_continuous_backups(
            TableName=name, PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True}
        )

    def moment(self):
        time.sleep(GAP)
        point = datetime.datetime.now(datetime.timezone.utc)
        time.sleep(GAP)
        return point

    def restore(self, when=None, source=None, region="us-east-1"):
        target = f"lc-pitr-restored-{uuid.uuid4().hex[:10]}"
        self.tables.append((region, target))
        args = {"RestoreDateTime": when} if when else {"UseLatestRestorableTime": True}
        client(region).restore_table_to_point_in_time(SourceTableName=source or self.table, TargetTableName=target, **args)
        return target

    def items(self, table, region="us-east-1"):
        found = client(region).scan(TableName=table, ConsistentRead=True)["Items"]
        return {i["pk"]["S"]: {k: v for k, v in i.items() if k != "pk"} for i in found}


class RestoreTest(PitrCase):
    def test_deleted_items_come_back_and_updated_items_have_their_old_value(self):
        self.ddb.put_item(TableName=self.table, Item={"pk": s("kept"), "v": s("old")})
        self.ddb.put_item(TableName=self.table, Item={"pk": s("deleted"), "v": s("x")})
        before = self.moment()
        self.ddb.delete_item(TableName=self.table, Key=key("deleted"))
        self.ddb.update_item(TableName=self.table, Key=key("kept"), UpdateExpression="SET v = :v",
                             ExpressionAttributeValues={":v": s("new")})
        self.ddb.put_item(TableName=self.table, Item={"pk": s("later"), "v": s("y")})
        restored = self.restore(before)
        self.assertEqual(self.items(restored), {"kept": {"v": s("old")}, "deleted": {"v": s("x")}})
        latest = self.restore()
        self.assertEqual(self.items(latest), {"kept": {"v": s("new")}, "later": {"v": s("y")}})

    def test_the_source_may_be_named_by_its_arn(self):
        self.ddb.put_item(TableName=self.table, Item={"pk": s("a")})
        arn = self.ddb.describe_table(TableName=self.table)["Table"]["TableArn"]
        target = f"lc-pitr-restored-{uuid.uuid4().hex[:10]}"
        self.tables.append(("us-east-1", target))
        answer = self.ddb.restore_table_to_point_in_time(SourceTableArn=arn, TargetTableName=target, UseLatestRestorableTime=True)
        self.assertEqual(answer["TableDescription"]["RestoreSummary"]["SourceTableArn"], arn)
        self.assertEqual(self.items(target), {"a": {}})

    def test_every_write_path_is_recorded(self):
        self.ddb.put_item(TableName=self.table, Item={"pk": s("put"), "v": s("1")})
        self.ddb.batch_write_item(RequestItems={self.table: [
            {"PutRequest": {"Item": {"pk": s("batch-put"), "v": s("1")}}},
            {"PutRequest": {"Item": {"pk": s("batch-deleted"), "v": s("1")}}},
        ]})
        self.ddb.transact_write_items(TransactItems=[
            {"Put": {"TableName": self.table, "Item": {"pk": s("tx-put"), "v": s("1")}}},
            {"Put": {"TableName": self.table, "Item": {"pk": s("tx-updated"), "v": s("1")}}},
            {"Put": {"TableName": self.table, "Item": {"pk": s("tx-deleted"), "v": s("1")}}},
        ])
        self.ddb.execute_statement(Statement=f"INSERT INTO \"{self.table}\" VALUE {{'pk': 'partiql', 'v': '1'}}")
        first = self.moment()
        self.ddb.update_item(TableName=self.table, Key=key("put"), UpdateExpression="SET v = :v",
                             ExpressionAttributeValues={":v": s("2")})
        self.ddb.batch_write_item(RequestItems={self.table: [
            {"PutRequest": {"Item": {"pk": s("batch-put"), "v": s("2")}}},
            {"DeleteRequest": {"Key": key("batch-deleted")}},
        ]})
        self.ddb.transact_write_items(TransactItems=[
            {"Update": {"TableName": self.table, "Key": key("tx-updated"), "UpdateExpression": "SET v = :v",
                        "ExpressionAttributeValues": {":v": s("2")}}},
            {"Delete": {"TableName": self.table, "Key": key("tx-deleted")}},
            {"Put": {"TableName": self.table, "Item": {"pk": s("tx-new"), "v": s("2")}}},
        ])
        self.ddb.execute_statement(Statement=f"DELETE FROM \"{self.table}\" WHERE pk = 'partiql'")
        everything_at_first = {
            name: {"v": s("1")}
            for name in ("put", "batch-put", "batch-deleted", "tx-put", "tx-updated", "tx-deleted", "partiql")
        }
        self.assertEqual(self.items(self.restore(first)), everything_at_first)
        self.assertEqual(
            self.items(self.restore()),
            {"put": {"v": s("2")}, "batch-put": {"v": s("2")}, "tx-put": {"v": s("1")}, "tx-updated": {"v": s("2")},
             "tx-new": {"v": s("2")}},
        )

    def test_a_cancelled_transaction_leaves_no_trace(self):
        self.ddb.put_item(TableName=self.table, Item={"pk": s("a"), "v": s("1")})
        with self.assertRaises(ClientError):
            self.ddb.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.table, "Item": {"pk": s("a"), "v": s("2")}}},
                {"ConditionCheck": {"TableName": self.table, "Key": key("missing"), "ConditionExpression": "attribute_exists(pk)"}},
            ])
        self.assertEqual(self.items(self.restore()), {"a": {"v": s("1")}})

    def test_each_region_of_a_global_table_keeps_its_own_history(self):
        replicated = self.new_table()
        self.ddb.update_table(TableName=replicated, ReplicaUpdates=[{"Create": {"RegionName": "us-west-2"}}])
        self.tables.append(("us-west-2", replicated))
        west = client("us-west-2")
        self.enable_pitr(replicated, west)
        self.ddb.put_item(TableName=replicated, Item={"pk": s("a"), "v": s("1")})
        point = self.moment()
        self.ddb.update_item(TableName=replicated, Key=key("a"), UpdateExpression="SET v = :v",
                             ExpressionAttributeValues={":v": s("2")})
        self.ddb.delete_item(TableName=replicated, Key=key("a"))
        west.put_item(TableName=replicated, Item={"pk": s("b"), "v": s("1")})
        self.assertEqual(self.items(replicated), {"b": {"v": s("1")}})  # mirrored both ways
        restored = self.restore(point, source=replicated, region="us-west-2")
        self.assertEqual(self.items(restored, "us-west-2"), {"a": {"v": s("1")}})
        with self.assertRaises(ClientError) as caught:  # PITR was enabled in us-west-2 only
            self.restore(point, source=replicated)
        self.assertEqual(caught.exception.response["Error"]["Code"], "PointInTimeRecoveryUnavailableException")

    def test_the_restored_table_has_the_source_settings_but_no_pitr_or_protection(self):
        self.ddb.update_table(TableName=self.table, DeletionProtectionEnabled=True)
        self.ddb.put_item(TableName=self.table, Item={"pk": s("a"), "g": s("G")})
        restored = self.restore()
        self.ddb.update_table(TableName=self.table, DeletionProtectionEnabled=False)
        table = self.ddb.describe_table(TableName=restored)["Table"]
        self.assertEqual(table["TableStatus"], "ACTIVE")
        self.assertEqual([i["IndexName"] for i in table["GlobalSecondaryIndexes"]], ["by-g"])
        self.assertEqual(table["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST")
        self.assertEqual(table["SSEDescription"]["Status"], "ENABLED")
        self.assertFalse(table["DeletionProtectionEnabled"])
        self.assertIn(self.table, table["RestoreSummary"]["SourceTableArn"])
        pitr = self.ddb.describe_continuous_backups(TableName=restored)["ContinuousBackupsDescription"]
        self.assertEqual(pitr["PointInTimeRecoveryDescription"]["PointInTimeRecoveryStatus"], "DISABLED")
        found = self.ddb.query(TableName=restored, IndexName="by-g", KeyConditionExpression="g = :g",
                               ExpressionAttributeValues={":g": s("G")})
        self.assertEqual(found["Count"], 1)


class WindowTest(PitrCase):
    def assertRestoreFails(self, code, **args):
        with self.assertRaises(ClientError) as caught:
            self.ddb.restore_table_to_point_in_time(
                TargetTableName=args.pop("target", f"lc-pitr-never-{uuid.uuid4().hex[:8]}"), **args
            )
        self.assertEqual(caught.exception.response["Error"]["Code"], code)

    def test_the_window_starts_when_pitr_was_enabled_and_ends_now(self):
        window = self.ddb.describe_continuous_backups(TableName=self.table)["ContinuousBackupsDescription"]
        pitr = window["PointInTimeRecoveryDescription"]
        self.assertEqual(pitr["PointInTimeRecoveryStatus"], "ENABLED")
        self.assertLess(pitr["EarliestRestorableDateTime"], pitr["LatestRestorableDateTime"])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess((now - pitr["LatestRestorableDateTime"]).total_seconds(), 5)
        self.assertRestoreFails("InvalidRestoreTimeException", SourceTableName=self.table,
                                RestoreDateTime=pitr["EarliestRestorableDateTime"] - datetime.timedelta(seconds=1))
        self.assertRestoreFails("InvalidRestoreTimeException", SourceTableName=self.table,
                                RestoreDateTime=now + datetime.timedelta(minutes=1))

    def test_errors(self):
        self.assertRestoreFails("TableNotFoundException", SourceTableName="lc-pitr-no-such-table", UseLatestRestorableTime=True)
        self.assertRestoreFails("TableAlreadyExistsException", SourceTableName=self.table, target=self.table,
                                UseLatestRestorableTime=True)
        plain = self.new_table()
        self.assertRestoreFails("PointInTimeRecoveryUnavailableException", SourceTableName=plain, UseLatestRestorableTime=True)
        self.ddb.update_continuous_backups(TableName=self.table,
                                           PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False})
        self.assertRestoreFails("PointInTimeRecoveryUnavailableException", SourceTableName=self.table,
                                UseLatestRestorableTime=True)

    def test_re_enabling_pitr_starts_a_new_window(self):
        self.ddb.put_item(TableName=self.table, Item={"pk": s("a")})
        before = self.moment()
        self.ddb.update_continuous_backups(TableName=self.table,
                                           PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": False})
        self.enable_pitr(self.table)
        self.assertRestoreFails("InvalidRestoreTimeException", SourceTableName=self.table, RestoreDateTime=before)

    def test_the_restored_table_is_creating_for_the_configured_delay(self):
        set_config({"dynamodb": {"restoreDelayMs": 600}})
        self.addCleanup(set_config, {"dynamodb": {"restoreDelayMs": 0}})
        self.ddb.put_item(TableName=self.table, Item={"pk": s("a")})
        restored = self.restore()
        self.assertEqual(self.ddb.describe_table(TableName=restored)["Table"]["TableStatus"], "CREATING")
        with self.assertRaises(ClientError) as caught:
            self.ddb.get_item(TableName=restored, Key=key("a"))
        self.assertEqual(caught.exception.response["Error"]["Code"], "ResourceNotFoundException")
        self.ddb.get_waiter("table_exists").wait(TableName=restored, WaiterConfig={"Delay": 0.2, "MaxAttempts": 50})
        self.assertIn("Item", self.ddb.get_item(TableName=restored, Key=key("a")))


if __name__ == "__main__":
    unittest.main()
