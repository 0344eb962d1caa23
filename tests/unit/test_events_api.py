"""GET /api/events called directly with func.HttpRequest, over the fakes: the contract's shape, filters, paging with
the signed continuation token, and every bad value answered 400 with its code and target."""
from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest

from functions import events, status
from shared.domain.alerts.events import EventType, StatusEvent, StatusPoint
from shared.domain.expiry import Expiry, ExpiryKind, ExpirySource
from shared.domain.inputs import CustomerInput
from shared.domain.models import AuthMethod, Status
from shared.domain.reasons import Reason
from shared.usecases.customers import put_customer

START = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def get(params=None):
    response = events.events_list(func.HttpRequest("GET", "/api/events", body=b"", params=params or {}))
    return response.status_code, json.loads(response.get_body())


def event(n: int, customer: str = "c1", kind: EventType = EventType.CONNECTION_LOST) -> StatusEvent:
    failed = StatusPoint(Status.FAILED, Reason.TOKEN_EXPIRED)
    before, after = (StatusPoint(Status.SUCCEEDED), failed) if kind is EventType.CONNECTION_LOST else (
        failed, StatusPoint(Status.SUCCEEDED))
    return StatusEvent(event_id=uuid.uuid4().hex, type=kind, customer_id=customer, tenant_id=TENANT, before=before,
                       after=after, at=START + timedelta(minutes=n), run_id="20260601090000-abc" if n % 2 else None)


@pytest.fixture
def logged(services):
    made = [event(n, f"c{n % 3}", EventType.CONNECTION_LOST if n % 2 else EventType.CONNECTION_RESTORED)
            for n in range(7)]
    services.events.append_many(made)
    return sorted(made, key=lambda e: e.at, reverse=True)


def test_events_come_newest_first_in_the_contracts_shape(logged):
    code, body = get()
    assert code == 200 and body["continuationToken"] is None
    assert [e["eventId"] for e in body["events"]] == [e.event_id for e in logged]
    first = logged[0]
    assert body["events"][0] == {
        "eventId": first.event_id, "type": "connectionRestored", "customerId": first.customer_id,
        "tenantId": TENANT, "from": {"status": "failed", "reason": "tokenExpired"},
        "to": {"status": "succeeded", "reason": None}, "at": "2026-06-01T09:06:00Z", "runId": None,
        "expiry": None, "withinDays": None,
    }
    assert body["events"][1]["runId"] == "20260601090000-abc"


def test_filters_by_type_and_customer(logged):
    _, body = get({"type": "connectionLost", "customerId": "c1"})
    expected = [e.event_id for e in logged if e.type is EventType.CONNECTION_LOST and e.customer_id == "c1"]
    assert expected and [e["eventId"] for e in body["events"]] == expected


def test_pages_follow_the_signed_token_through_every_event_once(logged):
    seen, params = [], {"top": "2", "type": "connectionLost"}
    while True:
        code, body = get(params)
        assert code == 200
        seen += [e["eventId"] for e in body["events"]]
        if body["continuationToken"] is None:
            break
        params = {**params, "continuationToken": body["continuationToken"]}
    assert seen == [e.event_id for e in logged if e.type is EventType.CONNECTION_LOST]


@pytest.mark.parametrize("params, code, target", [
    ({"type": "connectionBroken"}, "invalidQueryParameter", "type"),
    ({"customerId": "not a customer"}, "invalidCustomerId", "customerId"),
    ({"customerId": "x" * 65}, "invalidCustomerId", "customerId"),
    ({"top": "0"}, "invalidQueryParameter", "top"),
    ({"top": "1001"}, "invalidQueryParameter", "top"),
    ({"top": "ten"}, "invalidQueryParameter", "top"),
    ({"continuationToken": "forged"}, "invalidContinuationToken", "continuationToken"),
])
def test_bad_values_are_400_with_their_code_and_target(logged, params, code, target):
    status_code, body = get(params)
    assert status_code == 400
    assert (body["error"]["code"], body["error"]["target"]) == (code, target)


def test_a_token_of_another_filter_or_of_the_status_listing_is_refused(services, logged):
    _, body = get({"top": "1", "type": "connectionLost"})
    for params in ({"type": "connectionRestored"}, {}, {"type": "connectionLost", "customerId": "c1"}):
        code, answer = get({"top": "1", **params, "continuationToken": body["continuationToken"]})
        assert (code, answer["error"]["code"]) == (400, "invalidContinuationToken")
    for n in range(3):
        put_customer(services.customers, services.secrets, f"t{n}", CustomerInput(
            tenant_id=TENANT, authentication_method=AuthMethod.TOKEN, m365_email=None))
    listing = status.status_list(func.HttpRequest("GET", "/api/status", body=b"", params={"top": "1"}))
    status_token = json.loads(listing.get_body())["continuationToken"]
    assert status_token
    code, answer = get({"continuationToken": status_token})
    assert (code, answer["error"]["code"]) == (400, "invalidContinuationToken")


def test_no_events_is_an_empty_page(services):
    assert get() == (200, {"events": [], "continuationToken": None})


def test_a_connection_expiring_event_names_its_expiry_and_band(services):
    ok = StatusPoint(Status.SUCCEEDED)
    services.events.append_many([StatusEvent(
        event_id="x1", type=EventType.CONNECTION_EXPIRING, customer_id="woodgrove", tenant_id=TENANT, before=ok,
        after=ok, at=START, run_id=None, within_days=7,
        expiry=Expiry(ExpiryKind.CLIENT_SECRET, ExpirySource.GRAPH, START + timedelta(days=5, hours=2)))])
    _, body = get({"type": "connectionExpiring"})
    assert [(e["expiry"], e["withinDays"]) for e in body["events"]] == [
        ({"what": "clientSecret", "source": "graph", "at": "2026-06-06T11:00:00Z"}, 7)]
