"""Global tables: moto accepts UpdateTable ReplicaUpdates and ignores it. Here a replica request creates
the same table in the replica Region, copies its items, and from then on every item written or deleted in
either Region is written or deleted in the other, synchronously (AWS replicates within about a second).
"""

from __future__ import annotations

import copy
import threading


class Replicas:
    def __init__(self):
        # (account, region, table) -> regions holding a replica
        self.links: dict[tuple[str, str, str], set[str]] = {}
        self.lock = threading.RLock()
        self.mirroring = threading.local()

    def _backend(self, account: str, region: str):
        from moto.dynamodb.models import dynamodb_backends

        return dynamodb_backends[account][region]

    def add(self, account: str, region: str, table_name: str, replica_region: str) -> dict:
        source = self._backend(account, region).get_table(table_name)
        target_backend = self._backend(account, replica_region)
        with self.lock:
            if table_name not in target_backend.tables:
                replica = target_backend.create_table(
                    table_name,
                    schema=copy.deepcopy(source.schema),
                    throughput=None,
                    attr=copy.deepcopy(source.attr),
                    global_indexes=None,
                    indexes=None,
                    streams=copy.deepcopy(source.stream_specification),
                    billing_mode="PAY_PER_REQUEST",
                    sse_specification=copy.deepcopy(source.sse_specification),
                    tags=[],
                    deletion_protection_enabled=False,
                    warm_throughput=None,
                )
                for item in source.all_items():
                    replica.put_item(copy.deepcopy(item.to_json()["Attributes"]))
            regions = {region, replica_region} | self.links.get((account, region, table_name), set())
            for r in regions:
                self.links[(account, r, table_name)] = regions - {r}
        return {"TableDescription": self.describe(account, region, table_name)}

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
            return [self._backend(table.account_id, r).tables.get(table.name) for r in regions]

    def install(self) -> None:  # noqa: D401 - patches moto's Table
        from moto.dynamodb.models.table import Table

        replicas = self
        original_put = Table.put_item
        original_delete = Table.delete_item

        def put_item(table, item_attrs, *args, **kwargs):
            result = original_put(table, item_attrs, *args, **kwargs)
            if not getattr(replicas.mirroring, "active", False):
                replicas.mirroring.active = True
                try:
                    for replica in replicas.replicas_of(table):
                        if replica is not None:
                            original_put(replica, copy.deepcopy(item_attrs))
                finally:
                    replicas.mirroring.active = False
            return result

        def delete_item(table, hash_key, range_key):
            result = original_delete(table, hash_key, range_key)
            for replica in replicas.replicas_of(table):
                if replica is not None:
                    original_delete(replica, hash_key, range_key)
            return result

        Table.put_item = put_item
        Table.delete_item = delete_item


def install(ctx) -> None:
    replicas = Replicas()
    replicas.install()
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
