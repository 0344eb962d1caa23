"""Operators' sign-in through the local host, as App Service Authentication would run it: one host per role
(LOCAL_PRINCIPAL), one with sign-in on and nobody signed in; a sample of routes under each, the function key
checked by a stand-in of the Functions host, cross-site changes refused, and the audit of what each did."""
from __future__ import annotations

import json
import uuid

import pytest
import requests
from azure.data.tables import TableServiceClient

from tests.e2e.conftest import start_app
from tests.support.key_host import KeyHost
from tools.azurite import start_azurite
from tools.local_signin import LOCAL_CLIENT_ID, LOCAL_TENANT_ID
from tools.processes import stop_process

pytestmark = pytest.mark.e2e

KEY = "e2e-host-key-" + uuid.uuid4().hex
ROLES = ("Reader", "Operator", "Administrator")
RUN = uuid.uuid4().hex[:8]


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    """An Azurite of its own (settings change), a key host, and the app under each role and under nobody."""
    azurite = start_azurite()
    key_host = KeyHost(KEY).start()
    apps = {}
    try:
        for who in (*ROLES, "nobody"):
            env = {"WEBSITE_HOSTNAME": key_host.hostname}
            if who == "nobody":
                env.update(OPERATORS_CLIENT_ID=LOCAL_CLIENT_ID, OPERATORS_TENANT_ID=LOCAL_TENANT_ID,
                           WEBSITE_AUTH_ENABLED="true")
            else:
                env["LOCAL_PRINCIPAL"] = f"{who} Person;{who}"
            apps[who] = start_app(tmp_path_factory.mktemp(f"signin-{who}"), azurite.connection_string, env)
        yield apps, key_host, azurite
    finally:
        for app in apps.values():
            stop_process(app.process)
        key_host.stop()
        azurite.stop()


def call(app, method: str, path: str, **kwargs) -> requests.Response:
    headers = {"X-Requested-With": "XMLHttpRequest", **kwargs.pop("headers", {})}
    return requests.request(method, app.url(path), headers=headers, timeout=30, **kwargs)


TENANT_BODY = {"tenantId": "contoso.com", "authenticationMethod": "password", "m365Email": "a@contoso.com",
               "password": "Pw-e2e-signin"}
SETTINGS_BODY = {"clientId": str(uuid.uuid4()), "redirectUrl": "https://tas.example.com/authenticate/OAuth2Callback"}

# (method, path, body) -> status under Reader, Operator, Administrator.
SAMPLE = [
    ("GET", "/api/status", None, (200, 200, 200)),
    ("PUT", f"/api/tenants/role-{RUN}", TENANT_BODY, (403, 201, 200)),
    ("GET", f"/api/tenants/role-{RUN}", None, (200, 200, 200)),
    ("GET", "/api/settings", None, (200, 200, 200)),
    ("PUT", "/api/settings", SETTINGS_BODY, (403, 403, 200)),
    ("GET", "/api/audit", None, (403, 403, 200)),
    ("DELETE", f"/api/tenants/role-{RUN}", None, (403, 403, 204)),
]


def test_a_sample_of_routes_under_each_role(world):
    apps, _, _ = world
    for method, path, body, expected in SAMPLE:
        answered = tuple(call(apps[role], method, path, json=body).status_code for role in ROLES)
        assert answered == expected, (method, path)
    refused = call(apps["Reader"], "PUT", "/api/settings", json=SETTINGS_BODY).json()["error"]
    assert refused["code"] == "forbidden" and "Administrator" in refused["message"]


def test_each_host_says_who_is_signed_in_at_auth_me(world):
    apps, _, _ = world
    for role in ROLES:
        [me] = call(apps[role], "GET", "/.auth/me").json()
        claims = {(c["typ"].rsplit("/", 1)[-1], c["val"]) for c in me["user_claims"]}
        assert ("role", role) in claims and ("name", f"{role} Person") in claims


def test_api_me_names_the_signed_in_person_and_their_role_and_nobody_without_one(world):
    apps, _, _ = world
    for role in ROLES:
        me = call(apps[role], "GET", "/api/me").json()
        assert me == {"signInConfigured": True, "signedIn": True, "name": f"{role} Person",
                      "objectId": me["objectId"], "role": role}
    nobody = call(apps["nobody"], "GET", "/api/me")
    assert nobody.status_code == 200 and nobody.json() == {
        "signInConfigured": True, "signedIn": False, "name": None, "objectId": None, "role": None}


def test_nobody_signed_in_is_refused_and_a_key_opens_every_route(world):
    apps, key_host, _ = world
    app = apps["nobody"]
    refused = call(app, "GET", "/api/status")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "unauthenticated"
    assert call(app, "POST", "/api/runs", headers={"Content-Type": "application/json"}).status_code == 401
    assert call(app, "GET", "/api/health").status_code == 200
    page = call(app, "GET", "/", allow_redirects=False)
    assert page.status_code == 302 and page.headers["Location"].startswith("/.auth/login/aad")
    # A forged principal is no principal: the platform would have dropped it; here it does not parse as ours.
    assert call(app, "GET", "/api/settings", headers={"X-MS-CLIENT-PRINCIPAL": "e30="}).status_code == 401

    before = len(key_host.asked)
    assert call(app, "GET", "/api/audit", headers={"x-functions-key": "wrong-" + KEY}).status_code == 401
    assert call(app, "GET", "/api/audit", headers={"x-functions-key": KEY}).status_code == 200
    assert call(app, "GET", "/api/settings", params={"code": KEY}).status_code == 200
    assert key_host.asked[before:] == ["wrong-" + KEY, KEY]  # the valid key's answer was kept


def test_a_change_from_a_signed_in_browser_that_another_site_could_send_is_refused(world):
    apps, _, _ = world
    customer = f"xsite-{RUN}"
    assert call(apps["Operator"], "PUT", f"/api/tenants/{customer}", json=TENANT_BODY).status_code == 201
    # What a form on another site can send: no custom header, a form body.
    forged = requests.post(apps["Administrator"].url(f"/api/status/{customer}/verify"), timeout=30,
                           data="a=1", headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert forged.status_code == 403 and forged.json()["error"]["code"] == "crossSiteRequest"
    gone = requests.delete(apps["Administrator"].url(f"/api/tenants/{customer}"), timeout=30)
    assert gone.status_code == 403
    assert call(apps["Administrator"], "GET", f"/api/tenants/{customer}").status_code == 200


def test_the_audit_names_who_did_each_change_and_holds_no_secret(world):
    apps, _, azurite = world
    customer, marker = f"audit-{RUN}", uuid.uuid4().hex
    secret = f"Pw!{marker}-audit"
    operator, admin = apps["Operator"], apps["Administrator"]
    assert call(operator, "PUT", f"/api/tenants/{customer}", json={**TENANT_BODY, "password": secret}
                ).status_code == 201
    assert call(operator, "GET", f"/api/status/{customer}").status_code == 200
    assert call(apps["Reader"], "DELETE", f"/api/tenants/{customer}").status_code == 403
    assert call(admin, "PUT", "/api/settings", json={**SETTINGS_BODY, "clientSecret": f"Cs!{marker}"}
                ).status_code == 200
    assert call(admin, "DELETE", f"/api/tenants/{customer}").status_code == 204

    records = call(admin, "GET", "/api/audit", params={"customerId": customer}).json()["records"]
    assert [(r["method"], r["actor"]["name"], r["status"]) for r in records] == [
        ("DELETE", "Administrator Person", 204), ("PUT", "Operator Person", 201)]  # the 403 changed nothing
    assert all(r["route"] == "/api/tenants/{customerId}" and r["requestId"] for r in records)

    table = TableServiceClient.from_connection_string(azurite.connection_string).get_table_client("AuditLog")
    rows = [json.dumps(dict(e), default=str) for e in table.list_entities()]
    assert any(customer in row for row in rows) and any('"/api/settings"' in row for row in rows)
    assert not [row for row in rows if marker in row]


def test_with_sign_in_off_a_forged_principal_is_never_read(app):
    """The session's app has no sign-in: a Reader principal sent by the client decides nothing, and the audit
    names the function key (the host let the request in, as func start does, without checking keys)."""
    from tests.unit.test_access import person

    customer = f"forged-{RUN}"
    response = requests.put(app.url(f"/api/tenants/{customer}"), json=TENANT_BODY, timeout=30,
                            headers={"X-MS-CLIENT-PRINCIPAL": person("Reader")})
    assert response.status_code == 201
    records = requests.get(app.url("/api/audit"), params={"customerId": customer}, timeout=30).json()["records"]
    assert [r["actor"] for r in records] == [{"kind": "functionKey", "id": "functionKey", "name": "function key"}]
    me = requests.get(app.url("/api/me"), headers={"X-MS-CLIENT-PRINCIPAL": person("Administrator")}, timeout=30)
    assert me.json() == {"signInConfigured": False, "signedIn": False, "name": None, "objectId": None, "role": None}
