"""shared/domain/access.py: roles, the route table, the principal of X-MS-CLIENT-PRINCIPAL, the decision for a
request, the cross-site rule and the page's sign-in redirect."""
from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest
import yaml

from shared.domain.access import (
    FUNCTION_KEY,
    ROUTE_ROLES,
    Actor,
    ActorKind,
    Outcome,
    Principal,
    Role,
    SignIn,
    UnknownRoute,
    decide,
    grants,
    normalize_route,
    page_needs_sign_in,
    principal_from_header,
    required_role,
    safe_from_cross_site,
    sign_in_from,
    sign_in_url,
)
from shared.domain.errors import ConfigurationError
from tests.support.registry import http_operations

ROOT = Path(__file__).resolve().parents[2]
CLIENT = "11111111-2222-4333-8444-555555555555"
TENANT = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"
OTHER_TENANT = "99999999-8888-4777-8666-555555555555"
OID = "0f0f0f0f-1e1e-4d2d-8c3c-4b4b4b4b4b4b"
ON = SignIn(client_id=CLIENT, tenant_id=TENANT, platform_enabled=True)
PLATFORM_OFF = SignIn(client_id=CLIENT, tenant_id=TENANT, platform_enabled=False)
OFF = SignIn()

OID_URI = "http://schemas.microsoft.com/identity/claims/objectidentifier"
TID_URI = "http://schemas.microsoft.com/identity/claims/tenantid"
ROLE_URI = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
NAME_URI = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"


def header(claims: list[tuple[str, str]], **extra) -> str:
    document = {"auth_typ": "aad", "claims": [{"typ": t, "val": v} for t, v in claims],
                "name_typ": NAME_URI, "role_typ": ROLE_URI, **extra}
    return base64.b64encode(json.dumps(document).encode()).decode()


def person(*roles: str, tenant: str = TENANT, oid: str = OID, aud: str | None = CLIENT, mapped: bool = True) -> str:
    """The header the platform sends for a signed-in person: mapped claim names (token store on) or the token's."""
    if mapped:
        claims = [(OID_URI, oid), (TID_URI, tenant), (NAME_URI, "ada@contoso.example")]
        claims += [(ROLE_URI, role) for role in roles]
    else:
        claims = [("oid", oid), ("tid", tenant), ("preferred_username", "ada@contoso.example")]
        claims += [("roles", role) for role in roles]
    if aud is not None:
        claims.append(("aud", aud))
    return header(claims)


# --- roles -------------------------------------------------------------------------------------------------------

def test_each_role_may_do_what_the_roles_below_it_may():
    assert grants([Role.ADMINISTRATOR], Role.READER) and grants([Role.ADMINISTRATOR], Role.OPERATOR)
    assert grants([Role.OPERATOR], Role.READER) and not grants([Role.OPERATOR], Role.ADMINISTRATOR)
    assert not grants([Role.READER], Role.OPERATOR) and not grants([], Role.READER)


# --- the route table ---------------------------------------------------------------------------------------------

def test_every_route_the_app_registers_says_which_role_it_needs():
    """A new route cannot be forgotten: registering it without a line in ROUTE_ROLES fails here."""
    missing = sorted({(method, normalize_route(route)) for route, method in http_operations()} - set(ROUTE_ROLES))
    assert missing == []


def test_every_route_of_openapi_is_in_the_table():
    paths = yaml.safe_load((ROOT / "openapi.yaml").read_text(encoding="utf-8"))["paths"]
    documented = {(method.upper(), path) for path, item in paths.items() for method in item
                  if method in {"get", "put", "post", "delete", "patch"}}
    assert sorted(documented - set(ROUTE_ROLES)) == []


def test_registered_templates_read_as_the_contract_writes_them():
    assert normalize_route("{root:maxlength(0)?}") == "/"
    assert normalize_route("api/tenants/{customerId}") == "/api/tenants/{customerId}"
    assert normalize_route("api/tenants/{customerId:maxlength(64)}") == "/api/tenants/{customerId}"
    assert normalize_route("/api/status/") == "/api/status"


def test_roles_of_the_contract():
    """design.md: Reader every GET; Operator verify, Verify All, consent links, acknowledge, add and edit
    customers; Administrator delete customers, settings, alert channels, audit."""
    by_role = {role: sorted(key for key, needed in ROUTE_ROLES.items() if needed is role) for role in Role}
    assert all(method == "GET" for method, _ in by_role[Role.READER])
    assert {key for key, needed in ROUTE_ROLES.items() if key[0] == "GET" and needed is not Role.READER} == {
        ("GET", "/api/audit"), ("GET", "/api/health"), ("GET", "/"), ("GET", "/page/{file}"),
        ("GET", "/authenticate/OAuth2Callback"), ("GET", "/api/keycheck"), ("GET", "/api/me")}
    assert by_role[Role.OPERATOR] == sorted([
        ("PUT", "/api/tenants/{customerId}"), ("POST", "/api/status/{customerId}/verify"),
        ("POST", "/api/status/{customerId}/acknowledge"), ("POST", "/api/runs"),
        ("POST", "/api/consent/{customerId}"), ("POST", "/api/consent")])
    assert by_role[Role.ADMINISTRATOR] == sorted([
        ("DELETE", "/api/tenants/{customerId}"), ("PUT", "/api/settings"), ("GET", "/api/audit"),
        ("PUT", "/api/alerts/channels/{channelId}"), ("DELETE", "/api/alerts/channels/{channelId}"),
        ("POST", "/api/alerts/channels/{channelId}/test")])


def test_only_the_health_the_callback_and_the_page_are_open():
    """And the key check, which the host itself guards with a function key (test_edge.py checks its level)."""
    open_routes = {key for key, needed in ROUTE_ROLES.items() if needed is None}
    assert open_routes == {("GET", "/api/health"), ("GET", "/"), ("GET", "/page/{file}"),
                           ("GET", "/authenticate/OAuth2Callback"), ("POST", "/authenticate/OAuth2Callback"),
                           ("GET", "/api/keycheck"), ("GET", "/api/me")}


def test_an_unknown_route_is_an_error_not_an_open_door():
    with pytest.raises(UnknownRoute):
        required_role("GET", "api/secret-new-thing")
    with pytest.raises(UnknownRoute):
        required_role("PATCH", "api/tenants/{customerId}")
    assert required_role("delete", "api/tenants/{customerId}") is Role.ADMINISTRATOR


# --- the settings ------------------------------------------------------------------------------------------------

def test_sign_in_is_off_without_a_client_id():
    assert sign_in_from({}) == SignIn()
    assert not sign_in_from({"OPERATORS_CLIENT_ID": " ", "OPERATORS_TENANT_ID": TENANT}).configured


def test_sign_in_reads_the_platforms_flag_as_the_functions_host_does():
    settings = {"OPERATORS_CLIENT_ID": CLIENT.upper(), "OPERATORS_TENANT_ID": TENANT}
    assert sign_in_from({**settings, "WEBSITE_AUTH_ENABLED": "True"}) == ON
    assert sign_in_from({**settings, "WEBSITE_AUTH_ENABLED": "true"}).platform_enabled
    for value in ("false", "1", "yes", ""):
        assert not sign_in_from({**settings, "WEBSITE_AUTH_ENABLED": value}).platform_enabled
    assert not sign_in_from(settings).platform_enabled


@pytest.mark.parametrize("settings", [
    {"OPERATORS_CLIENT_ID": "not-a-guid", "OPERATORS_TENANT_ID": TENANT},
    {"OPERATORS_CLIENT_ID": CLIENT},
    {"OPERATORS_CLIENT_ID": CLIENT, "OPERATORS_TENANT_ID": "contoso.onmicrosoft.com"},
])
def test_ids_that_cannot_be_right_stop_the_start(settings):
    with pytest.raises(ConfigurationError):
        sign_in_from(settings)


# --- the principal -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("mapped", [True, False], ids=["mapped claim names", "token claim names"])
def test_the_principal_of_the_platforms_header(mapped):
    principal = principal_from_header(person("Operator", "Reader", "SomethingElse", mapped=mapped), sign_in=ON)
    assert principal == Principal(name="ada@contoso.example", object_id=OID, tenant_id=TENANT,
                                  roles=frozenset({Role.OPERATOR, Role.READER}))
    assert principal.role is Role.OPERATOR


def test_a_principal_without_roles_has_none():
    assert principal_from_header(person(), sign_in=ON).roles == frozenset()


def test_a_principal_without_a_name_is_named_by_its_object_id():
    principal = principal_from_header(header([("oid", OID), ("tid", TENANT)]), sign_in=ON)
    assert principal.name == OID


def test_a_forged_header_is_ignored_while_the_platforms_authentication_is_off():
    forged = person("Administrator")
    assert principal_from_header(forged, sign_in=PLATFORM_OFF) is None
    assert principal_from_header(forged, sign_in=OFF) is None
    assert principal_from_header(forged, sign_in=SignIn(platform_enabled=True)) is None  # sign-in not ours


def test_a_principal_of_another_tenant_or_for_another_app_is_no_principal():
    assert principal_from_header(person("Administrator", tenant=OTHER_TENANT), sign_in=ON) is None
    assert principal_from_header(person("Administrator", aud="33333333-2222-4333-8444-555555555555"),
                                 sign_in=ON) is None
    assert principal_from_header(person("Reader", aud=f"api://{CLIENT}"), sign_in=ON) is not None


def _b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


@pytest.mark.parametrize("value", [
    "", "   ", "%%%not base64%%%", _b64(b"not json"), _b64(b"[]"), _b64(b'"text"'), _b64(b"{}"),
    _b64(b'{"auth_typ": "aad", "claims": {}}'),
    _b64(b'{"auth_typ": "aad", "claims": [["oid", "x"]]}'),
    _b64(b'{"auth_typ": "aad", "claims": [{"typ": "oid", "val": 5}]}'),
    _b64(json.dumps({"auth_typ": "google", "claims": [{"typ": "oid", "val": OID}, {"typ": "tid", "val": TENANT}]})
         .encode()),
    _b64(json.dumps({"auth_typ": "aad", "claims": [{"typ": "oid", "val": "not-a-guid"},
                                                   {"typ": "tid", "val": TENANT}]}).encode()),
    _b64(json.dumps({"auth_typ": "aad", "claims": [{"typ": "tid", "val": TENANT}]}).encode()),
    _b64(b"[" * 100_000 + b"]" * 100_000)[:16_000],
    _b64(b"[" * 5000 + b"]" * 5000),
    "A" * 20_000,
    _b64("\ud800".encode("utf-8", "surrogatepass")),
    _b64(b"\xff\xfe\x00"),
    "ÿÿÿÿ",
], ids=lambda value: f"{len(value)} chars")
def test_malformed_input_is_no_principal_never_an_exception(value):
    assert principal_from_header(value, sign_in=ON) is None


def test_a_header_of_too_many_claims_is_no_principal():
    claims = [("oid", OID), ("tid", TENANT)] + [("x", "y")] * 600
    assert principal_from_header(header(claims), sign_in=ON) is None


# --- the decision ------------------------------------------------------------------------------------------------

def _decide(needed, *, sign_in=ON, principal_header=None, function_key=False):
    principal = principal_from_header(principal_header, sign_in=sign_in)
    return decide(needed, sign_in=sign_in, principal=principal, function_key=function_key)


@pytest.mark.parametrize("needed", list(Role))
@pytest.mark.parametrize("held", [None, *Role])
def test_each_role_against_each_need(needed, held):
    decision = _decide(needed, principal_header=person(*([held] if held else [])))
    if held is not None and grants([held], needed):
        assert decision.outcome is Outcome.ALLOWED
        assert decision.actor == Actor(ActorKind.PRINCIPAL, OID, "ada@contoso.example")
    else:
        assert decision.outcome is Outcome.FORBIDDEN
        assert decision.needed is needed and needed.value in decision.message


def test_the_route_table_under_each_role():
    """Every route of the table under each role: allowed exactly when the role reaches what the route needs."""
    for (method, route), needed in ROUTE_ROLES.items():
        for held in Role:
            decision = _decide(required_role(method, route), principal_header=person(held.value))
            expected = needed is None or grants([held], needed)
            assert decision.allowed is expected, (method, route, held)


def test_without_a_principal_or_a_key_the_answer_is_unauthenticated():
    decision = _decide(Role.READER)
    assert decision.outcome is Outcome.UNAUTHENTICATED and decision.actor is None


def test_a_function_key_acts_with_every_role():
    for needed in Role:
        decision = _decide(needed, function_key=True)
        assert decision.allowed and decision.actor == FUNCTION_KEY
    # A principal short of the role, with a key as well: the key's authority, and the key is the actor.
    decision = _decide(Role.ADMINISTRATOR, principal_header=person("Reader"), function_key=True)
    assert decision.allowed and decision.actor == FUNCTION_KEY


def test_a_forged_principal_is_ignored_when_the_platform_is_off():
    decision = _decide(Role.READER, sign_in=PLATFORM_OFF, principal_header=person("Administrator"))
    assert decision.outcome is Outcome.UNAUTHENTICATED
    assert "App Service Authentication is not on" in decision.message
    # decide ignores a principal handed to it as well, whatever parsed it.
    trusted_elsewhere = Principal("ada", OID, TENANT, frozenset({Role.ADMINISTRATOR}))
    assert decide(Role.READER, sign_in=PLATFORM_OFF, principal=trusted_elsewhere,
                  function_key=False).outcome is Outcome.UNAUTHENTICATED


def test_sign_in_off_is_the_function_key_mode():
    decision = _decide(Role.ADMINISTRATOR, sign_in=OFF, principal_header=person("Reader"))
    assert decision.allowed and decision.actor == FUNCTION_KEY


def test_open_routes_are_open_whoever_asks():
    assert _decide(None).allowed and _decide(None).actor is None
    assert _decide(None, principal_header=person("Reader")).actor.kind is ActorKind.PRINCIPAL
    assert _decide(None, sign_in=PLATFORM_OFF, principal_header=person("Reader")).actor is None


def test_messages_never_echo_what_the_principal_says():
    decision = _decide(Role.ADMINISTRATOR, principal_header=header(
        [("oid", OID), ("tid", TENANT), ("preferred_username", "<script>x</script>"), ("roles", "Reader")]))
    assert decision.outcome is Outcome.FORBIDDEN and "<script>" not in decision.message


# --- cross-site requests -----------------------------------------------------------------------------------------

@pytest.mark.parametrize(("method", "content_type", "requested_with", "safe"), [
    ("GET", None, None, True),
    ("HEAD", "text/plain", None, True),
    ("POST", "application/json", None, True),
    ("PUT", "Application/JSON; charset=utf-8", None, True),
    ("DELETE", None, "XMLHttpRequest", True),
    ("POST", None, "fetch", True),
    ("POST", None, None, False),  # a form or a fetch without a body: no Content-Type at all
    ("POST", "text/plain", None, False),
    ("POST", "application/x-www-form-urlencoded", None, False),
    ("PUT", "multipart/form-data; boundary=x", "", False),
    ("DELETE", "application/jsonx", " ", False),
    ("PATCH", "text/plain; a=application/json", None, False),
])
def test_a_state_changing_call_carries_what_a_cross_site_form_cannot(method, content_type, requested_with, safe):
    assert safe_from_cross_site(method, content_type=content_type, requested_with=requested_with) is safe


# --- the page ----------------------------------------------------------------------------------------------------

def test_the_page_sends_a_browser_without_a_principal_to_sign_in():
    assert page_needs_sign_in(sign_in=ON, principal=None)
    assert not page_needs_sign_in(sign_in=ON, principal=principal_from_header(person("Reader"), sign_in=ON))
    assert not page_needs_sign_in(sign_in=OFF, principal=None)
    assert not page_needs_sign_in(sign_in=PLATFORM_OFF, principal=None)  # there is no sign-in to send it to


def test_sign_in_comes_back_only_to_this_site():
    assert sign_in_url() == "/.auth/login/aad?post_login_redirect_uri=/"
    assert sign_in_url("/page/x?a=b&c") == "/.auth/login/aad?post_login_redirect_uri=/page/x%3Fa%3Db%26c"
    for elsewhere in ("https://evil.example/", "//evil.example/", "/\\evil.example", "evil", "/\nx"):
        assert sign_in_url(elsewhere) == "/.auth/login/aad?post_login_redirect_uri=/"
