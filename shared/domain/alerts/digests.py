"""Digests: one message per channel per run, never one per customer.

Events are gathered into batches (batches.py: a run's events once the run has finished; changes outside runs, such
as verify one or consent, for at most a minute from the first), and each batch makes at most one digest per channel:
counts by kind, then at most MAX_ENTRIES customers, the most urgent first, and how many more the page lists.
"""
from __future__ import annotations

import enum
import heapq
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from ..expiry import Expiry
from ..reasons import Reason
from .channels import AlertChannel
from .events import EventType, StatusEvent
from .reminders import FailingCustomer

MAX_ENTRIES = 50


class EntryKind(enum.StrEnum):
    """What one line of a digest tells, most urgent first (the order lines are listed in)."""

    CONNECTION_LOST = EventType.CONNECTION_LOST.value
    REASON_CHANGED = EventType.REASON_CHANGED.value
    STILL_FAILING = "stillFailing"  # a reminder
    CONNECTION_EXPIRING = EventType.CONNECTION_EXPIRING.value
    CONNECTION_RESTORED = EventType.CONNECTION_RESTORED.value


_URGENCY = {kind: rank for rank, kind in enumerate(EntryKind)}


@dataclass(frozen=True, slots=True)
class DigestEntry:
    """One customer's line: why it fails now (`reason`, `hint`, the provider's `message`) and, for a change, the
    reason it had before; for connectionExpiring, which expiry and band (`expiry`, `within_days`). `event_id` is
    None for a reminder."""

    kind: EntryKind
    customer_id: str
    tenant_id: str
    at: datetime
    reason: Reason | None = None
    previous_reason: Reason | None = None
    hint: str | None = None
    message: str | None = None
    event_id: str | None = None
    expiry: Expiry | None = None
    within_days: int | None = None


@dataclass(frozen=True, slots=True)
class Batch:
    """Events that go out together. `key` names the batch the same way on every instance that builds it, so the
    delivery made from it has one id however often it is built: the key of the batch's recorded head
    (batches.BatchHead), `run:<runId>:<low>-<high>` or `changes:<low>-<high>`, never a function of the events an
    instance happened to read."""

    key: str
    run_id: str | None
    events: tuple[StatusEvent, ...]


@dataclass(frozen=True, slots=True)
class Digest:
    """What one delivery carries to one channel. `counts` holds every kind (zero included) over all its entries;
    `entries` the first MAX_ENTRIES of them; `more` how many were left out."""

    channel_id: str
    batch_key: str
    run_id: str | None
    created_at: datetime
    counts: dict[EntryKind, int]
    entries: tuple[DigestEntry, ...]
    more: int = 0
    test: bool = False  # POST /api/alerts/channels/{channelId}/test


def event_entry(event: StatusEvent, *, hint: str | None = None, message: str | None = None) -> DigestEntry:
    """An event's line; `hint` and `message` from the record the result went to (none for a restored connection)."""
    return DigestEntry(kind=EntryKind(event.type.value), customer_id=event.customer_id, tenant_id=event.tenant_id,
                       at=event.at, reason=event.after.reason, previous_reason=event.before.reason,
                       hint=hint, message=message, event_id=event.event_id, expiry=event.expiry,
                       within_days=event.within_days)


def reminder_entry(customer: FailingCustomer) -> DigestEntry:
    record = customer.record
    return DigestEntry(kind=EntryKind.STILL_FAILING, customer_id=record.customer_id, tenant_id=record.tenant_id,
                       at=customer.since, reason=record.reason, hint=record.hint, message=record.message)


def build_digest(channel: AlertChannel, batch: Batch, entries: Iterable[DigestEntry], *,
                 created_at: datetime) -> Digest | None:
    """The digest of `entries` (the batch's event lines, plus reminder lines when the channel's reminder period is
    due) for `channel`: only the kinds it subscribes to (reminders with connectionLost); None when nothing is left
    or the channel is disabled."""
    wanted = [e for e in entries if _wants(channel, e.kind)]
    if not wanted:
        return None
    counts = Counter(e.kind for e in wanted)
    listed = heapq.nsmallest(MAX_ENTRIES, wanted, key=lambda e: (_URGENCY[e.kind], e.customer_id, e.at))
    return Digest(channel_id=channel.channel_id, batch_key=batch.key, run_id=batch.run_id, created_at=created_at,
                  counts={kind: counts[kind] for kind in EntryKind}, entries=tuple(listed),
                  more=len(wanted) - len(listed))


def channel_test_digest(channel_id: str, *, test_id: str, created_at: datetime) -> Digest:
    """The message `POST .../test` sends: no entries, marked as a test."""
    return Digest(channel_id=channel_id, batch_key=f"test:{test_id}", run_id=None, created_at=created_at,
                  counts=dict.fromkeys(EntryKind, 0), entries=(), test=True)


def _wants(channel: AlertChannel, kind: EntryKind) -> bool:
    event_type = EventType.CONNECTION_LOST if kind is EntryKind.STILL_FAILING else EventType(kind.value)
    return channel.wants(event_type)
