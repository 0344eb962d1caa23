"""AlertFollower on Azure Table Storage: the AlertFollower table, what the alert dispatcher keeps between ticks.

- PartitionKey `mark`, RowKey `mark`: where the dispatcher is in the event log (the mark read_since returned);
- PartitionKey `held`, RowKey the eventId: an event read whose batch has not gone out yet (a run still running, a
  minute of changes not yet over), as JSON;
- PartitionKey `failing`, RowKey the customerId: a customer failing now (its state and since when), and an
  operator's acknowledgement beside it. The dispatcher and the acknowledge route merge their own columns, so
  neither overwrites the other's.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient, UpdateMode

from ..domain.alerts.events import EventType, StatusEvent, StatusPoint
from ..domain.alerts.reminders import Acknowledgement, FailingCustomer
from ..domain.models import Status
from ..domain.reasons import Reason
from .table_columns import plain_datetime, utc
from .table_common import TRANSACTION_LIMIT, TableAccess, storage_call

logger = logging.getLogger(__name__)

_MARK = ("mark", "mark")
_HELD = "held"
_FAILING = "failing"
_ACK_COLUMNS = ("ackAt", "ackStatus", "ackReason")


class TableAlertFollower:
    """Implements ports.AlertFollower. Creates its table on first use, once per process."""

    def __init__(self, service: TableServiceClient, *, table: str = "AlertFollower") -> None:
        self._on_table = TableAccess(service, table)

    def get_mark(self) -> str | None:
        with storage_call("read the alert dispatcher's mark"):
            try:
                entity = self._on_table(lambda table: table.get_entity(*_MARK))
            except ResourceNotFoundError:
                return None
        return entity.get("mark")

    def set_mark(self, mark: str | None) -> None:
        entity = {"PartitionKey": _MARK[0], "RowKey": _MARK[1], "mark": mark or ""}
        with storage_call("keep the alert dispatcher's mark"):
            self._on_table(lambda table: table.upsert_entity(entity, mode=UpdateMode.REPLACE))

    def held_events(self) -> list[StatusEvent]:
        with storage_call("read the events waiting for their digest"):
            entities = self._on_table(lambda table: list(table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": _HELD})))
        return [event_from_json(json.loads(entity["event"])) for entity in entities]

    def hold(self, events: Sequence[StatusEvent]) -> None:
        operations = [("upsert", {"PartitionKey": _HELD, "RowKey": e.event_id,
                                  "event": json.dumps(event_to_json(e), separators=(",", ":"))}, {"mode": "replace"})
                      for e in events]
        self._submit(operations, "keep the events waiting for their digest")

    def release(self, event_ids: Sequence[str]) -> None:
        operations = [("upsert", {"PartitionKey": _HELD, "RowKey": event_id}, {"mode": "replace"})
                      for event_id in event_ids]
        # Upsert first, then delete: a delete of a row a crash already removed would fail its whole transaction.
        self._submit(operations, "forget the events whose digest went out")
        self._submit([("delete", op[1]) for op in operations], "forget the events whose digest went out")

    def note_failures(self, failing: Sequence[FailingCustomer], restored: Sequence[str]) -> None:
        operations: list[tuple[Any, ...]] = [
            ("upsert", {"PartitionKey": _FAILING, "RowKey": c.customer_id, "tenantId": c.tenant_id,
                        "status": c.state.status.value, "reason": c.state.reason or "", "since": utc(c.since)},
             {"mode": "merge"})
            for c in failing]
        self._submit(operations, "keep the customers failing")
        gone = [("upsert", {"PartitionKey": _FAILING, "RowKey": customer_id}, {"mode": "merge"})
                for customer_id in restored]
        self._submit(gone, "forget the customers restored")
        self._submit([("delete", op[1]) for op in gone], "forget the customers restored")

    def list_failing(self) -> list[FailingCustomer]:
        with storage_call("list the customers failing"):
            entities = self._on_table(lambda table: list(table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": _FAILING})))
        return [c for c in map(_failing_or_none, entities) if c is not None]

    def acknowledge(self, customer_id: str, acknowledgement: Acknowledgement) -> None:
        entity = {"PartitionKey": _FAILING, "RowKey": customer_id, "ackAt": utc(acknowledgement.at),
                  "ackStatus": acknowledgement.state.status.value, "ackReason": acknowledgement.state.reason or ""}
        with storage_call("keep an acknowledgement"):
            self._on_table(lambda table: table.upsert_entity(entity, mode=UpdateMode.MERGE))

    def _submit(self, operations: Sequence[tuple[Any, ...]], action: str) -> None:
        with storage_call(action):
            for start in range(0, len(operations), TRANSACTION_LIMIT):
                chunk = list(operations[start:start + TRANSACTION_LIMIT])
                self._on_table(lambda table, chunk=chunk: table.submit_transaction(chunk))


def _failing_or_none(entity: Any) -> FailingCustomer | None:
    """A failing row; None for a row holding only an acknowledgement (acknowledged before the dispatcher saw the
    failure) or one it cannot read."""
    try:
        if "status" not in entity:
            return None
        ack = None
        if entity.get("ackAt") is not None:
            ack = Acknowledgement(at=plain_datetime(entity["ackAt"]),  # type: ignore[arg-type]
                                  state=StatusPoint(Status(entity["ackStatus"]), _reason(entity.get("ackReason"))))
        since = plain_datetime(entity["since"])
        assert since is not None
        return FailingCustomer(customer_id=entity["RowKey"], tenant_id=entity.get("tenantId") or "",
                               state=StatusPoint(Status(entity["status"]), _reason(entity.get("reason"))),
                               since=since, acknowledgement=ack)
    except (KeyError, ValueError, AssertionError):
        logger.warning("A row of failing customers could not be read and is left out.")
        return None


def _reason(value: str | None) -> Reason | None:
    return Reason(value) if value else None


def event_to_json(event: StatusEvent) -> dict[str, Any]:
    return {"eventId": event.event_id, "type": event.type.value, "customerId": event.customer_id,
            "tenantId": event.tenant_id, "from": [event.before.status.value, event.before.reason],
            "to": [event.after.status.value, event.after.reason], "at": event.at.isoformat(), "runId": event.run_id}


def event_from_json(data: dict[str, Any]) -> StatusEvent:
    def point(value: list[Any]) -> StatusPoint:
        return StatusPoint(Status(value[0]), _reason(value[1]))

    return StatusEvent(event_id=data["eventId"], type=EventType(data["type"]), customer_id=data["customerId"],
                       tenant_id=data["tenantId"], before=point(data["from"]), after=point(data["to"]),
                       at=datetime.fromisoformat(data["at"]), run_id=data["runId"])
