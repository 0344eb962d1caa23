"""functions/http.py's edge: who may call each API route under each role, the function key, the forged principal,
cross-site changes, and the audit record of every change (none of a read)."""
from __future__ import annotations

import dataclasses
import json

import azure.functions as func
import pytest

from functions import http
from shared.domain.access import ROUTE_ROLES, SignIn
from tests.support.access_fakes import GOOD_KEY
from tests.support.fakes import FAKE_CONFIG, fake_services, serving
from tests.support.registry import http_operations, registered_functions
from tests.unit.test_access import CLIENT, OID, ON, PLATFORM_OFF, TENANT, person

ANON, KEY, BAD_KEY = "anonymous", "function key", "wrong key"
READER, OPERATOR, ADMIN = "Reader", "Operator", "Administrator"
CALLERS = (ANON, READER, OPERATOR, ADMIN, KEY, BAD_KEY)

# route x caller -> status, from design.md's Roles paragraph (the stub handler answers 200).
EXPECTED = {
    ("GET", "/api/health"):                           (200, 200, 200, 200, 200, 200),
    ("GET", "/api/tenants/{customerId}"):             (401, 200, 200, 200, 200, 401),
    ("PUT", "/api/tenants/{customerId}"):             (401, 403, 200, 200, 200, 401),
    ("DELETE", "/api/tenants/{customerId}"):          (401, 403, 403, 200, 200, 401),
    ("GET", "/api/status"):                           (401, 200, 200, 200, 200, 401),
    ("GET", "/api/status/{customerId}"):              (401, 200, 200, 200, 200, 401),
    ("POST", "/api/status/{customerId}/verify"):      (401, 403, 200, 200, 200, 401),
    ("POST", "/api/status/{customerId}/acknowledge"): (401, 403, 200, 200, 200, 401),
    ("POST", "/api/runs"):                            (401, 403, 200, 200, 200, 401),
    ("GET", "/api/runs"):                             (401, 200, 200, 200, 200, 401),
    ("GET", "/api/runs/{runId}"):                     (401, 200, 200, 200, 200, 401),
    ("GET", "/api/settings"):                         (401, 200, 200, 200, 200, 401),
    ("PUT", "/api/settings"):                         (401, 403, 403, 200, 200, 401),
    ("POST", "/api/consent/{customerId}"):            (401, 403, 200, 200, 200, 401),
    ("POST", "/api/consent"):                         (401, 403, 200, 200, 200, 401),
    ("GET", "/api/events"):                           (401, 200, 200, 200, 200, 401),
    ("GET", "/api/alerts/channels"):                  (401, 200, 200, 200, 200, 401),
    ("PUT", "/api/alerts/channels/{channelId}"):      (401, 403, 403, 200, 200, 401),
    ("DELETE", "/api/alerts/channels/{channelId}"):   (401, 403, 403, 200, 200, 401),
    ("POST", "/api/alerts/channels/{channelId}/test"): (401, 403, 403, 200, 200, 401),
    ("GET", "/api/audit"):                            (401, 403, 403, 200, 200, 401),
}
PARAMETERS = {"customerId": "contoso", "runId": "run-1", "channelId": "ops"}


@pytest.fixture
def signed_in():
    """Services over fakes, with operators' sign-in configured and the platform's authentication on."""
    with fake_services(config=dataclasses.replace(FAKE_CONFIG, sign_in=ON)) as built, serving(built):
        yield built


def request(method: str, route: str, caller: str = ANON, *, headers: dict | None = None, params: dict | None = None,
            json_body: bool = True) -> func.HttpRequest:
    sent = {"Content-Type": "application/json"} if json_body else {}
    if caller in (READER, OPERATOR, ADMIN):
        sent["X-MS-CLIENT-PRINCIPAL"] = person(caller)
    elif caller in (KEY, BAD_KEY):
        sent["x-functions-key"] = GOOD_KEY if caller == KEY else "not-a-key"
    names = [part[1:-1] for part in route.split("/") if part.startswith("{")]
    return func.HttpRequest(method, f"http://localhost{route}", headers={**sent, **(headers or {})},
                            params=params or {}, route_params={n: PARAMETERS[n] for n in names}, body=b"")


def ok(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(b"{}", status_code=200, mimetype="application/json")


def through_edge(req: func.HttpRequest, route: str, *, host_checked: bool = False, inner=ok) -> func.HttpResponse:
    return http.edge(req, inner, action="an_action", route=route, key_checked_by_host=host_checked)


def error_of(response: func.HttpResponse) -> dict:
    return json.loads(response.get_body())["error"]


def test_the_table_covers_every_route_that_needs_a_role():
    needing = {key for key, needed in ROUTE_ROLES.items() if needed is not None}
    assert needing <= set(EXPECTED)


@pytest.mark.parametrize(("method", "route"), sorted(EXPECTED))
def test_each_route_under_each_caller(signed_in, method, route):
    answered = tuple(through_edge(request(method, route, caller), route).status_code for caller in CALLERS)
    assert answered == EXPECTED[(method, route)]


def test_unauthenticated_and_forbidden_answer_the_contracts_json(signed_in):
    refused = through_edge(request("GET", "/api/status"), "/api/status")
    assert refused.status_code == 401 and refused.mimetype == "application/json"
    assert error_of(refused)["code"] == "unauthenticated"
    forbidden = through_edge(request("DELETE", "/api/tenants/{customerId}", OPERATOR), "/api/tenants/{customerId}")
    assert error_of(forbidden)["code"] == "forbidden"
    assert "Administrator" in error_of(forbidden)["message"] and "Operator" in error_of(forbidden)["message"]


def test_a_refused_request_never_reaches_the_handler(signed_in):
    reached = []
    through_edge(request("PUT", "/api/settings", READER), "/api/settings", inner=lambda req: reached.append(req))
    through_edge(request("PUT", "/api/settings"), "/api/settings", inner=lambda req: reached.append(req))
    assert reached == []


def test_the_key_in_the_code_query_counts_too(signed_in):
    req = request("GET", "/api/status", params={"code": GOOD_KEY})
    assert through_edge(req, "/api/status").status_code == 200


def test_a_key_is_asked_of_the_host_only_when_the_principal_falls_short(signed_in):
    """A principal with the role needs no key check; one short of it is let through by a valid key."""
    keys = signed_in.function_keys
    req = request("GET", "/api/status", READER, headers={"x-functions-key": "not-a-key"})
    assert through_edge(req, "/api/status").status_code == 200 and keys.asked == []
    req = request("PUT", "/api/settings", READER, headers={"x-functions-key": GOOD_KEY})
    assert through_edge(req, "/api/settings").status_code == 200 and keys.asked == [GOOD_KEY]


# --- the forged principal -----------------------------------------------------------------------------------------

@pytest.mark.parametrize("sign_in", [PLATFORM_OFF, SignIn()], ids=["platform auth off", "sign-in off"])
def test_a_principal_is_never_read_while_the_platforms_authentication_is_off(sign_in):
    """The host checked a key (FUNCTION level); a principal header anyone could have sent changes nothing: the
    actor is the function key, in the audit log too."""
    with fake_services(config=dataclasses.replace(FAKE_CONFIG, sign_in=sign_in)) as built, serving(built):
        req = request("DELETE", "/api/tenants/{customerId}", ADMIN)
        assert through_edge(req, "/api/tenants/{customerId}", host_checked=True).status_code == 200
        [record] = built.audit.records
        assert (record.actor.kind.value, record.actor.name) == ("functionKey", "function key")
        assert OID not in repr(record)


def test_with_the_platforms_authentication_off_a_forged_principal_alone_is_refused():
    """Sign-in configured, platform off, yet registered ANONYMOUS (the configuration changed under the app):
    refused, never believed."""
    with fake_services(config=dataclasses.replace(FAKE_CONFIG, sign_in=PLATFORM_OFF)) as built, serving(built):
        response = through_edge(request("GET", "/api/status", ADMIN), "/api/status")
        assert response.status_code == 503 and error_of(response)["code"] == "serviceMisconfigured"


@pytest.mark.parametrize(("env", "level"), [
    ({}, func.AuthLevel.FUNCTION),
    ({"WEBSITE_AUTH_ENABLED": "true"}, func.AuthLevel.FUNCTION),
    ({"OPERATORS_CLIENT_ID": CLIENT, "OPERATORS_TENANT_ID": TENANT}, func.AuthLevel.FUNCTION),
    ({"OPERATORS_CLIENT_ID": CLIENT, "OPERATORS_TENANT_ID": TENANT, "WEBSITE_AUTH_ENABLED": "True"},
     func.AuthLevel.ANONYMOUS),
    ({"OPERATORS_CLIENT_ID": "not-a-guid", "WEBSITE_AUTH_ENABLED": "true"}, func.AuthLevel.FUNCTION),
])
def test_api_routes_are_anonymous_only_with_sign_in_configured_and_the_platform_on(env, level):
    assert http.api_auth_level(env) is level


def test_without_sign_in_every_api_route_stays_function_level_and_the_key_check_always_is():
    levels = {route: level for (route, _), level in http_operations().items()}
    assert levels["api/keycheck"] is func.AuthLevel.FUNCTION
    api = {route for route in levels if route.startswith("api/") and route != "api/health"}
    assert api and all(levels[route] is func.AuthLevel.FUNCTION for route in api)


# --- cross-site ---------------------------------------------------------------------------------------------------

def test_a_change_from_a_signed_in_browser_must_be_json_or_carry_x_requested_with(signed_in):
    route = "/api/tenants/{customerId}"
    form = request("DELETE", route, ADMIN, json_body=False, headers={"Content-Type": "text/plain"})
    refused = through_edge(form, route)
    assert refused.status_code == 403 and error_of(refused)["code"] == "crossSiteRequest"
    assert signed_in.audit.records == []
    with_header = request("DELETE", route, ADMIN, json_body=False, headers={"X-Requested-With": "XMLHttpRequest"})
    assert through_edge(with_header, route).status_code == 200
    assert through_edge(request("DELETE", route, ADMIN), route).status_code == 200
    # A script with a key has no cookie another site could borrow; a read changes nothing.
    assert through_edge(request("DELETE", route, KEY, json_body=False), route).status_code == 200
    assert through_edge(request("GET", route, READER, json_body=False), route).status_code == 200


# --- the audit ----------------------------------------------------------------------------------------------------

def test_every_change_is_recorded_with_who_what_and_how_it_ended_and_no_read_is(signed_in):
    for method, route in EXPECTED:
        for caller in CALLERS:
            through_edge(request(method, route, caller), route)
    records = signed_in.audit.records
    # One record per change let through: by each role allowed, and by the key; a refusal (401, 403) changed
    # nothing, and a read is no change.
    allowed = [(m, r) for (m, r), statuses in EXPECTED.items() if m != "GET" for status in statuses if status == 200]
    assert allowed and sorted((r.method, r.route) for r in records) == sorted(allowed)
    by_caller = {(r.method, r.route, r.actor.name, r.status) for r in records}
    assert ("DELETE", "/api/tenants/{customerId}", "ada@contoso.example", 200) in by_caller
    assert ("DELETE", "/api/tenants/{customerId}", "function key", 200) in by_caller
    deleted = next(r for r in records if r.method == "DELETE" and r.status == 200 and r.actor.id == OID)
    assert deleted.customer_id == "contoso" and deleted.action == "an_action" and deleted.request_id


def test_the_handlers_answer_is_what_is_recorded_and_a_4xx_is_no_change(signed_in):
    def answering(status):
        return lambda req: func.HttpResponse(b"{}", status_code=status)

    for status in (201, 404, 503):
        through_edge(request("PUT", "/api/tenants/{customerId}", OPERATOR), "/api/tenants/{customerId}",
                     inner=answering(status))
    assert [(r.status, r.actor.id, dict(r.parameters)) for r in signed_in.audit.records] == [
        (201, OID, {"customerId": "contoso"}), (503, OID, {"customerId": "contoso"})]


def test_the_platforms_request_id_is_kept(signed_in):
    given = "6f1c9d0e-8a47-4a43-9a52-3c0b1c9f7e21"
    through_edge(request("POST", "/api/runs", OPERATOR, headers={"X-ARR-LOG-ID": given}), "/api/runs")
    assert signed_in.audit.records[0].request_id == given


def test_a_route_parameter_that_is_no_identifier_is_answered_but_not_recorded(signed_in):
    req = request("PUT", "/api/tenants/{customerId}", OPERATOR)
    req = func.HttpRequest("PUT", req.url, headers=dict(req.headers), route_params={"customerId": "a b/c"}, body=b"")
    assert through_edge(req, "/api/tenants/{customerId}").status_code == 200
    assert signed_in.audit.records == []


def test_every_registered_change_goes_through_the_audit(services):
    """Through the registered functions (sign-in off: the host checked a key): a change is recorded, a read
    is not."""
    by_name = {f.get_function_name(): f.get_user_function() for f in registered_functions()}
    delete = func.HttpRequest("DELETE", "http://localhost/api/tenants/gone", headers={}, body=b"",
                              route_params={"customerId": "gone"})
    put = func.HttpRequest("PUT", "http://localhost/api/tenants/kept", body=json.dumps(
        {"tenantId": "contoso.com", "authenticationMethod": "password", "m365Email": "a@contoso.com",
         "password": "Pw-edge-1"}).encode(), headers={"Content-Type": "application/json"},
        route_params={"customerId": "kept"})
    assert by_name["tenants_put"](put).status_code == 201
    assert by_name["tenants_delete"](delete).status_code == 404  # nothing to delete: no change
    get = func.HttpRequest("GET", "http://localhost/api/tenants/kept", headers={}, body=b"",
                           route_params={"customerId": "kept"})
    assert by_name["tenants_get"](get).status_code == 200
    [record] = services.audit.records
    assert (record.action, record.route, record.status, record.actor.name) == (
        "tenants_put", "/api/tenants/{customerId}", 201, "function key")
    assert "Pw-edge-1" not in repr(record)


# --- the page -----------------------------------------------------------------------------------------------------

def page_request(principal: str | None = None) -> func.HttpRequest:
    headers = {"X-MS-CLIENT-PRINCIPAL": principal} if principal else {}
    return func.HttpRequest("GET", "http://localhost/", headers=headers, body=b"")


SIGNED_IN_ENV = {"OPERATORS_CLIENT_ID": CLIENT, "OPERATORS_TENANT_ID": TENANT, "WEBSITE_AUTH_ENABLED": "true"}


def test_the_page_sends_a_browser_without_a_principal_to_sign_in(monkeypatch):
    from functions import page

    for name, value in SIGNED_IN_ENV.items():
        monkeypatch.setenv(name, value)
    redirected = page.page(page_request())
    assert redirected.status_code == 302
    assert redirected.headers["Location"] == "/.auth/login/aad?post_login_redirect_uri=/"
    assert page.page(page_request(person(READER))).status_code == 200
    monkeypatch.setenv("WEBSITE_AUTH_ENABLED", "false")  # the platform's sign-in is not there to send them to
    assert page.page(page_request()).status_code == 200


def test_an_audit_log_that_fails_leaves_the_answer_as_it_was(signed_in, caplog):
    from shared.domain.errors import DependencyUnavailable

    def failing(record):
        raise DependencyUnavailable("storageUnavailable", "down")

    signed_in.audit.append = failing
    response = through_edge(request("POST", "/api/runs", OPERATOR), "/api/runs")
    assert response.status_code == 200
    assert "could not be audited: storageUnavailable" in caplog.text


def test_a_failure_at_the_edge_is_a_500_without_detail(signed_in):
    class Broken:
        def is_valid(self, key):
            raise RuntimeError("secret detail")

    with serving(dataclasses.replace(signed_in, function_keys=Broken())):
        response = through_edge(request("GET", "/api/status", KEY), "/api/status")
    assert response.status_code == 500 and b"secret detail" not in response.get_body()
    assert error_of(response)["code"] == "internalError"
