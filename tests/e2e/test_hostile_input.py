"""Hostile requests over HTTP through the local host: each answers a 4xx with the contract's error JSON,
never a 500 or a stack trace, and changes no stored data (tables and the secret store)."""
from __future__ import annotations

import base64
import json
import uuid

import pytest
import requests
from azure.data.tables import TableServiceClient

pytestmark = pytest.mark.e2e

GUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
KELVIN = "\u212a"
TENANT = {"tenantId": GUID, "authenticationMethod": "password", "m365Email": "admin@contoso.com",
          "password": "Hostile-Pass-1"}
SETTINGS = {"clientId": GUID, "redirectUrl": "https://tas.example.com/authenticate/OAuth2Callback",
            "clientSecret": "Hostile~Secret.1"}


def stored_state(app) -> tuple:
    service = TableServiceClient.from_connection_string(app.connection_string)
    tables = {}
    for table in service.list_tables():
        rows = service.get_table_client(table.name).list_entities()
        tables[table.name] = sorted(json.dumps(dict(row), sort_keys=True, default=str) for row in rows)
    return tables, app.secrets_file.read_text() if app.secrets_file.exists() else ""


def lone_surrogate_in(body: dict, field: str) -> bytes:
    return json.dumps({**body, field: "x"}).replace(f'"{field}": "x"', f'"{field}": "x\\ud800"').encode()


def cases(customer: str) -> list[tuple[str, str, str, bytes | None, str]]:
    tenant = f"/api/tenants/{customer}"
    return [
        ("surrogate field name (tenant)", "PUT", tenant, b'{"\\ud800":1}', "invalidJson"),
        ("surrogate field name (settings)", "PUT", "/api/settings", b'{"\\ud800":1}', "invalidJson"),
        *[(f"surrogate in {field}", "PUT", tenant, lone_surrogate_in(TENANT, field), "invalidJson")
          for field in ("tenantId", "m365Email", "password", "authenticationMethod")],
        *[(f"surrogate in {field}", "PUT", "/api/settings", lone_surrogate_in(SETTINGS, field), "invalidJson")
          for field in ("clientId", "redirectUrl", "clientSecret")],
        ("unknown non-ASCII field name", "PUT", tenant,
         json.dumps({**TENANT, "\u202eevil": 1}, ensure_ascii=False).encode(), "unknownField"),
        ("top of 5,000 zeros", "GET", "/api/status?top=" + "0" * 5000, None, "invalidQueryParameter"),
        ("top of 5,000 nines", "GET", "/api/status?top=" + "9" * 5000, None, "invalidQueryParameter"),
        ("query value that is not UTF-8", "GET", "/api/status?status=%ED%A0%80", None, "invalidQueryParameter"),
        ("customerId '.'", "PUT", "/api/tenants/%2E", json.dumps(TENANT).encode(), "invalidCustomerId"),
        ("customerId '..'", "GET", "/api/tenants/%2E%2E", None, "invalidCustomerId"),
        ("Kelvin sign in tenantId", "PUT", tenant,
         json.dumps({**TENANT, "tenantId": f"contoso{KELVIN}.com"}).encode(), "invalidTenantId"),
        ("Kelvin sign in m365Email", "PUT", tenant,
         json.dumps({**TENANT, "m365Email": f"admin@contoso{KELVIN}.com"}).encode(), "invalidEmail"),
        ("quote in the redirect host", "PUT", "/api/settings",
         json.dumps({**SETTINGS, "redirectUrl": 'https://a"b.example/authenticate/OAuth2Callback'}).encode(),
         "invalidRedirectUrl"),
        ("markup in the redirect host", "PUT", "/api/settings",
         json.dumps({**SETTINGS, "redirectUrl": "https://<b>.example/authenticate/OAuth2Callback"}).encode(),
         "invalidRedirectUrl"),
    ]


def test_each_hostile_request_is_refused_and_changes_nothing(app):
    customer = f"hostile-{uuid.uuid4().hex[:8]}"
    assert requests.put(app.url(f"/api/tenants/{customer}"), json=TENANT, timeout=30).status_code == 201
    before = stored_state(app)
    for name, method, path, body, code in cases(customer):
        response = requests.request(method, app.url(path), data=body, timeout=30,
                                    headers={"Content-Type": "application/json"})
        assert response.status_code == 400, (name, response.status_code, response.text[:300])
        error = json.loads(response.content.decode("utf-8"))["error"]
        assert error["code"] == code, (name, error)
        assert error["message"] and "Traceback" not in response.text, name
    assert stored_state(app) == before


def _forged_token(prefix: str, partition: str) -> str:
    """A continuation token shaped like the API's whose cursor holds a lone surrogate, signed with no key."""
    body = {"c": json.dumps([partition, None]), "m": None, "s": None}
    compact = json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=True)
    encoded = base64.urlsafe_b64encode(compact.encode("ascii")).rstrip(b"=").decode("ascii")
    return f"{prefix}{encoded}.{base64.urlsafe_b64encode(bytes(32)).rstrip(b'=').decode('ascii')}"


@pytest.mark.parametrize("prefix", ["c1.", "c2.", "c3."])
def test_a_forged_continuation_token_holding_a_lone_surrogate_answers_400(app, prefix):
    # Before tokens were signed, such a cursor reached the SDK, which could not put it in a URL: a 500.
    response = requests.get(app.url("/api/status"), params={"continuationToken": _forged_token(prefix, "\ud800")},
                            timeout=30)
    assert response.status_code == 400, response.text[:300]
    assert response.json()["error"]["code"] == "invalidContinuationToken"
