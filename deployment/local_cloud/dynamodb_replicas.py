"""Global tables: moto accepts UpdateTable ReplicaUpdates and ignores it. Here a replica request creates
the same table (keys, indexes, stream, encryption) in the replica Region, copies its items, and from
then on every item written, updated or deleted in either Region is written or deleted in the others,
synchronously (AWS replicates within about a second). Replicated writes go through the replica
table's own write path, so each Region's table keeps its own point-in-time history (dynamodb_history)
and its own scan index; they are not counted in the caller's consumed capacity.
"""

from __future__ import annotations

import copy
import threading

from . import dynamodb_items


class Replicas:
    def __init__(self):
        # (account, region, table) -> regions holding a replica
        self.links: dict[tuple[str, str, str], set[str]] = {}
        self.lock = threading.RLock()
        self.feed = dynamodb_items.feed()

    def _backend(self, account: str, region: str):
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[account][region]

    def add(self, account: str, region: str, table_name: str, replica_region: str) -> dict:
        source = self._backend(account, region).get_table(table_name)
        target_backend = self._backend(account, replica_region)
        with self.feed.lock, self.lock:
            if table_name not in target_backend.tables:
                replica = target_backend.create_table(
                    table_name,
                    schema=copy.deepcopy(source.schema),
                    throughput=None,
                    attr=copy.deepcopy(source.attr),
                    global_indexes=_index_definitions(source.global_indexes),
                    indexes=_index_definitions(source.indexes),
                    streams=copy.deepcopy(source.stream_specification),
                    billing_mode="PAY_PER_REQUEST",
                    sse_specification=copy.deepcopy(source.sse_specification),
                    tags=[],
                    deletion_protection_enabled=False,
                    warm_throughput=None,
                )
                replica.ttl = copy.deepcopy(source.ttl)
                with self.feed.replicating():
                    for item in source.all_items():
                        replica.put_item(_wire(item))
            regions = {region, replica_region} | self.links.get((account, region, table_name), set())
            for r in regions:
                self.links[(account, r, table_name)] = regions - {r}
        return {"TableDescription": self.describe(account, region, table_name)}

    def remove(self, account: str, region: str, table_name: str, replica_region: str) -> None:
        """Removes a replica: AWS deletes that Region's table (refused if it is protected)."""
        with self.feed.lock, self.lock:
            backend = self._backend(account, replica_region)
            if table_name in backend.tables:
                backend.delete_table(table_name)
            regions = self.links.get((account, region, table_name), set()) | {region}
            remaining = regions - {replica_region}
            self.links.pop((account, replica_region, table_name), None)
            for r in remaining:
                if len(remaining) > 1:
                    self.links[(account, r, table_name)] = remaining - {r}
                else:
                    self.links.pop((account, r, table_name), None)

    def describe(self, account: str, region: str, table_name: str) -> dict:
        description = self._backend(account, region).describe_table(table_name)["Table"]
        replicas = self.links.get((account, region, table_name), set())
        if replicas:
            description["Replicas"] = [
                {"RegionName": r, "ReplicaStatus": "ACTIVE"} for r in sorted(replicas | {region})
            ]
        return description

    def replicas_of(self, table) -> list:
        with self.lock:
            regions = self.links.get((table.account_id, table.region_name, table.name), set())
            tables = [self._backend(table.account_id, r).tables.get(table.name) for r in regions]
        return [t for t in tables if t is not None]

    def on_change(self, table, old, new, nested: bool) -> None:
        """Mirrors a change made in one Region to the others (not the mirrored writes themselves)."""
        if nested or self.feed.is_replicating():
            return
        replicas = self.replicas_of(table)
        if not replicas:
            return
        with self.feed.replicating():
            for replica in replicas:
                if new is None:
                    hash_key, range_key = dynamodb_items.key_of(table, old)
                    replica.delete_item(hash_key, range_key)
                else:
                    replica.put_item(_wire(new))


def _index_definitions(indexes) -> list | None:
    definitions = [
        {"IndexName": i.name, "KeySchema": copy.deepcopy(i.schema), "Projection": copy.deepcopy(i.projection)}
        for i in indexes
    ]
    return definitions or None


def _wire(item) -> dict:
    """An item's attributes in request form. `Item.to_json` builds fresh containers at every level (maps and
    lists through `to_regular_json`, sets as new lists) around immutable scalars, so replicas never share
    moto objects without a deep copy (which took a fifth of the server's time under a write load)."""
    return item.to_json()["Attributes"]


def install(ctx) -> None:
    replicas = Replicas()
    replicas.feed.subscribe(replicas.on_change)
    ctx.services["replicas"] = replicas

    def update_table(request):
        creates = [u["Create"]["RegionName"] for u in request.body.get("ReplicaUpdates", []) if "Create" in u]
        out = None
        for replica_region in creates:
            out = replicas.add(ctx.account_id, request.region, request.body["TableName"], replica_region)
        return out

    def describe_table(request):
        name = request.body.get("TableName", "")
        if replicas.links.get((ctx.account_id, request.region, name)):
            return {"Table": replicas.describe(ctx.account_id, request.region, name)}
        return None

    ctx.operation("DynamoDB_20120810.UpdateTable", update_table)
    ctx.operation("DynamoDB_20120810.DescribeTable", describe_table)
