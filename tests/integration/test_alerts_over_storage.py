"""Alert channels, deliveries and the dispatcher's state over a real Azurite, and the dispatcher end to end: real
tables, the real event log, the SSRF-safe sender over HTTPS to the local receiver (which verifies signatures and
deduplicates), a receiver down then up, and two instances dispatching at once."""
from __future__ import annotations

import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.outbound_http import OutboundHttp
from shared.adapters.table_alert_follower import TableAlertFollower
from shared.adapters.table_channels import TableChannelStore
from shared.adapters.table_customers import TableCustomerStore
from shared.adapters.table_deliveries import PROPERTY_LIMIT, TableDeliveryStore, digest_from_json, digest_to_json
from shared.adapters.table_events import TableEventLog
from shared.adapters.table_runs import TableRunStore
from shared.domain.alerts.batches import BatchHead
from shared.domain.alerts.channels import AlertChannel, ChannelInput, ChannelKind
from shared.domain.alerts.deliveries import DeliveryState, delivery_id_for, new_delivery
from shared.domain.alerts.digests import MAX_ENTRIES, Batch, DigestEntry, EntryKind, build_digest
from shared.domain.alerts.events import EventType, StatusEvent, StatusPoint
from shared.domain.alerts.reminders import Acknowledgement, FailureRecord
from shared.domain.errors import Conflict
from shared.domain.expiry import Expiry, ExpiryKind, ExpirySource
from shared.domain.models import AuthMethod, Customer, Status
from shared.domain.reasons import Reason
from shared.domain.secrets import ChannelSecret
from shared.usecases.alert_channels import put_channel
from shared.usecases.alert_dispatch import AlertContext, dispatch
from tests.support.fakes import InMemorySecretStore
from tests.support.history import into_history
from tools.alert_receiver import AlertReceiver

pytestmark = pytest.mark.integration

BAD = StatusPoint(Status.FAILED, Reason.INVALID_CREDENTIALS)
OK = StatusPoint(Status.SUCCEEDED)


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def test_channels_are_kept_without_their_secrets_and_guarded_by_etag(tables):
    store = TableChannelStore(tables, table=_name("Ch"))
    channel = AlertChannel("ops", ChannelKind.WEBHOOK, frozenset({EventType.CONNECTION_LOST}), True,
                           "hooks.example.com", {ChannelSecret.URL: "v1", ChannelSecret.SIGNING_SECRET: "v2"})
    created = store.create(channel)
    with pytest.raises(Conflict):
        store.create(channel)
    assert store.get("ops") == channel and store.list() == [channel]
    changed = store.replace(created, replace(created, enabled=False, reminded_at=datetime(2026, 1, 1, tzinfo=UTC)))
    with pytest.raises(Conflict):
        store.replace(created, channel)
    assert store.get("ops").reminded_at == datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(Conflict):
        store.delete(created)
    store.delete(changed)
    assert store.get("ops") is None and store.list() == []


def _big_digest(channel_id: str = "ops"):
    """50 lines, each with a long hint and message: well over one property's 64 KiB."""
    now = datetime.now(UTC).replace(microsecond=0)
    channel = AlertChannel(channel_id, ChannelKind.WEBHOOK, frozenset(EventType))
    entries = [DigestEntry(EntryKind.CONNECTION_LOST, f"c{i:03d}", "contoso.com", now, Reason.MFA_REQUIRED,
                           hint="ü" * 700, message="AADSTS50076 " + "é" * 700, event_id=f"e{i}")
               for i in range(MAX_ENTRIES + 5)]
    return build_digest(channel, Batch("changes:e0", None, ()), entries, created_at=now)


def test_deliveries_are_kept_once_by_id_and_a_large_digest_round_trips(tables):
    store = TableDeliveryStore(tables, table=_name("Dl"))
    digest = _big_digest()
    assert len(str(digest).encode()) > PROPERTY_LIMIT
    now = digest.created_at
    kept = store.add(new_delivery(digest, now=now))
    again = store.add(new_delivery(digest, now=now + timedelta(seconds=5)))  # another instance, later
    assert again.delivery_id == kept.delivery_id == delivery_id_for("ops", "changes:e0")
    assert again.created_at == now and again.digest == digest and again.digest.more == 5
    assert [d.delivery_id for d in store.list_due(now=now, top=10)] == [kept.delivery_id]
    assert store.list_due(now=now - timedelta(seconds=1), top=10) == []
    sent = store.replace(again, replace(again, state=DeliveryState.SENT, next_attempt_at=None, sent_at=now))
    with pytest.raises(Conflict):
        store.replace(again, replace(again, attempts=9))
    assert store.list_due(now=now + timedelta(days=1), top=10) == []
    assert store.list_recent("ops", top=5) == [sent] and store.list_recent("other", top=5) == []


def test_a_digest_keeps_each_expiring_lines_expiry_and_band_and_reads_one_kept_without_them(tables):
    store = TableDeliveryStore(tables, table=_name("Dl"))
    now = datetime.now(UTC).replace(microsecond=0)
    ends = Expiry(ExpiryKind.PROVIDER_CLIENT_SECRET, ExpirySource.OPERATOR, now + timedelta(days=6))
    entries = [DigestEntry(EntryKind.CONNECTION_EXPIRING, "c1", "contoso.com", now, event_id="e1", expiry=ends,
                           within_days=7),
               DigestEntry(EntryKind.CONNECTION_LOST, "c2", "contoso.com", now, Reason.MFA_REQUIRED, event_id="e2")]
    digest = build_digest(AlertChannel("ops", ChannelKind.WEBHOOK, frozenset(EventType)), Batch("changes:e1", None, ()),
                          entries, created_at=now)
    store.add(new_delivery(digest, now=now))
    [read] = store.list_due(now=now, top=5)
    assert read.digest == digest
    assert [(e.customer_id, e.expiry, e.within_days) for e in read.digest.entries] == [
        ("c2", None, None), ("c1", ends, 7)]
    older = digest_to_json(digest)  # as kept before lines named their expiry: nine values each
    older["entries"] = [line[:9] for line in older["entries"]]
    assert [(e.customer_id, e.expiry, e.within_days) for e in digest_from_json(older).entries] == [
        ("c2", None, None), ("c1", None, None)]


def test_the_followers_mark_and_acknowledgements_are_kept(tables):
    follower = TableAlertFollower(tables, table=_name("Fo"))
    now = datetime.now(UTC).replace(microsecond=0)
    assert follower.get_mark() is None and follower.list_acknowledgements() == {}
    follower.set_mark("m-1")
    follower.set_mark("m-2")
    assert follower.get_mark() == "m-2"
    follower.acknowledge("contoso", Acknowledgement(now, BAD))
    follower.acknowledge("contoso", Acknowledgement(now + timedelta(hours=1), OK))  # replaces the first
    follower.acknowledge("fabrikam", Acknowledgement(now, StatusPoint(Status.FAILED)))
    assert follower.list_acknowledgements() == {"contoso": Acknowledgement(now + timedelta(hours=1), OK),
                                                "fabrikam": Acknowledgement(now, StatusPoint(Status.FAILED))}


def test_a_chains_batch_head_is_created_once_and_replaced_only_under_its_etag(tables):
    follower = TableAlertFollower(tables, table=_name("Fo"))
    first = BatchHead("run:r1", 1, 0, 7)
    assert follower.get_batch_head("run:r1") is None
    created = follower.put_batch_head(None, first)
    with pytest.raises(Conflict):
        follower.put_batch_head(None, BatchHead("run:r1", 1, 0, 9))  # another instance, which read further
    assert follower.get_batch_head("run:r1") == first and created.etag
    done = follower.put_batch_head(created, replace(created, done=True))
    with pytest.raises(Conflict):
        follower.put_batch_head(created, BatchHead("run:r1", 2, 7, 9))  # read before it was done
    following = follower.put_batch_head(done, BatchHead("run:r1", 2, 7, 3_000_000_000))
    assert follower.get_batch_head("run:r1") == following and follower.get_batch_head("changes") is None


def test_the_done_batches_of_runs_are_deleted_once_past_the_retention_and_nothing_else(tables):
    follower = TableAlertFollower(tables, table=_name("Fo"))
    follower.put_batch_head(None, BatchHead("run:old", 1, 0, 7, done=True))
    follower.put_batch_head(None, BatchHead("run:sending", 1, 7, 9))  # a delivery still to make: kept
    follower.put_batch_head(None, BatchHead("changes", 4, 9, 12, done=True))  # the one changes chain: kept
    follower.set_mark("m-12")
    now = datetime.now(UTC)
    assert follower.forget_runs_batches(done_before=now - timedelta(days=30)) == 0  # recorded just now
    assert follower.forget_runs_batches(done_before=now + timedelta(minutes=1)) == 1
    assert follower.get_batch_head("run:old") is None
    assert follower.get_batch_head("run:sending") is not None and follower.get_batch_head("changes") is not None
    assert follower.get_mark() == "m-12"
    assert follower.forget_runs_batches(done_before=now + timedelta(minutes=1)) == 0


def test_the_failing_customers_are_listed_with_only_what_a_reminder_shows(tables):
    store = TableCustomerStore(tables, table=_name("Tn"))
    store.create(Customer("b-fails", "contoso.com", AuthMethod.PASSWORD, m365_email="ops@contoso.com",
                          last_verification_status=Status.FAILED, last_verification_reason=Reason.MFA_REQUIRED,
                          last_verification_message="AADSTS50076: MFA", hint="Exclude the account from MFA."))
    store.create(Customer("a-fails", "fabrikam.com", AuthMethod.APPLICATION, application_id="app",
                          last_verification_status=Status.FAILED))
    store.create(Customer("c-works", "contoso.com", AuthMethod.PASSWORD, last_verification_status=Status.SUCCEEDED))
    store.create(Customer("d-new", "contoso.com", AuthMethod.PASSWORD))
    assert store.list_failures() == [
        FailureRecord("a-fails", "fabrikam.com", None),
        FailureRecord("b-fails", "contoso.com", Reason.MFA_REQUIRED, "Exclude the account from MFA.",
                      "AADSTS50076: MFA")]


@pytest.fixture
def receiver(tmp_path):
    with AlertReceiver(ca_dir=tmp_path / "ca") as instance:
        yield instance


class World:
    """The dispatcher over real tables and the real sender; `now` is moved by the test."""

    def __init__(self, tables, receiver: AlertReceiver) -> None:
        self.secrets = InMemorySecretStore()
        self.channels = TableChannelStore(tables, table=_name("Ch"))
        self.deliveries = TableDeliveryStore(tables, table=_name("Dl"))
        self.follower = TableAlertFollower(tables, table=_name("Fo"))
        self.log = TableEventLog(tables, table=_name("Ev"))
        self.customers = TableCustomerStore(tables, table=_name("Tn"))
        self.history = self.customers  # its table holds the histories
        self.runs = TableRunStore(tables, table=_name("Rn"))
        self.transport = OutboundHttp(local_development=True, verify=str(receiver.ca_bundle_path))
        self.now = datetime.now(UTC)

    def context(self) -> AlertContext:
        return AlertContext(events=self.log, follower=self.follower, channels=self.channels,
                            deliveries=self.deliveries, customers=self.customers, history=self.history,
                            runs=self.runs,
                            secrets=self.secrets, transport=self.transport, page_url="https://tas.example.com/",
                            reminder_interval=timedelta(hours=24), clock=lambda: self.now)

    def lose(self, customer_id: str) -> None:
        self.customers.create(Customer(customer_id, "contoso.com", AuthMethod.PASSWORD,
                                       last_verification_status=Status.FAILED,
                                       last_verification_reason=Reason.INVALID_CREDENTIALS, hint="Ask again."))
        self.log.append_many([StatusEvent(uuid.uuid4().hex, EventType.CONNECTION_LOST, customer_id, "contoso.com",
                                          OK, BAD, self.now, None)])


def test_a_receiver_down_then_up_gets_every_delivery_once_signed(tables, receiver):
    world = World(tables, receiver)
    url = receiver.add_webhook("ops")
    saved = put_channel(world.channels, world.secrets, world.transport, "ops",
                        ChannelInput(ChannelKind.WEBHOOK, frozenset(EventType), url=url))
    receiver.add_webhook("ops", saved.signing_secret)
    put_channel(world.channels, world.secrets, world.transport, "team",
                ChannelInput(ChannelKind.TEAMS, frozenset(EventType), url=receiver.add_teams("team")))
    world.lose("a")
    world.lose("b")
    receiver.down()
    world.now += timedelta(seconds=61)
    report = dispatch(world.context())
    assert (report.deliveries_made, report.attempts, report.sent) == (2, 2, 0)
    pending = world.deliveries.list_recent("ops", top=5)[0]
    assert pending.state is DeliveryState.PENDING and "could not connect" in pending.last_error
    receiver.up()
    later = max(world.deliveries.list_recent(c, top=1)[0].next_attempt_at for c in ("ops", "team"))
    world.now = later + timedelta(seconds=1)  # each waits its own jittered back-off
    assert dispatch(world.context()).sent == 2
    assert dispatch(world.context()).attempts == 0
    messages = receiver.inbox.messages()
    assert sorted(m.channel for m in messages) == ["ops", "team"]  # the receiver took each once, signed
    (webhook,) = [m for m in messages if m.channel == "ops"]
    assert webhook.delivery_id == pending.delivery_id and webhook.payload["counts"]["connectionLost"] == 2
    assert [c["customerId"] for c in webhook.payload["customers"]] == ["a", "b"]
    assert all(a.outcome == "accepted" for a in receiver.inbox.attempts())


def test_two_instances_dispatching_at_once_send_each_delivery_under_one_id(tables, receiver):
    world = World(tables, receiver)
    saved = put_channel(world.channels, world.secrets, world.transport, "ops",
                        ChannelInput(ChannelKind.WEBHOOK, frozenset(EventType), url=receiver.add_webhook("ops")))
    receiver.add_webhook("ops", saved.signing_secret)
    for name in ("a", "b", "c"):
        world.lose(name)
    world.now += timedelta(seconds=61)
    barrier = threading.Barrier(3)
    errors = []

    def instance() -> None:
        try:
            barrier.wait()
            dispatch(world.context())
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=instance) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    deliveries = world.deliveries.list_recent("ops", top=10)
    assert len(deliveries) == 1 and deliveries[0].state is DeliveryState.SENT
    attempts = receiver.inbox.attempts()  # one attempt: each instance claims a delivery before sending it
    assert [(a.delivery_id, a.outcome) for a in attempts] == [(deliveries[0].delivery_id, "accepted")]
    assert [m.delivery_id for m in receiver.inbox.messages()] == [deliveries[0].delivery_id]


def test_a_customer_failing_for_a_day_is_reminded_once_from_its_stored_history(tables, receiver):
    from shared.domain.verification import VerificationResult

    world = World(tables, receiver)
    saved = put_channel(world.channels, world.secrets, world.transport, "ops",
                        ChannelInput(ChannelKind.WEBHOOK, frozenset(EventType), url=receiver.add_webhook("ops")))
    receiver.add_webhook("ops", saved.signing_secret)
    world.customers.create(Customer("old", "contoso.com", AuthMethod.PASSWORD, last_verification_status=Status.FAILED,
                                    last_verification_reason=Reason.INVALID_CREDENTIALS, hint="Ask again."))
    world.customers.create(Customer("new", "contoso.com", AuthMethod.PASSWORD, last_verification_status=Status.FAILED,
                                    last_verification_reason=Reason.INVALID_CREDENTIALS))
    for hours in (30, 6):
        into_history(world.customers, VerificationResult("old", Status.FAILED, world.now - timedelta(hours=hours),
                                                         AuthMethod.PASSWORD, Reason.INVALID_CREDENTIALS))
    into_history(world.customers, VerificationResult("old", Status.SUCCEEDED, world.now - timedelta(hours=40),
                                                     AuthMethod.PASSWORD))
    into_history(world.customers, VerificationResult("new", Status.FAILED, world.now - timedelta(hours=2),
                                                     AuthMethod.PASSWORD, Reason.INVALID_CREDENTIALS))
    # Their events, as verifications write them: "old" lost its connection 30 hours ago, "new" 2 hours ago.
    world.log.append_many([
        StatusEvent(uuid.uuid4().hex, EventType.CONNECTION_LOST, cid, "contoso.com", OK, BAD,
                    world.now - timedelta(hours=hours), None)
        for cid, hours in (("old", 30), ("new", 2))])
    world.follower.set_mark(world.log.read_since(None, top=10)[1])  # their digests went out when they happened
    assert dispatch(world.context()).sent == 1
    assert dispatch(world.context()).deliveries_made == 0  # once per interval
    (message,) = receiver.inbox.messages()
    assert message.payload["counts"]["stillFailing"] == 1
    assert [(c["customerId"], c["type"], c["hint"]) for c in message.payload["customers"]] == [
        ("old", "stillFailing", "Ask again.")]


def test_deliveries_past_their_retention_are_deleted_in_every_channels_partition_a_bounded_number_a_call(
        tables, monkeypatch, caplog):
    import logging

    from shared.adapters import table_common, table_deliveries

    store = TableDeliveryStore(tables, table=_name("Dl"))
    now = datetime.now(UTC).replace(microsecond=0)
    old, young = now - timedelta(days=31), now - timedelta(days=29)

    def keep(channel_id: str, key: str, made: datetime, state: DeliveryState) -> str:
        channel = AlertChannel(channel_id, ChannelKind.WEBHOOK, frozenset(EventType))
        digest = build_digest(channel, Batch(key, None, ()), [DigestEntry(EntryKind.CONNECTION_LOST, "c", "t", made)],
                              created_at=made)
        delivery = new_delivery(digest, now=made)
        if state is not DeliveryState.PENDING:
            delivery = replace(delivery, state=state, next_attempt_at=None)
        return store.add(delivery).delivery_id

    # More than one transaction in one partition; other channels' partitions, one of a deleted channel.
    gone = [keep("ops", f"b{n}", old, DeliveryState.SENT) for n in range(130)]
    gone += [keep("team", f"f{n}", old, DeliveryState.FAILED) for n in range(3)] + [
        keep("deleted", "x", old, DeliveryState.SENT)]
    kept = {keep("team", "p", old, DeliveryState.PENDING), keep("team", "y", young, DeliveryState.SENT),
            keep("ops", "y", young, DeliveryState.FAILED)}
    monkeypatch.setattr(table_deliveries, "PRUNE_LIMIT", 120)
    monkeypatch.setattr(table_common, "PROGRESS_EVERY", 50)
    with caplog.at_level(logging.INFO, logger="shared.adapters.table_common"):
        assert store.delete_older_than(now - timedelta(days=30)) == 120
    progress = [r.getMessage() for r in caplog.records]
    # Partitions in key order: "c:deleted" (1 row), then "c:ops" (a transaction of 100 passes 50 and 100 at once).
    assert [line for line in progress if "so far" in line] == [
        f"Table {store._on_table._name}: 101 rows deleted so far."]
    assert any("the rest is left for the next" in line for line in progress)
    assert store.delete_older_than(now - timedelta(days=30)) == len(gone) - 120
    assert store.delete_older_than(now - timedelta(days=30)) == 0
    left = {d.delivery_id for channel in ("ops", "team", "deleted") for d in store.list_recent(channel, top=200)}
    assert left == kept


class MeetingDeliveries:
    """The real delivery store, where two instances meet before each of its calls: both make their deliveries
    before either lists what is due, and both list before either claims, so every step of the two dispatches
    races the other's same step (no timing luck). Only synchronises: every call goes to Azurite."""

    def __init__(self, store: TableDeliveryStore, barrier: threading.Barrier) -> None:
        self._store, self._barrier = store, barrier

    def add(self, delivery):
        self._barrier.wait()
        return self._store.add(delivery)

    def list_due(self, *, now, top):
        self._barrier.wait()
        return self._store.list_due(now=now, top=top)

    def replace(self, previous, delivery):
        return self._store.replace(previous, delivery)

    def list_recent(self, channel_id, *, top):
        return self._store.list_recent(channel_id, top=top)


def test_the_after_run_dispatch_and_the_minute_timer_at_once_send_one_message_per_channel(tables, receiver):
    from shared.domain.runs import Run, Trigger, new_run_id
    from shared.domain.work import Chunk, encode
    from shared.usecases.alert_dispatch import dispatch_after_work

    world = World(tables, receiver)
    saved = put_channel(world.channels, world.secrets, world.transport, "ops",
                        ChannelInput(ChannelKind.WEBHOOK, frozenset(EventType), url=receiver.add_webhook("ops")))
    receiver.add_webhook("ops", saved.signing_secret)
    put_channel(world.channels, world.secrets, world.transport, "team",
                ChannelInput(ChannelKind.TEAMS, frozenset(EventType), url=receiver.add_teams("team")))
    run = Run(new_run_id(world.now), Trigger.HTTP, world.now, None, 0, 0, {})
    world.runs.start(run, stale_after=timedelta(hours=1))
    world.runs.mark_fanned_out(run.run_id)  # no customers enrolled: finished at once
    for name in ("a", "b", "c"):
        world.customers.create(Customer(name, "contoso.com", AuthMethod.PASSWORD,
                                        last_verification_status=Status.FAILED,
                                        last_verification_reason=Reason.INVALID_CREDENTIALS))
    world.log.append_many([StatusEvent(uuid.uuid4().hex, EventType.CONNECTION_LOST, name, "contoso.com", OK, BAD,
                                       world.now, run.run_id) for name in ("a", "b", "c")])
    meeting = threading.Barrier(2, timeout=60)
    # Two instances, each with its own services (one process gathers one at a time: see the unit tests).
    worker, timer = (replace(world.context(), deliveries=MeetingDeliveries(world.deliveries, meeting))
                     for _ in range(2))
    reports, errors = {}, []

    def instance(name, call) -> None:
        try:
            reports[name] = call()
        except Exception as error:  # noqa: BLE001 - reported below
            errors.append(error)

    threads = [threading.Thread(target=instance, args=("worker", lambda: dispatch_after_work(
                   worker, encode(Chunk(run.run_id, ("a", "b", "c")))))),
               threading.Thread(target=instance, args=("timer", lambda: dispatch(timer)))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == [] and not meeting.broken
    # Both built both deliveries; each delivery was sent by one of them.
    assert [reports[n].deliveries_made for n in ("worker", "timer")] == [2, 2]
    assert reports["worker"].sent + reports["timer"].sent == 2
    assert receiver.inbox.wait_for(lambda inbox: len(inbox.attempts()) >= 2, timeout=10)
    attempts = receiver.inbox.attempts()
    kept = {c: world.deliveries.list_recent(c, top=5) for c in ("ops", "team")}
    assert all(len(d) == 1 and d[0].state is DeliveryState.SENT for d in kept.values())
    # Every request that reached the receiver, duplicates included: one per channel, each under its delivery's id.
    assert sorted((a.delivery_id, a.outcome) for a in attempts) == sorted(
        (d[0].delivery_id, "accepted") for d in kept.values())
    assert sorted((m.channel, m.delivery_id) for m in receiver.inbox.messages()) == [
        (c, kept[c][0].delivery_id) for c in ("ops", "team")]


class Interleave:
    """`inner`, with the `call`-th call of `method` followed by `then()` (another instance's whole gathering, an
    event relayed late), or, with `crash`, replaced by a crash of this instance. Only orders the steps: every call
    goes to Azurite."""

    def __init__(self, inner, method: str, then=lambda: None, *, call: int = 1, crash: bool = False) -> None:
        self._inner, self._method, self._then, self._call, self._crash = inner, method, then, call, crash
        self._calls = 0

    def __getattr__(self, name):
        attribute = getattr(self._inner, name)
        if name != self._method:
            return attribute

        def hooked(*args, **kwargs):
            self._calls += 1
            if self._calls != self._call:
                return attribute(*args, **kwargs)
            if self._crash:
                raise HostCrashed
            result = attribute(*args, **kwargs)
            self._then()
            return result

        return hooked


class HostCrashed(Exception):
    pass


@pytest.mark.parametrize("in_run", [True, False], ids=["run", "changes"])
@pytest.mark.parametrize("interleaving", ["between-read-and-record", "between-record-and-deliveries",
                                          "crash-between-channels"])
def test_two_gatherers_that_read_different_events_give_each_channel_each_event_once(tables, receiver, in_run,
                                                                                     interleaving):
    """Instance A reads a batch's first two events; a third, left in the outbox by a crashed host, is relayed late;
    instance B reads all three. Whether B gathers between A's read and A's recording of the batch, between that
    and A's deliveries, or after A crashed between its two channels, each channel gets each event in exactly one
    delivery (before, the two views made two keys, and the shared events went out twice)."""
    from shared.domain.runs import Run, Trigger, new_run_id
    from shared.usecases.alert_dispatch import gather

    world = World(tables, receiver)
    for name in ("ops", "team"):
        put_channel(world.channels, world.secrets, world.transport, name,
                    ChannelInput(ChannelKind.WEBHOOK, frozenset(EventType), url=receiver.add_webhook(name)))
    run_id = None
    if in_run:
        run = Run(new_run_id(world.now), Trigger.HTTP, world.now, None, 0, 0, {})
        world.runs.start(run, stale_after=timedelta(hours=1))
        world.runs.mark_fanned_out(run.run_id)  # finished
        run_id = run.run_id
    events = [StatusEvent(uuid.uuid4().hex, EventType.CONNECTION_LOST, name, "contoso.com", OK, BAD, world.now,
                          run_id) for name in ("a", "b", "late")]
    world.log.append_many(events[:2])
    world.now += timedelta(seconds=61)

    def relay_late_then_b_gathers() -> None:
        world.log.append_many(events[2:])
        gather(world.context())

    a = world.context()
    if interleaving == "between-read-and-record":
        a = replace(a, events=Interleave(world.log, "read_after", relay_late_then_b_gathers))
        gather(a)
    elif interleaving == "between-record-and-deliveries":
        a = replace(a, follower=Interleave(world.follower, "put_batch_head", relay_late_then_b_gathers))
        gather(a)
    else:
        a = replace(a, deliveries=Interleave(world.deliveries, "add", call=2, crash=True))
        with pytest.raises(HostCrashed):
            gather(a)
        relay_late_then_b_gathers()
    for _ in range(2):  # and both again, until nothing is left
        gather(world.context())
        gather(a)
    for channel in ("ops", "team"):
        lines = [e.event_id for d in world.deliveries.list_recent(channel, top=10) for e in d.digest.entries]
        assert sorted(lines) == sorted(e.event_id for e in events), channel
    assert world.follower.get_mark() == "3"
