"""AuditLog on Azure Table Storage: the AuditLog table, its entities and keys.

One partition, rows keyed newest first: RowKey is the record's time in microseconds counted down from a fixed
maximum, so the service's own order (by RowKey) is newest first, listing needs no sort and "older than" is one
RowKey range. A change made through the API is rare next to what one partition takes (thousands of writes a
second), so the partition never limits it. The rest of the RowKey comes from the request id, so appending the
same record again finds its row already there.
"""
from __future__ import annotations

import hashlib
import json
import logging
from datetime import UTC, datetime
from typing import Any

from azure.core.exceptions import HttpResponseError, ResourceExistsError
from azure.data.tables import TableServiceClient

from ..domain.access import Actor, ActorKind
from ..domain.audit import AuditListing, AuditRecord
from ..domain.errors import invalid_continuation_token
from .table_common import (
    PRUNE_LIMIT,
    TableAccess,
    check_page_size,
    delete_rows,
    first_non_empty_page,
    keys_cursor,
    keys_of_cursor,
    storage_call,
)

logger = logging.getLogger(__name__)

PARTITION = "audit"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_TICKS_DIGITS = 18  # microseconds until the year 9999 fit in 18 digits
_LAST_TICK = 10**_TICKS_DIGITS - 1
_CURSOR_PREFIX = "a1."


class TableAuditLog:
    """Implements ports.AuditLog. Creates its table on first use, once per process."""

    def __init__(self, service: TableServiceClient, *, table: str = "AuditLog") -> None:
        self._name = table
        self._on_table = TableAccess(service, table)

    def append(self, record: AuditRecord) -> None:
        entity = record_to_entity(record)
        with storage_call("record a change in the audit log"):
            try:
                self._on_table(lambda table: table.create_entity(entity))
            except ResourceExistsError:
                pass  # this very record, appended before (same time, same request)

    def list_records(self, *, customer_id: str | None, actor_id: str | None, top: int,
                     cursor: str | None) -> AuditListing:
        check_page_size(top, "top")
        start = _decode_cursor(cursor) if cursor is not None else None
        query, parameters = "PartitionKey eq @pk", {"pk": PARTITION}
        if customer_id is not None:
            query, parameters["customer"] = query + " and customerId eq @customer", customer_id
        if actor_id is not None:
            query, parameters["actor"] = query + " and actorId eq @actor", actor_id
        with storage_call("read the audit log"):
            try:
                entities, next_token = self._on_table(lambda table: first_non_empty_page(table.query_entities(
                    query, parameters=parameters, results_per_page=top).by_page(continuation_token=start)))
            except HttpResponseError as error:
                if start is not None and error.status_code == 400:
                    raise invalid_continuation_token() from None  # keys the service would not take
                raise
        records = [record for record in map(_record_or_none, entities) if record is not None]
        return AuditListing(records, _encode_cursor(next_token) if next_token else None)

    def delete_older_than(self, moment: datetime) -> int:
        # Older rows count down from a higher number: every RowKey from the first tick before `moment` on.
        first_older = f"{_inverted(moment) + 1:0{_TICKS_DIGITS}d}"
        with storage_call("delete expired audit records"):
            return self._on_table(lambda table: delete_rows(
                table, "PartitionKey eq @pk and RowKey ge @first", {"pk": PARTITION, "first": first_older},
                limit=PRUNE_LIMIT))


# --- the entity ---------------------------------------------------------------------------------------------------

def row_key(record: AuditRecord) -> str:
    suffix = hashlib.sha256(record.request_id.encode("ascii")).hexdigest()[:16]
    return f"{_inverted(record.at):0{_TICKS_DIGITS}d}-{suffix}"


def record_to_entity(record: AuditRecord) -> dict[str, Any]:
    entity: dict[str, Any] = {
        "PartitionKey": PARTITION,
        "RowKey": row_key(record),
        "at": record.at,
        "actorKind": record.actor.kind.value,
        "actorId": record.actor.id,
        "actorName": record.actor.name,
        "method": record.method,
        "route": record.route,
        "action": record.action,
        "parameters": json.dumps(dict(record.parameters), sort_keys=True, separators=(",", ":")),
        "status": record.status,
        "requestId": record.request_id,
    }
    if record.customer_id is not None:
        entity["customerId"] = record.customer_id
    return entity


def record_from_entity(entity: Any) -> AuditRecord:
    at = entity["at"]
    return AuditRecord(
        at=datetime(*at.timetuple()[:6], at.microsecond, tzinfo=UTC),
        actor=Actor(ActorKind(entity["actorKind"]), entity["actorId"], entity["actorName"]),
        method=entity["method"],
        route=entity["route"],
        action=entity["action"],
        customer_id=entity.get("customerId"),
        parameters=json.loads(entity["parameters"]),
        status=int(entity["status"]),
        request_id=entity["requestId"],
    )


def _record_or_none(entity: Any) -> AuditRecord | None:
    try:
        return record_from_entity(entity)
    except (KeyError, ValueError, TypeError, AttributeError):
        logger.warning("Audit row %s cannot be read and is left out.", entity.get("RowKey"))
        return None


def _inverted(moment: datetime) -> int:
    elapsed = moment.astimezone(UTC) - _EPOCH
    micros = (elapsed.days * 86_400 + elapsed.seconds) * 1_000_000 + elapsed.microseconds
    return _LAST_TICK - micros


# --- the cursor: where the next page starts, opaque to the caller ---------------------------------------------------
# The service's continuation keys, as they are. Hand a client only a signed token that wraps one (as
# usecases/continuation.py wraps the tenant store's), for the filter it was made for.

def _encode_cursor(token: dict[str, Any]) -> str | None:
    return keys_cursor(token, _CURSOR_PREFIX)


def _decode_cursor(cursor: str) -> dict[str, str]:
    return keys_of_cursor(cursor, _CURSOR_PREFIX)
