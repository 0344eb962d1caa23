"""EventLog on Azure Table Storage: the Events table, where the relay copies the outbox's status events.

One partition "log", three kinds of rows, written together in entity-group transactions:
- "~seq": the counter of events appended so far (column `last`), changed under its ETag by every append;
- "s<seq>" (12 digits): an event in the order it was appended, for followers (`read_since`). An append takes
  the next numbers and writes their rows in the same transaction that moves the counter past them, so rows
  become visible in number order: a reader that saw number n has already been able to see every number below;
- "t<newest-first at>-<eventId>": the same event keyed for the newest-first listing (`list_events`). Its key
  depends only on the event, so creating it again fails (409) and that event is left out: appends are
  idempotent by eventId however often a relay runs.
Every filter goes through the SDK's `parameters`; none is built from input.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import random
import time
from collections.abc import Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient, TableTransactionError, UpdateMode

from ..domain.alerts.events import EventFilter, EventListing, EventType, StatusEvent, StatusPoint
from ..domain.errors import Conflict, invalid_continuation_token
from ..domain.models import Cursor, Status
from ..domain.reasons import Reason
from .table_columns import newest_first_key, plain_datetime, utc, without_none
from .table_common import TRANSACTION_LIMIT, TableAccess, check_page_size, first_non_empty_page, storage_call

logger = logging.getLogger(__name__)

LOG_PARTITION = "log"
COUNTER = "~seq"
_SEQ, _LISTED = "s", "t"  # row-key prefixes: relay order, newest first
_SEQ_DIGITS = 12
# The counter and two rows per event in one transaction.
EVENTS_PER_APPEND = (TRANSACTION_LIMIT - 1) // 2
ATTEMPTS = 30  # transactions tried per slice before giving up (other relays moving the counter meanwhile)
_RACE = (404, 409, 412)  # the counter was created, changed or lost by another writer since it was read
_CURSOR_PREFIX = "e1."
_MAX_CURSOR = 1024


class TableEventLog:
    """Implements ports.EventLog. Creates its table on first use, once per process."""

    def __init__(self, service: TableServiceClient, *, table: str = "Events") -> None:
        self._on_table = TableAccess(service, table)

    def append_many(self, events: Sequence[StatusEvent]) -> None:
        unique = list({event.event_id: event for event in events}.values())
        with storage_call("append events"):
            for start in range(0, len(unique), EVENTS_PER_APPEND):
                piece = unique[start:start + EVENTS_PER_APPEND]
                self._on_table(lambda table, piece=piece: _append(table, piece))

    def list_events(self, flt: EventFilter, *, top: int, after: Cursor | None) -> EventListing:
        check_page_size(top, "top")
        start = _decode_cursor(after) if after is not None else None
        clauses = ["PartitionKey eq @pk", "RowKey ge @first", "RowKey lt @end"]
        parameters = {"pk": LOG_PARTITION, "first": _LISTED, "end": chr(ord(_LISTED) + 1)}
        if flt.type is not None:
            clauses.append("type eq @type")
            parameters["type"] = EventType(flt.type).value
        if flt.customer_id is not None:
            clauses.append("customerId eq @customer")
            parameters["customer"] = flt.customer_id
        with storage_call("list events"):
            try:
                entities, next_token = self._on_table(lambda table: first_non_empty_page(table.query_entities(
                    " and ".join(clauses), parameters=parameters, results_per_page=top,
                ).by_page(continuation_token=start)))
            except HttpResponseError as error:
                if start is not None and error.status_code == 400:
                    raise invalid_continuation_token() from None
                raise
        return EventListing([event_from_entity(entity) for entity in entities], _encode_cursor(next_token))

    def read_since(self, mark: str | None, *, top: int) -> tuple[list[StatusEvent], str | None]:
        check_page_size(top, "top")
        after = mark if mark is not None else _SEQ
        if not (after.startswith(_SEQ) and after < chr(ord(_SEQ) + 1)):
            raise ValueError("Not a mark this event log returned.")
        parameters = {"pk": LOG_PARTITION, "after": after, "end": chr(ord(_SEQ) + 1)}
        with storage_call("read events"):
            rows = self._on_table(lambda table: list(islice(table.query_entities(
                "PartitionKey eq @pk and RowKey gt @after and RowKey lt @end", parameters=parameters,
                results_per_page=top), top)))
        if not rows:
            return [], mark
        return [event_from_entity(row) for row in rows], rows[-1]["RowKey"]


def _append(table: TableClient, events: list[StatusEvent]) -> None:
    """Append one slice in one transaction: the counter moved past new numbers, a numbered row and a listed row
    per event. An event whose listed row exists is in the log already and is left out."""
    counter: Any = None
    for attempt in range(ATTEMPTS):
        if not events:
            return
        if counter is None:
            counter = _read_counter(table)
        last = int(counter["last"]) if counter is not None else 0
        numbered = [_numbered(event, last + 1 + i) for i, event in enumerate(events)]
        listed = [("create", _listed(event)) for event in events]
        operations = [_counter_operation(counter, last + len(events)), *numbered, *listed]
        try:
            table.submit_transaction(operations)
            return
        except TableTransactionError as err:
            first_listed = 1 + len(events)
            if err.status_code == 409 and err.index >= first_listed:
                events = events[:err.index - first_listed] + events[err.index - first_listed + 1:]
                continue  # that one was appended before (a relay run again): the counter did not move
            if err.index != 0 or err.status_code not in _RACE:
                raise
        counter = None  # another relay moved the counter: read it again, after a short, random pause
        time.sleep(random.uniform(0, 0.005 * min(attempt + 1, 10)))
    raise Conflict("modifiedConcurrently", "The event log is busy; the events stay in the outbox for the next relay.")


def _read_counter(table: TableClient) -> Any:
    try:
        return table.get_entity(LOG_PARTITION, COUNTER)
    except ResourceNotFoundError:
        return None


def _counter_operation(counter: Any, last: int) -> tuple[Any, ...]:
    entity = {"PartitionKey": LOG_PARTITION, "RowKey": COUNTER, "last": last}
    if counter is None:
        return ("create", entity)
    return ("update", entity, {"mode": UpdateMode.REPLACE, "etag": counter.metadata["etag"],
                               "match_condition": MatchConditions.IfNotModified})


def _numbered(event: StatusEvent, number: int) -> tuple[Any, ...]:
    return ("create", {**event_to_entity(event), "PartitionKey": LOG_PARTITION,
                       "RowKey": f"{_SEQ}{number:0{_SEQ_DIGITS}d}"})


def _listed(event: StatusEvent) -> dict[str, Any]:
    return {**event_to_entity(event), "PartitionKey": LOG_PARTITION,
            "RowKey": f"{_LISTED}{newest_first_key(event.at)}-{event.event_id}"}


# --- an event as columns (here) and as a JSON object (in the Tenants table's outbox) ---------------------------


def event_to_record(event: StatusEvent) -> dict[str, Any]:
    """The event as plain values; `at` as ISO 8601 UTC text."""
    return without_none({
        "eventId": event.event_id, "type": EventType(event.type).value, "customerId": event.customer_id,
        "tenantId": event.tenant_id, "fromStatus": Status(event.before.status).value,
        "fromReason": Reason(event.before.reason).value if event.before.reason else None,
        "toStatus": Status(event.after.status).value,
        "toReason": Reason(event.after.reason).value if event.after.reason else None,
        "at": utc(event.at).isoformat(), "runId": event.run_id,
    })


def event_from_record(record: Any) -> StatusEvent:
    """An event from event_to_record's values; `at` as text or as the SDK's datetime."""
    at = record["at"]
    return StatusEvent(
        event_id=record["eventId"], type=EventType(record["type"]), customer_id=record["customerId"],
        tenant_id=record["tenantId"],
        before=StatusPoint(Status(record["fromStatus"]), _reason(record.get("fromReason"))),
        after=StatusPoint(Status(record["toStatus"]), _reason(record.get("toReason"))),
        at=datetime.fromisoformat(at) if isinstance(at, str) else plain_datetime(at),
        run_id=record.get("runId"),
    )


def event_to_entity(event: StatusEvent) -> dict[str, Any]:
    return {**event_to_record(event), "at": utc(event.at)}


event_from_entity = event_from_record


def _reason(value: Any) -> Reason | None:
    return Reason(value) if value else None


# --- the cursor: the service's continuation keys, opaque to the caller (usecases/events.py signs it) -----------


def _encode_cursor(token: dict[str, Any] | None) -> str | None:
    if not token or not token.get("PartitionKey"):
        return None
    raw = json.dumps([token["PartitionKey"], token.get("RowKey")], separators=(",", ":"), ensure_ascii=True)
    return _CURSOR_PREFIX + base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")


def _decode_cursor(cursor: str) -> dict[str, Any]:
    payload = cursor[len(_CURSOR_PREFIX):]
    if len(cursor) > _MAX_CURSOR or not cursor.startswith(_CURSOR_PREFIX) or not payload.isascii():
        raise invalid_continuation_token()
    try:
        keys = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise invalid_continuation_token() from None
    # The service's own (opaque) encoding of where it stopped: printable text, nothing more to check here.
    if (not isinstance(keys, list) or len(keys) != 2 or not all(_printable(key) for key in keys)
            or _encode_cursor({"PartitionKey": keys[0], "RowKey": keys[1]}) != cursor):
        raise invalid_continuation_token()
    return {"PartitionKey": keys[0], "RowKey": keys[1]}


def _printable(key: Any) -> bool:
    return isinstance(key, str) and key.isascii() and key.isprintable()
