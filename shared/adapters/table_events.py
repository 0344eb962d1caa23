"""EventLog on Azure Table Storage: the Events table, where the relay copies the outbox's status events.

One partition "log", three kinds of rows, written together in entity-group transactions:
- "~seq": the counter of events appended so far (column `last`), changed under its ETag by every append;
- "s<n>" (12 digits): up to NUMBERED_ROW_EVENTS events numbered n, n+1, ... in the order they were appended,
  as JSON, for followers (`read_after`; `read_since`, whose mark is the number of the last event read). An
  append takes the next numbers and writes their rows in the same transaction that moves the counter past them,
  so numbers become visible in order: a reader that saw number n has already been able to see every number below;
- "t<newest-first at>-<eventId>": the same event (JSON) keyed for the newest-first listing (`list_events`),
  with the columns a listing filters on (`type`, `customerId`). Its key depends only on the event, so creating
  it again fails (409) and that event is left out: appends are idempotent by eventId however often a relay runs.
Every filter goes through the SDK's `parameters`; none is built from input.
"""
from __future__ import annotations

import json
import logging
import random
import threading
import time
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from azure.core.exceptions import HttpResponseError
from azure.data.tables import TableClient, TableServiceClient, TableTransactionError

from ..domain.alerts.events import EventFilter, EventListing, EventType, LoggedEvent, StatusEvent, StatusPoint
from ..domain.errors import Conflict, invalid_continuation_token
from ..domain.models import Cursor, Status
from ..domain.reasons import Reason
from ..domain.rules import MAX_TOP
from .table_columns import moment_of_newest_first_key, newest_first_key, utc, without_none
from .table_common import (
    TRANSACTION_LIMIT,
    TableAccess,
    check_page_size,
    first_non_empty_page,
    get_row,
    if_unchanged,
    keys_cursor,
    keys_of_cursor,
    storage_call,
)
from .table_foresight import expiry_of, part_to_data

logger = logging.getLogger(__name__)

LOG_PARTITION = "log"
COUNTER = "~seq"
_SEQ, _LISTED = "s", "t"  # row-key prefixes: relay order, newest first
_SEQ_DIGITS = 12
_KEY_DIGITS = 20  # newest_first_key's
# Events per numbered row: 25 events of the longest ids stay far below a string column's 64 KiB. Every Table
# operation costs the SDK about as much CPU as the next, so events share numbered rows.
NUMBERED_ROW_EVENTS = 25
# The counter, a listed row per event and their numbered rows in one transaction (1 + 95 + 4 = 100).
EVENTS_PER_APPEND = (TRANSACTION_LIMIT - 1) * NUMBERED_ROW_EVENTS // (NUMBERED_ROW_EVENTS + 1)
ATTEMPTS = 30  # transactions tried per slice before giving up (other relays moving the counter meanwhile)
_RACE = (404, 409, 412)  # the counter was created, changed or lost by another writer since it was read
_CURSOR_PREFIX = "e1."


@dataclass(frozen=True, slots=True)
class _Counter:
    """The counter as this process last wrote or read it: the last number taken and its ETag (None: no row)."""

    last: int
    etag: str | None


class TableEventLog:
    """Implements ports.EventLog. Creates its table on first use, once per process.

    The appends of one process take turns (a lock) and start from the counter this process last wrote: no read
    before a write, and no writer of this process loses the counter's ETag to another. Another process's append
    makes the next write fail (412) and the counter is read again."""

    def __init__(self, service: TableServiceClient, *, table: str = "Events") -> None:
        self._on_table = TableAccess(service, table)
        self._lock = threading.Lock()
        self._counter: _Counter | None = None  # None: read it first

    def append_many(self, events: Sequence[StatusEvent]) -> None:
        unique = list({event.event_id: event for event in events}.values())
        with storage_call("append events"), self._lock:
            for start in range(0, len(unique), EVENTS_PER_APPEND):
                piece = unique[start:start + EVENTS_PER_APPEND]
                self._on_table(lambda table, piece=piece: self._append(table, piece))

    def _append(self, table: TableClient, events: list[StatusEvent]) -> None:
        """Append one slice in one transaction: the counter moved past new numbers, the numbered rows that hold
        them, and a listed row per event. An event whose listed row exists is in the log already and is left out."""
        for attempt in range(ATTEMPTS):
            if not events:
                return
            counter = self._counter = self._counter or _read_counter(table)
            numbered = [_numbered(events[i:i + NUMBERED_ROW_EVENTS], counter.last + 1 + i)
                        for i in range(0, len(events), NUMBERED_ROW_EVENTS)]
            listed = [("create", _listed(event)) for event in events]
            operations = [_counter_operation(counter, counter.last + len(events)), *numbered, *listed]
            try:
                written = table.submit_transaction(operations)
            except TableTransactionError as err:
                first_listed = 1 + len(numbered)
                if err.status_code == 409 and err.index >= first_listed:
                    events = events[:err.index - first_listed] + events[err.index - first_listed + 1:]
                    continue  # that one was appended before (a relay run again): the counter did not move
                self._counter = None
                if err.index != 0 or err.status_code not in _RACE:
                    raise
                # Another process moved the counter: read it again, after a short, random pause.
                time.sleep(random.uniform(0, 0.005 * min(attempt + 1, 10)))
                continue
            except BaseException:
                self._counter = None  # whether it was written is unknown
                raise
            self._counter = _Counter(counter.last + len(events), written[0]["etag"])
            return
        raise Conflict("modifiedConcurrently",
                       "The event log is busy; the events stay in the outbox for the next relay.")

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
        return EventListing([event_from_record(json.loads(entity["event"])) for entity in entities],
                            _encode_cursor(next_token))

    def changed_since(self, moment: datetime, types: Collection[EventType]) -> dict[str, datetime]:
        # The listed rows of events after `moment` sort before newest_first_key(moment); `at` is in their key.
        kinds = sorted(EventType(kind).value for kind in types)
        if not kinds:
            return {}
        parameters = {"pk": LOG_PARTITION, "first": _LISTED, "end": f"{_LISTED}{newest_first_key(moment)}",
                      **{f"type{i}": kind for i, kind in enumerate(kinds)}}
        of_types = " or ".join(f"type eq @type{i}" for i in range(len(kinds)))
        # Spaces around the brackets: the SDK takes a parameter name to run to the next space.
        with storage_call("read the customers changed lately"):
            rows = self._on_table(lambda table: list(table.query_entities(
                f"PartitionKey eq @pk and RowKey ge @first and RowKey lt @end and ( {of_types} )",
                parameters=parameters, select=["RowKey", "customerId"])))
        changed: dict[str, datetime] = {}
        for row in rows:  # newest first: the first row of a customer is its latest
            at = moment_of_newest_first_key(row["RowKey"][len(_LISTED):len(_LISTED) + _KEY_DIGITS])
            changed.setdefault(row["customerId"], at)
        return changed

    def read_since(self, mark: str | None, *, top: int) -> tuple[list[StatusEvent], str | None]:
        if mark is not None and not (len(mark) == _SEQ_DIGITS and mark.isascii() and mark.isdigit()):
            raise ValueError("Not a mark this event log returned.")
        found = self.read_after(int(mark) if mark is not None else 0, top=top)
        return [e.event for e in found], (f"{found[-1].position:0{_SEQ_DIGITS}d}" if found else mark)

    def read_after(self, position: int, *, top: int) -> list[LoggedEvent]:
        check_page_size(top, "top")
        last = position
        # The numbered row that holds number last + 1 starts at most NUMBERED_ROW_EVENTS - 1 numbers before it.
        first = max(1, last + 2 - NUMBERED_ROW_EVENTS)
        parameters = {"pk": LOG_PARTITION, "first": _numbered_key(first), "end": chr(ord(_SEQ) + 1)}
        found: list[LoggedEvent] = []
        with storage_call("read events"):
            rows = self._on_table(lambda table: table.query_entities(
                "PartitionKey eq @pk and RowKey ge @first and RowKey lt @end", parameters=parameters,
                results_per_page=min(MAX_TOP, top // NUMBERED_ROW_EVENTS + 2)))
            for row in rows:
                number = int(row["RowKey"][len(_SEQ):])
                for record in json.loads(row["events"]):
                    if number > last:
                        found.append(LoggedEvent(number, event_from_record(record)))
                        last = number
                        if len(found) == top:
                            return found
                    number += 1
        return found


def _read_counter(table: TableClient) -> _Counter:
    row = get_row(table, LOG_PARTITION, COUNTER)
    return _Counter(0, None) if row is None else _Counter(int(row["last"]), row.metadata["etag"])


def _counter_operation(counter: _Counter, last: int) -> tuple[Any, ...]:
    entity = {"PartitionKey": LOG_PARTITION, "RowKey": COUNTER, "last": last}
    if counter.etag is None:
        return ("create", entity)
    return ("update", entity, if_unchanged(counter.etag))


def _numbered_key(number: int) -> str:
    return f"{_SEQ}{number:0{_SEQ_DIGITS}d}"


def _numbered(events: list[StatusEvent], first: int) -> tuple[Any, ...]:
    return ("create", {"PartitionKey": LOG_PARTITION, "RowKey": _numbered_key(first),
                       "events": json.dumps([event_to_record(event) for event in events], separators=(",", ":"))})


def _listed(event: StatusEvent) -> dict[str, Any]:
    # The event as one JSON column, and the columns listings filter on.
    return {"PartitionKey": LOG_PARTITION, "RowKey": f"{_LISTED}{newest_first_key(event.at)}-{event.event_id}",
            "type": EventType(event.type).value, "customerId": event.customer_id,
            "event": json.dumps(event_to_record(event), separators=(",", ":"))}


# --- an event as a JSON object (here and in the Tenants table's outbox) -------------------------------------------


def event_to_record(event: StatusEvent) -> dict[str, Any]:
    """The event as plain values; `at` as ISO 8601 UTC text."""
    return without_none({
        "eventId": event.event_id, "type": EventType(event.type).value, "customerId": event.customer_id,
        "tenantId": event.tenant_id, "fromStatus": Status(event.before.status).value,
        "fromReason": Reason(event.before.reason).value if event.before.reason else None,
        "toStatus": Status(event.after.status).value,
        "toReason": Reason(event.after.reason).value if event.after.reason else None,
        "at": utc(event.at).isoformat(), "runId": event.run_id,
        "expiry": part_to_data(event.expiry), "withinDays": event.within_days,
    })


def event_from_record(record: Any) -> StatusEvent:
    """An event from event_to_record's values."""
    return StatusEvent(
        event_id=record["eventId"], type=EventType(record["type"]), customer_id=record["customerId"],
        tenant_id=record["tenantId"],
        before=StatusPoint(Status(record["fromStatus"]), _reason(record.get("fromReason"))),
        after=StatusPoint(Status(record["toStatus"]), _reason(record.get("toReason"))),
        at=datetime.fromisoformat(record["at"]),
        run_id=record.get("runId"),
        expiry=expiry_of(record.get("expiry")),
        within_days=record.get("withinDays") if isinstance(record.get("withinDays"), int) else None,
    )


def _reason(value: Any) -> Reason | None:
    return Reason(value) if value else None


# --- the cursor: the service's continuation keys, opaque to the caller (usecases/events.py signs it) -----------


def _encode_cursor(token: dict[str, Any] | None) -> str | None:
    return keys_cursor(token, _CURSOR_PREFIX)


def _decode_cursor(cursor: str) -> dict[str, Any]:
    return keys_of_cursor(cursor, _CURSOR_PREFIX)
