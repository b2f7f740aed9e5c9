"""SQS -> Lambda event source mappings: batching, partial batch failures, redrive to a dead-letter
queue, function errors, mapping checks."""

from __future__ import annotations

import json
import time
import unittest

from botocore.exceptions import ClientError

from .script_functions import client, script_function, unique, wait_for


def make_queue(**attributes) -> tuple[str, str]:
    sqs = client("sqs")
    url = sqs.create_queue(QueueName=unique("b1-esm"), Attributes={k: str(v) for k, v in attributes.items()})["QueueUrl"]
    return url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def receive_all(url: str) -> list[dict]:
    messages = client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages", [])
    for message in messages:
        client("sqs").delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return messages


def queue_depth(url: str) -> int:
    attributes = client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(attributes["ApproximateNumberOfMessagesNotVisible"])


class MappingTest(unittest.TestCase):
    def setUp(self):
        self.mappings = []

    def tearDown(self):
        for uuid in self.mappings:
            client("lambda").delete_event_source_mapping(UUID=uuid)

    def mapping(self, queue_arn: str, function_name: str, **config) -> str:
        uuid = client("lambda").create_event_source_mapping(EventSourceArn=queue_arn, FunctionName=function_name, **config)["UUID"]
        self.mappings.append(uuid)
        return uuid

    def setup_pipeline(self, max_receive_count: int = 2, visibility_timeout: int = 2, function_timeout: int = 1):
        """A queue (redrive to a DLQ) mapped to sqs_batch_failures.py, which reports the batches it
        gets to an observation queue."""
        dlq, dlq_arn = make_queue()
        observed, _ = make_queue()
        redrive = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)}
        source, source_arn = make_queue(VisibilityTimeout=visibility_timeout, RedrivePolicy=json.dumps(redrive))
        fn = script_function("sqs_batch_failures.py", Timeout=function_timeout, Environment={"Variables": {"FORWARD_QUEUE_URL": observed}})
        return source, source_arn, dlq, observed, fn["FunctionName"]

    def observed_batches(self, observed: str, expected: int, timeout: float = 5) -> list[list[dict]]:
        batches = []
        wait_for(lambda: batches.extend(json.loads(m["Body"]) for m in receive_all(observed)) or len(batches) >= expected, timeout)
        return batches

    def test_batch_item_failures_are_redelivered_then_dead_lettered(self):
        # Timeouts a loaded local cloud cannot reach (after the Rust suite it polls hundreds of mappings): a
        # batch still unanswered at its visibility timeout comes back whole, and the test is about the
        # partial answer.
        source, source_arn, dlq, observed, fn = self.setup_pipeline(visibility_timeout=15, function_timeout=5)
        self.mapping(source_arn, fn, BatchSize=10, FunctionResponseTypes=["ReportBatchItemFailures"])
        client("sqs").send_message_batch(
            QueueUrl=source, Entries=[{"Id": str(i), "MessageBody": body} for i, body in enumerate(["ok-1", "fail-2", "ok-3"])]
        )
        dead = wait_for(lambda: receive_all(dlq), 90, 0.2)
        self.assertEqual([m["Body"] for m in dead], ["fail-2"])
        batches = self.observed_batches(observed, 2)
        # One batch of the three, then (after the visibility timeout) only the failed one, again.
        self.assertEqual(sorted(r["body"] for r in batches[0]), ["fail-2", "ok-1", "ok-3"])
        self.assertEqual([(r["body"], r["receiveCount"]) for r in batches[1]], [("fail-2", "2")])
        self.assertEqual(len(batches), 2)
        self.assertEqual(queue_depth(source), 0)

    def test_batching_window_gathers_messages_sent_apart(self):
        source, source_arn, dlq, observed, fn = self.setup_pipeline(visibility_timeout=10)
        self.mapping(source_arn, fn, BatchSize=3, MaximumBatchingWindowInSeconds=2)
        for body in ("a", "b", "c"):
            client("sqs").send_message(QueueUrl=source, MessageBody=body)
            time.sleep(0.2)
        batches = self.observed_batches(observed, 1)
        self.assertEqual([sorted(r["body"] for r in batch) for batch in batches], [["a", "b", "c"]])

    def test_without_report_batch_item_failures_the_answer_is_ignored(self):
        source, source_arn, dlq, observed, fn = self.setup_pipeline()
        self.mapping(source_arn, fn, BatchSize=10)
        client("sqs").send_message(QueueUrl=source, MessageBody="fail-but-deleted")
        self.assertEqual(len(wait_for(lambda: receive_all(observed), 5)), 1)
        time.sleep(1.5)  # past the visibility timeout: nothing comes back
        self.assertEqual(queue_depth(source), 0)
        self.assertEqual(receive_all(observed), [])

    def test_function_error_keeps_the_whole_batch(self):
        source, source_arn, dlq, observed, fn = self.setup_pipeline(max_receive_count=1)
        self.mapping(source_arn, fn, BatchSize=2, FunctionResponseTypes=["ReportBatchItemFailures"])
        client("sqs").send_message_batch(
            QueueUrl=source, Entries=[{"Id": "1", "MessageBody": "crash"}, {"Id": "2", "MessageBody": "innocent"}]
        )
        dead = []
        wait_for(lambda: dead.extend(receive_all(dlq)) or len(dead) >= 2, 10, 0.2)
        self.assertEqual(sorted(m["Body"] for m in dead), ["crash", "innocent"])

    def test_deleted_mapping_stops_polling(self):
        source, source_arn, dlq, observed, fn = self.setup_pipeline()
        uuid = self.mapping(source_arn, fn)
        client("lambda").delete_event_source_mapping(UUID=uuid)
        self.mappings.remove(uuid)
        client("sqs").send_message(QueueUrl=source, MessageBody="stays")
        time.sleep(1.5)
        self.assertEqual(receive_all(observed), [])
        self.assertEqual([m["Body"] for m in receive_all(source)], ["stays"])

    def test_mapping_refused_when_visibility_timeout_is_below_function_timeout(self):
        _, queue_arn = make_queue(VisibilityTimeout=2)
        fn = script_function("echo.py", Timeout=5)["FunctionName"]
        with self.assertRaises(ClientError) as caught:
            self.mapping(queue_arn, fn)
        self.assertEqual(caught.exception.response["Error"]["Code"], "InvalidParameterValueException")
        self.assertIn("Queue visibility timeout: 2 seconds is less than Function timeout: 5 seconds", str(caught.exception))


if __name__ == "__main__":
    unittest.main()
