"""The identity platform simulator (tools/identity_sim) driven by the real MSAL over real HTTPS on loopback.

Every MSAL application here is built as the app's adapter will build it: a ConfidentialClientApplication with
`instance_discovery=False` and an http_client (PortPreservingSession) that keeps the simulator's port on the
user-realm request MSAL sends without one. Waits poll with deadlines; nothing asserts how fast anything is.
"""
from __future__ import annotations

import base64
import dataclasses
import json
import logging
import queue
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html.parser import HTMLParser
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import parse_qs, urlencode, urlsplit

import msal
import pytest
import requests
from msal.exceptions import MsalServiceError

from tests.support.devserver_process import eventually
from tools.identity_sim import (
    AadstsError,
    AppRegistration,
    ClientSecret,
    Hang,
    IdentitySimulator,
    PortPreservingSession,
    Reset,
    ServerError,
    Success,
    Tenant,
    Throttle,
    User,
    decode_claims,
    fingerprint,
    load_scenario,
)
from tools.identity_sim.aadsts import CATALOGUE
from tools.identity_sim.tls import system_ca_bundle
from tools.processes import stop_process

CLIENT_ID = "7c0e7a4e-5a2b-4c1d-9e8f-0a1b2c3d4e5f"
SECRET = "provider-secret-Zq8~not-in-any-log"
PASSWORD = "admin-password-Kx3!not-in-any-log"
UPN = "admin@contoso.onmicrosoft.com"
CONTOSO = "contoso.onmicrosoft.com"
GRAPH_DEFAULT = ["https://graph.microsoft.com/.default"]
REDIRECT_URI = "http://127.0.0.1:7071/authenticate/OAuth2Callback"
T = TypeVar("T")
REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "tools" / "identity_sim" / "example_scenario.json"


@pytest.fixture
def sim(tmp_path) -> Iterator[IdentitySimulator]:
    with IdentitySimulator(ca_dir=tmp_path / "ca") as simulator:
        contoso = simulator.add_tenant(Tenant.named("contoso"))
        simulator.add_tenant(Tenant.named("fabrikam"))
        simulator.add_user(User(upn=UPN, password=PASSWORD, name="Contoso Admin"))
        simulator.add_app(AppRegistration(
            client_id=CLIENT_ID, secrets=(ClientSecret(SECRET),), name="Provider app",
            redirect_uris=(REDIRECT_URI,), roles={"*": ("User.Read.All",)},
            application_permissions=("User.Read.All", "Directory.Read.All")))
        assert contoso.id != simulator.directory.tenant("fabrikam.onmicrosoft.com").id
        yield simulator


def make_app(
    sim: IdentitySimulator, tenant: str = CONTOSO, *, client_id: str = CLIENT_ID, credential: Any = SECRET,
    session: requests.Session | None = None,
) -> msal.ConfidentialClientApplication:
    return msal.ConfidentialClientApplication(
        client_id, client_credential=credential, authority=sim.authority(tenant), instance_discovery=False,
        http_client=session or sim.session(timeout=10))


def password_token(sim: IdentitySimulator, *, username: str = UPN, password: str = PASSWORD, **options: Any) -> dict:
    return make_app(sim, **options).acquire_token_by_username_password(username, password, scopes=["User.Read"])


class _HiddenInputs(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.action, self.fields = "", {}

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag == "form":
            self.action = values.get("action") or ""
        if tag == "input" and values.get("type") == "hidden":
            self.fields[values["name"]] = values["value"]


def browse(sim: IdentitySimulator, url: str) -> tuple[str, dict[str, str]]:
    """What a browser would deliver to the redirect URI: (where, parameters), from a 302 or a form_post page."""
    answer = sim.session(timeout=10).get(url, allow_redirects=False)
    if answer.status_code == 302:
        location = urlsplit(answer.headers["Location"])
        params = {key: values[0] for key, values in parse_qs(location.query).items()}
        return f"{location.scheme}://{location.netloc}{location.path}", params
    assert answer.status_code == 200, answer.text
    form = _HiddenInputs()
    form.feed(answer.text)
    return form.action, form.fields


def start_flow(app: msal.ConfidentialClientApplication, **options: Any) -> dict[str, Any]:
    return app.initiate_auth_code_flow(["User.Read"], redirect_uri=REDIRECT_URI, response_mode="form_post",
                                       **options)


class CapturingSession(PortPreservingSession):
    """Keeps every response, so a test can read what MSAL's result dict does not carry (status, headers)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.responses: list[requests.Response] = []

    def request(self, *args: Any, **kwargs: Any) -> requests.Response:
        response = super().request(*args, **kwargs)
        self.responses.append(response)
        return response


# --- the four grants through MSAL ---------------------------------------------------------------------

def test_password_grant_through_msal_issues_user_tokens(sim):
    result = password_token(sim)

    assert "error" not in result, result
    tenant_id = sim.directory.tenant(CONTOSO).id
    user = sim.directory.user(UPN)
    claims = decode_claims(result["access_token"])
    assert claims["tid"] == tenant_id and claims["upn"] == UPN and claims["preferred_username"] == UPN
    assert claims["appid"] == CLIENT_ID and claims["azp"] == CLIENT_ID and claims["oid"] == user.oid
    assert claims["scp"] == "User.Read" and "roles" not in claims
    assert claims["exp"] > claims["iat"]
    assert result["token_type"] == "Bearer" and result["expires_in"] > 0 and result["refresh_token"]
    assert result["id_token_claims"]["tid"] == tenant_id
    assert result["id_token_claims"]["aud"] == CLIENT_ID
    assert result["id_token_claims"]["preferred_username"] == UPN
    assert result["id_token_claims"]["iss"] == f"{sim.authority_host}/{tenant_id}/v2.0"
    info = json.loads(_b64json(result["client_info"]))
    assert info == {"uid": user.oid, "utid": tenant_id}
    # MSAL asked the user realm without a port; the session sent it to the simulator's port.
    realm = sim.requests_for(CONTOSO, endpoint="userrealm")
    assert [(request.path, request.status) for request in realm] == [(f"/common/userrealm/{UPN}", 200)]
    # Discovery named the tenant by id, as the service does, so the token request went to /{tenant id}/.
    (token,) = sim.requests_for(CONTOSO, endpoint="token")
    assert token.path == f"/{tenant_id}/oauth2/v2.0/token" and token.grant_type == "password"
    assert token.client_auth == "secret" and token.status == 200


def _b64json(text: str) -> str:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)).decode()


def test_refresh_token_is_rotated_and_the_old_one_stays_valid_until_revoked(sim):
    stored = sim.issue_refresh_token(tenant=CONTOSO, upn=UPN, client_id=CLIENT_ID)

    first = make_app(sim).acquire_token_by_refresh_token(stored, scopes=["User.Read"])
    again = make_app(sim).acquire_token_by_refresh_token(stored, scopes=["User.Read"])
    newer = make_app(sim).acquire_token_by_refresh_token(first["refresh_token"], scopes=["User.Read"])

    assert "access_token" in first and "access_token" in again and "access_token" in newer, (first, again, newer)
    assert len({stored, first["refresh_token"], again["refresh_token"], newer["refresh_token"]}) == 4
    assert decode_claims(first["access_token"])["upn"] == UPN
    sent = [request.refresh_token_fingerprint for request in sim.requests_for(CONTOSO, endpoint="token")]
    assert sent == [fingerprint(stored), fingerprint(stored), fingerprint(first["refresh_token"])]

    sim.revoke_refresh_token(stored)
    revoked = make_app(sim).acquire_token_by_refresh_token(stored, scopes=["User.Read"])
    assert revoked["error_codes"] == [50173] and revoked["error"] == "invalid_grant"
    assert "access_token" in make_app(sim).acquire_token_by_refresh_token(first["refresh_token"], ["User.Read"])

    sim.expire_refresh_token(first["refresh_token"])
    expired = make_app(sim).acquire_token_by_refresh_token(first["refresh_token"], scopes=["User.Read"])
    assert expired["error_codes"] == [700082]

    assert sim.revoke_user_sessions(UPN) >= 3
    assert make_app(sim).acquire_token_by_refresh_token(newer["refresh_token"], ["User.Read"])["error_codes"] == [50173]


def test_a_single_use_refresh_token_works_once(sim):
    stored = sim.issue_refresh_token(tenant=CONTOSO, upn=UPN, client_id=CLIENT_ID, single_use=True)
    first = make_app(sim).acquire_token_by_refresh_token(stored, scopes=["User.Read"])
    second = make_app(sim).acquire_token_by_refresh_token(stored, scopes=["User.Read"])
    assert "access_token" in first and second["error_codes"] == [50173]
    # Its successor is single-use too, and works once.
    assert "access_token" in make_app(sim).acquire_token_by_refresh_token(first["refresh_token"], ["User.Read"])


def test_refresh_token_of_another_client_or_unknown_is_refused(sim):
    other = str(uuid.uuid4())
    sim.add_app(AppRegistration(client_id=other, secrets=(ClientSecret("other-secret"),)))
    stored = sim.issue_refresh_token(tenant=CONTOSO, upn=UPN, client_id=other)
    assert make_app(sim).acquire_token_by_refresh_token(stored, ["User.Read"])["error_codes"] == [70000]
    assert make_app(sim).acquire_token_by_refresh_token("1.made-up", ["User.Read"])["error_codes"] == [9002313]


def test_client_credentials_carry_the_registered_roles(sim):
    result = make_app(sim).acquire_token_for_client(GRAPH_DEFAULT)

    claims = decode_claims(result["access_token"])
    assert claims["roles"] == ["User.Read.All"] and claims["tid"] == sim.directory.tenant(CONTOSO).id
    assert claims["aud"] == "https://graph.microsoft.com" and claims["idtyp"] == "app"
    assert "refresh_token" not in result and "id_token" not in result

    sim.set_roles(CLIENT_ID, "fabrikam.onmicrosoft.com", [])
    bare = decode_claims(make_app(sim, "fabrikam.onmicrosoft.com").acquire_token_for_client(GRAPH_DEFAULT)[
        "access_token"])
    assert "roles" not in bare  # the service leaves the claim out when the app holds no role


def test_scripted_success_shapes_roles_scopes_and_tid(sim):
    elsewhere = str(uuid.uuid4())
    sim.script(CONTOSO, Success(roles=("Mail.Read",), tid=elsewhere), grant_type="client_credentials", times=1)
    sim.script(CONTOSO, Success(scopes=("User.Read", "Mail.Send")), grant_type="password", times=1)

    app_claims = decode_claims(make_app(sim).acquire_token_for_client(GRAPH_DEFAULT)["access_token"])
    user_claims = decode_claims(password_token(sim)["access_token"])

    assert app_claims["roles"] == ["Mail.Read"] and app_claims["tid"] == elsewhere
    assert user_claims["scp"] == "User.Read Mail.Send"
    assert decode_claims(make_app(sim).acquire_token_for_client(GRAPH_DEFAULT)["access_token"])["tid"] != elsewhere


def test_client_credentials_need_a_default_scope(sim):
    assert make_app(sim).acquire_token_for_client(["User.Read"])["error_codes"] == [1002012]


def test_client_assertion_is_checked_like_a_secret(sim):
    sim.update_app(CLIENT_ID, secrets=(ClientSecret(SECRET), ClientSecret("assertion-jwt-value")))
    good = make_app(sim, credential={"client_assertion": lambda: "assertion-jwt-value"})
    bad = make_app(sim, credential={"client_assertion": lambda: "forged-assertion"})
    assert "access_token" in good.acquire_token_for_client(GRAPH_DEFAULT)
    assert bad.acquire_token_for_client(GRAPH_DEFAULT)["error_codes"] == [700027]
    assert sim.requests_for(CONTOSO, endpoint="token")[0].client_auth == "assertion"


def test_authorization_code_flow_with_pkce_through_msal(sim):
    app = make_app(sim)
    flow = start_flow(app, login_hint=UPN)

    target, auth_response = browse(sim, flow["auth_uri"])

    assert target == REDIRECT_URI
    assert auth_response["state"] == flow["state"] and auth_response["code"]
    result = app.acquire_token_by_auth_code_flow(flow, auth_response)  # MSAL checks state and the nonce
    assert "access_token" in result, result
    assert result["id_token_claims"]["preferred_username"] == UPN and result["refresh_token"]
    token = sim.requests_for(CONTOSO, endpoint="token")[-1]
    assert token.grant_type == "authorization_code" and token.status == 200
    # A code is single-use.
    replay = requests.post(
        f"{sim.authority(CONTOSO)}/oauth2/v2.0/token", verify=sim.ca_bundle_path, timeout=10, data={
            "grant_type": "authorization_code", "client_id": CLIENT_ID, "client_secret": SECRET,
            "code": auth_response["code"], "redirect_uri": REDIRECT_URI, "code_verifier": flow["code_verifier"]})
    assert replay.json()["error_codes"] == [54005]


def test_authorize_answers_a_302_without_form_post(sim):
    query = {"client_id": CLIENT_ID, "response_type": "code", "redirect_uri": REDIRECT_URI, "scope": "User.Read",
             "state": "st-2"}
    target, params = browse(sim, f"{sim.authority(CONTOSO)}/oauth2/v2.0/authorize?{urlencode(query)}")
    assert sim.requests_for(CONTOSO, endpoint="authorize")[-1].status == 302
    assert target == REDIRECT_URI and params["state"] == "st-2" and params["code"]


def test_a_wrong_code_verifier_is_refused(sim):
    flow = start_flow(make_app(sim))
    _, auth_response = browse(sim, flow["auth_uri"])
    answer = requests.post(
        f"{sim.authority(CONTOSO)}/oauth2/v2.0/token", verify=sim.ca_bundle_path, timeout=10, data={
            "grant_type": "authorization_code", "client_id": CLIENT_ID, "client_secret": SECRET,
            "code": auth_response["code"], "redirect_uri": REDIRECT_URI,
            "code_verifier": "not-the-verifier-" + "x" * 40})
    assert answer.status_code == 400 and answer.json()["error_codes"] == [501481]


def test_authorize_sends_a_scripted_error_back_with_state(sim):
    sim.script(CONTOSO, AadstsError(65004), endpoint="authorize", times=1)
    flow = start_flow(make_app(sim))
    _, params = browse(sim, flow["auth_uri"])
    assert params["error"] == "access_denied" and params["state"] == flow["state"]
    assert params["error_description"].startswith("AADSTS65004:") and "code" not in params


def test_authorize_shows_an_error_page_for_an_unregistered_redirect_uri(sim):
    flow = make_app(sim).initiate_auth_code_flow(["User.Read"], redirect_uri="https://evil.example/cb",
                                                 response_mode="form_post")
    page = sim.session(timeout=10).get(flow["auth_uri"], allow_redirects=False)
    assert page.status_code == 400 and "AADSTS50011" in page.text and "<form" not in page.text


def admin_consent(sim: IdentitySimulator, tenant: str = "common", **params: str) -> dict[str, str]:
    query = {"client_id": CLIENT_ID, "redirect_uri": REDIRECT_URI, "state": "st-1",
             "scope": "https://graph.microsoft.com/.default", **params}
    answer = sim.session(timeout=10).get(f"{sim.authority(tenant)}/v2.0/adminconsent", params=query,
                                         allow_redirects=False)
    assert answer.status_code == 302, answer.text
    assert answer.headers["Location"].startswith(REDIRECT_URI + "?")
    return {key: values[0] for key, values in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def test_admin_consent_grants_the_app_roles_in_the_admins_tenant(sim):
    sim.add_user(User(upn="admin@fabrikam.onmicrosoft.com", password="fabrikam-password"))
    fabrikam = sim.directory.tenant("fabrikam.onmicrosoft.com")
    sim.update_app(CLIENT_ID, tenants=(CONTOSO,), roles={})
    before = make_app(sim, "fabrikam.onmicrosoft.com").acquire_token_for_client(GRAPH_DEFAULT)
    assert before["error_codes"] == [700016]  # no service principal there yet

    answer = admin_consent(sim, login_hint="admin@fabrikam.onmicrosoft.com")

    assert answer == {"admin_consent": "True", "tenant": fabrikam.id, "state": "st-1",
                      "scope": "https://graph.microsoft.com/.default"}
    after = make_app(sim, "fabrikam.onmicrosoft.com").acquire_token_for_client(GRAPH_DEFAULT)
    assert decode_claims(after["access_token"])["roles"] == ["User.Read.All", "Directory.Read.All"]


def test_admin_consent_scripted_error_and_scripted_tenant(sim):
    sim.script(None, AadstsError(65004), endpoint="adminconsent", times=1)
    elsewhere = str(uuid.uuid4())
    sim.script(None, Success(tid=elsewhere), endpoint="adminconsent", times=1)

    denied = admin_consent(sim)
    lied = admin_consent(sim)

    assert denied["error"] == "access_denied" and denied["state"] == "st-1" and "admin_consent" not in denied
    assert denied["error_description"].startswith("AADSTS65004:")
    assert lied["tenant"] == elsewhere and lied["admin_consent"] == "True"


# --- errors in the service's shape ----------------------------------------------------------------------

SCRIPTED_CODES = [50126, 50076, 50079, 50074, 53000, 53001, 53002, 53003, 530003, 530035, 65001, 500011, 650051,
                  65004, 700082, 70008, 70043, 50173, 50133, 50053, 50057, 50055, 50034, 7000215, 7000222, 700016,
                  90002, 900023, 4242424]


@pytest.mark.parametrize("code", SCRIPTED_CODES)
def test_each_scripted_aadsts_error_reaches_msal_in_the_service_shape(sim, code):
    sim.script(CONTOSO, AadstsError(code), times=1)

    result = password_token(sim)

    assert result["error_codes"] == [code]
    known = CATALOGUE.get(code)
    assert result["error"] == (known.error if known else "invalid_request")
    lines = result["error_description"].split("\r\n")
    assert lines[0].startswith(f"AADSTS{code}: ") and "<" not in lines[0]
    assert lines[1] == f"Trace ID: {result['trace_id']}"
    assert lines[2] == f"Correlation ID: {result['correlation_id']}"
    assert lines[3] == f"Timestamp: {result['timestamp']}"
    assert result["error_uri"] == f"{sim.authority_host}/error?code={code}"
    (token,) = sim.requests_for(CONTOSO, endpoint="token")
    assert token.status == (known.status if known else 400) and token.outcome == "AadstsError"
    assert token.correlation_id == result["correlation_id"]  # MSAL's client-request-id is echoed
    assert "access_token" in password_token(sim)  # `times=1`: the next one is answered normally


@pytest.mark.parametrize("grant", ["refresh_token", "client_credentials"])
def test_scripted_errors_apply_to_the_other_grants(sim, grant):
    sim.script(CONTOSO, AadstsError(53003), grant_type=grant, times=1)
    app = make_app(sim)
    if grant == "refresh_token":
        stored = sim.issue_refresh_token(tenant=CONTOSO, upn=UPN, client_id=CLIENT_ID)
        result = app.acquire_token_by_refresh_token(stored, ["User.Read"])
    else:
        result = app.acquire_token_for_client(GRAPH_DEFAULT)
    assert result["error_codes"] == [53003] and result["suberror"] == "message_only"


def test_scripts_match_a_user_and_run_out_after_times(sim):
    sim.add_user(User(upn="other@contoso.onmicrosoft.com", password="other-password"))
    sim.script(CONTOSO, AadstsError(50076), user=UPN, times=2)
    assert password_token(sim, username="other@contoso.onmicrosoft.com", password="other-password").get(
        "access_token")
    assert [password_token(sim).get("error_codes") for _ in range(3)] == [[50076], [50076], None]


@pytest.mark.parametrize("change, code", [
    ({"password": "changed-elsewhere"}, 50126), ({"mfa_required": True}, 50076), ({"locked": True}, 50053),
    ({"disabled": True}, 50057), ({"password_expired": True}, 50055),
])
def test_the_registered_user_decides_the_password_grant(sim, change, code):
    sim.update_user(UPN, **change)
    assert password_token(sim)["error_codes"] == [code]


def test_the_registered_app_decides_client_authentication(sim):
    past = datetime.now(UTC) - timedelta(days=1)
    assert password_token(sim, username="nobody@contoso.onmicrosoft.com")["error_codes"] == [50034]
    assert password_token(sim, credential="wrong-secret")["error_codes"] == [7000215]
    assert password_token(sim, client_id=str(uuid.uuid4()))["error_codes"] == [700016]
    sim.update_app(CLIENT_ID, secrets=(ClientSecret(SECRET, expires_at=past),))
    expired = password_token(sim)
    assert expired["error_codes"] == [7000222] and expired["error"] == "invalid_client"
    assert sim.requests_for(CONTOSO, endpoint="token")[-1].status == 401  # invalid_client is a 401


def test_named_scopes_need_consent(sim):
    result = make_app(sim).acquire_token_by_username_password(UPN, PASSWORD, scopes=["Mail.Send"])
    assert result["error_codes"] == [65001] and result["suberror"] == "consent_required"


@pytest.mark.parametrize("tenant, code", [(str(uuid.uuid4()), 90002), ("nosuch.onmicrosoft.com", 90002),
                                          ("not_a_domain", 900023)])
def test_an_unknown_tenant_fails_at_msal_application_construction(sim, tenant, code):
    with pytest.raises(ValueError) as raised:
        make_app(sim, tenant)
    # MSAL raises its own message; the service's answer is in the exception it was raised from.
    assert f"AADSTS{code}" in str(raised.value.__context__) and "invalid_tenant" in str(raised.value.__context__)
    (discovery,) = sim.requests_for(tenant, endpoint="discovery")
    assert discovery.status == 400 and sim.requests_for(tenant, endpoint="token") == []


def test_discovery_documents_point_back_at_the_simulator(sim):
    tenant_id = sim.directory.tenant(CONTOSO).id
    session = sim.session(timeout=10)
    v2 = session.get(f"{sim.authority(CONTOSO)}/v2.0/.well-known/openid-configuration").json()
    v1 = session.get(f"{sim.authority(CONTOSO)}/.well-known/openid-configuration").json()
    assert v2["issuer"] == f"{sim.authority_host}/{tenant_id}/v2.0"
    assert v2["token_endpoint"] == f"{sim.authority_host}/{tenant_id}/oauth2/v2.0/token"
    assert v2["authorization_endpoint"] == f"{sim.authority_host}/{tenant_id}/oauth2/v2.0/authorize"
    assert v2["device_authorization_endpoint"].startswith(sim.authority_host)
    assert v1["token_endpoint"] == f"{sim.authority_host}/{tenant_id}/oauth2/token"
    unknown = session.get(f"{sim.authority('nosuch.example')}/v2.0/.well-known/openid-configuration")
    body = unknown.json()
    assert unknown.status_code == 400 and body["error"] == "invalid_tenant" and body["error_codes"] == [90002]
    assert body["error_description"].startswith("AADSTS90002: Tenant 'nosuch.example' not found.")


# --- throttling, failures of the platform, latency ------------------------------------------------------

def test_throttle_answers_429_with_retry_after_and_msal_replays_it(sim):
    sim.script(CONTOSO, Throttle(retry_after=7), times=1)
    session = CapturingSession(sim.authority_host, verify=sim.ca_bundle_path, timeout=10)
    app = make_app(sim, session=session)

    first = app.acquire_token_for_client(GRAPH_DEFAULT)
    second = app.acquire_token_for_client(GRAPH_DEFAULT)  # MSAL answers this from its http cache

    assert first["error"] == "temporarily_unavailable" and second == first
    (throttled,) = [response for response in session.responses if response.status_code == 429]
    assert throttled.headers["Retry-After"] == "7"
    assert [request.status for request in sim.requests_for(CONTOSO, endpoint="token")] == [429]
    assert "access_token" in make_app(sim).acquire_token_for_client(GRAPH_DEFAULT)  # a new app asks again


def test_throttle_for_the_next_n_requests_then_answers(sim):
    sim.script(CONTOSO, Throttle(retry_after=1), times=2)
    results = [make_app(sim).acquire_token_for_client(GRAPH_DEFAULT) for _ in range(3)]
    assert [result.get("error") for result in results] == ["temporarily_unavailable"] * 2 + [None]
    assert [request.status for request in sim.requests_for(CONTOSO, endpoint="token")] == [429, 429, 200]


def test_a_plain_text_429_makes_msal_raise(sim):
    sim.script(CONTOSO, Throttle(retry_after=3, json_body=False), times=1)
    with pytest.raises(ValueError):  # MSAL json.loads the body of any answer below 500
        make_app(sim).acquire_token_for_client(GRAPH_DEFAULT)


def test_server_errors_for_the_next_n_requests_then_a_retry_reaches_the_server(sim):
    sim.script(CONTOSO, ServerError(503), times=2)
    for _ in range(2):
        with pytest.raises(MsalServiceError):  # MSAL raises on 5xx
            make_app(sim).acquire_token_for_client(GRAPH_DEFAULT)
    assert "access_token" in make_app(sim).acquire_token_for_client(GRAPH_DEFAULT)
    tokens = sim.requests_for(CONTOSO, endpoint="token")
    assert [(request.status, request.outcome) for request in tokens] == [
        (503, "ServerError"), (503, "ServerError"), (200, None)]


def test_reset_closes_the_connection_without_an_answer(sim):
    sim.script(CONTOSO, Reset(), times=1)
    with pytest.raises(requests.ConnectionError):
        make_app(sim).acquire_token_for_client(GRAPH_DEFAULT)
    assert "access_token" in make_app(sim).acquire_token_for_client(GRAPH_DEFAULT)
    first, second = sim.requests_for(CONTOSO, endpoint="token")
    assert (first.status, first.outcome, second.status) == (None, "Reset", 200)


def test_hang_outlasts_a_client_timeout(sim):
    sim.script(CONTOSO, Hang(), times=1)
    app = make_app(sim, session=sim.session(timeout=0.5))
    started = time.monotonic()
    with pytest.raises(requests.Timeout):
        app.acquire_token_for_client(GRAPH_DEFAULT)
    assert time.monotonic() - started < 30  # generous: it is the client's timeout that ended the wait
    (held,) = sim.requests_for(CONTOSO, endpoint="token")
    assert held.status is None and held.outcome == "Hang"


def test_hang_for_some_seconds_then_answers(sim):
    sim.script(CONTOSO, Hang(seconds=0.3), times=1)
    assert "access_token" in make_app(sim).acquire_token_for_client(GRAPH_DEFAULT)
    (held,) = sim.requests_for(CONTOSO, endpoint="token")
    assert held.status == 200 and held.answered_at - held.received_at >= 0.3  # the server held it that long


def test_latency_is_applied_globally_and_per_tenant(sim):
    sim.set_latency(150)
    sim.set_latency(400, tenant="fabrikam.onmicrosoft.com")
    make_app(sim).acquire_token_for_client(GRAPH_DEFAULT)
    make_app(sim, "fabrikam.onmicrosoft.com").acquire_token_for_client(GRAPH_DEFAULT)
    (contoso,) = sim.requests_for(CONTOSO, endpoint="token")
    (fabrikam,) = sim.requests_for("fabrikam.onmicrosoft.com", endpoint="token")
    assert contoso.answered_at - contoso.received_at >= 0.15
    assert fabrikam.answered_at - fabrikam.received_at >= 0.4
    (discovery,) = sim.requests_for(CONTOSO, endpoint="discovery")
    assert discovery.status == 200  # latency is for the token endpoint only


def test_a_scenario_that_names_no_latency_keeps_the_latency_given_to_the_simulator(tmp_path):
    scenario = {"tenants": [{"id": str(uuid.uuid4()), "domains": [CONTOSO]}],
                "apps": [{"client_id": CLIENT_ID, "secrets": [{"value": SECRET}]}]}
    with IdentitySimulator(ca_dir=tmp_path / "ca", latency_ms=250, scenario=scenario) as simulator:
        make_app(simulator).acquire_token_for_client(GRAPH_DEFAULT)
        (token,) = simulator.requests_for(CONTOSO, endpoint="token")
    assert token.answered_at - token.received_at >= 0.25


def test_requests_wait_concurrently_without_a_global_lock(sim):
    """Sixteen requests are held at once (a lock held while waiting would let only one in)."""
    in_flight = 16
    sim.script(CONTOSO, Hang(), times=in_flight)
    outcomes: list[str] = []

    def ask() -> None:
        try:
            make_app(sim, session=sim.session(timeout=20)).acquire_token_for_client(GRAPH_DEFAULT)
            outcomes.append("answered")
        except requests.RequestException:
            outcomes.append("dropped")

    threads = [threading.Thread(target=ask) for _ in range(in_flight)]
    for thread in threads:
        thread.start()
    eventually(lambda: sim.counters()["in_flight"] == in_flight, timeout=20, what="16 requests held at once")
    assert sim.counters()["peak_in_flight"] == in_flight
    sim.stop()  # ends every hang: the connections close unanswered
    for thread in threads:
        thread.join(timeout=30)
    assert outcomes == ["dropped"] * in_flight


# --- the recording --------------------------------------------------------------------------------------

def test_the_recording_and_the_logs_hold_no_secret_values(sim, caplog):
    caplog.set_level(logging.DEBUG, logger="tools.identity_sim")
    stored = sim.issue_refresh_token(tenant=CONTOSO, upn=UPN, client_id=CLIENT_ID)
    app = make_app(sim)
    rotated = app.acquire_token_by_refresh_token(stored, ["User.Read"])["refresh_token"]
    issued = password_token(sim)
    app.acquire_token_for_client(GRAPH_DEFAULT)
    password_token(sim, password="a-wrong-password-Qq9")
    flow = start_flow(app)
    _, auth_response = browse(sim, flow["auth_uri"])
    app.acquire_token_by_auth_code_flow(flow, auth_response)

    recording = json.dumps([dataclasses.asdict(request) for request in sim.requests]) + repr(sim.requests)
    everything = recording + json.dumps(sim.counters()) + caplog.text
    secrets = [SECRET, PASSWORD, "a-wrong-password-Qq9", stored, rotated, issued["refresh_token"],
               auth_response["code"], flow["code_verifier"], issued["access_token"]]
    assert [secret for secret in secrets if secret in everything] == []
    assert fingerprint(stored) in recording  # what is kept instead: enough to tell tokens apart
    assert {request.grant_type for request in sim.requests if request.grant_type} == {
        "password", "refresh_token", "client_credentials", "authorization_code"}


def test_counters_count_requests_by_endpoint_grant_and_status(sim):
    sim.script(CONTOSO, AadstsError(50126), times=1)
    password_token(sim)
    password_token(sim)
    counters = sim.counters()
    assert counters["endpoint:token"] == 2 and counters["grant:password"] == 2
    assert counters["status:400"] == 1 and counters["outcome:AadstsError"] == 1
    sim.clear_recording()
    assert sim.requests == [] and sim.counters()["requests"] == 0


# --- starting it: in-process, as a process, the CA bundle, the scenario file ---------------------------

def test_it_listens_on_a_free_unprivileged_port_so_it_needs_no_root(tmp_path):
    with IdentitySimulator(ca_dir=tmp_path / "a") as one, IdentitySimulator(ca_dir=tmp_path / "b") as two:
        assert one.port != two.port and min(one.port, two.port) >= 1024
        assert one.authority_host == f"https://127.0.0.1:{one.port}"
        assert one.authority("contoso.onmicrosoft.com") == f"{one.authority_host}/contoso.onmicrosoft.com"


def test_the_ca_bundle_trusts_the_simulator_and_keeps_the_system_cas(sim, monkeypatch):
    system = system_ca_bundle()
    assert system is not None
    bundle = sim.ca_bundle_path.read_bytes()
    assert bundle.startswith(system.read_bytes().rstrip(b"\n")) and bundle.endswith(sim.ca_path.read_bytes())
    url = f"{sim.authority(CONTOSO)}/v2.0/.well-known/openid-configuration"
    with pytest.raises(requests.exceptions.SSLError):
        requests.get(url, verify=str(system), timeout=10)  # the system CAs alone do not trust it
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sim.ca_bundle_path))
    assert requests.get(url, timeout=10).json()["issuer"].startswith(sim.authority_host)


def test_the_example_scenario_file_registers_data_and_scripts_outcomes(tmp_path):
    with IdentitySimulator(ca_dir=tmp_path, scenario=EXAMPLE) as sim:
        provider = {"client_id": "33333333-3333-4333-8333-333333333333", "credential": "demo-provider-secret"}
        fabrikam = {"username": "admin@fabrikam.onmicrosoft.com", "password": "fabrikam-demo-password"}
        contoso = {"username": "admin@contoso.onmicrosoft.com", "password": "contoso-demo-password"}

        def password(tenant: str, user: dict[str, str], **app: str) -> dict:
            return make_app(sim, tenant, **{**provider, **app}).acquire_token_by_username_password(
                user["username"], user["password"], scopes=["User.Read"])

        assert [password("fabrikam.onmicrosoft.com", fabrikam).get("error_codes") for _ in range(3)] == [
            [50126], [50126], None]
        assert "access_token" in password("contoso.example", contoso)  # any domain of the tenant
        assert password("contoso.onmicrosoft.com", contoso, credential="demo-provider-old-secret")[
            "error_codes"] == [7000222]
        mfa = {"username": "mfa@fabrikam.onmicrosoft.com", "password": "fabrikam-mfa-password"}
        assert password("fabrikam.onmicrosoft.com", mfa)["error_codes"] == [50076]
        app = make_app(sim, "contoso.onmicrosoft.com", **provider)
        assert "access_token" in app.acquire_token_by_refresh_token("demo-refresh-token-contoso", ["User.Read"])
        assert app.acquire_token_by_refresh_token("demo-refresh-token-revoked", ["User.Read"])["error_codes"] == [
            50173]
        claims = decode_claims(app.acquire_token_for_client(GRAPH_DEFAULT)["access_token"])
        assert claims["roles"] == ["User.Read.All"] and claims["tid"] == "11111111-1111-4111-8111-111111111111"
        no_roles = make_app(sim, "fabrikam.onmicrosoft.com", **provider).acquire_token_for_client(GRAPH_DEFAULT)
        assert "roles" not in decode_claims(no_roles["access_token"])


def test_a_scenario_with_a_misspelt_key_is_refused():
    with pytest.raises(ValueError, match="unknown keys"):
        load_scenario({"tenants": [{"id": str(uuid.uuid4()), "domains": ["x.example"], "nmae": "typo"}]})
    with pytest.raises(ValueError, match="outcome kind"):
        load_scenario({"script": [{"tenant": "x.example", "outcome": {"kind": "explode"}}]})


def _first_line(process: subprocess.Popen, *, timeout: float) -> str:
    lines: queue.Queue[str] = queue.Queue()
    threading.Thread(target=lambda: lines.put(process.stdout.readline()), daemon=True).start()
    try:
        return lines.get(timeout=timeout)
    except queue.Empty:
        pytest.fail(f"the simulator printed nothing within {timeout} s")


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_the_command_line_prints_its_url_serves_and_exits_on_a_signal(tmp_path, sig):
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.identity_sim", "--port", "0", "--ca-dir", str(tmp_path / "ca"),
         "--scenario", str(EXAMPLE), "--latency-ms", "1"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        announced = json.loads(_first_line(process, timeout=60))
        assert announced["authority_host"] == f"https://127.0.0.1:{announced['port']}"
        assert Path(announced["ca_bundle"]).is_file() and Path(announced["ca_cert"]).is_file()
        session = PortPreservingSession(announced["authority_host"], verify=announced["ca_bundle"], timeout=10)
        app = msal.ConfidentialClientApplication(
            "33333333-3333-4333-8333-333333333333", client_credential="demo-provider-secret",
            authority=f"{announced['authority_host']}/contoso.onmicrosoft.com", instance_discovery=False,
            http_client=session)
        result = app.acquire_token_by_username_password("admin@contoso.onmicrosoft.com", "contoso-demo-password",
                                                        scopes=["User.Read"])
        assert "access_token" in result, result

        process.send_signal(sig)
        assert process.wait(timeout=15) == 0
    finally:
        stop_process(process)
        process.stdout.close()
        process.stderr.close()


def test_the_command_lines_latency_wins_over_the_scenario_files(tmp_path):
    # The example scenario says latency_ms 0; the command line asks for 300 ms on every token answer.
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.identity_sim", "--port", "0", "--ca-dir", str(tmp_path / "ca"),
         "--scenario", str(EXAMPLE), "--latency-ms", "300"],
        cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        announced = json.loads(_first_line(process, timeout=60))
        session = PortPreservingSession(announced["authority_host"], verify=announced["ca_bundle"], timeout=10)
        app = msal.ConfidentialClientApplication(
            "33333333-3333-4333-8333-333333333333", client_credential="demo-provider-secret",
            authority=f"{announced['authority_host']}/contoso.onmicrosoft.com", instance_discovery=False,
            http_client=session)
        app.acquire_token_for_client(GRAPH_DEFAULT)  # discovery first, and a token answer
        started = time.monotonic()
        result = msal.ConfidentialClientApplication(
            "33333333-3333-4333-8333-333333333333", client_credential="demo-provider-secret",
            authority=f"{announced['authority_host']}/contoso.onmicrosoft.com", instance_discovery=False,
            http_client=session).acquire_token_for_client(GRAPH_DEFAULT)
        assert "access_token" in result, result
        assert time.monotonic() - started >= 0.3  # at least the delay asked for: the file's 0 did not replace it
    finally:
        stop_process(process)
        process.stdout.close()
        process.stderr.close()


def test_a_client_may_post_its_secret_in_the_body_and_spell_headers_in_any_case(sim):
    url = f"{sim.authority(CONTOSO)}/oauth2/v2.0/token"
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "scope": GRAPH_DEFAULT[0]}
    in_body = requests.post(url, data={**form, "client_secret": SECRET}, headers={"CLIENT-REQUEST-ID": "corr-1"},
                            verify=sim.ca_bundle_path, timeout=10)
    basic = base64.b64encode(f"{CLIENT_ID}:{SECRET}".encode()).decode()
    in_header = requests.post(url, data=form, headers={"AUTHORIZATION": f"Basic {basic}"},
                              verify=sim.ca_bundle_path, timeout=10)
    assert in_body.status_code == 200 and in_header.status_code == 200
    assert sim.requests_for(CONTOSO, endpoint="token")[0].correlation_id == "corr-1"
    assert in_body.headers["Cache-Control"].startswith("no-store")
