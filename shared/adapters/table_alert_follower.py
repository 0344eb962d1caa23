"""AlertFollower on Azure Table Storage: the AlertFollower table, what the alert dispatcher keeps between ticks.

- PartitionKey `mark`, RowKey `mark`: where the dispatcher is in the event log (the mark read_since returned);
- PartitionKey `batch`, RowKey the chain (`run:<runId>` or `changes`): the chain's latest batch (batches.BatchHead:
  `number`, `low`, `high`, `done`), created or replaced under its ETag, so instances agree on what goes out
  together. One row a run, deleted by the maintenance step once done for 30 days;
- PartitionKey `ack`, RowKey the customerId: an operator's acknowledgement of the customer's failure (the state
  acknowledged and when). It is never deleted: once the failure changes or ends, it no longer covers it.
"""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from azure.data.tables import TableServiceClient, UpdateMode

from ..domain.alerts.batches import BatchHead
from ..domain.alerts.events import StatusPoint
from ..domain.alerts.reminders import Acknowledgement
from ..domain.models import Status
from ..domain.reasons import Reason
from .table_columns import plain_datetime, utc
from .table_common import (
    PRUNE_LIMIT,
    TableAccess,
    conflict_if_changed,
    delete_rows,
    if_unchanged,
    storage_call,
)

logger = logging.getLogger(__name__)

_MARK = ("mark", "mark")
_ACK = "ack"
_BATCH = "batch"


class TableAlertFollower:
    """Implements ports.AlertFollower. Creates its table on first use, once per process."""

    def __init__(self, service: TableServiceClient, *, table: str = "AlertFollower") -> None:
        self._on_table = TableAccess(service, table)

    def get_mark(self) -> str | None:
        entity = self._row(*_MARK, action="read the alert dispatcher's mark")
        return (entity.get("mark") or None) if entity is not None else None

    def set_mark(self, mark: str | None) -> None:
        entity = {"PartitionKey": _MARK[0], "RowKey": _MARK[1], "mark": mark or ""}
        with storage_call("keep the alert dispatcher's mark"):
            self._on_table(lambda table: table.upsert_entity(entity, mode=UpdateMode.REPLACE))

    def get_batch_head(self, chain: str) -> BatchHead | None:
        entity = self._row(_BATCH, chain, action="read a batch of alerts")
        if entity is None:
            return None
        return BatchHead(chain, int(entity["number"]), int(entity["low"]), int(entity["high"]), bool(entity["done"]),
                         etag=entity.metadata["etag"])

    def put_batch_head(self, previous: BatchHead | None, head: BatchHead) -> BatchHead:
        # Positions as text: an Int32 column would overflow after two billion events.
        entity = {"PartitionKey": _BATCH, "RowKey": head.chain, "number": str(head.number), "low": str(head.low),
                  "high": str(head.high), "done": head.done}
        first = "Another instance recorded this batch first."
        with storage_call("record a batch of alerts"), conflict_if_changed(first):
            if previous is None:
                metadata = self._on_table(lambda table: table.create_entity(entity))
            else:
                metadata = self._on_table(lambda table: table.update_entity(entity, **if_unchanged(previous.etag)))
        return replace(head, etag=metadata["etag"])

    def forget_runs_batches(self, *, done_before: datetime) -> int:
        # A late event of a run whose head is gone starts a new batch from 0, under a key never used: none is
        # ever read again below the dispatcher's mark, so nothing is sent twice.
        query = ("PartitionKey eq @pk and RowKey ge @first and RowKey lt @end and done eq true "
                 "and Timestamp lt @before")
        parameters = {"pk": _BATCH, "first": "run:", "end": "run;", "before": utc(done_before)}
        with storage_call("delete done batches of alerts"):
            return self._on_table(lambda table: delete_rows(table, query, parameters, limit=PRUNE_LIMIT))

    def _row(self, partition: str, row: str, *, action: str) -> Any:
        with storage_call(action):
            return self._on_table.get_row(partition, row)

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
