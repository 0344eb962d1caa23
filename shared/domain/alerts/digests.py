"""Digests: one message per channel per run, never one per customer.

Events are gathered into batches (a run's events once the run has finished; changes outside runs, such as verify
one or consent, for at most GATHER_WINDOW from the first), and each batch makes at most one digest per channel:
counts by kind, then at most MAX_ENTRIES customers, the most urgent first, and how many more the page lists.
"""
from __future__ import annotations

import enum
import hashlib
import heapq
from collections import Counter
from collections.abc import Container, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..expiry import Expiry
from ..reasons import Reason
from .channels import AlertChannel
from .events import EventType, StatusEvent
from .reminders import FailingCustomer

GATHER_WINDOW = timedelta(minutes=1)
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
    delivery made from it has one id however often it is built: `run:<runId>:<fingerprint>` or
    `changes:<first eventId>:<fingerprint>`, the fingerprint a hash of the batch's event ids. (An event relayed
    after its batch went out makes another batch, with another key, whether it is read alone or with the events
    before it again: it never vanishes under the id of a delivery already made.)"""

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
    return DigestEntry(kind=EntryKind.STILL_FAILING, customer_id=customer.customer_id, tenant_id=customer.tenant_id,
                       at=customer.since, reason=customer.state.reason, hint=customer.hint, message=customer.message)


def ready_batches(events: Iterable[StatusEvent], *, now: datetime, finished_runs: Container[str]) -> list[Batch]:
    """Undelivered `events` grouped into the batches that may go out at `now`: each finished run's events, and the
    changes outside runs whose window (GATHER_WINDOW from its first change) has closed. The rest wait."""
    by_run: dict[str, list[StatusEvent]] = {}
    outside: list[StatusEvent] = []
    for event in events:
        if event.run_id is None:
            outside.append(event)
        else:
            by_run.setdefault(event.run_id, []).append(event)
    batches = []
    for run_id, run_events in sorted(by_run.items()):
        if run_id in finished_runs:
            run_events.sort(key=_chronological)
            key = f"run:{run_id}:{_fingerprint(run_events)}"
            batches.append(Batch(key, run_id, tuple(run_events)))
    outside.sort(key=_chronological)
    start = 0
    while start < len(outside):
        closes = outside[start].at + GATHER_WINDOW
        if now < closes:
            break
        end = start
        while end < len(outside) and outside[end].at < closes:
            end += 1
        key = f"changes:{outside[start].event_id}:{_fingerprint(outside[start:end])}"
        batches.append(Batch(key, None, tuple(outside[start:end])))
        start = end
    return batches


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


def _fingerprint(events: Iterable[StatusEvent]) -> str:
    """The same for the same set of events, in any order."""
    return hashlib.sha256("\n".join(sorted(e.event_id for e in events)).encode("utf-8")).hexdigest()[:32]


def _chronological(event: StatusEvent) -> tuple[datetime, str]:
    return event.at, event.event_id
