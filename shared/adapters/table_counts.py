"""Status counts kept beside the tenants, so the summary of GET /api/status costs one small query.

The counts live in the tenants' own partition as a few shard rows (RowKey "~count-NN": "~" sorts after every
customerId character, so listings stop before them). Every write that changes a tenant's status changes one
shard in the same entity-group transaction, guarded by both ETags: a tenant and the counts can never
disagree. Shards spread concurrent writers; a writer that loses a shard's ETag race retries on another.
"""
from __future__ import annotations

import random
from collections.abc import Mapping
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableClient, TableTransactionError, UpdateMode

from ..domain.errors import Conflict
from ..domain.models import Status
from .table_entities import TENANT_PARTITION, status_of

SHARDS = 16
COUNT_PREFIX = "~count-"  # every customerId character sorts before "~"
_ATTEMPTS = 12


def counted_write(table: TableClient, operation: tuple[Any, ...], delta: Mapping[Status, int]) -> Mapping[str, Any]:
    """Submit one tenant operation together with the change it makes to the counts; returns the tenant
    operation's metadata. The tenant's own failure (TableTransactionError with index 0) is raised as is."""
    if not any(delta.values()):
        result = table.submit_transaction([operation])
        return result[0]
    for _ in range(_ATTEMPTS):
        key = f"{COUNT_PREFIX}{random.randrange(SHARDS):02d}"
        try:
            shard = table.get_entity(TENANT_PARTITION, key)
        except ResourceNotFoundError:
            shard = None
        try:
            return table.submit_transaction([operation, _shard_operation(key, shard, delta)])[0]
        except TableTransactionError as err:
            if err.index != 1:
                raise
            # Another writer changed (or created) this shard first: try again, most likely on another one.
    raise Conflict("modifiedConcurrently", "The status counts are busy; retry in a moment.")


def read_counts(table: TableClient) -> dict[Status, int] | None:
    """The kept counts; None when none were ever kept (a table from before counts)."""
    shards = _shards(table)
    if not shards:
        return None
    return {status: sum(int(shard.get(status.value, 0)) for shard in shards.values()) for status in Status}


def recount(table: TableClient) -> dict[Status, int]:
    """Count every tenant and correct the kept counts to match. Exact despite concurrent writers: the scan
    counts only if no shard changed while it ran (every status change changes a shard)."""
    for _ in range(_ATTEMPTS):
        before = _shards(table)
        counted = dict.fromkeys(Status, 0)
        rows = table.query_entities(
            "PartitionKey eq @pk and RowKey lt @end",
            parameters={"pk": TENANT_PARTITION, "end": "~"},
            select=["lastVerificationStatus"],  # projection: a few bytes per tenant
        )
        for row in rows:
            counted[status_of(row.get("lastVerificationStatus"))] += 1
        if {k: v.metadata["etag"] for k, v in _shards(table).items()} != {
            k: v.metadata["etag"] for k, v in before.items()
        }:
            continue
        kept = {status: sum(int(s.get(status.value, 0)) for s in before.values()) for status in Status}
        correction = {status: counted[status] - kept[status] for status in Status}
        if not any(correction.values()) and before:
            return counted
        key = f"{COUNT_PREFIX}00"
        try:
            table.submit_transaction([_shard_operation(key, before.get(key), correction)])
        except TableTransactionError:
            continue  # a writer came in between: count again
        return counted
    raise Conflict("modifiedConcurrently", "Tenants kept changing while they were counted; retry later.")


def _shards(table: TableClient) -> dict[str, Any]:
    rows = table.query_entities(
        "PartitionKey eq @pk and RowKey ge @start and RowKey lt @end",
        parameters={"pk": TENANT_PARTITION, "start": COUNT_PREFIX, "end": COUNT_PREFIX + "~"},
    )
    return {row["RowKey"]: row for row in rows}


def _shard_operation(key: str, shard: Any, delta: Mapping[Status, int]) -> tuple[Any, ...]:
    values = {status.value: int(shard.get(status.value, 0) if shard else 0) + delta.get(status, 0) for status in Status}
    entity = {"PartitionKey": TENANT_PARTITION, "RowKey": key, **values}
    if shard is None:
        return ("create", entity)
    guard = {"mode": UpdateMode.REPLACE, "etag": shard.metadata["etag"],
             "match_condition": MatchConditions.IfNotModified}
    return ("update", entity, guard)
