"""The alert dispatcher: follows the event log, turns each ready batch of events into one digest per channel (with
reminders when a channel's period is due), keeps each as a delivery before sending it, and sends the deliveries due
(README, "Alerts").

At least once, never under a second id: a delivery's id comes from its channel and its batch (the same on every
instance and every retry of this tick), and its row is written before the first attempt. The mark in the event log
moves only once the deliveries of what was read are kept, and events whose batch is not ready yet are held.
"""
from __future__ import annotations

import logging
import random as random_module
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from ..domain.alerts.channels import AlertChannel
from ..domain.alerts.deliveries import Delivery, DeliveryState, after_attempt, new_delivery
from ..domain.alerts.delivery_retry import OutcomeKind, SendOutcome
from ..domain.alerts.digests import (
    Batch,
    DigestEntry,
    EntryKind,
    build_digest,
    event_entry,
    ready_batches,
    reminder_entry,
)
from ..domain.alerts.events import EventType, StatusEvent
from ..domain.alerts.messages import outgoing_message
from ..domain.alerts.reminders import FailingCustomer, period_due, to_remind
from ..domain.errors import AppError, Conflict
from ..domain.models import Status
from ..domain.ports import (
    AlertFollower,
    AlertTransport,
    ChannelStore,
    CustomerStore,
    DeliveryStore,
    EventLog,
    RunStore,
    SecretStore,
)
from ..domain.work import decode
from .alert_channels import channel_secrets

logger = logging.getLogger(__name__)

READ_PAGE = 1000  # events per read of the log
MAX_READS = 100  # reads per tick; the rest waits for the next tick
SEND_PER_TICK = 200  # deliveries attempted per tick
CLAIM_FOR = timedelta(minutes=2)  # how long an instance holds a delivery it is sending


@dataclass(frozen=True, slots=True)
class AlertContext:
    events: EventLog
    follower: AlertFollower
    channels: ChannelStore
    deliveries: DeliveryStore
    customers: CustomerStore
    runs: RunStore
    secrets: SecretStore
    transport: AlertTransport
    page_url: str
    reminder_interval: timedelta
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    random: Callable[[], float] = random_module.random


@dataclass(frozen=True, slots=True)
class DispatchReport:
    events_read: int = 0
    deliveries_made: int = 0
    attempts: int = 0
    sent: int = 0


def dispatch(ctx: AlertContext) -> DispatchReport:
    """One tick: gather what is ready into deliveries, then send those due."""
    read, made = gather(ctx)
    attempts, sent = send_due(ctx)
    report = DispatchReport(read, made, attempts, sent)
    if read or made or attempts:
        logger.info("Alerts: %d events read, %d deliveries made, %d attempts, %d sent.", *(
            report.events_read, report.deliveries_made, report.attempts, report.sent))
    return report


def dispatch_after_work(ctx: AlertContext, message: str) -> DispatchReport | None:
    """After a worker handled `message` of the work queue: if its run has finished, dispatch now, so the run's
    digest goes out when it ends rather than on the next minute's tick. Never raises: the verifications are
    recorded whatever happens here, and the timer catches up."""
    try:
        run_id = decode(message).run_id
        run = ctx.runs.get(run_id)
        if run is None or run.finished_at is None:
            return None
        return dispatch(ctx)
    except Exception as error:  # noqa: BLE001 - the queue message must not be retried for the alerts' sake
        logger.warning("Alerts after a run's work were not dispatched (%s); the timer will.", type(error).__name__)
        return None


def gather(ctx: AlertContext) -> tuple[int, int]:
    """Read new events, make the deliveries of the batches ready now (and of reminders due), hold the rest; the
    number of events read and of deliveries made."""
    now = ctx.clock()
    mark = ctx.follower.get_mark()
    new, mark = _read_new(ctx, mark)
    _note_failures(ctx.follower, new)
    pending = {e.event_id: e for e in ctx.follower.held_events()}
    pending.update((e.event_id, e) for e in new)
    finished = _finished_runs(ctx.runs, {e.run_id for e in pending.values() if e.run_id is not None})
    batches = ready_batches(pending.values(), now=now, finished_runs=finished)
    channels = [c for c in ctx.channels.list() if c.enabled]
    reminders = _reminders_due(ctx, channels, now=now)
    made = 0
    for batch in batches:
        entries = _event_entries(ctx.customers, batch.events)
        for channel in channels:
            made += _make_delivery(ctx, channel, batch, entries, reminders.pop(channel.channel_id, []), now=now)
    for channel in channels:  # reminders of channels no batch carried them in: a digest of their own
        if reminders.get(channel.channel_id):
            key = f"reminders:{channel.reminded_at.isoformat() if channel.reminded_at else 'first'}"
            made += _make_delivery(ctx, channel, Batch(key, None, ()), [], reminders[channel.channel_id], now=now)
    batched = {e.event_id for batch in batches for e in batch.events}
    ctx.follower.hold([e for e in new if e.event_id not in batched])
    ctx.follower.release(sorted(batched - {e.event_id for e in new}))
    if new:
        ctx.follower.set_mark(mark)
    return len(new), made


def send_due(ctx: AlertContext) -> tuple[int, int]:
    """Attempt every delivery due, each claimed first so two instances do not send it at once; the number of
    attempts and of deliveries sent."""
    attempts = sent = 0
    for due in ctx.deliveries.list_due(now=ctx.clock(), top=SEND_PER_TICK):
        try:
            claimed = ctx.deliveries.replace(due, replace(due, next_attempt_at=ctx.clock() + CLAIM_FOR))
        except Conflict:
            continue  # another instance has it
        updated = _attempt(ctx, claimed)
        attempts += 1
        sent += updated.state is DeliveryState.SENT
        try:
            ctx.deliveries.replace(claimed, updated)
        except Conflict:
            logger.warning("Delivery %s was changed by another instance while it was sent.", due.delivery_id)
    return attempts, sent


def _attempt(ctx: AlertContext, delivery: Delivery) -> Delivery:
    """One attempt of `delivery`: the delivery as it stands after it."""
    channel = ctx.channels.get(delivery.channel_id)
    if channel is None or not channel.enabled:
        why = "the channel was deleted" if channel is None else "the channel is disabled"
        return after_attempt(delivery, SendOutcome(OutcomeKind.REJECTED, why), now=ctx.clock(), random=ctx.random)
    try:
        url, signing = channel_secrets(ctx.secrets, channel)
    except AppError as error:
        return after_attempt(delivery, SendOutcome(OutcomeKind.REJECTED, error.message), now=ctx.clock(),
                             random=ctx.random)
    now = ctx.clock()
    message = outgoing_message(channel.kind, delivery.digest, delivery_id=delivery.delivery_id,
                               page_url=ctx.page_url, signing_secret=signing, timestamp=int(now.timestamp()))
    outcome = ctx.transport.post(url, message.body, message.headers)
    if outcome.kind is not OutcomeKind.SENT:
        logger.warning("Delivery %s to channel %s: %s.", delivery.delivery_id, channel.channel_id, outcome.detail)
    return after_attempt(delivery, outcome, now=ctx.clock(), random=ctx.random)


def _read_new(ctx: AlertContext, mark: str | None) -> tuple[list[StatusEvent], str | None]:
    new: list[StatusEvent] = []
    for _ in range(MAX_READS):
        events, next_mark = ctx.events.read_since(mark, top=READ_PAGE)
        new.extend(events)
        mark = next_mark if events else mark
        if len(events) < READ_PAGE:
            break
    return new, mark


def _note_failures(follower: AlertFollower, events: Sequence[StatusEvent]) -> None:
    """The customers failing since, and those no longer failing, as these events (in order) leave them."""
    failing: dict[str, FailingCustomer | None] = {}
    for event in events:
        if event.type in (EventType.CONNECTION_LOST, EventType.REASON_CHANGED):
            failing[event.customer_id] = FailingCustomer(event.customer_id, event.tenant_id, event.after, event.at)
        elif event.type is EventType.CONNECTION_RESTORED:
            failing[event.customer_id] = None
    if failing:
        follower.note_failures([c for c in failing.values() if c is not None],
                               sorted(cid for cid, c in failing.items() if c is None))


def _finished_runs(runs: RunStore, run_ids: Iterable[str]) -> set[str]:
    """The runs among these that have finished (a run no longer kept has too)."""
    finished = set()
    for run_id in run_ids:
        run = runs.get(run_id)
        if run is None or run.finished_at is not None:
            finished.add(run_id)
    return finished


def _event_entries(customers: CustomerStore, events: Sequence[StatusEvent]) -> list[DigestEntry]:
    """Each event's line, with the hint and the provider's message of the customer's record while it still fails
    for the reason the event names."""
    records = customers.get_many(sorted({e.customer_id for e in events if e.after.status is Status.FAILED}))
    entries = []
    for event in events:
        record = records.get(event.customer_id)
        same = (record is not None and record.last_verification_status is Status.FAILED
                and record.last_verification_reason == event.after.reason and event.after.status is Status.FAILED)
        entries.append(event_entry(event, hint=record.hint if same and record else None,
                                   message=record.last_verification_message if same and record else None))
    return entries


def _reminders_due(ctx: AlertContext, channels: Sequence[AlertChannel], *,
                   now: datetime) -> dict[str, list[DigestEntry]]:
    """The reminder lines of each channel whose reminder period is due, by channelId (none when no one is)."""
    interval = ctx.reminder_interval
    due = [c for c in channels if period_due(c.reminded_at, now=now, interval=interval)]
    if not due:
        return {}
    candidates = to_remind(ctx.follower.list_failing(), now=now, interval=interval)
    if not candidates:
        return {}
    records = ctx.customers.get_many(sorted(c.customer_id for c in candidates))
    entries = []
    for customer in candidates:
        record = records.get(customer.customer_id)
        if (record is None or record.last_verification_status is not Status.FAILED
                or record.last_verification_reason != customer.state.reason):
            continue  # the record moved on (its event is on its way) or the customer is gone
        entries.append(reminder_entry(replace(customer, hint=record.hint, message=record.last_verification_message)))
    return {c.channel_id: entries for c in due if entries}


def _make_delivery(ctx: AlertContext, channel: AlertChannel, batch: Batch, entries: list[DigestEntry],
                   reminders: list[DigestEntry], *, now: datetime) -> int:
    """Keep the delivery of this batch's digest for `channel` (1), or none (0) when the digest is empty. A digest
    that carries reminders starts the channel's next reminder period."""
    digest = build_digest(channel, batch, [*entries, *reminders], created_at=now)
    if digest is None:
        return 0
    ctx.deliveries.add(new_delivery(digest, now=now))
    if digest.counts[EntryKind.STILL_FAILING]:
        _start_reminder_period(ctx.channels, channel, now=now)
    return 1


def _start_reminder_period(channels: ChannelStore, channel: AlertChannel, *, now: datetime) -> None:
    current = channels.get(channel.channel_id)
    if current is None:
        return
    try:
        channels.replace(current, replace(current, reminded_at=now))
    except Conflict:
        logger.info("Channel %s changed while its reminder period was noted; the next tick notes it.",
                    channel.channel_id)
