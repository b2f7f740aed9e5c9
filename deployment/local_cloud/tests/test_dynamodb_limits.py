"""DynamoDB limits and consumed-capacity arithmetic, as AWS enforces and computes them.

Sizes below follow AWS's item size rules: a string attribute costs len(name) + len(value) bytes.
Runs against the local cloud at LOCAL_CLOUD_ENDPOINT (see deployment/local_cloud/server.py).
"""

import json
import os
import unittest
import urllib.request
import uuid

import boto3
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get("LOCAL_CLOUD_ENDPOINT", "http://127.0.0.1:4577")


def client(region="us-east-1"):
    return boto3.client(
        "dynamodb", endpoint_url=ENDPOINT, region_name=region, aws_access_key_id="test", aws_secret_access_key="test"
    )


def local_cloud(path, body):
    request = urllib.request.Request(ENDPOINT + path, data=json.dumps(body).encode(), method="POST")
    with urllib.request.urlopen(request) as answer:
        return json.loads(answer.read())


def s(value):
    return {"S": value}


def item(pk, sk, size):
    """An item of exactly `size` bytes: pk (2+len) + sk (2+len) + d (1+len)."""
    fixed = 2 + len(pk) + 2 + len(sk) + 1
    return {"pk": s(pk), "sk": s(sk), "d": s("x" * (size - fixed))}


class DynamoDbCase(unittest.TestCase):
    def setUp(self):
        self.ddb = client()
        self.table = f"lc-limits-{uuid.uuid4().hex[:10]}"
        self.ddb.create_table(
            TableName=self.table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[
                {"AttributeName": "pk", "AttributeType": "S"},
                {"AttributeName": "sk", "AttributeType": "S"},
                {"AttributeName": "g", "AttributeType": "S"},
            ],
            GlobalSecondaryIndexes=[
                {"IndexName": "by-g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}], "Projection": {"ProjectionType": "KEYS_ONLY"}}
            ],
            BillingMode="PAY_PER_REQUEST",
        )

    def tearDown(self):
        try:
            self.ddb.update_table(TableName=self.table, DeletionProtectionEnabled=False)
            self.ddb.delete_table(TableName=self.table)
        except ClientError:
            pass

    def assertValidation(self, call, message_part=""):
        with self.assertRaises(ClientError) as caught:
            call()
        self.assertEqual(caught.exception.response["Error"]["Code"], "ValidationException")
        self.assertIn(message_part, caught.exception.response["Error"]["Message"])


class LimitsTest(DynamoDbCase):
    def test_batch_write_over_25_requests_is_refused(self):
        requests = [{"PutRequest": {"Item": item("p", f"s{i}", 100)}} for i in range(26)]
        self.assertValidation(lambda: self.ddb.batch_write_item(RequestItems={self.table: requests}))
        self.ddb.batch_write_item(RequestItems={self.table: requests[:25]})
        self.assertEqual(self.ddb.scan(TableName=self.table)["Count"], 25)

    def test_batch_write_naming_a_key_twice_is_refused(self):
        put = {"PutRequest": {"Item": item("p", "same", 100)}}
        other_put = {"PutRequest": {"Item": item("p", "same", 200)}}
        delete = {"DeleteRequest": {"Key": {"sk": s("same"), "pk": s("p")}}}
        for pair in ([put, other_put], [put, delete]):
            self.assertValidation(
                lambda: self.ddb.batch_write_item(RequestItems={self.table: pair}), "contains duplicates"
            )
        self.assertEqual(self.ddb.scan(TableName=self.table)["Count"], 0)

    def test_batch_get_over_100_keys_or_a_duplicate_key_is_refused(self):
        keys = [{"pk": s("p"), "sk": s(f"s{i}")} for i in range(101)]
        self.assertValidation(lambda: self.ddb.batch_get_item(RequestItems={self.table: {"Keys": keys}}))
        twice = [{"pk": s("p"), "sk": s("a")}, {"sk": s("a"), "pk": s("p")}]
        self.assertValidation(
            lambda: self.ddb.batch_get_item(RequestItems={self.table: {"Keys": twice}}), "contains duplicates"
        )

    def test_transact_write_over_100_actions_or_two_on_one_item_is_refused(self):
        puts = [{"Put": {"TableName": self.table, "Item": item("p", f"s{i}", 100)}} for i in range(101)]
        self.assertValidation(lambda: self.ddb.transact_write_items(TransactItems=puts))
        same = [
            {"Put": {"TableName": self.table, "Item": item("p", "x", 100)}},
            {"Delete": {"TableName": self.table, "Key": {"pk": s("p"), "sk": s("x")}}},
        ]
        self.assertValidation(lambda: self.ddb.transact_write_items(TransactItems=same), "multiple operations")
        self.ddb.transact_write_items(TransactItems=puts[:100])
        self.assertEqual(self.ddb.scan(TableName=self.table, Select="COUNT")["Count"], 100)

    def test_transact_get_takes_up_to_100_items(self):
        gets = [{"Get": {"TableName": self.table, "Key": {"pk": s("p"), "sk": s(f"s{i}")}}} for i in range(100)]
        self.assertEqual(len(self.ddb.transact_get_items(TransactItems=gets)["Responses"]), 100)
        gets.append({"Get": {"TableName": self.table, "Key": {"pk": s("p"), "sk": s("s100")}}})
        self.assertValidation(lambda: self.ddb.transact_get_items(TransactItems=gets))

    def test_transaction_with_a_failed_condition_writes_nothing(self):
        self.ddb.put_item(TableName=self.table, Item=item("p", "exists", 100))
        with self.assertRaises(ClientError) as caught:
            self.ddb.transact_write_items(TransactItems=[
                {"Put": {"TableName": self.table, "Item": item("p", "new", 100)}},
                {"Put": {"TableName": self.table, "Item": item("p", "exists", 100), "ConditionExpression": "attribute_not_exists(pk)"}},
            ])
        self.assertEqual(caught.exception.response["Error"]["Code"], "TransactionCanceledException")
        reasons = [r["Code"] for r in caught.exception.response["CancellationReasons"]]
        self.assertEqual(reasons, ["None", "ConditionalCheckFailed"])
        self.assertNotIn("Item", self.ddb.get_item(TableName=self.table, Key={"pk": s("p"), "sk": s("new")}))

    def test_items_over_400_kb_are_refused(self):
        self.ddb.put_item(TableName=self.table, Item=item("p", "max", 400 * 1024))
        self.assertValidation(
            lambda: self.ddb.put_item(TableName=self.table, Item=item("p", "over", 400 * 1024 + 1)),
            "Item size has exceeded the maximum allowed size",
        )
        self.assertValidation(
            lambda: self.ddb.batch_write_item(RequestItems={self.table: [{"PutRequest": {"Item": item("p", "b", 400 * 1024 + 1)}}]})
        )
        key = {"pk": s("p"), "sk": s("max")}
        self.assertValidation(
            lambda: self.ddb.update_item(
                TableName=self.table, Key=key, UpdateExpression="SET e = :v", ExpressionAttributeValues={":v": s("y")}
            ),
            "Item size to update has exceeded the maximum allowed size",
        )
        self.assertNotIn("e", self.ddb.get_item(TableName=self.table, Key=key)["Item"])

    def test_a_protected_table_cannot_be_deleted(self):
        self.ddb.update_table(TableName=self.table, DeletionProtectionEnabled=True)
        self.assertValidation(
            lambda: self.ddb.delete_table(TableName=self.table), "currently protected against deletion"
        )
        self.assertEqual(self.ddb.describe_table(TableName=self.table)["Table"]["TableName"], self.table)


class ConsumedCapacityTest(DynamoDbCase):
    def put(self, size, sk="a", **extra):
        return self.ddb.put_item(TableName=self.table, Item=dict(item("p", sk, size), **extra), ReturnConsumedCapacity="TOTAL")

    def test_put_costs_the_larger_of_old_and_new_in_1_kb_units(self):
        self.assertEqual(self.put(1500)["ConsumedCapacity"], {"TableName": self.table, "CapacityUnits": 2.0})
        self.assertEqual(self.put(500)["ConsumedCapacity"]["CapacityUnits"], 2.0)
        self.assertEqual(self.put(500)["ConsumedCapacity"]["CapacityUnits"], 1.0)

    def test_indexes_mode_reports_the_table_and_each_index_written(self):
        answer = self.ddb.put_item(
            TableName=self.table, Item=dict(item("p", "a", 1500), g=s("G")), ReturnConsumedCapacity="INDEXES"
        )
        capacity = answer["ConsumedCapacity"]
        self.assertEqual(capacity["Table"], {"CapacityUnits": 2.0})
        self.assertEqual(capacity["GlobalSecondaryIndexes"], {"by-g": {"CapacityUnits": 1.0}})
        self.assertEqual(capacity["CapacityUnits"], 3.0)
        # A new index key value: the index entry moves (a delete and a put).
        answer = self.ddb.put_item(
            TableName=self.table, Item=dict(item("p", "a", 1500), g=s("H")), ReturnConsumedCapacity="INDEXES"
        )
        self.assertEqual(answer["ConsumedCapacity"]["GlobalSecondaryIndexes"], {"by-g": {"CapacityUnits": 2.0}})

    def test_update_and_delete_costs(self):
        self.put(1500)
        key = {"pk": s("p"), "sk": s("a")}
        answer = self.ddb.update_item(
            TableName=self.table, Key=key, UpdateExpression="SET d = :v",
            ExpressionAttributeValues={":v": s("small")}, ReturnConsumedCapacity="TOTAL",
        )
        self.assertEqual(answer["ConsumedCapacity"]["CapacityUnits"], 2.0)  # larger of before (1500 B) and after
        answer = self.ddb.delete_item(TableName=self.table, Key=key, ReturnConsumedCapacity="TOTAL")
        self.assertEqual(answer["ConsumedCapacity"], {"TableName": self.table, "CapacityUnits": 1.0})
        self.assertNotIn("ConsumedCapacity", self.ddb.delete_item(TableName=self.table, Key=key))

    def test_get_item_reads_in_4_kb_units_half_when_eventually_consistent(self):
        self.put(5000)
        key = {"pk": s("p"), "sk": s("a")}
        eventual = self.ddb.get_item(TableName=self.table, Key=key, ReturnConsumedCapacity="TOTAL")
        strong = self.ddb.get_item(TableName=self.table, Key=key, ConsistentRead=True, ReturnConsumedCapacity="TOTAL",
                                   ProjectionExpression="pk")
        missing = self.ddb.get_item(TableName=self.table, Key={"pk": s("p"), "sk": s("none")}, ReturnConsumedCapacity="TOTAL")
        self.assertEqual(eventual["ConsumedCapacity"]["CapacityUnits"], 1.0)
        self.assertEqual(strong["ConsumedCapacity"]["CapacityUnits"], 2.0)  # the projection does not lower it
        self.assertEqual(missing["ConsumedCapacity"]["CapacityUnits"], 0.5)

    def test_batch_get_rounds_each_item(self):
        # Developer Guide example: a 1.5 KB and a 6.5 KB item count as 4 KB + 8 KB = 3 units.
        self.put(1536, "a")
        self.put(6656, "b")
        answer = self.ddb.batch_get_item(
            RequestItems={self.table: {"Keys": [{"pk": s("p"), "sk": s("a")}, {"pk": s("p"), "sk": s("b")}], "ConsistentRead": True}},
            ReturnConsumedCapacity="TOTAL",
        )
        self.assertEqual(answer["ConsumedCapacity"], [{"TableName": self.table, "CapacityUnits": 3.0}])

    def test_query_and_scan_sum_the_items_read_before_filtering(self):
        for i in range(10):
            self.put(4178, f"s{i}")  # 10 items, 41,780 bytes: 11 units of 4 KB
        query = self.ddb.query(
            TableName=self.table, KeyConditionExpression="pk = :p", FilterExpression="d = :none",
            ExpressionAttributeValues={":p": s("p"), ":none": s("none")}, ReturnConsumedCapacity="TOTAL",
        )
        self.assertEqual((query["Count"], query["ScannedCount"]), (0, 10))
        self.assertEqual(query["ConsumedCapacity"]["CapacityUnits"], 5.5)
        scan = self.ddb.scan(TableName=self.table, ConsistentRead=True, ReturnConsumedCapacity="TOTAL", Select="COUNT")
        self.assertEqual(scan["ConsumedCapacity"]["CapacityUnits"], 11.0)

    def test_batch_write_rounds_each_item(self):
        # Developer Guide example: a 500 B and a 3.5 KB item count as 1 KB + 4 KB = 5 units.
        answer = self.ddb.batch_write_item(
            RequestItems={self.table: [{"PutRequest": {"Item": item("p", "a", 500)}}, {"PutRequest": {"Item": item("p", "b", 3584)}}]},
            ReturnConsumedCapacity="TOTAL",
        )
        self.assertEqual(answer["ConsumedCapacity"], [{"TableName": self.table, "CapacityUnits": 5.0}])

    def test_transactions_cost_twice(self):
        answer = self.ddb.transact_write_items(
            TransactItems=[{"Put": {"TableName": self.table, "Item": item("p", f"t{i}", 500)}} for i in range(2)],
            ReturnConsumedCapacity="TOTAL",
        )
        self.assertEqual(answer["ConsumedCapacity"], [{"TableName": self.table, "CapacityUnits": 4.0, "WriteCapacityUnits": 4.0}])
        answer = self.ddb.transact_get_items(
            TransactItems=[{"Get": {"TableName": self.table, "Key": {"pk": s("p"), "sk": s(f"t{i}")}}} for i in range(2)],
            ReturnConsumedCapacity="TOTAL",
        )
        self.assertEqual(answer["ConsumedCapacity"], [{"TableName": self.table, "CapacityUnits": 4.0, "ReadCapacityUnits": 4.0}])

    def test_failed_conditional_writes_are_billed(self):
        local_cloud("/_local_cloud/dynamodb/capacity", {"region": "us-east-1", "tableName": self.table, "reset": True})
        self.put(1500)
        with self.assertRaises(ClientError):
            self.ddb.put_item(TableName=self.table, Item=item("p", "a", 2500), ConditionExpression="attribute_not_exists(pk)")
        totals = local_cloud("/_local_cloud/dynamodb/capacity", {"region": "us-east-1", "tableName": self.table})["tables"]
        self.assertEqual(totals[0]["WriteCapacityUnits"], 2.0 + 3.0)  # the refused 2.5 KB item costs 3 units


if __name__ == "__main__":
    unittest.main()
