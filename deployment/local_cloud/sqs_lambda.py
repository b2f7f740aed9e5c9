"""SQS -> Lambda event source mappings that poll, batch and delete as Lambda does.

moto invoked the function once per message, inside SendMessage, ignoring BatchSize, the batching
window, FunctionResponseTypes and deleted mappings. Here moto's path is switched off (the mapping is
taken off the queue's `lambda_event_source_mappings`, which moto's SendMessage walks) and every
enabled mapping on an SQS queue (CreateEventSourceMapping, or CloudFormation's
AWS::Lambda::EventSourceMapping) gets a poller (Lambda developer guide, "Using Lambda with Amazon SQS"):

- it receives up to BatchSize messages, waiting up to MaximumBatchingWindowInSeconds to fill the
  batch, which makes them invisible for the queue's visibility timeout (moto's ReceiveMessage also
  applies the RedrivePolicy: a message received maxReceiveCount times moves to the dead-letter queue
  on its next receive);
- it invokes the function synchronously with the SQS event (Records: messageId, receiptHandle, body,
  attributes ApproximateReceiveCount/SentTimestamp/SenderId/ApproximateFirstReceiveTimestamp (+
  SequenceNumber/MessageGroupId/MessageDeduplicationId on FIFO queues), messageAttributes, md5OfBody,
  eventSource, eventSourceARN, awsRegion);
- on success it deletes the batch, except, when FunctionResponseTypes has ReportBatchItemFailures, the
  messages named in the answer's batchItemFailures. An answer naming an item that is empty, null or
  not in the batch fails the whole batch ("Success and failure conditions"); a function error deletes
  nothing: the messages come back after the visibility timeout;
- FilterCriteria: records matching no filter are deleted without an invocation ("Lambda event
  filtering");
- at most ScalingConfig.MaximumConcurrency batches are processed at once (default 5: Lambda starts
  with five concurrent batches per queue).
Pollers wait on the queue (woken by new messages, at most 1 s to see messages whose visibility
timeout ended), they never spin.

CreateEventSourceMapping also checks, as AWS does: the queue's visibility timeout must not be below
the function's timeout (InvalidParameterValueException "Queue visibility timeout: 30 seconds is less
than Function timeout: 60 seconds", quoted in winglang/wing#1507), and BatchSize above 10 needs a
batching window of at least 1 s (developer guide; the message here is ours).
"""

from __future__ import annotations

import json
import threading
import time
import traceback

DEFAULT_CONCURRENCY = 5
IDLE_WAIT_SECONDS = 1.0


def queue_of(arn: str):
    from moto.sqs.models import sqs_backends

    _, _, _, region, account, name = arn.split(":", 5)
    return sqs_backends[account][region], name


def lambda_record(message, queue_arn: str, region: str) -> dict:
    attributes = {
        "ApproximateReceiveCount": str(message.approximate_receive_count),
        "SentTimestamp": str(message.sent_timestamp),
        "SenderId": message.sender_id,
        "ApproximateFirstReceiveTimestamp": str(message.approximate_first_receive_timestamp),
    }
    if queue_arn.endswith(".fifo"):
        attributes.update(
            {
                "SequenceNumber": str(message.sequence_number),
                "MessageGroupId": message.group_id,
                "MessageDeduplicationId": message.deduplication_id,
            }
        )
    message_attributes = {
        name: {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": [],
            "binaryListValues": [],
            "dataType": value.get("DataType"),
        }
        for name, value in (message.message_attributes or {}).items()
    }
    return {
        "messageId": message.id,
        "receiptHandle": message.receipt_handle,
        "body": message.body,
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.body_md5,
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }


def failed_item_ids(payload: bytes, batch_ids: set[str]) -> set[str] | None:
    """The messages a ReportBatchItemFailures answer keeps, or None when the whole batch failed."""
    try:
        answer = json.loads(payload or b"null")
    except ValueError:
        return None
    failures = answer.get("batchItemFailures") if isinstance(answer, dict) else None
    if not failures:
        return set()
    kept = set()
    for failure in failures:
        item = failure.get("itemIdentifier") if isinstance(failure, dict) else None
        if not item or item not in batch_ids:
            return None
        kept.add(item)
    return kept


def matches_filters(esm, record: dict) -> bool:
    from moto.events.models import EventPattern

    filters = (esm.filter_criteria or {}).get("Filters") or []
    if not filters:
        return True
    subject = dict(record)
    try:  # a JSON body is matched as an object (Lambda event filtering)
        subject["body"] = json.loads(record["body"])
    except ValueError:
        pass
    return any(EventPattern.load(f.get("Pattern")).matches_event(subject) for f in filters)


class Poller:
    """Polls one mapping's queue and invokes its function, up to its concurrency at once."""

    def __init__(self, ctx, esm):
        self.ctx = ctx
        self.esm = esm
        self.signature = poller_signature(esm)
        self.stopped = threading.Event()
        concurrency = int((esm.scaling_config or {}).get("MaximumConcurrency") or DEFAULT_CONCURRENCY)
        self.slots = threading.Semaphore(concurrency)
        threading.Thread(target=self.run, name=f"sqs-lambda-{esm.uuid[:8]}", daemon=True).start()

    def stop(self) -> None:
        self.stopped.set()

    def run(self) -> None:
        while not self.stopped.is_set():
            if not self.slots.acquire(timeout=IDLE_WAIT_SECONDS):
                continue
            try:
                batch = self.receive_batch()
            except Exception:  # the queue was deleted, or moto failed: try again later
                traceback.print_exc()
                batch = []
                self.stopped.wait(IDLE_WAIT_SECONDS)
            if not batch:
                self.slots.release()
                continue
            threading.Thread(target=self.process, args=(batch,), daemon=True).start()

    def receive(self, count: int) -> list:
        backend, name = queue_of(self.esm.event_source_arn)
        queue = backend.get_queue(name)
        return backend.receive_message(name, count, 0, int(queue.visibility_timeout or 0), ["All"])

    def wait_for_messages(self, seconds: float) -> None:
        backend, name = queue_of(self.esm.event_source_arn)
        started = time.monotonic()
        backend.get_queue(name).wait_for_messages(seconds)
        if time.monotonic() - started < 0.05:
            # Visible messages that cannot be received yet (a FIFO group in flight): do not spin.
            self.stopped.wait(seconds)

    def receive_batch(self) -> list:
        size = int(self.esm.batch_size)
        batch = self.receive(size)
        if not batch:
            self.wait_for_messages(IDLE_WAIT_SECONDS)
            return []
        window = float(self.esm.max_batch_window or 0)
        deadline = time.monotonic() + window
        while len(batch) < size and time.monotonic() < deadline and not self.stopped.is_set():
            more = self.receive(size - len(batch))
            if more:
                batch += more
            else:
                self.wait_for_messages(min(IDLE_WAIT_SECONDS, max(0.0, deadline - time.monotonic())))
        return batch

    def process(self, batch: list) -> None:
        try:
            self.invoke(batch)
        except Exception:
            traceback.print_exc()
        finally:
            self.slots.release()

    def invoke(self, batch: list) -> None:
        from moto.awslambda.utils import get_backend

        esm = self.esm
        records = [lambda_record(m, esm.event_source_arn, esm.region) for m in batch]
        wanted = [r for r in records if matches_filters(esm, r)]
        self.delete([r for r in records if r not in wanted])
        if not wanted:
            return
        fn = get_backend(esm.account_id, esm.region).get_function(esm.function_arn)
        payload, errored = self.ctx.services["lambda_runner"].invoke(fn, json.dumps({"Records": wanted}).encode())
        if errored:
            return  # nothing deleted: the batch comes back after the visibility timeout
        kept: set[str] | None = set()
        if "ReportBatchItemFailures" in (esm.function_response_types or []):
            kept = failed_item_ids(payload, {r["messageId"] for r in wanted})
        if kept is None:
            return
        self.delete([r for r in wanted if r["messageId"] not in kept])

    def delete(self, records: list[dict]) -> None:
        backend, name = queue_of(self.esm.event_source_arn)
        for record in records:
            try:
                backend.delete_message(name, record["receiptHandle"])
            except Exception:  # already gone (deleted elsewhere, or the queue purged)
                pass


def poller_signature(esm) -> tuple:
    """What a running poller was built from: a change restarts it."""
    return (
        esm.function_arn,
        esm.event_source_arn,
        esm.batch_size,
        esm.max_batch_window,
        json.dumps(esm.scaling_config, sort_keys=True),
        json.dumps(esm.function_response_types),
        json.dumps(esm.filter_criteria, sort_keys=True),
    )


class SqsLambdaPollers:
    """Keeps one poller per enabled SQS mapping, in step with create/update/delete."""

    def __init__(self, ctx):
        self.ctx = ctx
        self.pollers: dict[str, Poller] = {}
        self.lock = threading.Lock()
        self.changed = threading.Event()

    def mappings(self):
        from moto.awslambda_simple.models import lambda_simple_backends

        for account in list(lambda_simple_backends.values()):
            for backend in list(account.values()):
                for esm in list(backend._event_source_mappings.values()):
                    if esm.event_source_arn.split(":")[2] == "sqs":
                        yield esm

    def sync(self) -> None:
        with self.lock:
            wanted = {esm.uuid: esm for esm in self.mappings() if esm.enabled}
            for uuid, poller in list(self.pollers.items()):
                esm = wanted.get(uuid)
                if esm is None or poller_signature(esm) != poller.signature:
                    poller.stop()
                    del self.pollers[uuid]
            for uuid, esm in wanted.items():
                if uuid not in self.pollers:
                    self.pollers[uuid] = Poller(self.ctx, esm)

    def run(self) -> None:
        while True:
            try:
                self.sync()
            except Exception:
                traceback.print_exc()
            self.changed.wait(5)
            self.changed.clear()

    def install(self) -> None:
        from moto.awslambda.exceptions import InvalidParameterValueException
        from moto.awslambda.models import LambdaBackend

        original_create = LambdaBackend.create_event_source_mapping
        original_update = LambdaBackend.update_event_source_mapping
        original_delete = LambdaBackend.delete_event_source_mapping
        pollers = self

        def check(backend, spec: dict, esm=None) -> None:
            arn = spec.get("EventSourceArn") or (esm.event_source_arn if esm else "")
            if arn.split(":")[2:3] != ["sqs"]:
                return
            function = spec.get("FunctionName") or (esm.function_arn if esm else None)
            fn = backend.get_function(function)
            sqs, name = queue_of(arn)
            visibility = int(sqs.get_queue(name).visibility_timeout or 0)
            if visibility < int(fn.timeout or 3):
                raise InvalidParameterValueException(
                    f"Queue visibility timeout: {visibility} seconds is less than Function timeout: {int(fn.timeout or 3)} seconds"
                )
            batch_size = spec.get("BatchSize", esm.batch_size if esm else 10)
            window = spec.get("MaximumBatchingWindowInSeconds", esm.max_batch_window if esm else 0)
            if int(batch_size or 10) > 10 and not int(window or 0):
                raise InvalidParameterValueException(
                    "MaximumBatchingWindowInSeconds must be at least 1 when BatchSize is greater than 10"
                )

        def create(backend, spec):
            check(backend, spec)
            esm = original_create(backend, spec)
            if esm.event_source_arn.split(":")[2] == "sqs":
                # moto's SendMessage invokes the mappings it finds on the queue: leave it none.
                sqs, name = queue_of(esm.event_source_arn)
                sqs.get_queue(name).lambda_event_source_mappings.pop(esm.function_arn, None)
            pollers.changed.set()
            return esm

        def update(backend, uuid, spec):
            esm = backend.get_event_source_mapping(uuid)
            if esm is not None:
                check(backend, spec, esm)
            result = original_update(backend, uuid, spec)
            pollers.changed.set()
            return result

        def delete(backend, uuid):
            result = original_delete(backend, uuid)
            pollers.changed.set()
            return result

        LambdaBackend.create_event_source_mapping = create
        LambdaBackend.update_event_source_mapping = update
        LambdaBackend.delete_event_source_mapping = delete
        threading.Thread(target=self.run, name="sqs-lambda-pollers", daemon=True).start()


def install(ctx) -> None:
    SqsLambdaPollers(ctx).install()
