"""TableEventLog against a real Azurite: newest first with filters and paging, appends idempotent by eventId, and
`read_since` in the order relayed, never skipping an event relayed late, however many relays append at once."""
from __future__ import annotations

import json
import threading
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.table_events import EVENTS_PER_APPEND, TableEventLog
from shared.domain.alerts.events import EventFilter, EventType, StatusEvent, StatusPoint
from shared.domain.errors import InputError
from shared.domain.expiry import Expiry, ExpiryKind, ExpirySource
from shared.domain.models import Status
from shared.domain.reasons import Reason

pytestmark = pytest.mark.integration

START = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)
FAILED = StatusPoint(Status.FAILED, Reason.INVALID_CREDENTIALS)
SUCCEEDED = StatusPoint(Status.SUCCEEDED)


@pytest.fixture
def table_name() -> str:
    return f"Events{uuid.uuid4().hex[:12]}"


@pytest.fixture
def log(tables, table_name) -> TableEventLog:
    return TableEventLog(tables, table=table_name)


def lost(customer: str, at: datetime, *, run_id: str | None = "run-1") -> StatusEvent:
    return StatusEvent(event_id=uuid.uuid4().hex, type=EventType.CONNECTION_LOST, customer_id=customer,
                       tenant_id="contoso.onmicrosoft.com", before=SUCCEEDED, after=FAILED, at=at, run_id=run_id)


def restored(customer: str, at: datetime) -> StatusEvent:
    return StatusEvent(event_id=uuid.uuid4().hex, type=EventType.CONNECTION_RESTORED, customer_id=customer,
                       tenant_id="a0000001-0000-4000-8000-000000000001", before=FAILED, after=SUCCEEDED, at=at)


def listed(log: TableEventLog, flt: EventFilter | None = None, *, top: int = 1000) -> list[StatusEvent]:
    """Every event of a filter, page after page."""
    flt, found, after = flt or EventFilter(), [], None
    while True:
        listing = log.list_events(flt, top=top, after=after)
        found += listing.events
        if listing.next is None:
            return found
        after = listing.next


def everything_since(log: TableEventLog, mark: str | None = None, *, top: int = 7) -> tuple[list[StatusEvent], str]:
    found = []
    while True:
        events, mark = log.read_since(mark, top=top)
        if not events:
            return found, mark
        found += events


def test_events_come_back_newest_first_as_they_were_appended(log):
    events = [lost(f"c{n}", START + timedelta(seconds=n, microseconds=n)) for n in (5, 1, 3, 2, 4)]
    log.append_many(events[:2])
    log.append_many(events[2:])
    assert listed(log) == sorted(events, key=lambda e: e.at, reverse=True)


def test_every_field_comes_back_as_it_went_in(log):
    event = restored("fabrikam", START)
    outside = lost("contoso", START - timedelta(minutes=1), run_id=None)
    log.append_many([event, outside])
    assert listed(log) == [event, outside]
    assert listed(log)[1].run_id is None and listed(log)[0].before.reason is Reason.INVALID_CREDENTIALS


def test_a_connection_expiring_event_keeps_its_expiry_and_band(log):
    ok = StatusPoint(Status.SUCCEEDED)
    ends = Expiry(ExpiryKind.GDAP_RELATIONSHIP, ExpirySource.GRAPH, START + timedelta(days=12, microseconds=5))
    expiring = StatusEvent(event_id=uuid.uuid4().hex, type=EventType.CONNECTION_EXPIRING, customer_id="contoso",
                           tenant_id="contoso.onmicrosoft.com", before=ok, after=ok, at=START, run_id="run-1",
                           expiry=ends, within_days=14)
    log.append_many([expiring, lost("fabrikam", START - timedelta(seconds=1))])
    assert listed(log)[0] == expiring and everything_since(log)[0][0] == expiring
    assert (listed(log)[1].expiry, listed(log)[1].within_days) == (None, None)


def test_an_expiring_event_stored_before_events_named_their_expiry_reads_with_neither(log, tables, table_name):
    ok = {"eventId": "old-1", "type": "connectionExpiring", "customerId": "contoso", "tenantId": "t",
          "fromStatus": "succeeded", "toStatus": "succeeded", "at": START.isoformat()}
    table = tables.get_table_client(table_name)
    log.append_many([lost("fabrikam", START - timedelta(seconds=1))])  # makes the table and the counter
    table.create_entity({"PartitionKey": "log", "RowKey": "t0-old-1", "type": "connectionExpiring",
                         "customerId": "contoso", "event": json.dumps(ok)})
    table.create_entity({"PartitionKey": "log", "RowKey": "s000000000002", "events": json.dumps([ok])})
    old = listed(log, EventFilter(type=EventType.CONNECTION_EXPIRING))
    assert [(e.event_id, e.expiry, e.within_days) for e in old] == [("old-1", None, None)]
    assert [(e.event_id, e.expiry) for e in everything_since(log)[0]][1:] == [("old-1", None)]


def test_listings_filter_by_type_and_customer_and_page_through_every_match_once(log):
    events = [(lost if n % 3 else restored)(f"c{n % 4}", START + timedelta(seconds=n)) for n in range(40)]
    log.append_many(events)
    for flt in (EventFilter(), EventFilter(type=EventType.CONNECTION_LOST), EventFilter(customer_id="c1"),
                EventFilter(type=EventType.CONNECTION_RESTORED, customer_id="c0")):
        expected = [e for e in sorted(events, key=lambda e: e.at, reverse=True)
                    if (flt.type is None or e.type is flt.type)
                    and (flt.customer_id is None or e.customer_id == flt.customer_id)]
        assert expected and listed(log, flt, top=3) == expected


def test_a_cursor_the_log_did_not_make_is_the_clients_bad_token(log):
    log.append_many([lost("c1", START), lost("c2", START)])
    assert log.list_events(EventFilter(), top=1, after=None).next is not None
    for cursor in ("nonsense", "e1.", "e1.WyJ4Il0", "e1.!!", "e1." + "A" * 2000):
        with pytest.raises(InputError) as caught:
            log.list_events(EventFilter(), top=1, after=cursor)
        assert caught.value.code == "invalidContinuationToken"


def test_appending_again_keeps_each_event_once(log):
    events = [lost(f"c{n}", START + timedelta(seconds=n)) for n in range(5)]
    log.append_many(events[:3])
    log.append_many(events)  # a relay run again after a crash, with one more group
    log.append_many([*events, events[0]])
    assert listed(log) == sorted(events, key=lambda e: e.at, reverse=True)
    assert everything_since(log)[0] == events


def test_more_events_than_one_transaction_holds_are_all_appended_in_order(log):
    events = [lost(f"c{n:03d}", START + timedelta(seconds=n)) for n in range(2 * EVENTS_PER_APPEND + 3)]
    log.append_many(events)
    assert everything_since(log, top=1000)[0] == events


def test_a_follower_reads_in_the_order_relayed_and_an_event_relayed_late_still_reaches_it(log):
    newer, older = lost("c1", START + timedelta(minutes=5)), lost("c2", START)
    log.append_many([newer])
    seen, mark = everything_since(log)
    assert seen == [newer]
    log.append_many([older])  # relayed after the newer one, though it happened before
    assert log.read_since(mark, top=10) == ([older], log.read_since(mark, top=10)[1])
    assert everything_since(log, mark)[0] == [older]
    assert log.read_since(everything_since(log, mark)[1], top=10)[0] == []


def test_the_customers_changed_since_a_moment_come_with_their_latest_change_of_the_types_asked(log):
    expiring = StatusEvent(uuid.uuid4().hex, EventType.CONNECTION_EXPIRING, "c3", "contoso.com",
                           StatusPoint(Status.SUCCEEDED), StatusPoint(Status.SUCCEEDED), START + timedelta(minutes=9))
    log.append_many([lost("c1", START), lost("c2", START + timedelta(minutes=1, microseconds=7)),
                     restored("c2", START + timedelta(minutes=3)), lost("c1", START + timedelta(minutes=2)),
                     expiring])
    changes = {EventType.CONNECTION_LOST, EventType.CONNECTION_RESTORED}
    assert log.changed_since(START, changes) == {"c1": START + timedelta(minutes=2),
                                                 "c2": START + timedelta(minutes=3)}  # not at START itself
    assert log.changed_since(START - timedelta(microseconds=1), {EventType.CONNECTION_LOST}) == {
        "c1": START + timedelta(minutes=2), "c2": START + timedelta(minutes=1, microseconds=7)}
    assert log.changed_since(START + timedelta(minutes=3), changes) == {}
    assert log.changed_since(START, ()) == {}


def test_each_event_read_comes_with_its_number_the_same_for_every_reader(log, tables, table_name):
    events = [lost(f"c{n}", START + timedelta(seconds=n)) for n in range(30)]  # more than one numbered row
    log.append_many(events[:27])
    log.append_many(events[27:])
    other = TableEventLog(tables, table=table_name)
    assert [(e.position, e.event) for e in other.read_after(0, top=100)] == list(enumerate(events, start=1))
    assert [e.position for e in log.read_after(24, top=4)] == [25, 26, 27, 28]
    assert log.read_since(None, top=28)[1] == "000000000028" and log.read_after(30, top=5) == []


def test_another_process_appending_meanwhile_costs_a_retry_not_an_event(log, tables, table_name):
    other = TableEventLog(tables, table=table_name)
    first, second, third = (lost(f"c{n}", START + timedelta(seconds=n)) for n in range(3))
    log.append_many([first])  # this process now knows the counter
    other.append_many([second])  # and another moved it
    log.append_many([third])
    assert everything_since(log)[0] == [first, second, third]


def test_nothing_new_gives_back_the_same_mark(log):
    assert log.read_since(None, top=5) == ([], None)
    log.append_many([lost("c1", START)])
    _, mark = everything_since(log)
    assert log.read_since(mark, top=5) == ([], mark)


def test_a_follower_reading_while_many_relays_append_sees_every_event_once(log, tables, table_name):
    """Each relay with a log of its own, as in processes of their own: they race for the counter's ETag."""
    relays, groups, size = 6, 6, 3
    made = [[[lost(f"r{r}g{g}e{e}", START + timedelta(seconds=r * 100 + g * 10 + e)) for e in range(size)]
             for g in range(groups)] for r in range(relays)]
    done = threading.Event()
    seen: list[StatusEvent] = []
    errors: list[BaseException] = []

    def follow() -> None:
        mark = None
        try:
            while True:
                finished = done.is_set()  # read before: a last pass after every append is seen
                events, mark = log.read_since(mark, top=4)
                seen.extend(events)
                if finished and not events:
                    return
        except BaseException as err:  # noqa: BLE001 - reported by the test below
            errors.append(err)

    def relay(groups_of_one) -> None:
        own = TableEventLog(tables, table=table_name)
        try:
            for group in groups_of_one:
                own.append_many(group)
        except BaseException as err:  # noqa: BLE001
            errors.append(err)

    follower = threading.Thread(target=follow)
    follower.start()
    appenders = [threading.Thread(target=relay, args=(made[r],)) for r in range(relays)]
    for thread in appenders:
        thread.start()
    for thread in appenders:
        thread.join()
    done.set()
    follower.join()
    assert errors == []
    every = [event for relay_groups in made for group in relay_groups for event in group]
    assert sorted(e.event_id for e in seen) == sorted(e.event_id for e in every)  # each once, none skipped
    assert everything_since(log)[0] == seen  # and in the one order every follower sees
