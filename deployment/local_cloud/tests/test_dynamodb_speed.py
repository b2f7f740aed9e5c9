"""A light speed check of the local DynamoDB: bounds generous enough not to flake on a busy 2-core
machine, tight enough to catch a return to moto's behaviour (a full Scan of 10,000 items took 5.3 s,
growing with the square of the table size; 20,000 items now take well under a second server-side).

Runs against the local cloud at LOCAL_CLOUD_ENDPOINT (see deployment/local_cloud/dynamodb_fidelity.py).
"""

import concurrent.futures
import os
import time
import unittest
import uuid

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

ENDPOINT = os.environ.get("LOCAL_CLOUD_ENDPOINT", "http://127.0.0.1:4577")
ITEMS = 20_000
PAD = "x" * 1000  # ~1 KB items, as the product's backup items


def client():
    return boto3.client(
        "dynamodb", endpoint_url=ENDPOINT, region_name="us-east-1", aws_access_key_id="test",
        aws_secret_access_key="test", config=Config(max_pool_connections=16, retries={"max_attempts": 1}),
    )


class SpeedTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.ddb = client()
        cls.table = f"lc-speed-{uuid.uuid4().hex[:10]}"
        cls.ddb.create_table(
            TableName=cls.table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}, {"AttributeName": "sk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )

        def write(start):
            batch = [
                {"PutRequest": {"Item": {"pk": {"S": f"p{i % 20}"}, "sk": {"S": f"s{i:06d}"}, "pad": {"S": PAD}}}}
                for i in range(start, min(start + 25, ITEMS))
            ]
            cls.ddb.batch_write_item(RequestItems={cls.table: batch})

        with concurrent.futures.ThreadPoolExecutor(8) as pool:
            list(pool.map(write, range(0, ITEMS, 25)))

    @classmethod
    def tearDownClass(cls):
        cls.ddb.delete_table(TableName=cls.table)

    def scan_all(self, **extra):
        seen, pages, args = set(), 0, dict(extra)
        while True:
            page = self.ddb.scan(TableName=self.table, **args)
            pages += 1
            seen.update(i["sk"]["S"] for i in page["Items"])
            if "LastEvaluatedKey" not in page:
                return seen, pages
            args["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def test_full_scan_of_20000_items(self):
        started = time.monotonic()
        seen, pages = self.scan_all()
        elapsed = time.monotonic() - started
        self.assertEqual(len(seen), ITEMS)
        self.assertGreaterEqual(pages, 20)  # 1 MB pages of ~1 KB items
        self.assertLess(elapsed, 10.0, f"a full scan of {ITEMS} items took {elapsed:.1f} s")

    def test_parallel_segments_cover_the_table_once(self):
        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            parts = list(pool.map(lambda s: self.scan_all(Segment=s, TotalSegments=4, ProjectionExpression="sk")[0], range(4)))
        elapsed = time.monotonic() - started
        self.assertEqual(sum(len(p) for p in parts), ITEMS)
        self.assertEqual(len(set().union(*parts)), ITEMS)
        self.assertLess(elapsed, 10.0)

    def test_query_reads_only_its_partition(self):
        started = time.monotonic()
        for n in range(20):
            found = self.ddb.query(TableName=self.table, KeyConditionExpression="pk = :p",
                                   ExpressionAttributeValues={":p": {"S": f"p{n}"}}, Select="COUNT")
            self.assertEqual(found["Count"], ITEMS // 20)
        self.assertLess(time.monotonic() - started, 5.0)

    def test_concurrent_conditional_puts(self):
        clients = [client() for _ in range(16)]
        table = f"lc-speed-leases-{uuid.uuid4().hex[:10]}"
        self.ddb.create_table(
            TableName=table, KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        )
        self.addCleanup(self.ddb.delete_table, TableName=table)

        def put(i):
            try:
                clients[i % 16].put_item(
                    TableName=table, Item={"pk": {"S": f"lease-{i % 400}"}},
                    ConditionExpression="attribute_not_exists(pk)",
                )
                return True
            except ClientError as e:
                self.assertEqual(e.response["Error"]["Code"], "ConditionalCheckFailedException")
                return False

        started = time.monotonic()
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            won = list(pool.map(put, range(800)))
        elapsed = time.monotonic() - started
        self.assertEqual(sum(won), 400)  # each key won exactly once: conditional writes are atomic
        self.assertLess(elapsed, 8.0, f"800 conditional puts from 16 clients took {elapsed:.1f} s")


if __name__ == "__main__":
    unittest.main()
