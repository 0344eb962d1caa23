"""The outbox over a real Azurite: status events are written in the same entity-group transaction as the record
that changes (a failed transaction writes neither), live in rows no listing, count or recount reads, and the relay
copies them to the Events table once, however often it runs; verification over the real stores does all of it."""
from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.table_customers import CUSTOMER_PARTITION, OUTBOX_PREFIX, OUTBOX_ROW_EVENTS, TableCustomerStore
from shared.adapters.table_events import TableEventLog
from shared.domain.alerts.events import EventFilter, EventType, StatusEvent, StatusPoint
from shared.domain.errors import Conflict
from shared.domain.inputs import CustomerInput
from shared.domain.models import AuthMethod, Customer, CustomerFilter, Status
from shared.domain.reasons import Reason
from shared.domain.rules import RESULTS_PER_WRITE
from shared.domain.verification import TokenAnswer, VerificationResult
from shared.usecases.customers import put_customer
from shared.usecases.events import RELAY_GRACE, event_of_result, relay, relay_left_behind
from shared.usecases.verify import verify_customer
from tests.support.fakes import fake_services

pytestmark = pytest.mark.integration

T0 = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


@pytest.fixture
def store(tables) -> TableCustomerStore:
    return TableCustomerStore(tables, table=f"Tenants{uuid.uuid4().hex[:12]}")


@pytest.fixture
def log(tables) -> TableEventLog:
    return TableEventLog(tables, table=f"Events{uuid.uuid4().hex[:12]}")


def succeeded(store: TableCustomerStore, customer_id: str) -> Customer:
    created = store.create(Customer(customer_id=customer_id, tenant_id=TENANT,
                                    authentication_method=AuthMethod.APPLICATION, application_id=APP))
    return store.replace(created, created.with_result(result(customer_id, Status.SUCCEEDED)))


def result(customer_id: str, status: Status, at: datetime = T0) -> VerificationResult:
    failed = status is Status.FAILED
    return VerificationResult(customer_id=customer_id, status=status, verified_at=at,
                              method=AuthMethod.APPLICATION, reason=Reason.CLIENT_SECRET_EXPIRED if failed else None)


def lost(read: Customer, run_id: str | None = None) -> tuple[Customer, list[StatusEvent]]:
    """`read` turned failed, and the event that makes."""
    outcome = result(read.customer_id, Status.FAILED, T0 + timedelta(minutes=1))
    event = event_of_result(read, outcome, run_id=run_id)
    assert event is not None and event.type is EventType.CONNECTION_LOST
    return read.with_result(outcome), [event]


def outbox_rows(tables, store: TableCustomerStore) -> list:
    table = tables.get_table_client(store._name)
    return list(table.query_entities("PartitionKey eq @pk and RowKey ge @first and RowKey lt @end", parameters={
        "pk": CUSTOMER_PARTITION, "first": OUTBOX_PREFIX, "end": OUTBOX_PREFIX + "~"}))


def claim_all(store: TableCustomerStore) -> list[tuple[StatusEvent, ...]]:
    return store.claim_unrelayed(written_before=datetime.now(UTC) + timedelta(seconds=5), top=100)


def test_a_record_and_its_event_are_written_together_and_no_listing_or_count_reads_the_outbox(store, tables):
    read = succeeded(store, "c1")
    changed, events = lost(read)
    store.replace(read, changed, events=events)
    (row,) = outbox_rows(tables, store)
    assert row["RowKey"] == OUTBOX_PREFIX + events[0].event_id
    assert store.get("c1").last_verification_status is Status.FAILED
    assert [c.customer_id for c in store.list(CustomerFilter(), top=1000, after=None).customers] == ["c1"]
    assert store.list_ids(top=1000, after=None)[0] == ["c1"]
    assert store.get_many(["c1"]).keys() == {"c1"}
    counts = {Status.NOT_VERIFIED: 0, Status.SUCCEEDED: 0, Status.FAILED: 1}
    assert store.get_status_counts() == counts and store.recount_status_counts() == counts
    assert claim_all(store) == [tuple(events)]


def test_a_write_that_fails_writes_neither_the_record_nor_its_event(store, tables):
    read = succeeded(store, "c1")
    store.replace(read, dataclasses.replace(read, hint="written meanwhile"))  # read is stale now
    changed, events = lost(read)
    with pytest.raises(Conflict):
        store.replace(read, changed, events=events)
    assert outbox_rows(tables, store) == [] and store.get("c1").last_verification_status is Status.SUCCEEDED


def test_a_group_that_fails_writes_no_record_and_no_event(store, tables):
    reads = [succeeded(store, f"c{n}") for n in range(3)]
    store.replace(reads[1], dataclasses.replace(reads[1], hint="written meanwhile"))
    changes, events = [], []
    for read in reads:
        changed, made = lost(read, "run-1")
        changes.append((read, changed))
        events += made
    with pytest.raises(Conflict):
        store.replace_many(changes, events=events)
    assert outbox_rows(tables, store) == []
    assert {c.last_verification_status for c in store.get_many(["c0", "c1", "c2"]).values()} == {Status.SUCCEEDED}


def test_the_largest_group_with_an_event_for_every_customer_is_one_write(store, tables):
    reads = [succeeded(store, f"c{n:02d}") for n in range(RESULTS_PER_WRITE)]
    changes, events, results = [], [], []
    for read in reads:
        changed, made = lost(read, "run-1")
        changes.append((read, changed))
        events += made * 3  # as many events as a record with expiry warnings makes: still one transaction
        results.append(result(read.customer_id, Status.FAILED, T0 + timedelta(minutes=1)))
    events = [dataclasses.replace(e, event_id=uuid.uuid4().hex) for e in events]
    saved = store.replace_many(changes, events=events, results=results)
    assert [c.customer_id for c in saved] == [r.customer_id for r in reads]
    groups = claim_all(store)
    assert sorted(len(group) for group in groups) == [OUTBOX_ROW_EVENTS] * (3 * RESULTS_PER_WRITE // OUTBOX_ROW_EVENTS)
    assert sorted(e.event_id for group in groups for e in group) == sorted(e.event_id for e in events)
    assert store.get_status_counts()[Status.FAILED] == RESULTS_PER_WRITE
    assert all(store.list_latest(r.customer_id, limit=20) == [r] for r in results)


def test_a_claimed_group_is_not_claimed_again_and_a_relayed_one_is_gone(store, tables):
    read = succeeded(store, "c1")
    changed, events = lost(read)
    store.replace(read, changed, events=events)
    assert store.claim_unrelayed(written_before=datetime.now(UTC) - timedelta(minutes=1), top=10) == []  # too new
    assert claim_all(store) == [tuple(events)]
    assert store.claim_unrelayed(written_before=datetime.now(UTC) - timedelta(seconds=2), top=10) == []  # claimed
    store.forget_relayed([events])
    store.forget_relayed([events])  # idempotent
    assert outbox_rows(tables, store) == [] and claim_all(store) == []


def test_a_relay_run_again_keeps_every_event_once(store, log, tables):
    for n in range(3):
        read = succeeded(store, f"c{n}")
        changed, events = lost(read)
        store.replace(read, changed, events=events)
    later = datetime.now(UTC) + RELAY_GRACE + timedelta(seconds=1)
    log.append_many([event for group in claim_all(store) for event in group])  # a relay that died before clearing
    assert relay_left_behind(store, log, now=later + RELAY_GRACE * 3) == 3
    assert relay_left_behind(store, log, now=later + RELAY_GRACE * 6) == 0
    assert sorted(e.customer_id for e in log.list_events(EventFilter(), top=100, after=None).events) == [
        "c0", "c1", "c2"]
    assert outbox_rows(tables, store) == []


def test_the_writes_of_a_chunk_are_relayed_in_one_append_and_every_row_of_theirs_is_cleared(store, log, tables):
    writes = []
    for n in range(3):  # three group writes, the last with two rows (each of its customers with two events)
        reads = [succeeded(store, f"w{n}c{m:02d}") for m in range(OUTBOX_ROW_EVENTS // 2 + 1 if n == 2 else 2)]
        changes, events = [], []
        for read in reads:
            changed, made = lost(read, "run-1")
            changes.append((read, changed))
            events += made if n < 2 else [*made, dataclasses.replace(made[0], event_id=uuid.uuid4().hex)]
        store.replace_many(changes, events=events)
        writes.append(events)
    assert len(outbox_rows(tables, store)) == 4
    assert relay(store, log, writes) is True
    assert outbox_rows(tables, store) == []
    relayed, _ = log.read_since(None, top=1000)
    assert [e.event_id for e in relayed] == [e.event_id for write in writes for e in write]


def test_verification_over_the_real_stores_writes_relays_and_clears_the_outbox(store, log, tables):
    with fake_services(customers=store, event_log=log) as services:
        put_customer(store, services.secrets, "c1", CustomerInput(
            tenant_id=TENANT, authentication_method=AuthMethod.APPLICATION, m365_email=None, application_id=APP,
            application_secret="app-secret"))
        services.verification.platform.script(TENANT, TokenAnswer(claims={"tid": TENANT, "roles": ["User.Read.All"]}))
        verify_customer(services.verification, "c1", in_run=False)
        services.verification.platform.script(TENANT, TokenAnswer(error="invalid_client", error_codes=(7000222,)))
        verify_customer(services.verification, "c1", in_run=False)
    (event,) = log.list_events(EventFilter(), top=10, after=None).events
    assert (event.type, event.customer_id, event.run_id) == (EventType.CONNECTION_LOST, "c1", None)
    assert event.after == StatusPoint(Status.FAILED, Reason.CLIENT_SECRET_EXPIRED)
    assert outbox_rows(tables, store) == []
