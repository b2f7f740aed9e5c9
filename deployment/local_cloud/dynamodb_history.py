"""Point-in-time recovery that tells the truth.

moto's RestoreTableToPointInTime copies the items the source has *now*, whatever the time asked: an
item deleted after that time would not come back. Here every table with point-in-time recovery
enabled keeps the history of its item changes (an undo log: for each change, when it happened and the
item as it was before), fed by dynamodb_items' change feed, which sees every moto write path
(PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems, PartiQL, global-table replica
mirroring). A restore replays the log backwards from the current items down to the time asked.

AWS behaviours kept (API_RestoreTableToPointInTime, "Restoring a table using point-in-time recovery"):
- The new table gets the source's key schema, GSIs and LSIs, billing mode, provisioned throughput and
  encryption (each overridable), and not its streams, TTL, tags, PITR or deletion protection.
- Errors: TableNotFoundException (source missing), TableAlreadyExistsException (target exists),
  PointInTimeRecoveryUnavailableException (PITR off), InvalidRestoreTimeException (time outside
  [EarliestRestorableDateTime, LatestRestorableDateTime]), ValidationException (no time given).
- Disabling PITR discards the history; enabling it again starts a new window at that moment.
- The window is RecoveryPeriodInDays (1-35, default 35) long.
- The target is CREATING for `dynamodb.restoreDelayMs` (default 0), then ACTIVE; data calls on it
  meanwhile fail with ResourceNotFoundException, as for any table that is not ACTIVE.
Difference kept on purpose: LatestRestorableDateTime is *now* here; on AWS it typically lags about
five minutes behind, so a restore to the last few minutes may need UseLatestRestorableTime there.
Restore times keep their sub-second part here; AWS documents second granularity.
"""

from __future__ import annotations

import copy
import datetime
import time

from . import dynamodb_items
from .dynamodb_items import key_of, store
from .server import ApiError

TARGET = "DynamoDB_20120810"
DEFAULT_PERIOD_DAYS = 35
DAY = 86400.0


class TableHistory:
    """The undo log of one table: (time, hash key, range key, item before the change or None)."""

    def __init__(self, enabled_at: float, period_days: int):
        self.enabled_at = enabled_at
        self.period_days = period_days
        self.entries: list[tuple[float, object, object, object]] = []

    def earliest(self, now: float) -> float:
        return max(self.enabled_at, now - self.period_days * DAY)

    def record(self, when: float, hash_key, range_key, before) -> None:
        self.entries.append((when, hash_key, range_key, before))
        # Changes older than the window can no longer be undone to: drop them once in a while.
        if len(self.entries) > 1024 and self.entries[0][0] < when - self.period_days * DAY:
            cutoff = when - self.period_days * DAY
            self.entries = [e for e in self.entries if e[0] >= cutoff]

    def items_at(self, table, when: float) -> dict:
        """The table's items as they were at `when`: current items, with every later change undone."""
        items = {key_of(table, i): i for i in table.all_items()}
        for changed_at, hash_key, range_key, before in reversed(self.entries):
            if changed_at <= when:
                break
            if before is None:
                items.pop((hash_key, range_key), None)
            else:
                items[(hash_key, range_key)] = before
        return items


def history_of(table) -> TableHistory | None:
    return table.__dict__.get("_lc_history")


def _on_change(table, old, new, nested: bool) -> None:
    history = history_of(table)
    if history is None or nested:
        return
    hash_key, range_key = key_of(table, new if new is not None else old)
    history.record(dynamodb_items.feed().now(), hash_key, range_key, old)


def _timestamp(value) -> float:
    if isinstance(value, datetime.datetime):
        return value.replace(tzinfo=value.tzinfo or datetime.timezone.utc).timestamp()
    return float(value)


def install_continuous_backups() -> None:
    """UpdateContinuousBackups starts or drops a table's history; both it and DescribeContinuousBackups
    report the current window."""
    from moto.dynamodb.models import DynamoDBBackend

    original_update = DynamoDBBackend.update_continuous_backups
    original_describe = DynamoDBBackend.describe_continuous_backups

    def refresh(table, description: dict) -> dict:
        history = history_of(table)
        pitr = description.get("PointInTimeRecoveryDescription", {})
        if history is not None and pitr.get("PointInTimeRecoveryStatus") == "ENABLED":
            now = time.time()
            pitr["EarliestRestorableDateTime"] = history.earliest(now)
            pitr["LatestRestorableDateTime"] = now
        return description

    def update(backend, table_name: str, spec: dict) -> dict:
        with dynamodb_items.feed().lock:
            description = original_update(backend, table_name, spec)
            table = backend.get_table(table_name)
            pitr = description["PointInTimeRecoveryDescription"]
            if pitr["PointInTimeRecoveryStatus"] != "ENABLED":
                table.__dict__.pop("_lc_history", None)
            elif history_of(table) is None:
                history = TableHistory(time.time(), int(pitr.get("RecoveryPeriodInDays", DEFAULT_PERIOD_DAYS)))
                table.__dict__["_lc_history"] = history
            else:
                history_of(table).period_days = int(pitr.get("RecoveryPeriodInDays", DEFAULT_PERIOD_DAYS))
            return refresh(table, description)

    def describe(backend, table_name: str) -> dict:
        description = original_describe(backend, table_name)
        return refresh(backend.get_table(table_name), description)

    DynamoDBBackend.update_continuous_backups = update
    DynamoDBBackend.describe_continuous_backups = describe


def install_restored_description() -> None:
    """DescribeTable of a restored table: its RestoreSummary, and CREATING until it is ready."""
    from moto.dynamodb.models.table import Table

    original = Table.describe

    def describe(table, base_key: str = "TableDescription") -> dict:
        result = original(table, base_key=base_key)
        summary = table.__dict__.get("_lc_restore")
        if summary is not None:
            ready = dynamodb_items.table_ready(table)
            result[base_key]["RestoreSummary"] = dict(summary, RestoreInProgress=not ready)
            if not ready:
                result[base_key]["TableStatus"] = "CREATING"
        return result

    Table.describe = describe


class Restorer:
    def __init__(self, ctx):
        self.ctx = ctx

    def _backend(self, region: str):
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[self.ctx.account_id][region]

    def _source(self, backend, body: dict):
        name = body.get("SourceTableName") or body.get("SourceTableArn")
        if not name:
            raise ApiError("ValidationException", "Either SourceTableArn or SourceTableName must be specified")
        for table in list(backend.tables.values()):
            if name in (table.name, table.table_arn):
                return table
        raise ApiError("TableNotFoundException", f"Table not found: {name}")

    def _restore_time(self, body: dict, history: TableHistory) -> float:
        now = time.time()
        if body.get("UseLatestRestorableTime"):
            if body.get("RestoreDateTime") is not None:
                raise ApiError("ValidationException", "Only one of RestoreDateTime or UseLatestRestorableTime can be specified")
            return now
        if body.get("RestoreDateTime") is None:
            raise ApiError("ValidationException", "Either RestoreDateTime or UseLatestRestorableTime must be specified")
        when = _timestamp(body["RestoreDateTime"])
        if not history.earliest(now) <= when <= now:
            raise ApiError(
                "InvalidRestoreTimeException",
                "Invalid restore time specified. RestoreDateTime must be between EarliestRestorableDateTime and LatestRestorableDateTime.",
            )
        return when

    def restore(self, request) -> dict:
        body = request.body
        backend = self._backend(request.region)
        target_name = body.get("TargetTableName")
        if not target_name:
            raise ApiError("ValidationException", "TargetTableName must be specified")
        with dynamodb_items.feed().lock:
            source = self._source(backend, body)
            if target_name in backend.tables:
                raise ApiError("TableAlreadyExistsException", f"Table already exists: {target_name}")
            history = history_of(source)
            if history is None:
                raise ApiError(
                    "PointInTimeRecoveryUnavailableException",
                    f"Point in time recovery is not enabled for table '{source.name}'",
                )
            when = self._restore_time(body, history)
            target = self._create_target(backend, source, target_name, body)
            for (hash_key, range_key), item in history.items_at(source, when).items():
                store(target, hash_key, range_key, copy.deepcopy(item))
            delay = float(self.ctx.setting("dynamodb", "restoreDelayMs", 0) or 0) / 1000
            target.__dict__[dynamodb_items.READY_AT] = time.time() + delay
            target.__dict__["_lc_restore"] = {"SourceTableArn": source.table_arn, "RestoreDateTime": when}
            return {"TableDescription": target.describe()["TableDescription"]}

    def _create_target(self, backend, source, name: str, body: dict):
        """A new table with the source's current settings, or the overrides given."""
        gsis = body.get("GlobalSecondaryIndexOverride")
        if gsis is None:
            gsis = [{"IndexName": i.name, "KeySchema": i.schema, "Projection": i.projection} for i in source.global_indexes]
        lsis = body.get("LocalSecondaryIndexOverride")
        if lsis is None:
            lsis = [{"IndexName": i.name, "KeySchema": i.schema, "Projection": i.projection} for i in source.indexes]
        billing = body.get("BillingModeOverride") or source.billing_mode or "PROVISIONED"
        throughput = body.get("ProvisionedThroughputOverride")
        if throughput is None and billing == "PROVISIONED":
            throughput = {k: source.throughput[k] for k in ("ReadCapacityUnits", "WriteCapacityUnits")}
        sse = body.get("SSESpecificationOverride", copy.deepcopy(source.sse_specification))
        return backend.create_table(
            name,
            schema=copy.deepcopy(source.schema),
            throughput=throughput,
            attr=copy.deepcopy(source.attr),
            global_indexes=copy.deepcopy(gsis) or None,
            indexes=copy.deepcopy(lsis) or None,
            streams=None,
            billing_mode=billing,
            sse_specification=sse,
            tags=[],
            deletion_protection_enabled=False,
            warm_throughput=None,
        )


def install(ctx) -> None:
    ctx.default_config("dynamodb", {"restoreDelayMs": 0})
    dynamodb_items.feed().subscribe(_on_change)
    install_continuous_backups()
    install_restored_description()
    restorer = Restorer(ctx)
    ctx.operation(f"{TARGET}.RestoreTableToPointInTime", restorer.restore)
