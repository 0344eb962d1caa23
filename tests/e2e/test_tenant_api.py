"""End to end over HTTP: create tenants of each method, read them back, list with filters and pages, delete."""
from __future__ import annotations

import uuid

import pytest
import requests

pytestmark = pytest.mark.e2e


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def put(app, customer_id, body):
    return requests.put(app.url(f"/api/tenants/{customer_id}"), json=body, timeout=30)


def every_page(app, **params):
    """Follow continuation tokens to the end; returns (tenants, pages, last body)."""
    tenants, pages, token = [], 0, None
    while True:
        query = {**params, **({"continuationToken": token} if token else {})}
        response = requests.get(app.url("/api/status"), params=query, timeout=30)
        assert response.status_code == 200, response.text
        body = response.json()
        tenants += body["tenants"]
        pages += 1
        token = body["continuationToken"]
        if token is None:
            return tenants, pages, body
        assert pages < 1000, "paging does not end"


def test_health_answers_without_a_key(app):
    response = requests.get(app.url("/api/health"), timeout=10)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["Content-Type"].startswith("application/json")


def test_each_method_round_trips(app):
    tenant_guid = str(uuid.uuid4())
    cases = {
        unique("pw"): {"tenantId": tenant_guid, "authenticationMethod": "password",
                       "m365Email": "admin@contoso.onmicrosoft.com", "password": "Correct-Horse-9"},
        unique("tok"): {"tenantId": "fabrikam.onmicrosoft.com", "authenticationMethod": "token",
                        "m365Email": "it@fabrikam.com"},
        unique("app"): {"tenantId": tenant_guid, "authenticationMethod": "application",
                        "applicationId": str(uuid.uuid4()), "applicationSecret": "app~Secret.Value_1"},
    }
    expected_secrets = {"pw": ["password"], "tok": [], "app": ["applicationSecret"]}
    for customer_id, body in cases.items():
        created = put(app, customer_id, body)
        assert created.status_code == 201, created.text
        view = requests.get(app.url(f"/api/tenants/{customer_id}"), timeout=30).json()
        assert view == created.json()
        assert view["customerId"] == customer_id
        assert view["tenantId"] == body["tenantId"]
        assert view["authenticationMethod"] == body["authenticationMethod"]
        assert view["m365Email"] == body.get("m365Email")
        assert view["lastVerificationStatus"] == "notVerified"
        assert view["whenLastVerified"] is None
        assert view["secretsConfigured"] == expected_secrets[customer_id.split("-")[0]]
        detail = requests.get(app.url(f"/api/status/{customer_id}"), timeout=30).json()
        assert detail["history"] == []
        assert {k: v for k, v in detail.items() if k != "history"} == view

    # An update without the secret keeps it; the answer is 200.
    pw_id = next(c for c in cases if c.startswith("pw"))
    update = put(app, pw_id, {**cases[pw_id], "password": None, "m365Email": "new-admin@contoso.onmicrosoft.com"})
    assert update.status_code == 200
    assert update.json()["m365Email"] == "new-admin@contoso.onmicrosoft.com"
    assert update.json()["secretsConfigured"] == ["password"]


def test_list_filters_and_pages_across_more_than_one_page(app):
    prefix = unique("page")
    methods = ["password", "token", "application"]
    created = []
    for i in range(7):
        method = methods[i % 3]
        body = {"tenantId": f"t{i}.example.com", "authenticationMethod": method, "m365Email": f"a{i}@example.com"}
        if method == "password":
            body["password"] = f"Pw-{i}-value"
        if method == "application":
            body |= {"applicationId": str(uuid.uuid4()), "applicationSecret": f"app-{i}-secret"}
        customer_id = f"{prefix}-{i}"
        assert put(app, customer_id, body).status_code == 201
        created.append((customer_id, method))

    everyone, pages, last = every_page(app, top="2")
    ids = [t["customerId"] for t in everyone]
    assert pages > 1
    assert len(ids) == len(set(ids)), "a tenant was listed twice"
    assert ids == sorted(ids)
    assert {c for c, _ in created} <= set(ids)
    assert last["summary"]["total"] == len(ids)
    assert sum(last["summary"]["byStatus"].values()) == len(ids)

    for method in methods:
        listed, _, body = every_page(app, method=method, top="1")
        assert all(t["authenticationMethod"] == method for t in listed)
        assert {c for c, m in created if m == method} <= {t["customerId"] for t in listed}
        assert body["summary"]["total"] == len(ids), "the summary counts every tenant, not the filtered page"

    not_verified, _, _ = every_page(app, status="notVerified", method="token")
    assert {c for c, m in created if m == "token"} <= {t["customerId"] for t in not_verified}
    failed, _, _ = every_page(app, status="failed")
    assert not {c for c, _ in created} & {t["customerId"] for t in failed}


def test_delete_removes_the_customer(app):
    customer_id = unique("del")
    body = {"tenantId": "contoso.com", "authenticationMethod": "password", "m365Email": "a@contoso.com",
            "password": "Delete-Me-42"}
    assert put(app, customer_id, body).status_code == 201
    assert app.secrets_file.read_text().count("Delete-Me-42") == 1
    response = requests.delete(app.url(f"/api/tenants/{customer_id}"), timeout=30)
    assert response.status_code == 204
    assert requests.get(app.url(f"/api/tenants/{customer_id}"), timeout=30).status_code == 404
    assert requests.get(app.url(f"/api/status/{customer_id}"), timeout=30).status_code == 404
    assert "Delete-Me-42" not in app.secrets_file.read_text()
    again = requests.delete(app.url(f"/api/tenants/{customer_id}"), timeout=30)
    assert (again.status_code, again.json()["error"]["code"]) == (404, "notFound")


def test_unknown_route_is_the_hosts_empty_404(app):
    response = requests.get(app.url("/api/nothing-here"), timeout=10)
    assert response.status_code == 404 and response.content == b""  # no function runs: the host answers
