"""Handlers called directly with func.HttpRequest, over in-memory fakes of the ports."""
import json

import azure.functions as func
import pytest

from functions import customers, health, status
from shared.domain.errors import DependencyUnavailable
from shared.domain.expiry_consent import PASSWORD_RETIREMENT
from shared.domain.models import Status
from shared.domain.secrets import SecretKind

GUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.fixture
def stores(services):
    return services.customers, services.secrets, services.history


def request(method, url, *, route_params=None, body=b"", params=None):
    if not isinstance(body, bytes):
        body = json.dumps(body).encode()
    return func.HttpRequest(method, url, body=body, route_params=route_params or {}, params=params or {},
                            headers={"content-type": "application/json"})


def put(customer_id, body):
    return customers.tenants_put(request("PUT", f"/api/tenants/{customer_id}",
                                         route_params={"customerId": customer_id}, body=body))


def read(response):
    return json.loads(response.get_body()) if response.get_body() else None


def test_health_is_ok():
    response = health.health(request("GET", "/api/health"))
    assert (response.status_code, read(response)) == (200, {"status": "ok"})


def test_put_creates_then_updates_and_never_echoes_the_password(stores):
    store, secrets, _ = stores
    body = {"tenantId": GUID, "authenticationMethod": "password", "m365Email": "admin@contoso.com",
            "password": "Pa55-word-X"}
    created = put("contoso", body)
    assert created.status_code == 201
    view = read(created)
    assert view == {
        "customerId": "contoso", "tenantId": GUID, "m365Email": "admin@contoso.com",
        "authenticationMethod": "password", "whenLastVerified": None, "lastVerificationStatus": "notVerified",
        "lastVerificationReason": None, "lastVerificationMessage": None, "aadstsCode": None, "hint": None,
        "secretsConfigured": ["password"], "pendingConsent": None, "lastConsent": None,
        "expiresAt": None, "expiry": None,
        "expiryUnknown": [{"what": "providerClientSecret", "reason": "notReadYet",
                           "message": "Not known until the customer is verified."}],
        "retirement": {"message": PASSWORD_RETIREMENT.text, "hint": PASSWORD_RETIREMENT.hint,
                       "reference": PASSWORD_RETIREMENT.reference},
    }
    assert b"Pa55-word-X" not in created.get_body()
    assert secrets.values[("contoso", SecretKind.PASSWORD)] == "Pa55-word-X"
    updated = put("contoso", {**body, "password": None})
    assert updated.status_code == 200
    assert secrets.values[("contoso", SecretKind.PASSWORD)] == "Pa55-word-X"
    assert created.mimetype == "application/json"


def test_application_method_requires_id_and_secret_on_create(stores):
    response = put("fabrikam", {"tenantId": "fabrikam.com", "authenticationMethod": "application",
                                "applicationId": GUID})
    assert response.status_code == 400
    assert read(response)["error"]["code"] == "missingField"
    assert stores[0].customers == {}


def test_changing_the_method_resets_status_but_keeps_history(stores):
    store, _, history = stores
    put("c1", {"tenantId": GUID, "authenticationMethod": "token"})
    import dataclasses
    from datetime import UTC, datetime

    from shared.domain.models import AuthMethod
    from shared.domain.verification import VerificationResult

    store.customers["c1"] = dataclasses.replace(store.customers["c1"], last_verification_status=Status.FAILED)
    history.append(VerificationResult("c1", Status.FAILED, datetime.now(UTC), AuthMethod.TOKEN))
    unchanged = put("c1", {"tenantId": GUID, "authenticationMethod": "token"})
    assert read(unchanged)["lastVerificationStatus"] == "failed"
    changed = put("c1", {"tenantId": GUID, "authenticationMethod": "password", "m365Email": "a@contoso.com",
                         "password": "x-Y-z-1234"})
    assert read(changed)["lastVerificationStatus"] == "notVerified"
    detail = read(status.status_get(request("GET", "/api/status/c1", route_params={"customerId": "c1"})))
    assert [h["status"] for h in detail["history"]] == ["failed"]


def test_get_and_delete_answer_404_for_unknown_customers(stores):
    for handler, method in ((customers.tenants_get, "GET"), (customers.tenants_delete, "DELETE")):
        response = handler(request(method, "/api/tenants/nobody", route_params={"customerId": "nobody"}))
        assert response.status_code == 404
        assert read(response)["error"]["code"] == "notFound"


def test_delete_removes_the_record_and_every_secret(stores):
    store, secrets, _ = stores
    put("gone", {"tenantId": GUID, "authenticationMethod": "application", "applicationId": GUID,
                 "applicationSecret": "app-secret-value"})
    response = customers.tenants_delete(request("DELETE", "/api/tenants/gone", route_params={"customerId": "gone"}))
    assert response.status_code == 204
    assert store.customers == {} and secrets.values == {}


def test_key_vault_outage_is_a_503_and_stores_nothing(stores):
    store, secrets, _ = stores
    secrets.fail_with = DependencyUnavailable("secretStoreUnavailable", "Key Vault could not be reached.")
    response = put("c2", {"tenantId": GUID, "authenticationMethod": "password", "m365Email": "a@contoso.com",
                          "password": "x-Y-z-1234"})
    assert response.status_code == 503
    assert read(response)["error"]["code"] == "secretStoreUnavailable"
    assert store.customers == {}


def test_unexpected_failure_is_a_500_without_detail(stores, monkeypatch):
    store, _, _ = stores
    monkeypatch.setattr(store, "get", lambda _cid: (_ for _ in ()).throw(RuntimeError("boom at /secret/path")))
    response = customers.tenants_get(request("GET", "/api/tenants/x", route_params={"customerId": "x"}))
    assert response.status_code == 500
    assert b"boom" not in response.get_body() and b"Traceback" not in response.get_body()


def test_status_list_pages_and_counts_every_customer(stores):
    for i in range(5):
        put(f"cust-{i}", {"tenantId": GUID, "authenticationMethod": "token"})
    seen, token = [], None
    while True:
        params = {"top": "2", **({"continuationToken": token} if token else {})}
        body = read(status.status_list(request("GET", "/api/status", params=params)))
        assert body["summary"] == {"total": 5, "byStatus": {"notVerified": 5, "succeeded": 0, "failed": 0},
                                   "expiring": {"within7Days": 0, "within30Days": 0}, "providerClientSecret": None}
        assert body["generatedAt"].endswith("Z")
        seen += [t["customerId"] for t in body["tenants"]]
        token = body["continuationToken"]
        if token is None:
            break
    assert seen == [f"cust-{i}" for i in range(5)]


def test_status_list_refuses_unknown_filter_values(stores):
    response = status.status_list(request("GET", "/api/status", params={"status": "ok"}))
    assert response.status_code == 400
    assert read(response)["error"]["code"] == "invalidQueryParameter"


def test_invalid_customer_id_in_route_is_400(stores):
    response = customers.tenants_get(request("GET", "/api/tenants/x", route_params={"customerId": "a' or 'x' eq 'x"}))
    assert response.status_code == 400
    assert read(response)["error"]["code"] == "invalidCustomerId"


def test_maintenance_retires_orphan_versions_recounts_and_prunes_old_runs(services, stores, caplog):
    import logging
    from datetime import UTC, datetime, timedelta

    from azure.functions.timer import TimerRequest

    from functions import maintenance
    from shared.domain.runs import Run, Trigger

    store, secrets, _ = stores
    put("c1", {"tenantId": GUID, "authenticationMethod": "password", "m365Email": "a@contoso.com",
               "password": "x-Y-z-1234"})
    stray = secrets.create_version("c1", SecretKind.PASSWORD, "stray")
    versions = secrets.stored[("c1", SecretKind.PASSWORD)]
    for key, (value, _) in versions.items():  # both written long enough ago for the sweep
        versions[key] = (value, datetime(2000, 1, 1, tzinfo=UTC))
    runs = services.runs
    for days in (8, 1):  # a run from last week loses its markers; yesterday's keeps them
        started = datetime.now(UTC) - timedelta(days=days)
        runs.start(Run(f"{started:%Y%m%d%H%M%S}-{days:016x}", Trigger.TIMER, started, None, 0, 0, {}),
                   stale_after=timedelta(0))
    states = services.consent.states
    states.create("expired-unused", customer_id="c1", expires_at=datetime.now(UTC) - timedelta(days=2))
    states.create("still-valid", customer_id="c1", expires_at=datetime.now(UTC) + timedelta(minutes=5))
    with caplog.at_level(logging.INFO):
        maintenance.maintenance(TimerRequest())
    assert "Markers of 1 old runs deleted." in caplog.text
    assert "1 expired consent states removed." in caplog.text and list(states.rows) == ["still-valid"]
    assert stray not in secrets.stored[("c1", SecretKind.PASSWORD)]
    assert len(secrets.stored[("c1", SecretKind.PASSWORD)]) == 1
    assert "notVerified 1" in caplog.text
