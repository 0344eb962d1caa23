"""DeliveryStore on Azure Table Storage: the AlertDeliveries table, one entity per delivery.

PartitionKey `c:<channelId>`, RowKey the delivery id: the id is made from the channel and the batch, so a second
instance or a redelivered message that builds the same delivery finds its row and never adds another. The digest
is kept as compact JSON in binary columns of at most 64 KiB each (Table Storage's limit for one property; an entity
holds up to 1 MiB), so a digest of 50 long lines fits.
"""
from __future__ import annotations

import json
import logging
from dataclasses import replace
from datetime import datetime
from typing import Any

from azure.core.exceptions import ResourceExistsError
from azure.data.tables import TableServiceClient

from ..domain.alerts.deliveries import Delivery, DeliveryState
from ..domain.alerts.digests import Digest, DigestEntry, EntryKind
from ..domain.reasons import Reason
from .table_columns import int_or_none, plain_datetime, utc, without_none
from .table_common import PRUNE_LIMIT, TableAccess, conflict_if_changed, delete_rows, if_unchanged, storage_call
from .table_foresight import expiry_of, part_to_data

logger = logging.getLogger(__name__)

PROPERTY_LIMIT = 64 * 1024  # bytes in one binary property
MAX_PARTS = 15  # 960 KiB of digest, under the 1 MiB an entity holds with its other columns
_PART = "digest{}"


class TableDeliveryStore:
    """Implements ports.DeliveryStore. Creates its table on first use, once per process."""

    def __init__(self, service: TableServiceClient, *, table: str = "AlertDeliveries") -> None:
        self._on_table = TableAccess(service, table)

    def add(self, delivery: Delivery) -> Delivery:
        entity = delivery_to_entity(delivery)
        with storage_call("keep an alert delivery"):
            try:
                metadata = self._on_table(lambda table: table.create_entity(entity))
            except ResourceExistsError:
                found = self._on_table(lambda table: table.get_entity(entity["PartitionKey"], entity["RowKey"]))
                return delivery_from_entity(found)
        return replace(delivery, etag=metadata["etag"])

    def replace(self, previous: Delivery, delivery: Delivery) -> Delivery:
        if previous.etag is None:
            raise ValueError("To replace a delivery, read it from the store first: its etag guards the write.")
        entity = delivery_to_entity(delivery)
        with storage_call("update an alert delivery"):
            with conflict_if_changed("The delivery was changed by another instance."):
                metadata = self._on_table(lambda table: table.update_entity(entity, **if_unchanged(previous.etag)))
        return replace(delivery, etag=metadata["etag"])

    def list_due(self, *, now: datetime, top: int) -> list[Delivery]:
        query = "state eq @pending and nextAttemptAt le @now"
        with storage_call("list the alert deliveries due"):
            entities = self._on_table(lambda table: list(table.query_entities(
                query, parameters={"pending": DeliveryState.PENDING.value, "now": utc(now)})))
        due = _readable(entities)
        due.sort(key=lambda d: (d.next_attempt_at or d.created_at, d.delivery_id))
        return due[:top]

    def list_recent(self, channel_id: str, *, top: int) -> list[Delivery]:
        # A channel's deliveries are few (one a run, one a minute of changes at most): read, then sort.
        with storage_call("list a channel's alert deliveries"):
            entities = self._on_table(lambda table: list(table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": _partition(channel_id)})))
        recent = _readable(entities)
        recent.sort(key=lambda d: (d.created_at, d.delivery_id), reverse=True)
        return recent[:top]

    def delete_older_than(self, moment: datetime) -> int:
        query = "createdAt lt @before and state ne @pending"  # every channel's partition, and deleted channels'
        with storage_call("delete expired alert deliveries"):
            return self._on_table(lambda table: delete_rows(
                table, query, {"before": utc(moment), "pending": DeliveryState.PENDING.value}, limit=PRUNE_LIMIT))


def _readable(entities: list[Any]) -> list[Delivery]:
    deliveries = []
    for entity in entities:
        try:
            deliveries.append(delivery_from_entity(entity))
        except (KeyError, ValueError, TypeError):  # one odd row must not stop the others
            logger.warning("An alert delivery row could not be read and is left out.")
    return deliveries


def _partition(channel_id: str) -> str:
    return f"c:{channel_id}"


def delivery_to_entity(delivery: Delivery) -> dict[str, Any]:
    data = json.dumps(digest_to_json(delivery.digest), ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    parts = [data[i:i + PROPERTY_LIMIT] for i in range(0, len(data), PROPERTY_LIMIT)] or [b""]
    if len(parts) > MAX_PARTS:
        raise ValueError("A digest this large cannot be kept; digests list at most MAX_ENTRIES customers.")
    return without_none({
        "PartitionKey": _partition(delivery.channel_id),
        "RowKey": delivery.delivery_id,
        "state": delivery.state.value,
        "createdAt": utc(delivery.created_at),
        "attempts": delivery.attempts,
        "nextAttemptAt": utc(delivery.next_attempt_at),
        "lastError": delivery.last_error,
        "sentAt": utc(delivery.sent_at),
        **{_PART.format(i): part for i, part in enumerate(parts)},
    })


def delivery_from_entity(entity: Any) -> Delivery:
    data = b"".join(bytes(entity[_PART.format(i)]) for i in range(MAX_PARTS) if _PART.format(i) in entity)
    created_at = plain_datetime(entity["createdAt"])
    assert created_at is not None
    return Delivery(
        delivery_id=entity["RowKey"],
        channel_id=entity["PartitionKey"].removeprefix("c:"),
        digest=digest_from_json(json.loads(data.decode("utf-8"))),
        created_at=created_at,
        state=DeliveryState(entity["state"]),
        attempts=int_or_none(entity.get("attempts")) or 0,
        next_attempt_at=plain_datetime(entity.get("nextAttemptAt")),
        last_error=entity.get("lastError"),
        sent_at=plain_datetime(entity.get("sentAt")),
        etag=entity.metadata["etag"],
    )


def digest_to_json(digest: Digest) -> dict[str, Any]:
    return {
        "channelId": digest.channel_id, "batchKey": digest.batch_key, "runId": digest.run_id,
        "createdAt": digest.created_at.isoformat(), "test": digest.test, "more": digest.more,
        "counts": {kind.value: count for kind, count in digest.counts.items()},
        "entries": [[e.kind.value, e.customer_id, e.tenant_id, e.at.isoformat(), e.reason, e.previous_reason, e.hint,
                     e.message, e.event_id, part_to_data(e.expiry), e.within_days] for e in digest.entries],
    }


def digest_from_json(data: dict[str, Any]) -> Digest:
    # A digest kept before entries named their expiry has nine values a line.
    entries = tuple(
        DigestEntry(kind=EntryKind(kind), customer_id=customer_id, tenant_id=tenant_id, at=datetime.fromisoformat(at),
                    reason=_reason(reason), previous_reason=_reason(previous), hint=hint, message=message,
                    event_id=event_id, expiry=expiry_of(expiring[0] if expiring else None),
                    within_days=expiring[1] if len(expiring) > 1 and isinstance(expiring[1], int) else None)
        for kind, customer_id, tenant_id, at, reason, previous, hint, message, event_id, *expiring in data["entries"])
    return Digest(channel_id=data["channelId"], batch_key=data["batchKey"], run_id=data["runId"],
                  created_at=datetime.fromisoformat(data["createdAt"]),
                  counts={EntryKind(kind): int(count) for kind, count in data["counts"].items()},
                  entries=entries, more=int(data["more"]), test=bool(data["test"]))


def _reason(value: str | None) -> Reason | None:
    return None if value is None else Reason(value)
