"""GET /api/audit over a fake audit log: newest first, the filters, the signed continuation token, bad input; and
the maintenance step that forgets records past 400 days."""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest

from functions import audit
from shared.domain.access import FUNCTION_KEY, Actor, ActorKind
from shared.usecases.audit import forget_expired, record_change

ADA = Actor(ActorKind.PRINCIPAL, "0f0f0f0f-1e1e-4d2d-8c3c-4b4b4b4b4b4b", "ada@contoso.example")
T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


def add(services, n: int, *, actor: Actor = FUNCTION_KEY, customer: str = "contoso", minutes: int = 0) -> None:
    assert record_change(services.audit, actor=actor, method="PUT", route="api/tenants/{customerId}",
                         action="tenants_put", parameters={"customerId": customer}, status=200,
                         request_id=f"req-{n}", at=T0 + timedelta(minutes=minutes))


def listing(**params) -> tuple[int, dict]:
    response = audit.audit_list(func.HttpRequest("GET", "http://localhost/api/audit", body=b"",
                                                 params={k: str(v) for k, v in params.items()}))
    return response.status_code, json.loads(response.get_body())


def test_newest_first_with_who_and_what(services):
    add(services, 1, minutes=1)
    add(services, 2, actor=ADA, customer="fabrikam", minutes=2)
    status, body = listing()
    assert status == 200 and body["continuationToken"] is None
    first, second = body["records"]
    assert first == {"at": "2026-11-01T09:02:00Z", "actor": {"kind": "principal", "id": ADA.id, "name": ADA.name},
                     "method": "PUT", "route": "/api/tenants/{customerId}", "action": "tenants_put",
                     "customerId": "fabrikam", "parameters": {"customerId": "fabrikam"}, "status": 200,
                     "requestId": "req-2"}
    assert second["actor"] == {"kind": "functionKey", "id": "functionKey", "name": "function key"}


def test_filters_by_customer_and_by_actor(services):
    add(services, 1, customer="contoso", minutes=1)
    add(services, 2, actor=ADA, customer="fabrikam", minutes=2)
    add(services, 3, actor=ADA, customer="contoso", minutes=3)
    assert [r["requestId"] for r in listing(customerId="contoso")[1]["records"]] == ["req-3", "req-1"]
    assert [r["requestId"] for r in listing(actor=ADA.id.upper())[1]["records"]] == ["req-3", "req-2"]
    assert [r["requestId"] for r in listing(actor="functionKey")[1]["records"]] == ["req-1"]


def test_pages_with_a_token_valid_only_for_its_filter(services):
    for n in range(5):
        add(services, n, minutes=n)
    status, page = listing(top=2)
    assert status == 200 and [r["requestId"] for r in page["records"]] == ["req-4", "req-3"]
    token = page["continuationToken"]
    assert token.startswith("c3.")
    assert [r["requestId"] for r in listing(top=2, continuationToken=token)[1]["records"]] == ["req-2", "req-1"]
    status, body = listing(top=2, continuationToken=token, customerId="contoso")
    assert (status, body["error"]["code"]) == (400, "invalidContinuationToken")


@pytest.mark.parametrize(("params", "target"), [
    ({"top": "0"}, "top"), ({"top": "101"}, "top"), ({"top": "x"}, "top"),
    ({"actor": "someone"}, "actor"), ({"customerId": "a b"}, "customerId"),
    ({"continuationToken": "c3.forged.sig"}, "continuationToken"),
])
def test_bad_query_is_a_400_naming_the_parameter(services, params, target):
    status, body = listing(**params)
    assert status == 400 and body["error"]["target"] == target


def test_the_maintenance_step_forgets_records_past_400_days(services):
    add(services, 1, minutes=0)
    add(services, 2, minutes=10)
    now = T0 + timedelta(days=400, minutes=5)
    assert forget_expired(services.audit, now=now) == 1
    assert [r.request_id for r in services.audit.records] == ["req-2"]
