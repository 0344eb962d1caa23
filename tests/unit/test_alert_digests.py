"""Digests: events gathered per run (or per minute outside runs), one message per channel, counts by kind, at most
50 customers and "and N more"."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

from shared.domain.alerts.batches import BatchHead, batch_of, next_head
from shared.domain.alerts.channels import AlertChannel, ChannelKind
from shared.domain.alerts.digests import (
    MAX_ENTRIES,
    Batch,
    EntryKind,
    build_digest,
    channel_test_digest,
    event_entry,
    reminder_entry,
)
from shared.domain.alerts.events import EventType, LoggedEvent, StatusEvent, StatusPoint
from shared.domain.alerts.messages import outgoing_message
from shared.domain.alerts.reminders import FailingCustomer, FailureRecord
from shared.domain.models import Status
from shared.domain.reasons import Reason

T0 = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
OK = StatusPoint(Status.SUCCEEDED)
DAY = timedelta(days=1)
BAD = StatusPoint(Status.FAILED, Reason.INVALID_CREDENTIALS)
WORSE = StatusPoint(Status.FAILED, Reason.ACCOUNT_LOCKED)
EVERYTHING = frozenset(EventType)


def _event(n: int, *, kind: EventType = EventType.CONNECTION_LOST, run_id: str | None = "run-1",
           at: datetime = T0, customer: str | None = None) -> StatusEvent:
    before, after = {EventType.CONNECTION_LOST: (OK, BAD), EventType.CONNECTION_RESTORED: (BAD, OK),
                     EventType.REASON_CHANGED: (BAD, WORSE)}[kind]
    return StatusEvent(event_id=f"e-{n:05d}", type=kind, customer_id=customer or f"customer-{n:05d}",
                       tenant_id=f"t-{n}", before=before, after=after, at=at, run_id=run_id)


def _channel(channel_id: str = "ops", events: frozenset[EventType] = EVERYTHING, **kw) -> AlertChannel:
    return AlertChannel(channel_id, ChannelKind.WEBHOOK, events, **kw)


def test_counts_by_kind_then_the_most_urgent_lines_first():
    entries = [event_entry(_event(1, kind=EventType.CONNECTION_RESTORED)),
               event_entry(_event(2, kind=EventType.REASON_CHANGED), hint="unlock it"),
               event_entry(_event(3), hint="check the password", message="AADSTS50126: bad"),
               reminder_entry(FailingCustomer(FailureRecord("customer-00000", "t-0", BAD.reason), T0 - 2 * DAY))]
    digest = build_digest(_channel(), Batch("run:run-1", "run-1", ()), entries, created_at=T0)
    assert digest is not None
    assert digest.counts == {EntryKind.CONNECTION_LOST: 1, EntryKind.REASON_CHANGED: 1, EntryKind.STILL_FAILING: 1,
                             EntryKind.CONNECTION_EXPIRING: 0, EntryKind.CONNECTION_RESTORED: 1}
    assert [(e.kind, e.customer_id) for e in digest.entries] == [
        (EntryKind.CONNECTION_LOST, "customer-00003"), (EntryKind.REASON_CHANGED, "customer-00002"),
        (EntryKind.STILL_FAILING, "customer-00000"), (EntryKind.CONNECTION_RESTORED, "customer-00001")]
    lost = digest.entries[0]
    assert (lost.reason, lost.previous_reason, lost.hint, lost.message, lost.event_id) == (
        Reason.INVALID_CREDENTIALS, None, "check the password", "AADSTS50126: bad", "e-00003")
    assert digest.entries[1].previous_reason is Reason.INVALID_CREDENTIALS
    assert digest.more == 0 and digest.run_id == "run-1" and digest.batch_key == "run:run-1"


def test_at_most_fifty_lines_and_how_many_more():
    entries = [event_entry(_event(n)) for n in range(MAX_ENTRIES + 7)]
    digest = build_digest(_channel(), Batch("run:run-1", "run-1", ()), entries[::-1], created_at=T0)
    assert len(digest.entries) == MAX_ENTRIES == 50
    assert digest.more == 7
    assert digest.counts[EntryKind.CONNECTION_LOST] == 57
    assert [e.customer_id for e in digest.entries] == [f"customer-{n:05d}" for n in range(50)]


def test_exactly_fifty_lines_need_no_more():
    entries = [event_entry(_event(n)) for n in range(MAX_ENTRIES)]
    assert build_digest(_channel(), Batch("k", None, ()), entries, created_at=T0).more == 0


def test_a_channel_gets_only_the_kinds_it_subscribes_to_and_reminders_with_connection_lost():
    entries = [event_entry(_event(1)), event_entry(_event(2, kind=EventType.CONNECTION_RESTORED)),
               reminder_entry(FailingCustomer(FailureRecord("c-9", "t", BAD.reason), T0 - timedelta(days=2)))]
    batch = Batch("run:run-1", "run-1", ())
    restored_only = build_digest(_channel(events=frozenset({EventType.CONNECTION_RESTORED})), batch, entries,
                                 created_at=T0)
    assert [e.kind for e in restored_only.entries] == [EntryKind.CONNECTION_RESTORED]
    assert restored_only.counts[EntryKind.CONNECTION_LOST] == 0
    lost_only = build_digest(_channel(events=frozenset({EventType.CONNECTION_LOST})), batch, entries, created_at=T0)
    assert [e.kind for e in lost_only.entries] == [EntryKind.CONNECTION_LOST, EntryKind.STILL_FAILING]


def test_nothing_to_say_or_a_disabled_channel_makes_no_digest():
    batch = Batch("run:run-1", "run-1", ())
    assert build_digest(_channel(), batch, [], created_at=T0) is None
    assert build_digest(_channel(events=frozenset({EventType.CONNECTION_EXPIRING})), batch,
                        [event_entry(_event(1))], created_at=T0) is None
    assert build_digest(_channel(enabled=False), batch, [event_entry(_event(1))], created_at=T0) is None


def test_ten_thousand_failures_in_one_run_give_one_message_per_channel():
    events = [_event(n, at=T0 + timedelta(milliseconds=n)) for n in range(10_000)]
    channels = [_channel("ops"), _channel("noc"), AlertChannel("team", ChannelKind.TEAMS, EVERYTHING)]
    logged = [LoggedEvent(n + 1, e) for n, e in enumerate(events)]
    head = next_head("run:run-1", None, logged, now=T0 + timedelta(hours=1), finished_runs={"run-1"})
    batches = [batch_of(head, logged)]
    assert head == BatchHead("run:run-1", 1, 0, 10_000) and len(batches[0].events) == 10_000
    entries = [event_entry(e, hint="check the password") for e in batches[0].events]
    messages = []
    for channel in channels:
        digest = build_digest(channel, batches[0], entries, created_at=T0)
        assert (len(digest.entries), digest.more, digest.counts[EntryKind.CONNECTION_LOST]) == (50, 9_950, 10_000)
        messages.append(outgoing_message(channel.kind, digest, delivery_id=f"d-{channel.channel_id}",
                                         page_url="https://status.example.com/", signing_secret="whsec_x",
                                         timestamp=1_700_000_000))
    assert len(messages) == len(channels) == 3
    ops, noc, team = (json.loads(m.body) for m in messages)
    assert (len(ops["customers"]), ops["more"], ops["counts"]["connectionLost"]) == (50, 9_950, 10_000) == (
        len(noc["customers"]), noc["more"], noc["counts"]["connectionLost"])
    card = team["attachments"][0]["content"]
    listed = sum(element["type"] == "Container" for element in card["body"])
    assert card["body"][-1]["text"] == f"and {10_000 - listed} more on the status page"


def test_the_test_message_lists_no_one():
    digest = channel_test_digest("ops", test_id="x1", created_at=T0)
    assert digest.test and digest.entries == () and set(digest.counts.values()) == {0}
    assert digest.batch_key == "test:x1"
