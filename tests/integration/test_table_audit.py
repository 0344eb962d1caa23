"""TableAuditLog against a real Azurite: newest first, filters, paging with its cursor, the retention delete."""
from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.table_audit import PARTITION, TableAuditLog, record_to_entity
from shared.domain.access import FUNCTION_KEY, Actor, ActorKind
from shared.domain.audit import audit_record
from shared.domain.errors import InputError

pytestmark = pytest.mark.integration

ADA = Actor(ActorKind.PRINCIPAL, "0f0f0f0f-1e1e-4d2d-8c3c-4b4b4b4b4b4b", "ada@contoso.example")
GRACE = Actor(ActorKind.PRINCIPAL, "1a1a1a1a-2b2b-4c3c-8d4d-5e5e5e5e5e5e", "grace@contoso.example")
START = datetime(2026, 5, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
def table_name() -> str:
    return f"AuditLog{uuid.uuid4().hex[:12]}"


@pytest.fixture
def log(tables, table_name) -> TableAuditLog:
    return TableAuditLog(tables, table=table_name)


def change(at: datetime, *, actor: Actor = ADA, customer: str = "contoso", request: str | None = None):
    return audit_record(at=at, actor=actor, method="PUT", route="api/tenants/{customerId}", action="tenants_put",
                        parameters={"customerId": customer}, status=200, request_id=request or uuid.uuid4().hex)


def everything(log: TableAuditLog, **filters) -> list:
    return log.list_records(customer_id=filters.get("customer_id"), actor_id=filters.get("actor_id"), top=1000,
                    cursor=None).records


def test_records_come_back_newest_first_as_they_were_written(log):
    written = [change(START + timedelta(seconds=s, microseconds=s)) for s in (5, 1, 3, 2, 4)]
    for record in written:
        log.append(record)
    assert everything(log) == sorted(written, key=lambda r: r.at, reverse=True)


def test_records_of_one_microsecond_are_all_kept(log):
    records = [change(START, request=f"req-{n}") for n in range(3)]
    for record in records:
        log.append(record)
    assert sorted(r.request_id for r in everything(log)) == ["req-0", "req-1", "req-2"]


def test_the_same_record_appended_again_is_kept_once(log):
    record = change(START, request="req-retried")
    log.append(record)
    log.append(record)
    assert everything(log) == [record]


def test_filters_by_customer_and_by_actor(log):
    log.append(change(START, actor=ADA, customer="contoso"))
    log.append(change(START + timedelta(seconds=1), actor=GRACE, customer="contoso"))
    log.append(change(START + timedelta(seconds=2), actor=ADA, customer="fabrikam"))
    log.append(change(START + timedelta(seconds=3), actor=FUNCTION_KEY, customer="fabrikam"))
    assert [(r.actor.name, r.customer_id) for r in everything(log, customer_id="contoso")] == [
        ("grace@contoso.example", "contoso"), ("ada@contoso.example", "contoso")]
    assert [r.customer_id for r in everything(log, actor_id=ADA.id)] == ["fabrikam", "contoso"]
    assert [r.actor for r in everything(log, actor_id="functionKey")] == [FUNCTION_KEY]
    assert everything(log, customer_id="fabrikam", actor_id=GRACE.id) == []
    assert everything(log, customer_id="nobody") == []


def test_a_record_without_a_customer_is_listed_but_matches_no_customer(log):
    log.append(audit_record(at=START, actor=ADA, method="POST", route="api/runs", action="runs_start",
                            parameters={}, status=202, request_id="req-run"))
    assert [r.customer_id for r in everything(log)] == [None]
    assert everything(log, customer_id="contoso") == []


def test_pages_walk_every_record_once_in_order(log):
    written = [change(START + timedelta(minutes=m), customer="contoso" if m % 3 else "fabrikam") for m in range(23)]
    for record in written:
        log.append(record)
    for customer, expected in ((None, written), ("contoso", [r for r in written if r.customer_id == "contoso"])):
        seen, cursor, pages = [], None, 0
        while True:
            page = log.list_records(customer_id=customer, actor_id=None, top=5, cursor=cursor)
            assert len(page.records) <= 5
            seen += page.records
            pages += 1
            cursor = page.cursor
            if cursor is None:
                break
            assert cursor.startswith("a1.") and "contoso" not in cursor
        assert seen == sorted(expected, key=lambda r: r.at, reverse=True)
        assert pages >= len(expected) // 5


def _cursor(raw: bytes) -> str:
    return "a1." + base64.urlsafe_b64encode(raw).decode().rstrip("=")


@pytest.mark.parametrize("cursor", [
    "", "a1.", "a1.!!!", "a1." + "A" * 2000,
    "b1." + _cursor(b'["x",null]')[3:],  # another format
    _cursor(b'["x",null]') + "=",  # not as it was made
    _cursor(b'{"PartitionKey":"x"}'),
    _cursor(b'["x"]'),
    _cursor(b'[null,null]'),
    _cursor(b'["x","\\ud800"]'),  # not text any URL can carry
    _cursor(b'["x","a\\u0000b"]'),
])
def test_a_cursor_it_did_not_make_is_refused(log, cursor):
    log.append(change(START))
    with pytest.raises(InputError) as refused:
        log.list_records(customer_id=None, actor_id=None, top=5, cursor=cursor)
    assert refused.value.code == "invalidContinuationToken"


def test_records_from_before_the_moment_are_deleted_and_no_others(log):
    moment = START + timedelta(days=1)
    kept = [change(moment), change(moment + timedelta(microseconds=1)), change(moment + timedelta(days=3))]
    gone = [change(moment - timedelta(microseconds=1)), change(START), change(START - timedelta(days=500))]
    for record in kept + gone:
        log.append(record)
    assert log.delete_older_than(moment) == len(gone)
    assert everything(log) == sorted(kept, key=lambda r: r.at, reverse=True)
    assert log.delete_older_than(moment) == 0


def test_more_records_than_one_transaction_are_deleted(log):
    for n in range(130):
        log.append(change(START + timedelta(seconds=n)))
    assert log.delete_older_than(START + timedelta(days=1)) == 130
    assert everything(log) == []


def test_a_row_holds_the_record_and_nothing_else(log, tables, table_name):
    record = change(START, request="req-1")
    log.append(record)
    (row,) = tables.get_table_client(table_name).list_entities()
    assert dict(row) == record_to_entity(record) | {"at": row["at"]}
    assert row["PartitionKey"] == PARTITION
    assert set(row) == {"PartitionKey", "RowKey", "at", "actorKind", "actorId", "actorName", "method", "route",
                        "action", "customerId", "parameters", "status", "requestId"}
