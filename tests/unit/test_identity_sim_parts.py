"""Parts of the identity platform simulator that need no server: the port-preserving session's rewrite, the
scripted rules, the AADSTS catalogue, the scenario format and the recording."""
from __future__ import annotations

import pytest

from tools.identity_sim import (
    AadstsError,
    Hang,
    IdentitySimulator,
    PortPreservingSession,
    Reset,
    Success,
    Throttle,
    load_scenario,
)
from tools.identity_sim.aadsts import CATALOGUE, error_body, unknown_tenant_code
from tools.identity_sim.outcomes import Endpoint, RequestFacts, Rule, Script
from tools.identity_sim.recording import RecordedRequest, Recorder
from tools.identity_sim.routes import route_for
from tools.identity_sim.scenarios import outcome_from_json

AUTHORITY = "https://127.0.0.1:8443"


@pytest.mark.parametrize("url, expected", [
    # MSAL's user-realm request: the authority's host without a port gets the authority's port.
    ("https://127.0.0.1/common/userrealm/a@b.example?api-version=1.0",
     "https://127.0.0.1:8443/common/userrealm/a@b.example?api-version=1.0"),
    ("https://127.0.0.1:8443/tenant/oauth2/v2.0/token", "https://127.0.0.1:8443/tenant/oauth2/v2.0/token"),
    ("https://127.0.0.1:9999/other", "https://127.0.0.1:9999/other"),  # an explicit port is kept
    ("https://login.microsoftonline.com/common/userrealm/x", "https://login.microsoftonline.com/common/userrealm/x"),
    ("http://127.0.0.1/plain", "http://127.0.0.1/plain"),  # another scheme is another origin
    ("https://localhost/common/userrealm/x", "https://localhost/common/userrealm/x"),
])
def test_the_session_restores_only_the_authoritys_port(url, expected):
    assert PortPreservingSession(AUTHORITY).rewrite(url) == expected


def test_the_session_rewrites_nothing_for_an_authority_on_443():
    session = PortPreservingSession("https://login.microsoftonline.com")
    assert session.rewrite("https://login.microsoftonline.com/common/userrealm/x") == (
        "https://login.microsoftonline.com/common/userrealm/x")


def test_the_session_refuses_a_plain_http_authority():
    with pytest.raises(ValueError):
        PortPreservingSession("http://127.0.0.1:8080")


def facts(**changes: object) -> RequestFacts:
    values: dict[str, object] = {"endpoint": Endpoint.TOKEN, "tenant": "contoso.onmicrosoft.com",
                                 "tenant_id": "tid-1", "user": "a@contoso.onmicrosoft.com", "client_id": "app",
                                 "grant_type": "password"}
    return RequestFacts(**{**values, **changes})


def test_rules_apply_in_order_and_run_out():
    script = Script(tenant_id_of=lambda ref: "tid-1" if ref == "contoso" else None)
    script.add(Rule(Throttle(), tenant="contoso", times=2))
    script.add(Rule(Reset(), tenant="fabrikam.onmicrosoft.com"))
    script.add(Rule(Hang(), tenant=None, grant_type="client_credentials"))
    assert [script.take(facts()) for _ in range(3)] == [Throttle(), Throttle(), None]
    assert script.take(facts(tenant="fabrikam.onmicrosoft.com", tenant_id=None)) == Reset()
    assert script.take(facts(tenant="fabrikam.onmicrosoft.com", tenant_id=None)) == Reset()  # no `times`: stays
    assert script.take(facts(grant_type="client_credentials")) == Hang()


def test_rules_match_endpoint_user_and_client():
    script = Script(tenant_id_of=lambda ref: None)
    script.add(Rule(AadstsError(65004), endpoint=Endpoint.AUTHORIZE))
    script.add(Rule(AadstsError(50076), user="A@contoso.onmicrosoft.com", client_id="APP"))
    assert script.take(facts(endpoint=Endpoint.AUTHORIZE)) == AadstsError(65004)
    assert script.take(facts(user="b@contoso.onmicrosoft.com")) is None
    assert script.take(facts()) == AadstsError(50076)  # user and client id compare case-blind
    script.clear()
    assert script.rules() == [] and script.take(facts()) is None


def test_times_must_be_positive():
    with pytest.raises(ValueError):
        Script(tenant_id_of=lambda ref: None).add(Rule(Reset(), times=0))


def test_every_catalogued_code_renders_a_complete_description():
    names = {"client_id": "app", "app_name": "App", "tenant": "contoso", "resource": "graph", "issued": "then",
             "valid_from": "now", "scope": "s", "grant_type": "g", "redirect_uri": "r", "param": "p"}
    for code in CATALOGUE:
        body = error_body(code, error_uri_base=AUTHORITY, correlation_id="corr", **names)
        first = body["error_description"].split("\r\n")[0].replace("{EUII Hidden}", "")  # the service's own braces
        assert first.startswith(f"AADSTS{code}: ") and "<" not in first and "{" not in first, first
        assert body["error_codes"] == [code] and body["correlation_id"] == "corr"
        assert set(body) >= {"error", "error_description", "error_codes", "timestamp", "trace_id",
                             "correlation_id", "error_uri"}


def test_a_code_outside_the_catalogue_is_a_400_invalid_request():
    body = error_body(4242424, error_uri_base=AUTHORITY)
    assert body["error"] == "invalid_request" and body["error_codes"] == [4242424]


@pytest.mark.parametrize("ref, code", [("0b9d5cb1-1a6e-4a22-9b1a-2f7e9c6d1e00", 90002), ("x.example", 90002),
                                       ("not_a_tenant", 900023)])
def test_an_unknown_tenant_is_90002_unless_it_is_not_even_a_name(ref, code):
    assert unknown_tenant_code(ref) == code


@pytest.mark.parametrize("data, outcome", [
    ({"kind": "success", "roles": ["A"], "tid": "t"}, Success(roles=("A",), tid="t")),
    ({"kind": "error", "code": 50126}, AadstsError(50126)),
    ({"kind": "throttle", "retry_after": 3, "json_body": False}, Throttle(retry_after=3, json_body=False)),
    ({"kind": "hang", "seconds": 2.5}, Hang(seconds=2.5)),
    ({"kind": "reset"}, Reset()),
])
def test_outcomes_from_json(data, outcome):
    assert outcome_from_json(data) == outcome


def test_a_scenario_needs_time_zones_on_secret_expiry():
    with pytest.raises(ValueError, match="time zone"):
        load_scenario({"apps": [{"client_id": "a", "secrets": [{"value": "v", "expires_at": "2030-01-01T00:00"}]}]})


@pytest.mark.parametrize("path, endpoint, tenant", [
    ("/contoso.onmicrosoft.com/v2.0/.well-known/openid-configuration", "discovery", "contoso.onmicrosoft.com"),
    ("/contoso/.well-known/openid-configuration", "discovery", "contoso"),
    ("/common/userrealm/a%40b.example", "userrealm", "common"),
    ("/tid/oauth2/v2.0/token", "token", "tid"),
    ("/tid/oauth2/token", "token", "tid"),
    ("/tid/oauth2/v2.0/authorize", "authorize", "tid"),
    ("/common/v2.0/adminconsent", "adminconsent", "common"),
    ("/common/adminconsent", "adminconsent", "common"),
    ("/tid/oauth2/v3/token", "other", "tid"),
])
def test_routes(path, endpoint, tenant):
    route = route_for(path)
    assert (str(route.endpoint), route.tenant) == (endpoint, tenant)


def test_the_recording_survives_a_clear_while_a_request_is_in_flight():
    recorder = Recorder()
    number = recorder.arrived(RecordedRequest("POST", "/t/oauth2/v2.0/token", "token", "t", None, 0.0))
    recorder.clear()
    recorder.finished(number, status=200)
    assert recorder.requests() == [] and recorder.counters()["in_flight"] == 0


def test_it_refuses_to_listen_beyond_loopback():
    with pytest.raises(ValueError, match="loopback"):
        IdentitySimulator(host="0.0.0.0")
    IdentitySimulator(host="localhost")  # a loopback name is fine (nothing starts until start())
