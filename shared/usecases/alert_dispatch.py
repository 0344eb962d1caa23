"""The alert dispatcher: follows the event log, turns each ready batch of events into one digest per channel (with
reminders when a channel's period is due), keeps each as a delivery before sending it, and sends the deliveries due.

A batch's head is recorded before any of its deliveries is made, and the mark moves only past events settled by
their chain's head: why each event reaches each channel in exactly one delivery, whatever each instance reads and
wherever one crashes, is in README, "Alerts".
"""
from __future__ import annotations

import logging
import random as random_module
import threading
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from ..domain.alerts.batches import BatchHead, batch_of, chain_of, next_head
from ..domain.alerts.channels import AlertChannel
from ..domain.alerts.deliveries import Delivery, DeliveryState, after_attempt, expired_before, new_delivery
from ..domain.alerts.delivery_retry import OutcomeKind, SendOutcome
from ..domain.alerts.digests import (
    Batch,
    Digest,
    DigestEntry,
    EntryKind,
    build_digest,
    event_entry,
    reminder_entry,
)
from ..domain.alerts.events import EventType, LoggedEvent, StatusEvent, StatusPoint
from ..domain.alerts.messages import outgoing_message
from ..domain.alerts.reminders import FailingCustomer, FailureRecord, period_due, slack, to_remind
from ..domain.errors import AppError, Conflict
from ..domain.models import Status
from ..domain.ports import (
    AlertFollower,
    AlertTransport,
    ChannelStore,
    CustomerStore,
    DeliveryStore,
    EventLog,
    HistoryStore,
    RunStore,
    SecretStore,
)
from ..domain.rules import HISTORY_KEPT
from ..domain.runs import is_running
from ..domain.work import decode
from .alert_channels import channel_secrets

logger = logging.getLogger(__name__)

READ_TOP = 1000  # events per read of the log
MAX_READS = 100  # reads per tick; the rest waits for the next tick
SEND_PER_TICK = 200  # deliveries attempted per tick
CLAIM_FOR = timedelta(minutes=2)  # how long an instance holds a delivery it is sending
# The changes that end or begin a failure (an expiry warning changes no state).
_STATE_CHANGES = frozenset({EventType.CONNECTION_LOST, EventType.REASON_CHANGED, EventType.CONNECTION_RESTORED})


@dataclass(frozen=True, slots=True)
class AlertContext:
    events: EventLog
    follower: AlertFollower
    channels: ChannelStore
    deliveries: DeliveryStore
    customers: CustomerStore
    history: HistoryStore
    runs: RunStore
    secrets: SecretStore
    transport: AlertTransport
    page_url: str
    reminder_interval: timedelta
    clock: Callable[[], datetime] = lambda: datetime.now(UTC)
    random: Callable[[], float] = random_module.random
    # One gathering at a time in a process (the one context bootstrap builds): the work that ends a run and the
    # minute's tick, or two work messages that both see the run finished, would otherwise both read all its events;
    # the second now starts from the mark the first moved. Instances still gather at once, which costs only time.
    gathering: AbstractContextManager[Any] = field(default_factory=threading.Lock, compare=False, repr=False)


@dataclass(frozen=True, slots=True)
class DispatchReport:
    events_read: int = 0
    deliveries_made: int = 0
    attempts: int = 0
    sent: int = 0


def dispatch(ctx: AlertContext) -> DispatchReport:
    """One tick: gather what is ready into deliveries, then send those due."""
    began = time.monotonic()
    with ctx.gathering:
        read, made = gather(ctx)
    attempts, sent = send_due(ctx)
    report = DispatchReport(read, made, attempts, sent)
    if read or made or attempts:
        logger.info("Alerts: %d events read, %d deliveries made, %d attempts, %d sent, in %.2f s.",
                    report.events_read, report.deliveries_made, report.attempts, report.sent,
                    time.monotonic() - began)
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
    """Read the events after the mark, make the deliveries of each chain's batches ready now (and of reminders
    due), and move the mark past the events read whose batches are all made: the others are read again next tick
    (a run still running, a minute of changes not yet over, a batch another instance is making), so nothing is
    written per event. The number of events read and of deliveries made."""
    now = ctx.clock()
    mark = ctx.follower.get_mark()
    start = int(mark) if mark else 0
    logged, finished = _read(ctx, start)
    end = logged[-1].position if logged else start
    chains: dict[str, list[LoggedEvent]] = {}
    for item in logged:
        chains.setdefault(chain_of(item), []).append(item)
    channels = [c for c in ctx.channels.list() if c.enabled]
    periods = _reminders_due(ctx, channels, now=now)
    reminders = dict(periods.lines)  # a channel's lines leave once a delivery kept carries them
    made = 0
    heads: dict[str, BatchHead | None] = {}
    for chain, read in sorted(chains.items()):
        head = ctx.follower.get_batch_head(chain)
        while True:
            if head is not None and not head.done:
                if head.high > end:
                    break  # recorded by an instance that read further: it makes it, or the next tick does
                made += _make_batch(ctx, channels, batch_of(head, read), reminders, now=now)
                head = _record(ctx.follower, head, replace(head, done=True))
                continue
            following = next_head(chain, head, read, now=now, finished_runs=finished)
            if following is None:
                break
            head = _record(ctx.follower, head, following)
        heads[chain] = head
    for channel in periods.due:
        if reminders.get(channel.channel_id):  # no batch carried them: a digest of their own
            # The period it closes names it: built again (a crash before the period moved on) it is the same.
            key = f"reminders:{channel.created_at}:{channel.reminded_at or 'first'}"
            digest = build_digest(channel, Batch(key, None, ()), reminders[channel.channel_id], created_at=now)
            made += _keep_delivery(ctx, channel, digest, now=now) is not None
        elif channel.channel_id not in periods.lines:  # no one to remind yet: look again when one will be due
            _start_reminder_period(ctx.channels, channel, now=periods.next_start)
    passed = start
    for item in logged:
        head = heads[chain_of(item)]
        if head is None or not head.settled(item.position):
            break
        passed = item.position
    if passed != start:
        ctx.follower.set_mark(str(passed))
    return len(logged), made


def _make_batch(ctx: AlertContext, channels: Sequence[AlertChannel], batch: Batch,
                reminders: dict[str, list[DigestEntry]], *, now: datetime) -> int:
    """Keep the delivery of `batch` for each channel that hears of it, with the reminders due until a delivery kept
    carries them; how many."""
    entries = [event_entry(event) for event in batch.events]
    digests = [(channel, build_digest(channel, batch, [*entries, *reminders.get(channel.channel_id, [])],
                                      created_at=now)) for channel in channels]
    made = 0
    for channel, digest in _with_hints(ctx.customers, batch.events, digests):
        kept = _keep_delivery(ctx, channel, digest, now=now)
        made += kept is not None
        if kept is not None and kept.digest.counts[EntryKind.STILL_FAILING]:
            reminders.pop(channel.channel_id, None)
    return made


def _record(follower: AlertFollower, previous: BatchHead | None, head: BatchHead) -> BatchHead | None:
    """Record `head` in place of `previous`; when another instance recorded first, the chain's head it left."""
    try:
        return follower.put_batch_head(previous, head)
    except Conflict:
        return follower.get_batch_head(head.chain)


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


def forget_expired_deliveries(deliveries: DeliveryStore, *, now: datetime | None = None) -> int:
    """Delete the sent and failed deliveries past their retention (30 days; the maintenance step); how many."""
    return deliveries.delete_older_than(expired_before(now or datetime.now(UTC)))


def forget_runs_batches(follower: AlertFollower, *, now: datetime | None = None) -> int:
    """Delete the batch heads of runs whose deliveries were all made more than the deliveries' retention ago (the
    maintenance step: one row a run otherwise stays for good); how many."""
    return follower.forget_runs_batches(done_before=expired_before(now or datetime.now(UTC)))


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


def _read(ctx: AlertContext, start: int) -> tuple[list[LoggedEvent], set[str]]:
    """The events numbered after `start`, and which of their runs have finished. Reading stops after a read with
    an event of a run still running: the mark cannot pass it before the run ends, so what follows would only be
    read again (changes outside runs recorded meanwhile wait for the run's end)."""
    logged: list[LoggedEvent] = []
    finished: set[str] = set()
    running: set[str] = set()
    for _ in range(MAX_READS):
        read = ctx.events.read_after(logged[-1].position if logged else start, top=READ_TOP)
        if not read:
            break
        logged += read
        for run_id in {e.event.run_id for e in read if e.event.run_id is not None} - finished - running:
            run = ctx.runs.get(run_id)
            (finished if run is None or run.finished_at is not None else running).add(run_id)  # gone: finished
        if running or len(read) < READ_TOP:
            break
    return logged, finished


def _with_hints(customers: CustomerStore, events: Sequence[StatusEvent],
                digests: list[tuple[AlertChannel, Digest | None]]) -> list[tuple[AlertChannel, Digest]]:
    """The digests, each event line they list given the hint and the provider's message of the customer's record
    while it still fails for the reason the event names. Only the lines listed are looked up (at most MAX_ENTRIES a
    digest), not every customer of the batch: a run of 10,000 failures reads 50 records, not 10,000."""
    failed = {e.event_id: e for e in events if e.after.status is Status.FAILED}
    listed = {line.customer_id for _, digest in digests if digest is not None for line in digest.entries
              if line.event_id in failed}
    records = customers.get_many(sorted(listed)) if listed else {}

    def hinted(line: DigestEntry) -> DigestEntry:
        event, record = failed.get(line.event_id or ""), records.get(line.customer_id)
        if (event is None or record is None or record.last_verification_status is not Status.FAILED
                or record.last_verification_reason != event.after.reason):
            return line
        return replace(line, hint=record.hint, message=record.last_verification_message)

    return [(channel, replace(digest, entries=tuple(map(hinted, digest.entries))))
            for channel, digest in digests if digest is not None]


@dataclass(frozen=True, slots=True)
class _Reminders:
    """The channels whose reminder period is due; their reminder lines by channelId (none when there is no one to
    remind); and, for a due channel with no one to remind, when its next period starts: when the failure that will
    be due first began (so it is reminded an interval after, not later), or now."""

    due: list[AlertChannel]
    lines: dict[str, list[DigestEntry]]
    next_start: datetime


def _reminders_due(ctx: AlertContext, channels: Sequence[AlertChannel], *, now: datetime) -> _Reminders:
    """Looked up once per period, not every tick, and with no query per customer: the customers failing now (one
    listing), less those whose failure began within the interval (the log's changes since then, read newest
    first); only a customer an operator acknowledged has its history read, to tell whether the acknowledgement
    covers the failure it has now. Not while a run is going: its digest carries them when it ends."""
    interval = ctx.reminder_interval
    # Only channels that hear of reminders (with connectionLost): another would be looked up for every tick.
    due = [c for c in channels if c.wants(EventType.CONNECTION_LOST)
           and period_due(c.reminded_at, now=now, interval=interval)]
    if not due or _run_in_progress(ctx.runs, now=now):
        return _Reminders([], {}, now)
    oldest = now - interval + slack(interval)
    recent = ctx.events.changed_since(oldest, _STATE_CHANGES)
    acknowledgements = ctx.follower.list_acknowledgements()
    failing, waiting = [], []
    for customer in ctx.customers.list_failures():
        state = StatusPoint(Status.FAILED, customer.reason)
        acknowledgement = acknowledgements.get(customer.customer_id)
        if customer.customer_id in recent:  # failing for less than an interval
            if acknowledgement is None or acknowledgement.state != state:
                waiting.append(recent[customer.customer_id])
            continue
        since = oldest  # at the latest: no change since
        if acknowledgement is not None and acknowledgement.state == state:
            since = _failing_since(ctx.history, customer) or oldest
        failing.append(FailingCustomer(customer, since, acknowledgement))
    entries = [reminder_entry(c) for c in to_remind(failing, now=now, interval=interval)]
    return _Reminders(due, {c.channel_id: entries for c in due} if entries else {}, min(waiting, default=now))


def _run_in_progress(runs: RunStore, *, now: datetime) -> bool:
    """Whether a run is going: the reminders wait for its end and ride its digest, rather than read every failing
    customer while the run's verifications need the machine (and name customers the run is about to verify)."""
    latest = runs.list_recent(top=1)
    return bool(latest) and is_running(latest[0], now=now)


def _failing_since(history: HistoryStore, customer: FailureRecord) -> datetime | None:
    """When the customer's current failure began, as its latest results show: the oldest of the newest results
    that all failed for its current reason (looking back over the history kept, HISTORY_KEPT results)."""
    since = None
    for result in history.list_latest(customer.customer_id, limit=HISTORY_KEPT):
        if result.status is not Status.FAILED or result.reason != customer.reason:
            break
        since = result.verified_at
    return since


def _keep_delivery(ctx: AlertContext, channel: AlertChannel, digest: Digest | None, *,
                   now: datetime) -> Delivery | None:
    """Keep the delivery of `digest` for `channel`: the delivery kept, or None when there is no digest (nothing the
    channel hears of). A delivery kept with reminders starts the channel's next reminder period: the one kept, which
    is another instance's or a crashed gathering's when it was made first, perhaps without them."""
    if digest is None:
        return None
    kept = ctx.deliveries.add(new_delivery(digest, now=now))
    if kept.digest.counts[EntryKind.STILL_FAILING]:
        _start_reminder_period(ctx.channels, channel, now=now)
    return kept


def _start_reminder_period(channels: ChannelStore, channel: AlertChannel, *, now: datetime) -> None:
    current = channels.get(channel.channel_id)
    if current is None:
        return
    try:
        channels.replace(current, replace(current, reminded_at=now))
    except Conflict:
        logger.info("Channel %s changed while its reminder period was noted; the next tick notes it.",
                    channel.channel_id)
