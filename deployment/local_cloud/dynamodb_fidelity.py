"""DynamoDB as strict as AWS and fast enough for tables of 100,000+ items.

Data-plane calls (GetItem, PutItem, UpdateItem, DeleteItem, BatchGetItem, BatchWriteItem, Query, Scan,
TransactWriteItems, TransactGetItems) are answered here, before moto's HTTP layer: the request goes to
moto's own DynamoDB handler methods (so moto's validation and expression semantics stay), but without
moto's per-request routing and its model-driven response serializer (which took half a second per
1 MB page), and with these corrections:

- Limits moto does not enforce (errors as AWS): BatchWriteItem over 25 requests or naming a key twice,
  BatchGetItem duplicate keys written in another attribute order, TransactGetItems up to 100 (moto
  stops at 25), items over 400 KB measured with AWS's size rules (dynamodb_items.item_size).
- `ReturnConsumedCapacity` (TOTAL / INDEXES) with AWS's arithmetic (see `_read_units`/`write_units`);
  totals per table, failed conditional writes included, at POST /_local_cloud/dynamodb/capacity.
- DeleteTable of a protected table: AWS's message.
- Scan/Query pages of 1 MB by AWS's item size; Scan starts each page with a bisect in a sorted key
  index kept in step with writes (moto sorted the whole table and walked it from the start on every
  page); Query reads only its partition; TransactWriteItems no longer deep-copies whole tables.
- Every data call holds one lock (dynamodb_items.ChangeFeed.lock): writes are atomic, as on AWS.
"""

from __future__ import annotations

import base64
import copy
import datetime
import hashlib
import json
import math
import threading
import traceback
from bisect import bisect_left, bisect_right
from decimal import Decimal

from . import dynamodb_items
from .dynamodb_items import existing_item, item_size, lookup, sortable, store

TARGET = "DynamoDB_20120810"
# Scan/Query: "A single Query operation can retrieve a maximum of 1 MB of data" (API_Query, API_Scan).
PAGE_LIMIT = 1024 * 1024
# Capacity units: reads in 4 KB, writes in 1 KB (Developer Guide, "Read/write capacity units").
READ_UNIT = 4096
WRITE_UNIT = 1024
BATCH_WRITE_LIMIT = 25  # API_BatchWriteItem: "up to 25 item put or delete operations"
TRANSACT_LIMIT = 100  # API_TransactWriteItems / API_TransactGetItems: "up to 100 action requests"
PROTECTED_MESSAGE = (
    "Resource cannot be deleted as it is currently protected against deletion. Disable deletion protection first."
)

_METER = threading.local()


# --- capacity ------------------------------------------------------------------------------------


class Meter:
    """What one request read and wrote, as (table name, index name or None, ...) events."""

    def __init__(self):
        self.reads: list[tuple[str, str | None, str, int, float]] = []  # (table, index, kind, bytes, factor)
        self.writes: list[tuple[str, str | None, str, int]] = []  # (table, index, index kind, units)


def current_meter() -> Meter | None:
    return getattr(_METER, "meter", None)


def record_read(table, index_name: str | None, size: int, factor: float = 1.0) -> None:
    meter = current_meter()
    if meter is not None:
        local = index_name in {i.name for i in table.indexes}
        kind = "LocalSecondaryIndexes" if local else "GlobalSecondaryIndexes"
        meter.reads.append((table.name, index_name, kind, size, factor))


def _units(size: int, unit: int) -> int:
    return max(1, math.ceil(size / unit))


def _projected(index, table, item) -> dict:
    """The attributes an index keeps of an item (its Projection)."""
    projection = index.projection or {}
    kind = projection.get("ProjectionType", "ALL")
    if kind == "ALL":
        return dict(item.attrs)
    names = set(table.table_key_attrs) | set(index.schema_key_attrs)
    if kind == "INCLUDE":
        names |= set(projection.get("NonKeyAttributes", []))
    return {n: v for n, v in item.attrs.items() if n in names}


def _index_write_units(index, table, old, new) -> int:
    """Developer Guide, "Provisioned throughput considerations for GSIs" (writes): an item entering
    or leaving the index costs one write, a changed index key costs two (delete + put), changed
    projected attributes one, nothing projected changed none; each rounded up to 1 KB."""
    keys = index.schema_key_attrs
    old_in = old is not None and all(k in old.attrs for k in keys)
    new_in = new is not None and all(k in new.attrs for k in keys)
    old_image = _projected(index, table, old) if old_in else None
    new_image = _projected(index, table, new) if new_in else None
    size = dynamodb_items.attributes_size
    if old_in and new_in:
        if any(old.attrs[k] != new.attrs[k] for k in keys):
            return _units(size(old_image), WRITE_UNIT) + _units(size(new_image), WRITE_UNIT)
        if old_image == new_image:
            return 0
        return _units(max(size(old_image), size(new_image)), WRITE_UNIT)
    if old_in or new_in:
        return _units(size(old_image or new_image), WRITE_UNIT)
    return 0


def write_units(table, old, new) -> list[tuple[str | None, str, int]]:
    """(index name or None, index kind, units): PutItem/UpdateItem cost the larger of the item before
    and after, DeleteItem the deleted item, rounded up to 1 KB (Developer Guide, "Capacity unit
    consumption for writes"); plus the writes to the secondary indexes."""
    units = [(None, "Table", _units(max(item_size(old), item_size(new)), WRITE_UNIT))]
    for kind, indexes in (("GlobalSecondaryIndexes", table.global_indexes), ("LocalSecondaryIndexes", table.indexes)):
        for index in indexes:
            cost = _index_write_units(index, table, old, new)
            if cost:
                units.append((index.name, kind, cost))
    return units


class Ledger:
    """Capacity consumed per (Region, table) since start or reset: what an on-demand bill counts,
    including the failed conditional writes that responses never report."""

    def __init__(self):
        self.lock = threading.Lock()
        self.totals: dict[tuple[str, str], dict[str, float]] = {}

    def add(self, region: str, table: str, read: float = 0.0, write: float = 0.0) -> None:
        with self.lock:
            entry = self.totals.setdefault((region, table), {"ReadCapacityUnits": 0.0, "WriteCapacityUnits": 0.0})
            entry["ReadCapacityUnits"] += read
            entry["WriteCapacityUnits"] += write

    def report(self, body: dict) -> dict:
        region, name = body.get("region"), body.get("tableName")
        with self.lock:
            selected = {k: dict(v) for k, v in self.totals.items() if (not region or k[0] == region) and (not name or k[1] == name)}
            if body.get("reset"):
                for key in selected:
                    self.totals.pop(key, None)
        return {"tables": [{"region": r, "tableName": t, **v} for (r, t), v in sorted(selected.items())]}


def _on_write(table, old, new, nested: bool) -> None:
    meter = current_meter()
    if meter is None or nested or dynamodb_items.feed().is_replicating():
        return
    for index_name, kind, units in write_units(table, old, new):
        meter.writes.append((table.name, index_name, kind, units))


def _on_failed_write(ledger: Ledger):
    def failed(table, existing, attempted_size: int) -> None:
        # Developer Guide: a failed conditional write still consumes capacity: the size of the new
        # item if the item exists, one unit for a new item.
        units = _units(attempted_size, WRITE_UNIT) if existing is not None else 1
        ledger.add(table.region_name, table.name, write=units)

    return failed


def _read_units(op: str, body: dict, meter: Meter) -> dict[tuple[str, str | None, str], float]:
    """Reads in 4 KB units: GetItem/BatchGetItem per item (each rounded up), Query/Scan over the
    summed size of the items evaluated (before any filter), eventually consistent reads half, and
    transactional reads twice (Developer Guide, "Capacity unit consumption for reads")."""
    out: dict[tuple[str, str | None, str], float] = {}
    if op in ("Query", "Scan"):
        sizes: dict[tuple[str, str | None, str], int] = {}
        for table, index, kind, size, _factor in meter.reads:
            sizes[(table, index, kind)] = sizes.get((table, index, kind), 0) + size
        half = 1.0 if body.get("ConsistentRead") else 0.5
        return {k: _units(v, READ_UNIT) * half for k, v in sizes.items()}
    for table, index, kind, size, factor in meter.reads:
        out[(table, index, kind)] = out.get((table, index, kind), 0.0) + _units(size, READ_UNIT) * factor
    return out


def _consumed_capacity(op: str, body: dict, meter: Meter) -> dict[str, dict]:
    """Per table: {"total", "read", "write", "Table", "GlobalSecondaryIndexes", "LocalSecondaryIndexes"}."""
    per_table: dict[str, dict] = {}

    def entry(table: str) -> dict:
        return per_table.setdefault(table, {"total": 0.0, "read": 0.0, "write": 0.0, "Table": 0.0})

    for (table, index, kind), units in _read_units(op, body, meter).items():
        e = entry(table)
        e["total"] += units
        e["read"] += units
        _add_index(e, index, kind, units)
    factor = 2.0 if op == "TransactWriteItems" else 1.0  # "two underlying writes": prepare + commit
    for table, index, kind, units in meter.writes:
        units = units * factor
        e = entry(table)
        e["total"] += units
        e["write"] += units
        _add_index(e, index, kind, units)
    return per_table


def _add_index(e: dict, index: str | None, kind: str, units: float) -> None:
    if index is None:
        e["Table"] += units
    else:
        group = e.setdefault(kind, {})
        group[index] = group.get(index, 0.0) + units


def _capacity_shape(op: str, mode: str, per_table: dict[str, dict]) -> list[dict]:
    shaped = []
    for table, e in per_table.items():
        out = {"TableName": table, "CapacityUnits": e["total"]}
        if op.startswith("Transact"):  # transactions report the read/write split (SDK issue reports)
            if e["read"]:
                out["ReadCapacityUnits"] = e["read"]
            if e["write"]:
                out["WriteCapacityUnits"] = e["write"]
        if mode == "INDEXES":
            out["Table"] = {"CapacityUnits": e["Table"]}
            for kind in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
                if e.get(kind):
                    out[kind] = {name: {"CapacityUnits": u} for name, u in e[kind].items()}
        shaped.append(out)
    return shaped


MULTI_TABLE_OPS = {"BatchGetItem", "BatchWriteItem", "TransactGetItems", "TransactWriteItems"}


def _apply_capacity(op: str, body: dict, result: dict, meter: Meter, ledger: Ledger, region: str) -> None:
    per_table = _consumed_capacity(op, body, meter)
    for table, e in per_table.items():
        ledger.add(region, table, read=e["read"], write=e["write"])
    result.pop("ConsumedCapacity", None)
    result.pop("ConsumedCapacityUnits", None)  # moto adds this legacy (2011 API) field to DeleteItem
    mode = body.get("ReturnConsumedCapacity", "NONE")
    if mode not in ("TOTAL", "INDEXES"):
        return
    shaped = _capacity_shape(op, mode, per_table)
    if op in MULTI_TABLE_OPS:
        result["ConsumedCapacity"] = shaped
    elif shaped:
        result["ConsumedCapacity"] = shaped[0]


# --- sorted key index and fast Scan / Query --------------------------------------------------------


def _segment_byte(hash_key) -> int:
    # moto's rule (Item.is_within_segment): a partition key always lands in the same segment.
    raw = hash_key.value if isinstance(hash_key.value, bytes) else str(hash_key.value).encode("utf8")
    return hashlib.md5(raw, usedforsecurity=False).digest()[0]


class KeyIndex:
    """A table's keys in moto's scan order, with their items and segment bytes, kept in step with
    every change (dynamodb_items feed), so a page starts with a bisect instead of a full sort."""

    def __init__(self, table):
        self.has_range = table.range_key_attr is not None
        entries = sorted(((self.sort_key(i), i) for i in _all_items(table)), key=lambda e: e[0])
        self.keys = [k for k, _ in entries]
        self.items = [i for _, i in entries]
        self.segments = [_segment_byte(i.hash_key) for i in self.items]

    def sort_key(self, item) -> tuple:
        if self.has_range:
            return sortable(item.hash_key), sortable(item.range_key)
        return (sortable(item.hash_key),)

    def apply(self, old, new) -> None:
        item = new if new is not None else old
        key = self.sort_key(item)
        i = bisect_left(self.keys, key)
        present = i < len(self.keys) and self.keys[i] == key
        if new is None:
            if present:
                del self.keys[i], self.items[i], self.segments[i]
        elif present:
            self.items[i] = new
        else:
            self.keys.insert(i, key)
            self.items.insert(i, new)
            self.segments.insert(i, _segment_byte(new.hash_key))


def _all_items(table) -> list:
    if table.range_key_attr is None:
        return list(table.items.values())
    return [item for bucket in table.items.values() for item in bucket.values()]


def key_index(table) -> KeyIndex:
    index = table.__dict__.get("_lc_keys")
    if index is None:
        index = KeyIndex(table)
        table.__dict__["_lc_keys"] = index
    return index


def _on_change_index(table, old, new, nested: bool) -> None:
    index = table.__dict__.get("_lc_keys")
    if index is not None:
        index.apply(old, new)


def _start_key(table, exclusive_start_key: dict, has_range: bool) -> tuple:
    from moto.dynamodb.exceptions import MockValidationException
    from moto.dynamodb.models.dynamo_type import DynamoType

    try:
        hash_key = DynamoType(exclusive_start_key[table.hash_key_attr])
        if not has_range:
            return (sortable(hash_key),)
        return sortable(hash_key), sortable(DynamoType(exclusive_start_key[table.range_key_attr]))
    except (KeyError, TypeError, IndexError, ValueError, ArithmeticError):
        raise MockValidationException("The provided starting key is invalid: The provided key element does not match the schema")


def _passes_scan_filter(item, filters: dict) -> bool:
    # The legacy ScanFilter parameter, as moto evaluates it.
    for name, (operator, values) in filters.items():
        attribute = item.attrs.get(name)
        if attribute:
            if not attribute.compare(operator, values):
                return False
        elif operator != "NULL":
            return False
    return True


def _project(items: list, paths: list[list[str]] | None) -> list:
    """ProjectionExpression: top-level names are picked directly; nested paths go to moto."""
    if not paths:
        return items
    if any(len(p) != 1 or "[" in p[0] for p in paths):
        return [i.project(paths) for i in items]
    from moto.dynamodb.models.dynamo_type import Item

    names = [p[0] for p in paths]
    out = []
    for item in items:
        picked = Item.__new__(Item)
        picked.hash_key, picked.range_key = item.hash_key, item.range_key
        picked.attrs = {n: item.attrs[n] for n in names if n in item.attrs}
        out.append(picked)
    return out


def _page(table, candidates, position: int, limit: int | None, in_page) -> tuple[list, int | None]:
    """Reads items from `position` until Limit or 1 MB (AWS counts the item that crosses 1 MB);
    returns the items read and the position after the last one if more remain."""
    read, size = [], 0
    n = len(candidates)
    while position < n:
        if not in_page(position):
            position += 1
            continue
        if (limit and len(read) >= limit) or size >= PAGE_LIMIT:
            return read, position
        item = candidates[position]
        read.append(item)
        size += item_size(item)
        position += 1
    return read, None


def _finish(table, index_name, read: list, more: bool, filter_expression, projection, filters=None):
    record_read(table, index_name, sum(item_size(i) for i in read))
    results = read
    if filters:
        results = [i for i in results if _passes_scan_filter(i, filters)]
    if filter_expression is not None:
        results = [i for i in results if filter_expression.expr(i)]
    last_key = table._get_last_evaluated_key(read[-1], index_name) if (more and read) else None
    return _project(results, projection), len(read), last_key


def install_fast_reads() -> None:
    from moto.dynamodb.models.table import Table

    original_scan = Table.scan
    original_query = Table.query

    def scan(table, filters, limit, exclusive_start_key, filter_expression=None, index_name=None,
             consistent_read=False, projection_expression=None, segments=(None, None)):
        if index_name:  # index scans stay moto's; only the metering and the filter order are ours
            read, scanned, last_key = original_scan(table, {}, limit, exclusive_start_key, None, index_name,
                                                    consistent_read, None, segments)
            results, _, _ = _finish(table, index_name, read, False, filter_expression, projection_expression, filters)
            return results, scanned, last_key
        index = key_index(table)
        start = 0
        if exclusive_start_key:
            start = bisect_right(index.keys, _start_key(table, exclusive_start_key, index.has_range))
        segment, total = segments
        in_page = (lambda i: True) if total is None else (lambda i: index.segments[i] % total == segment)
        read, more = _page(table, index.items, start, limit, in_page)
        return _finish(table, None, read, more is not None, filter_expression, projection_expression, filters)

    def query(table, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
              projection_expressions, index_name=None, consistent_read=False, filter_expression=None,
              hash_key_conditions=None, range_key_conditions=None, **filter_kwargs):
        if index_name or filter_kwargs or hash_key is None or len(range_key_conditions or []) > 1:
            read, scanned, last_key = original_query(
                table, hash_key, range_comparison, range_objs, limit, exclusive_start_key, scan_index_forward,
                None, index_name, consistent_read, None, hash_key_conditions=hash_key_conditions,
                range_key_conditions=range_key_conditions, **filter_kwargs)
            results, _, _ = _finish(table, index_name, read, False, filter_expression, projection_expressions)
            return results, scanned, last_key
        candidates = _partition(table, hash_key, range_comparison, range_objs, scan_index_forward)
        start = 0
        if exclusive_start_key:
            start = _query_start(table, candidates, exclusive_start_key, scan_index_forward)
        read, more = _page(table, candidates, start, limit, lambda i: True)
        return _finish(table, None, read, more is not None, filter_expression, projection_expressions)

    Table.scan = scan
    Table.query = query
    Table.all_items = lambda table: list(key_index(table).items)


def _partition(table, hash_key, range_comparison, range_objs, forward: bool) -> list:
    """The items of one partition matching the sort key condition, in sort key order."""
    bucket = table.items.get(hash_key)
    if bucket is None:
        return []
    if table.range_key_attr is None:
        return [bucket]
    items = sorted(bucket.values(), key=lambda i: sortable(i.range_key))
    if range_comparison:
        items = [i for i in items if i.range_key.compare(range_comparison, range_objs)]
    return items if forward else items[::-1]


def _query_start(table, candidates: list, exclusive_start_key: dict, forward: bool) -> int:
    if table.range_key_attr is None:
        return len(candidates)  # the partition's only item was the previous page
    start = _start_key(table, exclusive_start_key, True)[1]
    ranges = [sortable(i.range_key) for i in candidates]
    if forward:
        return bisect_right(ranges, start)
    return bisect_right([_Reversed(r) for r in ranges], _Reversed(start))


class _Reversed:
    """Orders values backwards, to bisect a descending list."""

    __slots__ = ("value",)

    def __init__(self, value):
        self.value = value

    def __lt__(self, other):
        return other.value < self.value

    def __eq__(self, other):
        return self.value == other.value


# --- transactions --------------------------------------------------------------------------------


def install_transactions() -> None:
    """TransactWriteItems: all conditions checked first against the current items, then all writes;
    a failure after some writes puts the touched items back. moto deep-copied every table named in
    the transaction for its rollback (seconds for a large table) and wrote before checking."""
    from moto.dynamodb.comparisons import get_filter_expression
    from moto.dynamodb.exceptions import (
        MultipleTransactionsException,
        TooManyTransactionsException,
        TransactionCanceledException,
        TransactWriteSingleOpException,
    )
    from moto.dynamodb.models import DynamoDBBackend
    from moto.dynamodb.models.dynamo_type import DynamoType

    feed = dynamodb_items.feed()

    def target(backend, entry: dict):
        if len(entry) != 1:
            raise TransactWriteSingleOpException()
        kind, op = next(iter(entry.items()))
        table = backend.get_table(op["TableName"])
        attrs = op["Item"] if kind == "Put" else op["Key"]
        hash_key = DynamoType(attrs[table.hash_key_attr])
        range_key = DynamoType(attrs[table.range_key_attr]) if table.range_key_attr else None
        return kind, op, table, hash_key, range_key

    def check(kind, op, table, current):
        condition = op.get("ConditionExpression")
        if kind == "ConditionCheck":
            record_read(table, None, item_size(current), 2.0)
        if condition is None:
            return None
        ok = get_filter_expression(condition, op.get("ExpressionAttributeNames"), op.get("ExpressionAttributeValues")).expr(current)
        if ok:
            return None
        item = current.to_json()["Attributes"] if current is not None and op.get("ReturnValuesOnConditionCheckFailure") == "ALL_OLD" else None
        return "ConditionalCheckFailed", "The conditional request failed", item

    def apply(backend, kind, op, table, hash_key, range_key):
        if kind == "Put":
            backend.put_item(op["TableName"], op["Item"])
        elif kind == "Delete":
            backend.delete_item(op["TableName"], op["Key"])
        elif kind == "Update":
            backend.update_item(
                op["TableName"], op["Key"], update_expression=op["UpdateExpression"],
                expression_attribute_names=op.get("ExpressionAttributeNames"),
                expression_attribute_values=op.get("ExpressionAttributeValues"))

    def transact_write_items(backend, transact_items: list) -> None:
        if len(transact_items) > TRANSACT_LIMIT:
            raise TooManyTransactionsException()
        targets = [target(backend, entry) for entry in transact_items]
        seen = set()
        for _kind, _op, table, hash_key, range_key in targets:
            identity = (table.name, hash_key, range_key)
            if identity in seen:
                raise MultipleTransactionsException()
            seen.add(identity)
        with feed.lock, feed.single_instant():
            currents = [lookup(t, h, r) for _k, _o, t, h, r in targets]
            reasons = [check(k, o, t, c) for (k, o, t, _h, _r), c in zip(targets, currents)]
            if any(reasons):
                raise TransactionCanceledException([r or (None, None, None) for r in reasons])
            done = []
            try:
                for (kind, op, table, hash_key, range_key), current in zip(targets, currents):
                    before = lookup(table, hash_key, range_key)
                    snapshot = copy.deepcopy(before) if kind == "Update" else before
                    apply(backend, kind, op, table, hash_key, range_key)
                    done.append((table, hash_key, range_key, snapshot))
            except Exception:
                for table, hash_key, range_key, snapshot in reversed(done):
                    now = lookup(table, hash_key, range_key)
                    store(table, hash_key, range_key, snapshot)
                    if now is not None or snapshot is not None:
                        feed.publish(table, now, snapshot, False)
                raise

    DynamoDBBackend.transact_write_items = transact_write_items


# --- the front: moto's handler methods without moto's HTTP layer ----------------------------------


def _decode_binary(value):
    """B / BS values arrive base64-encoded; moto's request parser hands them over as bytes."""
    if isinstance(value, dict):
        if len(value) == 1:
            (kind, inner), = value.items()
            if kind == "B" and isinstance(inner, str):
                return {"B": base64.b64decode(inner)}
            if kind == "BS" and isinstance(inner, list) and all(isinstance(v, str) for v in inner):
                return {"BS": [base64.b64decode(v) for v in inner]}
        return {k: _decode_binary(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_binary(v) for v in value]
    return value


def _json_default(value):
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode()
    if isinstance(value, datetime.datetime):
        return value.timestamp()
    if isinstance(value, Decimal):
        return float(value)
    raise TypeError(f"cannot serialize {type(value).__name__}")


def _validation(message: str):
    from moto.dynamodb.exceptions import MockValidationException

    return MockValidationException(message)


def _key_identity(key: dict) -> str:
    return json.dumps(key, sort_keys=True, default=_json_default)


def _check_batch_write(body: dict, key_attributes: dict[str, list[str]]) -> None:
    """key_attributes: table name -> its key attribute names (to spot a put and a delete of one key,
    which moto let through: it compared puts with puts and deletes with deletes)."""
    requests = body.get("RequestItems") or {}
    for table, entries in requests.items():
        if len(entries) > BATCH_WRITE_LIMIT:
            raise _validation(
                f"1 validation error detected: Value at 'requestItems.{table}.member' failed to satisfy constraint: "
                f"Member must have length less than or equal to {BATCH_WRITE_LIMIT}")
    if sum(len(entries) for entries in requests.values()) > BATCH_WRITE_LIMIT:
        raise _validation("Too many items requested for the BatchWriteItem call")
    for table_name, entries in requests.items():
        names = key_attributes.get(table_name)
        identities = [_write_request_key(entry, names) for entry in entries]
        if len(set(identities)) != len(identities):
            raise _validation("Provided list of item keys contains duplicates")


def _write_request_key(entry: dict, key_names: list[str] | None) -> str:
    if "DeleteRequest" in entry:
        return _key_identity(entry["DeleteRequest"].get("Key", {}))
    item = entry.get("PutRequest", {}).get("Item", {})
    return _key_identity({k: v for k, v in item.items() if key_names is None or k in key_names})


def _check_batch_get(body: dict) -> None:
    for table, request in (body.get("RequestItems") or {}).items():
        identities = [_key_identity(k) for k in request.get("Keys", [])]
        if len(set(identities)) != len(identities):
            raise _validation("Provided list of item keys contains duplicates")


def _check_transact_get(body: dict) -> None:
    if len(body.get("TransactItems") or []) > TRANSACT_LIMIT:
        raise _validation(
            "1 validation error detected: Value at 'transactItems' failed to satisfy constraint: "
            f"Member must have length less than or equal to {TRANSACT_LIMIT}")


def _batch_write_item(handler):
    """moto's BatchWriteItem without its duplicate check, which serialized every whole item to JSON
    (and missed a put and a delete of one key): `_check_batch_write` checks the keys instead."""
    from moto.core.responses import ActionResult
    from moto.dynamodb.responses import validate_put_has_empty_keys

    backend = handler.dynamodb_backend
    puts, deletes = [], []
    for table_name, entries in handler.body["RequestItems"].items():
        table = backend.get_table(table_name)
        for entry in entries:
            if "PutRequest" in entry:
                item = entry["PutRequest"]["Item"]
                validate_put_has_empty_keys(
                    item, table,
                    custom_error_msg="One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain an empty string value. Key: {}",
                )
                puts.append((table_name, item))
            elif "DeleteRequest" in entry:
                deletes.append((table_name, entry["DeleteRequest"]["Key"]))
    for table_name, item in puts:
        backend.put_item(table_name, item)
    for table_name, key in deletes:
        backend.delete_item(table_name, key)
    return ActionResult({"UnprocessedItems": {}})


def install_fast_results() -> None:
    """moto converts every response through a generic walker (DynamoResult -> dynamo_to_dict) that
    tests each node for five kinds of object; most nodes are plain attribute values."""
    from moto.dynamodb import responses
    from moto.dynamodb.models.dynamo_type import DynamoType

    generic = responses.dynamo_to_dict
    plain = (str, int, float, bool, type(None), bytes)

    def attribute(value):
        kind, inner = value.type, value.value
        if kind == "M":
            return {"M": {k: convert(v) for k, v in inner.items()}}
        if kind == "L":
            return {"L": [convert(v) for v in inner]}
        if kind == "B":
            return {"B": inner if isinstance(inner, bytes) else base64.b64decode(inner)}
        if kind == "BS":
            return {"BS": [v if isinstance(v, bytes) else base64.b64decode(v) for v in inner]}
        return {kind: list(inner) if isinstance(inner, list) else inner}

    def convert(obj):
        t = type(obj)
        if t is DynamoType:
            return attribute(obj)
        if t in plain:
            return obj
        if t is list:
            return [convert(v) for v in obj]
        if isinstance(obj, dict) and not hasattr(obj, "to_json"):
            return {k: convert(v) for k, v in obj.items()}
        return generic(obj)

    responses.dynamo_to_dict = convert


class Front:
    """Answers the data-plane operations with moto's handler methods, metered and serialized here."""

    OPERATIONS = {
        "GetItem": "get_item", "PutItem": "put_item", "UpdateItem": "update_item", "DeleteItem": "delete_item",
        "BatchGetItem": "batch_get_item", "BatchWriteItem": "batch_write_item", "Query": "query", "Scan": "scan",
        "TransactWriteItems": "transact_write_items", "TransactGetItems": "transact_get_items",
    }

    def __init__(self, ctx, ledger: Ledger):
        from moto.dynamodb.responses import DynamoHandler

        class DirectHandler(DynamoHandler):
            current_account = None  # moto reads it from the HTTP request; set per call instead

            def __init__(self, account: str, region: str, body: dict):
                super().__init__()
                self.current_account, self.region, self.body = account, region, body

            def batch_write_item(self):
                return _batch_write_item(self)

        self.ctx = ctx
        self.ledger = ledger
        self.handler_class = DirectHandler
        self.feed = dynamodb_items.feed()

    def _backend(self, region: str):
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[self.ctx.account_id][region]

    def _tables(self, op: str, body: dict) -> list[str]:
        if op in ("BatchGetItem", "BatchWriteItem"):
            return list((body.get("RequestItems") or {}).keys())
        if op.startswith("Transact"):
            return [next(iter(e.values())).get("TableName", "") for e in body.get("TransactItems") or [] if e]
        return [body.get("TableName", "")]

    def _check_ready(self, region: str, names: list[str]) -> None:
        """A table still being restored answers as AWS does for a table that is not ACTIVE."""
        from moto.dynamodb.exceptions import ResourceNotFoundException

        tables = self._backend(region).tables
        for name in names:
            table = tables.get(name)
            if table is not None and not dynamodb_items.table_ready(table):
                raise ResourceNotFoundException("Requested resource not found")

    def _record_point_reads(self, op: str, region: str, body: dict) -> None:
        """GetItem-style reads cost the whole item, whatever the projection (Developer Guide)."""
        backend = self._backend(region)
        if op == "GetItem":
            self._point_read(backend, body["TableName"], body.get("Key", {}), 1.0 if body.get("ConsistentRead") else 0.5)
        elif op == "BatchGetItem":
            for name, request in (body.get("RequestItems") or {}).items():
                for key in request.get("Keys", []):
                    self._point_read(backend, name, key, 1.0 if request.get("ConsistentRead") else 0.5)
        elif op == "TransactGetItems":
            for entry in body.get("TransactItems") or []:
                get = entry.get("Get", {})
                self._point_read(backend, get.get("TableName", ""), get.get("Key", {}), 2.0)

    def _point_read(self, backend, name: str, key: dict, factor: float) -> None:
        table = backend.tables.get(name)
        if table is not None:
            record_read(table, None, item_size(existing_item(table, key)), factor)

    def answer(self, op: str, request):
        from moto.core.exceptions import JsonRESTError

        body = request.body
        raw = request.environ["wsgi.input"].getvalue()
        if b'"B"' in raw or b'"BS"' in raw:
            body = _decode_binary(body)
        meter = Meter()
        try:
            with self.feed.lock:
                self._check_ready(request.region, self._tables(op, body))
                self._validate(op, request.region, body)
                _METER.meter = meter
                try:
                    handler = self.handler_class(self.ctx.account_id, request.region, body)
                    result = getattr(handler, self.OPERATIONS[op])()
                    self._record_point_reads(op, request.region, body)
                finally:
                    _METER.meter = None
                payload = dict(result.result or {})
                _apply_capacity(op, body, payload, meter, self.ledger, request.region)
                data = json.dumps(payload, default=_json_default).encode()
        except JsonRESTError as e:
            return e.code, e.get_body().encode(), e.relative_error_type
        except Exception as e:  # moto failed unexpectedly: what moto's server would answer (500)
            traceback.print_exc()
            payload = json.dumps({"__type": "InternalServerError", "message": f"{type(e).__name__}: {e}"}).encode()
            return 500, payload, "InternalServerError"
        return 200, data, None

    def _validate(self, op: str, region: str, body: dict) -> None:
        if op == "BatchWriteItem":
            tables = self._backend(region).tables
            keys = {name: tables[name].table_key_attrs for name in body.get("RequestItems") or {} if name in tables}
            _check_batch_write(body, keys)
        elif op == "BatchGetItem":
            _check_batch_get(body)
        elif op == "TransactGetItems":
            _check_transact_get(body)

    def install(self) -> None:
        for op in self.OPERATIONS:
            self.ctx.operation(f"{TARGET}.{op}", lambda request, op=op: self.answer(op, request))


def install_deletion_protection_message() -> None:
    from moto.dynamodb.exceptions import DeletionProtectedException, MockValidationException

    def init(self, table_name: str) -> None:
        # AWS (seen in SDK error logs): ValidationException with this message.
        MockValidationException.__init__(self, PROTECTED_MESSAGE)

    DeletionProtectedException.__init__ = init


def install_transact_get_limit() -> None:
    # moto refuses more than 25 Get actions; AWS takes up to 100 (checked in the front instead).
    from moto.dynamodb import responses

    responses.TRANSACTION_MAX_ITEMS = TRANSACT_LIMIT


def install_expression_cache() -> None:
    """moto parses a request's condition expression twice (validation, then the write) from scratch:
    a third of a conditional PutItem's time. The parsed tree depends only on the expression, its
    names and values, and evaluating it changes nothing, so parses are memoized."""
    from moto.dynamodb.comparisons import ConditionExpressionParser

    original = ConditionExpressionParser.parse
    cache: dict[str, tuple] = {}
    lock = threading.Lock()

    def parse(parser):
        if not parser.condition_expression:
            return original(parser)
        key = json.dumps(
            [parser.condition_expression, parser.expression_attribute_names, parser.expression_attribute_values],
            sort_keys=True, default=_json_default,
        )
        hit = cache.get(key)
        if hit is None:
            tree = original(parser)
            hit = (tree, list(parser.expr_attr_names_found), list(parser.expr_attr_values_found))
            with lock:
                if len(cache) >= 4096:
                    cache.clear()
                cache[key] = hit
        tree, names, values = hit
        parser.expr_attr_names_found = list(names)
        parser.expr_attr_values_found = list(values)
        return tree

    ConditionExpressionParser.parse = parse


def install_async_stream_delivery() -> None:
    """moto hands a table's stream records to a subscribed Lambda function synchronously, inside the
    write (and so inside the DynamoDB lock: a function writing back to DynamoDB would wait for
    itself). On AWS, Lambda polls the stream and the write never waits for the function."""
    from moto.awslambda.models import LambdaBackend

    original = LambdaBackend.send_dynamodb_items

    def send_dynamodb_items(backend, function_arn: str, items: list, source: str):
        records = list(items)
        threading.Thread(target=original, args=(backend, function_arn, records, source), daemon=True).start()
        return b"delivered asynchronously"  # moto drops the shard's records once handed over

    LambdaBackend.send_dynamodb_items = send_dynamodb_items


def install(ctx) -> None:
    feed = dynamodb_items.feed()
    install_expression_cache()
    ledger = Ledger()
    feed.subscribe(_on_change_index)
    feed.subscribe(_on_write, failed=_on_failed_write(ledger))
    install_fast_reads()
    install_fast_results()
    install_transactions()
    install_deletion_protection_message()
    install_transact_get_limit()
    install_async_stream_delivery()
    Front(ctx, ledger).install()
    ctx.services["dynamodb_ledger"] = ledger
    ctx.endpoint("POST", "/_local_cloud/dynamodb/capacity", ledger.report)
