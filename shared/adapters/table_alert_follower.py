"""AlertFollower on Azure Table Storage: the AlertFollower table, what the alert dispatcher keeps between ticks.

- PartitionKey `mark`, RowKey `mark`: where the dispatcher is in the event log (the mark read_since returned);
- PartitionKey `ack`, RowKey the customerId: an operator's acknowledgement of the customer's failure (the state
  acknowledged and when). It is never deleted: once the failure changes or ends, it no longer covers it.
"""
from __future__ import annotations

import logging
from typing import Any

from azure.core.exceptions import ResourceNotFoundError
from azure.data.tables import TableServiceClient, UpdateMode

from ..domain.alerts.events import StatusPoint
from ..domain.alerts.reminders import Acknowledgement
from ..domain.models import Status
from ..domain.reasons import Reason
from .table_columns import plain_datetime, utc
from .table_common import TableAccess, storage_call

logger = logging.getLogger(__name__)

_MARK = ("mark", "mark")
_ACK = "ack"


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
        return entity.get("mark") or None

    def set_mark(self, mark: str | None) -> None:
        entity = {"PartitionKey": _MARK[0], "RowKey": _MARK[1], "mark": mark or ""}
        with storage_call("keep the alert dispatcher's mark"):
            self._on_table(lambda table: table.upsert_entity(entity, mode=UpdateMode.REPLACE))

    def acknowledge(self, customer_id: str, acknowledgement: Acknowledgement) -> None:
        entity = {"PartitionKey": _ACK, "RowKey": customer_id, "at": utc(acknowledgement.at),
                  "status": acknowledgement.state.status.value, "reason": acknowledgement.state.reason or ""}
        with storage_call("keep an acknowledgement"):
            self._on_table(lambda table: table.upsert_entity(entity, mode=UpdateMode.REPLACE))

    def list_acknowledgements(self) -> dict[str, Acknowledgement]:
        with storage_call("read the acknowledgements"):
            entities = self._on_table(lambda table: list(table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": _ACK})))
        found = {}
        for entity in entities:
            acknowledgement = _acknowledgement_or_none(entity)
            if acknowledgement is not None:
                found[entity["RowKey"]] = acknowledgement
        return found


def _acknowledgement_or_none(entity: Any) -> Acknowledgement | None:
    try:
        at = plain_datetime(entity["at"])
        assert at is not None
        reason = Reason(entity["reason"]) if entity.get("reason") else None
        return Acknowledgement(at=at, state=StatusPoint(Status(entity["status"]), reason))
    except (KeyError, ValueError, AssertionError):
        logger.warning("An acknowledgement row could not be read and is left out.")
        return None
