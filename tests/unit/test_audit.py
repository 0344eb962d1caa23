"""shared/domain/audit.py: a record is built only from what it may hold, and kept 400 days."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.domain.access import FUNCTION_KEY, Actor, ActorKind
from shared.domain.audit import RETENTION, AuditRecord, UnsafeAuditValue, audit_record, expired_before

OID = "0f0f0f0f-1e1e-4d2d-8c3c-4b4b4b4b4b4b"
ADA = Actor(ActorKind.PRINCIPAL, OID, "ada@contoso.example")
AT = datetime(2026, 5, 1, 12, 30, 15, 123456, tzinfo=UTC)
JWT = "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJ4In0.c2lnbmF0dXJl"


def build(**changes):
    values = {"at": AT, "actor": ADA, "method": "PUT", "route": "api/tenants/{customerId}", "action": "tenants_put",
              "parameters": {"customerId": "contoso"}, "status": 201,
              "request_id": "6a1e2b3c-0d4e-4f5a-8b6c-7d8e9f0a1b2c"}
    return audit_record(**{**values, **changes})


def test_a_record_of_a_change():
    record = build()
    assert record == AuditRecord(at=AT, actor=ADA, method="PUT", route="/api/tenants/{customerId}",
                                 action="tenants_put", customer_id="contoso", parameters={"customerId": "contoso"},
                                 status=201, request_id="6a1e2b3c-0d4e-4f5a-8b6c-7d8e9f0a1b2c")


def test_a_record_without_a_customer_and_with_other_parameters():
    assert build(method="POST", route="/api/runs", action="runs_start", parameters={}, status=202).customer_id is None
    record = build(method="delete", route="/api/alerts/channels/{channelId}", action="channels_delete",
                   parameters={"channelId": "ops-teams"}, status=204, actor=FUNCTION_KEY)
    assert (record.method, record.customer_id, dict(record.parameters)) == ("DELETE", None, {"channelId": "ops-teams"})


def test_times_are_kept_in_utc():
    assert build(at=AT.astimezone(timezone(timedelta(hours=2)))).at == AT
    with pytest.raises(UnsafeAuditValue, match="at"):
        build(at=AT.replace(tzinfo=None))


def test_reads_are_not_audited():
    with pytest.raises(UnsafeAuditValue, match="method"):
        build(method="GET")


@pytest.mark.parametrize("route", [
    "/api/tenants/contoso",  # a request path, not its template
    "/api/tenants/{customerId}?code=0.AAAA-secret",
    "https://func.example/api/tenants/{customerId}",
    "/api/health",  # open to anyone: no actor to record
    "/authenticate/OAuth2Callback",
    "/api/unknown/{customerId}",
])
def test_only_route_templates_of_the_contract_that_need_a_role(route):
    with pytest.raises(UnsafeAuditValue, match="route"):
        build(route=route, method="POST" if "OAuth2Callback" in route else "PUT")


@pytest.mark.parametrize("parameters", [
    {},
    {"customerId": "contoso", "code": "abc"},
    {"customerid": "contoso"},
])
def test_parameters_are_exactly_those_of_the_template(parameters):
    with pytest.raises(UnsafeAuditValue, match="parameters"):
        build(parameters=parameters)


@pytest.mark.parametrize("value", ["", "a" * 65, JWT + JWT, "pass word", "x/y", "a:b", "ünïcode", "a\nb", 42])
def test_parameters_are_identifiers(value):
    with pytest.raises(UnsafeAuditValue) as refused:
        build(parameters={"customerId": value})
    assert str(refused.value) == "audit record refused: parameters.customerId is not an identifier"


@pytest.mark.parametrize("name", [
    JWT,
    "https://prod-00.westeurope.logic.azure.com/workflows/x/triggers/manual?sig=abc",
    "Zx48Q~aB3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA",  # a client secret's shape
    "ada\u0000@contoso.example",
    "",
    "a" * 257,
])
def test_an_actor_name_that_could_be_a_secret_is_refused_without_being_repeated(name):
    with pytest.raises(UnsafeAuditValue) as refused:
        build(actor=Actor(ActorKind.PRINCIPAL, OID, name))
    assert str(refused.value) in ("audit record refused: actor.name looks like a secret",
                                  "audit record refused: actor.name is not a name")


def test_names_people_have_are_kept():
    for name in ("ada@contoso.example", "Ada Lovelace", "ada.lovelace@contoso.onmicrosoft.com",
                 "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee", "Émilie du Châtelet"):
        assert build(actor=Actor(ActorKind.PRINCIPAL, OID, name)).actor.name == name


def test_an_actor_is_an_object_id_or_the_function_key():
    with pytest.raises(UnsafeAuditValue, match="actor.id"):
        build(actor=Actor(ActorKind.PRINCIPAL, "ada", "ada"))
    with pytest.raises(UnsafeAuditValue, match="actor"):
        build(actor=Actor(ActorKind.FUNCTION_KEY, "functionKey", "key 1a2b3c"))
    assert build(actor=FUNCTION_KEY).actor == FUNCTION_KEY


@pytest.mark.parametrize(("field", "value"), [
    ("status", 99), ("status", 600), ("status", True), ("status", "201"),
    ("request_id", ""), ("request_id", "a" * 65), ("request_id", "id with spaces"),
    ("action", "Tenants Put"), ("action", ""), ("action", "x" * 65),
])
def test_the_other_fields_hold_only_what_they_are(field, value):
    with pytest.raises(UnsafeAuditValue):
        build(**{field: value})


def test_records_are_kept_400_days():
    now = datetime(2026, 5, 1, tzinfo=UTC)
    assert RETENTION == timedelta(days=400)
    assert expired_before(now) == datetime(2025, 3, 27, tzinfo=UTC)
    assert expired_before(now.astimezone(timezone(timedelta(hours=-5)))) == datetime(2025, 3, 27, tzinfo=UTC)
