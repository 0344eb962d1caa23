"""The alert dispatcher's decisions over fakes: which events make which deliveries, when, to which channels, with
which reminders; one id per delivery whatever is repeated; retries."""
from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.alerts.channels import AlertChannel, ChannelKind
from shared.domain.alerts.deliveries import DeliveryState
from shared.domain.alerts.delivery_retry import OutcomeKind, SendOutcome
from shared.domain.alerts.digests import MAX_ENTRIES, EntryKind
from shared.domain.alerts.events import EventType, StatusEvent, StatusPoint
from shared.domain.alerts.reminders import Acknowledgement
from shared.domain.alerts.signing import DELIVERY_ID_HEADER
from shared.domain.models import AuthMethod, Customer, Status
from shared.domain.reasons import Reason
from shared.domain.runs import Run, Trigger
from shared.domain.secrets import ChannelSecret
from shared.domain.verification import VerificationResult
from shared.usecases.alert_dispatch import AlertContext, dispatch, gather, send_due
from tests.support.alert_fakes import (
    InMemoryAlertFollower,
    InMemoryChannelStore,
    InMemoryDeliveryStore,
    ScriptedTransport,
)
from tests.support.fakes import (
    InMemoryCustomerStore,
    InMemoryEventLog,
    InMemoryHistoryStore,
    InMemorySecretStore,
)

T0 = datetime(2026, 12, 3, 6, 0, tzinfo=UTC)
DAY = timedelta(hours=24)
OK = StatusPoint(Status.SUCCEEDED)
BAD = StatusPoint(Status.FAILED, Reason.INVALID_CREDENTIALS)


class Runs:
    def __init__(self) -> None:
        self.runs: dict[str, Run] = {}

    def get(self, run_id: str) -> Run | None:
        return self.runs.get(run_id)

    def set(self, run_id: str, *, finished: bool, started: datetime = T0) -> None:
        self.runs[run_id] = Run(run_id, Trigger.TIMER, started, started if finished else None, 0, 0, {})

    def list_recent(self, *, top: int) -> list[Run]:
        return sorted(self.runs.values(), key=lambda run: run.started_at, reverse=True)[:top]


@dataclass
class World:
    ctx: AlertContext
    log: InMemoryEventLog
    follower: InMemoryAlertFollower
    channels: InMemoryChannelStore
    deliveries: InMemoryDeliveryStore
    customers: InMemoryCustomerStore
    history: InMemoryHistoryStore
    runs: Runs
    secrets: InMemorySecretStore
    transport: ScriptedTransport
    now: list[datetime]

    def at(self, moment: datetime) -> None:
        self.now[0] = moment

    def channel(self, channel_id: str, kind: ChannelKind = ChannelKind.WEBHOOK, *, events=frozenset(EventType),
                enabled: bool = True) -> None:
        versions = {ChannelSecret.URL: self.secrets.create_version(channel_id, ChannelSecret.URL,
                                                                   f"https://{channel_id}.example.com/hook")}
        if kind is ChannelKind.WEBHOOK:
            versions[ChannelSecret.SIGNING_SECRET] = self.secrets.create_version(
                channel_id, ChannelSecret.SIGNING_SECRET, f"whsec_{channel_id}")
        self.channels.create(AlertChannel(channel_id, kind, frozenset(events), enabled, f"{channel_id}.example.com",
                                          versions))

    def event(self, customer_id: str, before: StatusPoint, after: StatusPoint, *, at: datetime,
              run_id: str | None = None) -> StatusEvent:
        kind = {(Status.FAILED, Status.SUCCEEDED): EventType.CONNECTION_RESTORED}.get(
            (before.status, after.status),
            EventType.REASON_CHANGED if before.status is Status.FAILED else EventType.CONNECTION_LOST)
        event = StatusEvent(f"e{len(self.log.appended):06d}", kind, customer_id, f"{customer_id}.onmicrosoft.com",
                            before, after, at, run_id)
        self.log.append_many([event])
        record = self.customers.get(customer_id) or Customer(customer_id, f"{customer_id}.onmicrosoft.com",
                                                             AuthMethod.PASSWORD)
        self.customers.customers[customer_id] = replace(
            record, last_verification_status=after.status, last_verification_reason=after.reason,
            hint="Ask for a new password." if after.status is Status.FAILED else None,
            last_verification_message="AADSTS50126: Error validating credentials." if after.reason else None)
        self.history.append(VerificationResult(customer_id, after.status, at, AuthMethod.PASSWORD, after.reason))
        return event

    def bodies(self, channel_id: str) -> list[dict]:
        return [json.loads(s.body) for s in self.transport.sent if s.url.startswith(f"https://{channel_id}.")]


@pytest.fixture
def world() -> World:
    now = [T0]
    parts = dict(log=InMemoryEventLog(), follower=InMemoryAlertFollower(), channels=InMemoryChannelStore(),
                 deliveries=InMemoryDeliveryStore(), customers=InMemoryCustomerStore(),
                 history=InMemoryHistoryStore(), runs=Runs(),
                 secrets=InMemorySecretStore(), transport=ScriptedTransport())
    ctx = AlertContext(events=parts["log"], follower=parts["follower"], channels=parts["channels"],
                       deliveries=parts["deliveries"], customers=parts["customers"], history=parts["history"],
                       runs=parts["runs"],
                       secrets=parts["secrets"], transport=parts["transport"], page_url="https://tas.example.com/",
                       reminder_interval=DAY, clock=lambda: now[0], random=lambda: 0.5)
    return World(ctx=ctx, now=now, **parts)


def test_a_finished_runs_events_make_one_digest_per_enabled_channel_sent_once(world):
    world.channel("ops")
    world.channel("team", ChannelKind.TEAMS)
    world.channel("off", enabled=False)
    world.runs.set("r1", finished=True)
    for name in ("a", "b", "c"):
        world.event(name, OK, BAD, at=T0, run_id="r1")
    report = dispatch(world.ctx)
    assert (report.events_read, report.deliveries_made, report.sent) == (3, 2, 2)
    (body,) = world.bodies("ops")
    assert body["counts"]["connectionLost"] == 3 and [c["customerId"] for c in body["customers"]] == ["a", "b", "c"]
    assert body["customers"][0]["hint"] == "Ask for a new password." and body["runId"] == "r1"
    (card,) = world.bodies("team")
    assert card["type"] == "message" and card["attachments"][0]["content"]["type"] == "AdaptiveCard"
    assert world.bodies("off") == []
    world.at(T0 + timedelta(minutes=1))
    assert dispatch(world.ctx) == type(report)()  # nothing new, nothing due
    assert len(world.transport.sent) == 2 and world.follower.mark == "3"


def test_a_running_runs_events_wait_for_its_end(world):
    world.channel("ops")
    world.runs.set("r1", finished=False)
    world.event("a", OK, BAD, at=T0, run_id="r1")
    assert dispatch(world.ctx).deliveries_made == 0
    assert world.follower.mark is None  # read again next tick: nothing is written per event
    world.event("b", OK, BAD, at=T0 + timedelta(seconds=5), run_id="r1")
    world.runs.set("r1", finished=True)
    world.at(T0 + timedelta(minutes=1))
    assert dispatch(world.ctx).sent == 1
    (body,) = world.bodies("ops")
    assert body["counts"]["connectionLost"] == 2 and world.follower.mark == "2"


def test_changes_outside_runs_are_gathered_for_a_minute(world):
    world.channel("ops")
    world.event("a", OK, BAD, at=T0)
    world.event("b", BAD, OK, at=T0 + timedelta(seconds=40))
    world.at(T0 + timedelta(seconds=50))
    assert dispatch(world.ctx).deliveries_made == 0
    world.at(T0 + timedelta(seconds=61))
    assert dispatch(world.ctx).sent == 1
    (body,) = world.bodies("ops")
    assert (body["counts"]["connectionLost"], body["counts"]["connectionRestored"], body["runId"]) == (1, 1, None)


def test_a_channel_gets_only_the_kinds_it_subscribes_to(world):
    world.channel("lost", events={EventType.CONNECTION_LOST})
    world.channel("back", events={EventType.CONNECTION_RESTORED})
    world.runs.set("r1", finished=True)
    world.event("a", OK, BAD, at=T0, run_id="r1")
    dispatch(world.ctx)
    assert len(world.bodies("lost")) == 1 and world.bodies("back") == []


def test_gathering_again_after_a_crash_keeps_one_delivery_under_one_id(world):
    """A tick that crashed before moving the mark reads the events again, and finds their batch recorded done; one
    that crashed before recording it done builds the same deliveries again."""
    world.channel("ops")
    world.runs.set("r1", finished=True)
    world.event("a", OK, BAD, at=T0, run_id="r1")
    assert gather(world.ctx) == (1, 1)
    world.follower.mark = None  # the mark's write was lost
    assert gather(world.ctx) == (1, 0)
    head = world.follower.heads["run:r1"]
    world.follower.heads["run:r1"] = replace(head, done=False)  # and the batch's "done" too
    world.follower.mark = None
    assert gather(world.ctx) == (1, 1)
    assert len(world.deliveries.deliveries) == 1
    send_due(world.ctx)
    send_due(world.ctx)
    assert len(world.transport.sent) == 1


def test_a_failing_receiver_gets_the_same_delivery_id_until_it_takes_it(world):
    world.channel("ops")
    world.runs.set("r1", finished=True)
    world.event("a", OK, BAD, at=T0, run_id="r1")
    world.transport.outcomes += [SendOutcome(OutcomeKind.SERVER_ERROR, "HTTP 503 from the receiver", 503),
                                 SendOutcome(OutcomeKind.UNREACHABLE, "could not connect to ops.example.com")]
    dispatch(world.ctx)
    (delivery,) = world.deliveries.deliveries.values()
    assert (delivery.state, delivery.attempts, delivery.last_error) == (DeliveryState.PENDING, 1,
                                                                        "HTTP 503 from the receiver")
    assert delivery.next_attempt_at > T0
    assert dispatch(world.ctx).attempts == 0  # not due yet
    world.at(delivery.next_attempt_at)
    dispatch(world.ctx)
    world.at(world.deliveries.deliveries[delivery.delivery_id].next_attempt_at)
    dispatch(world.ctx)
    (delivery,) = world.deliveries.deliveries.values()
    assert (delivery.state, delivery.attempts) == (DeliveryState.SENT, 3)
    assert {s.headers[DELIVERY_ID_HEADER] for s in world.transport.sent} == {delivery.delivery_id}
    assert len(world.transport.sent) == 3


def test_a_refused_delivery_fails_at_once_with_our_words(world):
    world.channel("ops")
    world.runs.set("r1", finished=True)
    world.event("a", OK, BAD, at=T0, run_id="r1")
    world.transport.outcomes.append(SendOutcome(OutcomeKind.REJECTED, "HTTP 404: the receiver refused the message",
                                                404))
    dispatch(world.ctx)
    (delivery,) = world.deliveries.deliveries.values()
    assert (delivery.state, delivery.last_error) == (DeliveryState.FAILED,
                                                     "HTTP 404: the receiver refused the message")


def test_ten_thousand_failures_in_one_run_make_one_message_per_channel(world):
    world.channel("ops")
    world.channel("team", ChannelKind.TEAMS)
    world.runs.set("r1", finished=True)
    for i in range(10_000):
        world.event(f"c{i:05d}", OK, BAD, at=T0, run_id="r1")
    looked_up, get_many = [], world.customers.get_many
    world.customers.get_many = lambda ids: looked_up.extend(ids) or get_many(ids)
    report = dispatch(world.ctx)
    assert (report.events_read, report.deliveries_made, report.sent) == (10_000, 2, 2)
    (body,) = world.bodies("ops")
    assert body["counts"]["connectionLost"] == 10_000
    assert (len(body["customers"]), body["more"]) == (MAX_ENTRIES, 10_000 - MAX_ENTRIES)
    # Only the customers the digests list are read for their hints, once for both channels.
    assert sorted(looked_up) == [c["customerId"] for c in body["customers"]]
    assert all(c["hint"] == "Ask for a new password." for c in body["customers"])


def test_reminders_wait_for_a_run_going_and_ride_its_digest(world):
    _failing_for_a_day(world)
    world.at(T0 + DAY)
    world.runs.set("r2", finished=False, started=T0 + DAY - timedelta(minutes=1))
    listings, list_failures = [], world.customers.list_failures
    world.customers.list_failures = lambda: listings.append(1) or list_failures()
    assert dispatch(world.ctx).deliveries_made == 0 and listings == []  # no failing customer read during the run
    world.event("b", OK, BAD, at=T0 + DAY, run_id="r2")
    world.runs.set("r2", finished=True, started=T0 + DAY - timedelta(minutes=1))
    world.at(T0 + DAY + timedelta(minutes=5))
    assert dispatch(world.ctx).sent == 1
    (body,) = world.bodies("ops")
    assert (body["counts"]["connectionLost"], body["counts"][EntryKind.STILL_FAILING.value]) == (1, 1)
    assert [(c["customerId"], c["type"]) for c in body["customers"]] == [("b", "connectionLost"),
                                                                          ("a", "stillFailing")]


def _lost_in_a_run(world):
    world.channel("ops")
    world.runs.set("r1", finished=True)
    world.event("a", OK, BAD, at=T0, run_id="r1")


def _failing_for_a_day(world):
    _lost_in_a_run(world)
    dispatch(world.ctx)
    world.transport.sent.clear()


def test_a_customer_still_failing_is_reminded_once_a_day_per_channel(world):
    _failing_for_a_day(world)
    world.at(T0 + timedelta(hours=23))
    assert dispatch(world.ctx).deliveries_made == 0  # less than a day
    world.at(T0 + DAY)
    assert dispatch(world.ctx).sent == 1
    (body,) = world.bodies("ops")
    assert body["counts"][EntryKind.STILL_FAILING.value] == 1 and body["customers"][0]["customerId"] == "a"
    assert body["customers"][0]["hint"] == "Ask for a new password."
    world.at(T0 + DAY + timedelta(hours=1))
    world.runs.set("r2", finished=True)
    world.event("b", OK, BAD, at=world.now[0], run_id="r2")
    dispatch(world.ctx)
    (_, second) = world.bodies("ops")
    assert second["counts"][EntryKind.STILL_FAILING.value] == 0 and second["counts"]["connectionLost"] == 1


def test_reminders_a_batch_rebuilt_after_a_crash_did_not_carry_go_out_in_a_digest_of_their_own(world, monkeypatch):
    """The run's delivery was kept, without reminders, by a gathering that crashed before recording its batch done;
    rebuilt a day later it would carry them, but the delivery kept is the first one: the period must not start as
    if they went out."""
    _failing_for_a_day(world)
    world.at(T0 + timedelta(hours=22))  # "a" has not failed for a day yet: nothing to remind
    world.runs.set("r2", finished=True)
    world.event("b", OK, BAD, at=world.now[0], run_id="r2")
    record = world.follower.put_batch_head

    def crash_before_done(previous, head):
        if head.done:
            raise ConnectionError("the host went away")
        return record(previous, head)

    monkeypatch.setattr(world.follower, "put_batch_head", crash_before_done)
    with pytest.raises(ConnectionError):
        gather(world.ctx)
    monkeypatch.undo()
    world.at(T0 + DAY)
    gather(world.ctx)
    send_due(world.ctx)
    bodies = world.bodies("ops")
    assert [(b["counts"]["connectionLost"], b["counts"][EntryKind.STILL_FAILING.value]) for b in bodies] == [
        (1, 0), (0, 1)]
    assert [c["customerId"] for c in bodies[1]["customers"]] == ["a"]


def test_reminders_that_ride_a_runs_digest_start_the_period_then_even_with_a_failure_still_waiting(world):
    """Customer "c" failed two hours before the reminders went out: its reminder is due a day after that, but "a"
    was just reminded, so the period starts now (not when "c" failed, which would remind "a" again within the
    interval)."""
    _failing_for_a_day(world)
    world.runs.set("r2", finished=True)
    world.event("c", OK, BAD, at=T0 + DAY - timedelta(hours=2), run_id="r2")
    world.at(T0 + DAY - timedelta(hours=2) + timedelta(minutes=1))
    dispatch(world.ctx)
    world.at(T0 + DAY)
    world.runs.set("r3", finished=True)
    world.event("b", OK, BAD, at=T0 + DAY, run_id="r3")
    dispatch(world.ctx)
    body = world.bodies("ops")[-1]
    assert [(c["customerId"], c["type"]) for c in body["customers"]] == [("b", "connectionLost"),
                                                                          ("a", "stillFailing")]
    assert world.channels.get("ops").reminded_at == T0 + DAY


def test_a_channel_that_hears_of_no_lost_connection_is_never_looked_up_for_reminders(world):
    world.channel("back", events={EventType.CONNECTION_RESTORED})
    world.runs.set("r1", finished=True)
    world.event("a", OK, BAD, at=T0, run_id="r1")
    listings, list_failures = [], world.customers.list_failures
    world.customers.list_failures = lambda: listings.append(1) or list_failures()
    for minutes in range(3):
        world.at(T0 + DAY + timedelta(minutes=minutes))
        dispatch(world.ctx)
    assert listings == [] and world.transport.sent == []


def test_an_acknowledged_failure_is_not_reminded_until_its_state_changes(world):
    _failing_for_a_day(world)
    world.follower.acknowledge("a", Acknowledgement(T0 + timedelta(hours=1), BAD))
    world.at(T0 + DAY)
    assert dispatch(world.ctx).deliveries_made == 0
    other = StatusPoint(Status.FAILED, Reason.MFA_REQUIRED)
    world.event("a", BAD, other, at=T0 + DAY, run_id="r1")
    world.at(T0 + 2 * DAY)
    dispatch(world.ctx)
    reminders = [b for b in world.bodies("ops") if b["counts"][EntryKind.STILL_FAILING.value]]
    assert len(reminders) == 1 and reminders[0]["customers"][0]["reason"] == "mfaRequired"


def test_no_reminders_when_the_interval_is_zero(world):
    _failing_for_a_day(world)
    object.__setattr__(world.ctx, "reminder_interval", timedelta(0))
    world.at(T0 + 3 * DAY)
    assert dispatch(world.ctx).deliveries_made == 0


def test_a_restored_customer_is_no_longer_reminded(world):
    _failing_for_a_day(world)
    world.event("a", BAD, OK, at=T0 + timedelta(hours=2), run_id="r1")
    world.at(T0 + DAY)
    dispatch(world.ctx)
    assert [b["counts"][EntryKind.STILL_FAILING.value] for b in world.bodies("ops")] == [0]


def test_a_deleted_channels_pending_delivery_fails_and_names_why(world):
    _lost_in_a_run(world)
    gather(world.ctx)
    world.channels.channels.clear()
    send_due(world.ctx)
    (delivery,) = world.deliveries.deliveries.values()
    assert (delivery.state, delivery.last_error) == (DeliveryState.FAILED, "the channel was deleted")
    assert world.transport.sent == []


def test_the_work_that_ends_a_run_sends_its_digest_and_nothing_there_fails_the_work(world):
    from shared.domain.work import Chunk, encode
    from shared.usecases.alert_dispatch import dispatch_after_work

    world.channel("ops")
    world.runs.set("r1", finished=False)
    world.event("a", OK, BAD, at=T0, run_id="r1")
    message = encode(Chunk("r1", ("a",)))
    assert dispatch_after_work(world.ctx, message) is None and world.transport.sent == []
    world.runs.set("r1", finished=True)
    assert dispatch_after_work(world.ctx, message).sent == 1
    assert dispatch_after_work(world.ctx, "not work") is None

    class Broken:
        def get(self, run_id):
            raise OSError("storage down")

    object.__setattr__(world.ctx, "runs", Broken())
    assert dispatch_after_work(world.ctx, message) is None


def test_a_failure_that_begins_mid_period_is_reminded_an_interval_after_it_began(world):
    world.channel("ops")
    dispatch(world.ctx)  # no one failing: the channel's period starts now
    world.runs.set("r1", finished=True)
    world.at(T0 + timedelta(hours=6))
    world.event("a", OK, BAD, at=world.now[0], run_id="r1")
    dispatch(world.ctx)
    world.at(T0 + DAY)  # the period is over, but "a" has failed for 18 hours only
    assert dispatch(world.ctx).deliveries_made == 0
    world.at(T0 + DAY + timedelta(hours=5))
    assert dispatch(world.ctx).deliveries_made == 0
    world.at(T0 + DAY + timedelta(hours=6))
    assert dispatch(world.ctx).deliveries_made == 1
    assert world.bodies("ops")[-1]["counts"][EntryKind.STILL_FAILING.value] == 1


def test_reading_stops_at_a_page_with_a_run_still_running(world, monkeypatch):
    import shared.usecases.alert_dispatch as alert_dispatch

    monkeypatch.setattr(alert_dispatch, "READ_TOP", 2)
    world.channel("ops")
    world.runs.set("r1", finished=False)
    world.event("a", OK, BAD, at=T0, run_id="r1")
    for name in ("b", "c", "d", "e"):
        world.event(name, OK, BAD, at=T0)
    reads = []
    original = world.log.read_after
    monkeypatch.setattr(world.log, "read_after", lambda after, *, top: reads.append(after) or original(after, top=top))
    world.at(T0 + timedelta(minutes=5))
    assert dispatch(world.ctx).events_read == 2 and reads == [0]
    world.runs.set("r1", finished=True)
    reads.clear()
    assert dispatch(world.ctx).sent == 2  # the run's digest, and the changes' (they waited for the run's end)
    assert reads == [0, 2, 4] and world.follower.mark == "5"


def test_the_reminder_check_reads_no_history_but_of_acknowledged_customers_nor_whole_records(world, monkeypatch):
    world.channel("ops")
    world.runs.set("r1", finished=True)
    for i in range(100):
        world.event(f"c{i:03d}", OK, BAD, at=T0, run_id="r1")
    dispatch(world.ctx)
    world.follower.acknowledge("c007", Acknowledgement(T0 + timedelta(hours=1), BAD))
    reads = []
    original = world.history.list_latest
    monkeypatch.setattr(world.history, "list_latest",
                        lambda customer_id, *, limit: reads.append(customer_id) or original(customer_id, limit=limit))

    def whole_records(*args, **kwargs):
        raise AssertionError("the reminder look-up reads whole records")

    monkeypatch.setattr(world.customers, "list", whole_records)  # list_failures: a projection of five columns
    monkeypatch.setattr(world.log, "list_events", whole_records)  # changed_since: customers and times only
    world.at(T0 + DAY)
    dispatch(world.ctx)
    assert reads == ["c007"]
    (_, reminder) = world.bodies("ops")
    assert reminder["counts"][EntryKind.STILL_FAILING.value] == 99


def test_two_dispatches_in_one_process_gather_one_after_the_other_and_the_second_reads_only_whats_new(world):
    import threading

    world.channel("ops")
    world.runs.set("r1", finished=True)
    for i in range(30):
        world.event(f"c{i:02d}", OK, BAD, at=T0, run_id="r1")
    reports, second = {}, threading.Thread(target=lambda: reports.setdefault("second", dispatch(world.ctx)))
    read_after = world.log.read_after

    def first_read(after, *, top):
        if not second.is_alive() and "second" not in reports:
            second.start()  # the other dispatch starts while this one is gathering...
            second.join(timeout=2)  # ...and waits for it: it has not read anything meanwhile
            assert second.is_alive()
        return read_after(after, top=top)

    world.log.read_after = first_read
    reports["first"] = dispatch(world.ctx)
    second.join()
    assert (reports["first"].events_read, reports["second"].events_read) == (30, 0)
    assert len(world.bodies("ops")) == 1
