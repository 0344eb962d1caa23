"""Malformed requests: each answers 4xx with the contract's error code, names the field or parameter at fault as
`target` where one is, and changes no stored data."""
from __future__ import annotations

import json
import uuid
from urllib.parse import quote

import pytest
import requests
from azure.data.tables import TableServiceClient

pytestmark = pytest.mark.e2e

GUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"


def stored_state(app) -> tuple:
    """Every entity of every table, and the secret store: what no bad request may change."""
    service = TableServiceClient.from_connection_string(app.connection_string)
    tables = {}
    for table in service.list_tables():
        rows = service.get_table_client(table.name).list_entities()
        tables[table.name] = sorted(json.dumps(dict(row), sort_keys=True, default=str) for row in rows)
    secrets = app.secrets_file.read_text() if app.secrets_file.exists() else ""
    return tables, secrets


@pytest.fixture(scope="module")
def existing(app):
    customer_id = f"baseline-{uuid.uuid4().hex[:8]}"
    body = {"tenantId": GUID, "authenticationMethod": "password", "m365Email": "admin@contoso.com",
            "password": "Baseline-Pass-1"}
    assert requests.put(app.url(f"/api/tenants/{customer_id}"), json=body, timeout=30).status_code == 201
    return customer_id


def cases(existing):
    fresh = f"fresh-{uuid.uuid4().hex[:8]}"
    tenant = f"/api/tenants/{existing}"
    new = f"/api/tenants/{fresh}"
    good = {"tenantId": GUID, "authenticationMethod": "token"}
    return [
        ("invalid JSON", "PUT", tenant, b'{"tenantId": ', 400, "invalidJson", None),
        ("not UTF-8", "PUT", tenant, b"\xff\xfe\x00{", 400, "invalidJson", None),
        ("empty body", "PUT", new, b"", 400, "invalidJson", None),
        ("array body", "PUT", tenant, b"[1, 2]", 400, "invalidBody", None),
        ("tenantId of wrong type", "PUT", tenant, {**good, "tenantId": 42}, 400, "invalidField", "tenantId"),
        ("method missing", "PUT", tenant, {"tenantId": GUID}, 400, "missingField", "authenticationMethod"),
        ("unknown method", "PUT", tenant, {**good, "authenticationMethod": "kerberos"}, 400,
         "invalidAuthenticationMethod", "authenticationMethod"),
        ("method of wrong type", "PUT", tenant, {**good, "authenticationMethod": ["token"]}, 400, "invalidField",
         "authenticationMethod"),
        ("tenantId neither GUID nor domain", "PUT", tenant, {**good, "tenantId": "not a tenant"}, 400,
         "invalidTenantId", "tenantId"),
        ("bad email on an existing customer", "PUT", tenant,
         {"tenantId": GUID, "authenticationMethod": "password", "m365Email": "nobody"}, 400, "invalidEmail",
         "m365Email"),
        ("password without email", "PUT", new, {"tenantId": GUID, "authenticationMethod": "password",
                                                "password": "x"}, 400, "missingField", "m365Email"),
        ("new password customer without password", "PUT", new,
         {"tenantId": GUID, "authenticationMethod": "password", "m365Email": "a@contoso.com"}, 400, "missingField",
         "password"),
        ("application without secret", "PUT", new,
         {"tenantId": GUID, "authenticationMethod": "application", "applicationId": GUID}, 400, "missingField",
         "applicationSecret"),
        ("applicationId not a GUID", "PUT", new,
         {"tenantId": GUID, "authenticationMethod": "application", "applicationId": "app",
          "applicationSecret": "s"}, 400, "invalidField", "applicationId"),
        ("password sent for token method", "PUT", tenant, {**good, "password": "Sneaky-1"}, 400, "invalidField",
         "password"),
        ("unknown field", "PUT", tenant, {**good, "isAdmin": True}, 400, "unknownField", "isAdmin"),
        ("over-long customerId", "PUT", "/api/tenants/" + "c" * 65, good, 400, "invalidCustomerId", "customerId"),
        ("injection-shaped customerId (PUT)", "PUT", "/api/tenants/" + quote("a' or 'x' eq 'x", safe=""), good,
         400, "invalidCustomerId", "customerId"),
        ("injection-shaped customerId (GET)", "GET", "/api/tenants/" + quote("a' or 'x' eq 'x", safe=""), None,
         400, "invalidCustomerId", "customerId"),
        ("injection-shaped customerId (DELETE)", "DELETE", "/api/tenants/" + quote("x' or PartitionKey ne '", safe=""),
         None, 400, "invalidCustomerId", "customerId"),
        ("encoded slash in customerId", "GET", "/api/status/" + quote("a/b", safe=""), None, 400, "invalidCustomerId",
         "customerId"),
        ("body over 64 KiB", "PUT", tenant, json.dumps({**good, "m365Email": "a" * 70000}).encode(), 413,
         "payloadTooLarge", None),
        ("unknown status filter", "GET", "/api/status?status=ok", None, 400, "invalidQueryParameter", "status"),
        ("unknown method filter", "GET", "/api/status?method=saml", None, 400, "invalidQueryParameter", "method"),
        ("top of zero", "GET", "/api/status?top=0", None, 400, "invalidQueryParameter", "top"),
        ("top too large", "GET", "/api/status?top=1001", None, 400, "invalidQueryParameter", "top"),
        ("top not a number", "GET", "/api/status?top=ten", None, 400, "invalidQueryParameter", "top"),
        ("forged continuation token", "GET", "/api/status?continuationToken=" + quote("{'PartitionKey':1}"), None,
         400, "invalidContinuationToken", "continuationToken"),
        ("unknown customer", "GET", f"/api/status/{fresh}", None, 404, "notFound", None),
    ]


def test_each_malformed_request_is_refused_and_changes_nothing(app, existing):
    before = stored_state(app)
    seen_codes = set()
    for name, method, path, body, status, code, target in cases(existing):
        data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
        response = requests.request(method, app.url(path), data=data, timeout=30,
                                    headers={"Content-Type": "application/json"})
        assert response.status_code == status, (name, response.status_code, response.text)
        error = response.json()["error"]
        assert error["code"] == code, (name, error)
        assert error.get("target") == target, (name, error)  # the field or parameter at fault, when one is
        assert error["message"] and "Traceback" not in response.text, name
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
        seen_codes.add(code)
    assert stored_state(app) == before
    assert len(cases(existing)) >= 15 and len(seen_codes) >= 10
    view = requests.get(app.url(f"/api/tenants/{existing}"), timeout=30).json()
    assert view["m365Email"] == "admin@contoso.com" and view["authenticationMethod"] == "password"


# What a page on another site can send without the browser asking first (a "simple" request), and JSON
# under another name: none is read as JSON.
NOT_JSON = ["text/plain", "text/plain;charset=UTF-8", "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x", "application/json; charset=iso-8859-1"]


def test_every_body_route_refuses_what_is_not_said_to_be_json_and_changes_nothing(app, existing):
    tenant = {"tenantId": GUID, "authenticationMethod": "token"}
    settings = {"clientId": GUID, "redirectUrl": "https://evil.example/authenticate/OAuth2Callback"}
    routes = [("PUT", f"/api/tenants/{existing}", tenant), ("PUT", f"/api/tenants/new-{uuid.uuid4().hex[:8]}", tenant),
              ("PUT", "/api/settings", settings), ("POST", f"/api/consent/{existing}", {"method": "token"}),
              ("POST", "/api/runs", {}), ("POST", f"/api/status/{existing}/verify", {})]
    before = stored_state(app)
    for method, path, body in routes:
        for content_type in NOT_JSON:
            response = requests.request(method, app.url(path), data=json.dumps(body).encode(), timeout=30,
                                        headers={"Content-Type": content_type})
            assert response.status_code == 415, (method, path, content_type, response.text)
            assert response.json()["error"]["code"] == "unsupportedMediaType"
            assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert stored_state(app) == before
    accepted = requests.put(app.url(f"/api/tenants/json-{uuid.uuid4().hex[:8]}"), data=json.dumps(tenant).encode(),
                            timeout=30, headers={"Content-Type": "application/json; charset=utf-8"})
    assert accepted.status_code == 201 and accepted.headers["X-Content-Type-Options"] == "nosniff"
