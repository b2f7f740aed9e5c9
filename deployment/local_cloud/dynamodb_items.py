"""DynamoDB item plumbing shared by the dynamodb_* extensions (a library, not an extension).

- AWS's item size rules (`item_size`), used for the 400 KB limit, 1 MB pages and consumed capacity.
- One change feed: every write to a moto table (PutItem, UpdateItem, DeleteItem, BatchWriteItem,
  TransactWriteItems, PartiQL, replica mirroring: they all end in `Table.put_item`, `Table.delete_item`
  or `DynamoDBBackend.update_item`) is published as (table, old item, new item) to subscribers: the
  scan index, the capacity meter, point-in-time history, global-table replicas.
- One lock for all DynamoDB data: moto checks a condition and then writes without any lock, so two
  concurrent conditional writes could both succeed; on AWS a conditional write is atomic.
"""

from __future__ import annotations

import base64
import copy
import math
import threading
import time
from contextlib import contextmanager
from decimal import Decimal
from typing import Any, Callable

# AWS: "The maximum item size in DynamoDB is 400 KB, which includes both attribute name binary length
# (UTF-8 length) and attribute value lengths (again binary length)." (Service quotas, 400 KB = 409,600 B)
ITEM_SIZE_LIMIT = 400 * 1024

_FEED: "ChangeFeed | None" = None
_FEED_LOCK = threading.Lock()


# --- AWS item sizes --------------------------------------------------------------------------------
# Rules from the Developer Guide, "DynamoDB item sizes and formats" (CapacityUnitCalculations):
# strings: UTF-8 bytes; numbers: 1 byte per two significant digits + 1; binary: raw bytes;
# null/boolean: 1; list/map: 3 bytes + 1 byte per element + elements (map keys count as names).


def _number_size(text: str) -> int:
    digits = text.lstrip("+-").lower().split("e")[0].replace(".", "").strip("0")
    return math.ceil(max(len(digits), 1) / 2) + 1


def _binary_size(value: Any) -> int:
    return len(value) if isinstance(value, (bytes, bytearray)) else len(base64.b64decode(value))


def _type_and_value(attribute: Any) -> tuple[str, Any]:
    """An attribute as moto keeps it (DynamoType) or as it comes on the wire ({"S": "x"})."""
    if isinstance(attribute, dict):
        return next(iter(attribute.items()))
    return attribute.type, attribute.value


def value_size(attribute: Any) -> int:
    kind, value = _type_and_value(attribute)
    if kind == "S":
        return len(value.encode("utf-8"))
    if kind == "N":
        return _number_size(value)
    if kind == "B":
        return _binary_size(value)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "SS":
        return sum(len(v.encode("utf-8")) for v in value)
    if kind == "NS":
        return sum(_number_size(v) for v in value)
    if kind == "BS":
        return sum(_binary_size(v) for v in value)
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in value)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + value_size(v) for k, v in value.items())
    return len(str(value))


def attributes_size(attributes: dict) -> int:
    """Size of an item's attributes (wire form or moto DynamoTypes): names plus values."""
    return sum(len(name.encode("utf-8")) + value_size(v) for name, v in attributes.items())


def item_size(item) -> int:
    """AWS size of a moto Item, cached on it until an update changes it (see ChangeFeed)."""
    if item is None:
        return 0
    cached = item.__dict__.get("_lc_size")
    if cached is None:
        cached = attributes_size(item.attrs)
        item.__dict__["_lc_size"] = cached
    return cached


def sortable(value) -> Any:
    """A DynamoType key value as a plain Python value that sorts as DynamoDB sorts keys."""
    if value.type == "N":
        return Decimal(value.value)
    if value.type == "B":
        return value.value if isinstance(value.value, bytes) else base64.b64decode(value.value)
    return value.value


def key_of(table, item) -> tuple:
    """(hash DynamoType, range DynamoType or None): the item's primary key."""
    return item.hash_key, item.range_key if table.range_key_attr else None


def lookup(table, hash_key, range_key):
    """The stored Item for a key, or None (never creates a bucket in moto's defaultdict)."""
    bucket = table.items.get(hash_key)
    if bucket is None or range_key is None:
        return bucket if table.range_key_attr is None else None
    return bucket.get(range_key)


def store(table, hash_key, range_key, item) -> None:
    """Puts `item` (or removes the key when None) straight into moto's table, publishing nothing."""
    if table.range_key_attr is None:
        if item is None:
            table.items.pop(hash_key, None)
        else:
            table.items[hash_key] = item
        return
    if item is None:
        table.items.get(hash_key, {}).pop(range_key, None)
    else:
        table.items[hash_key][range_key] = item


# --- the change feed -------------------------------------------------------------------------------


class ChangeFeed:
    """Publishes every item change of every moto table, under one lock for all DynamoDB data."""

    def __init__(self):
        self.lock = threading.RLock()
        self.local = threading.local()
        # subscriber(table, old Item | None, new Item | None, nested: bool). `nested` is true for a
        # write made inside another one (UpdateItem creating its item with a put): only bookkeeping
        # that must see every change of the stored items (the scan index) uses those.
        self.subscribers: list[Callable[[Any, Any, Any, bool], None]] = []
        # failed(table, existing Item | None, attempted size): a conditional write that was refused.
        self.failed_subscribers: list[Callable[[Any, Any, int], None]] = []

    def subscribe(self, subscriber, failed=None) -> None:
        self.subscribers.append(subscriber)
        if failed is not None:
            self.failed_subscribers.append(failed)

    def now(self) -> float:
        """The time of a change: a transaction's changes all share one instant."""
        return getattr(self.local, "stamp", None) or time.time()

    @contextmanager
    def single_instant(self):
        """All changes made inside share one timestamp (a transaction is atomic in the history)."""
        outer = getattr(self.local, "stamp", None)
        self.local.stamp = outer or time.time()
        try:
            yield
        finally:
            self.local.stamp = outer

    @contextmanager
    def replicating(self):
        """Marks writes that mirror another Region's write (global tables): not the caller's cost."""
        self.local.replicating = getattr(self.local, "replicating", 0) + 1
        try:
            yield
        finally:
            self.local.replicating -= 1

    def is_replicating(self) -> bool:
        return getattr(self.local, "replicating", 0) > 0

    @contextmanager
    def _write(self):
        self.local.depth = getattr(self.local, "depth", 0) + 1
        try:
            yield
        finally:
            self.local.depth -= 1

    def _nested(self) -> bool:
        return getattr(self.local, "depth", 0) > 0

    def publish(self, table, old, new, nested: bool) -> None:
        for subscriber in self.subscribers:
            subscriber(table, old, new, nested)

    def publish_failure(self, table, existing, attempted_size: int) -> None:
        for subscriber in self.failed_subscribers:
            subscriber(table, existing, attempted_size)

    # --- moto patches ------------------------------------------------------------------------------
    def install(self) -> None:
        from moto.dynamodb.exceptions import ConditionalCheckFailed, ItemSizeToUpdateTooLarge, ItemSizeTooLarge
        from moto.dynamodb.models import DynamoDBBackend
        from moto.dynamodb.models.dynamo_type import DynamoType, LimitedSizeDict
        from moto.dynamodb.models.table import Table

        feed = self
        original_put = Table.put_item
        original_delete = Table.delete_item
        original_update = DynamoDBBackend.update_item
        original_backend_delete = DynamoDBBackend.delete_item

        def put_item(table, item_attrs, *args, **kwargs):
            size = attributes_size(item_attrs)
            if size > ITEM_SIZE_LIMIT:
                raise ItemSizeTooLarge()
            with feed.lock:
                old = existing_item(table, item_attrs, DynamoType)
                with feed._write():
                    try:
                        new = original_put(table, item_attrs, *args, **kwargs)
                    except ConditionalCheckFailed:
                        feed.publish_failure(table, old, size)
                        raise
                new.__dict__["_lc_size"] = size
                feed.publish(table, old, new, feed._nested())
                return new

        def delete_item(table, hash_key, range_key):
            with feed.lock:
                with feed._write():
                    old = original_delete(table, hash_key, range_key)
                if old is not None:
                    feed.publish(table, old, None, feed._nested())
                return old

        def update_item(backend, table_name, key, *args, **kwargs):
            table = backend.get_table(table_name)
            with feed.lock:
                live = existing_item(table, key, DynamoType)
                old = copy.deepcopy(live)
                with feed._write():
                    try:
                        new = original_update(backend, table_name, key, *args, **kwargs)
                    except ConditionalCheckFailed:
                        feed.publish_failure(table, live, item_size(live))
                        raise
                new.__dict__.pop("_lc_size", None)  # updated in place: its size changed
                if item_size(new) > ITEM_SIZE_LIMIT:
                    _revert(feed, table, new, old)
                    raise ItemSizeToUpdateTooLarge()
                feed.publish(table, old, new, feed._nested())
                return new

        def backend_delete_item(backend, table_name, key, *args, **kwargs):
            # moto checks DeleteItem's condition here, before Table.delete_item: a refusal is seen here.
            try:
                return original_backend_delete(backend, table_name, key, *args, **kwargs)
            except ConditionalCheckFailed:
                table = backend.get_table(table_name)
                existing = existing_item(table, key, DynamoType)
                feed.publish_failure(table, existing, item_size(existing))
                raise

        Table.put_item = put_item
        Table.delete_item = delete_item
        DynamoDBBackend.update_item = update_item
        DynamoDBBackend.delete_item = backend_delete_item
        # moto re-measures the whole item on every attribute it sets (quadratic in the number of
        # attributes) against its own size rules; the AWS limit is enforced above instead.
        LimitedSizeDict.__setitem__ = dict.__setitem__


def existing_item(table, attrs: dict, dynamo_type=None):
    """The stored item with the key found in `attrs` (an item or a key), or None."""
    if dynamo_type is None:
        from moto.dynamodb.models.dynamo_type import DynamoType as dynamo_type
    try:
        hash_key = dynamo_type(attrs[table.hash_key_attr])
        range_key = dynamo_type(attrs[table.range_key_attr]) if table.range_key_attr else None
    except (KeyError, TypeError, AttributeError, IndexError):
        return None
    if table.range_key_attr and range_key is None:
        return None
    return lookup(table, hash_key, range_key)


def _revert(feed: ChangeFeed, table, new, old) -> None:
    """Undoes an update that made its item too large (AWS refuses it before writing)."""
    hash_key, range_key = key_of(table, new)
    store(table, hash_key, range_key, old)
    # The update may have created the item (a nested put already published it): tell the index.
    feed.publish(table, new, old, True)


# A table that is not ACTIVE yet (a restore in progress) carries the time it becomes ACTIVE here.
READY_AT = "_lc_ready_at"


def table_ready(table) -> bool:
    return table.__dict__.get(READY_AT, 0) <= time.time()


def feed() -> ChangeFeed:
    """The process's change feed, with moto patched on first use."""
    global _FEED
    with _FEED_LOCK:
        if _FEED is None:
            _FEED = ChangeFeed()
            _FEED.install()
        return _FEED
