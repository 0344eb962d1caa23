"""Hostile input at the HTTP edge: lone surrogates, huge numbers, look-alike characters, odd hosts.

Each one must answer a 4xx with the contract's error JSON (a body that encodes as UTF-8), never a 500 or a
stack trace, and must not reach a store.
"""
import json

import azure.functions as func
import pytest

from functions import customers as customer_functions
from functions import parsing
from functions import provider_settings as settings_functions
from functions import status as status_functions
from functions.http import error_response, json_response
from shared.domain.errors import InputError

GUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CALLBACK = "https://tas.example.com/authenticate/OAuth2Callback"
LONE = "\\ud800"  # a JSON escape: it parses, to a string that is not Unicode text
PASSWORD_TENANT = {"tenantId": GUID, "authenticationMethod": "password", "m365Email": "admin@contoso.com",
                   "password": "Pa55-word-X"}
APPLICATION_TENANT = {"tenantId": GUID, "authenticationMethod": "application", "applicationId": GUID,
                      "applicationSecret": "App~Secret.1"}
SETTINGS = {"clientId": GUID, "redirectUrl": CALLBACK, "clientSecret": "Prov~Secret.1"}


def with_lone_surrogate(body: dict, field: str) -> bytes:
    """The JSON text of `body` with `field`'s value ending in a lone surrogate escape."""
    text = json.dumps({**body, field: "x"})
    return text.replace(f'"{field}": "x"', f'"{field}": "x{LONE}"').encode()


JSON = {"Content-Type": "application/json"}


def put_customer(raw: bytes, customer_id: str = "contoso") -> func.HttpResponse:
    return customer_functions.tenants_put(func.HttpRequest(
        "PUT", f"/api/tenants/{customer_id}", body=raw, route_params={"customerId": customer_id}, headers=JSON))


def put_settings(raw: bytes) -> func.HttpResponse:
    return settings_functions.settings_put(func.HttpRequest("PUT", "/api/settings", body=raw, headers=JSON))


def error_of(response: func.HttpResponse) -> tuple[int, str, str]:
    """Status, code and message of an error answer, checking it is the contract's JSON in valid UTF-8 (a target,
    when named, is one of ours: printable ASCII)."""
    body = json.loads(response.get_body().decode("utf-8"))
    assert set(body) == {"error"} and set(body["error"]) - {"target"} == {"code", "message"}, body
    target = body["error"].get("target", "")
    assert isinstance(target, str) and target.isascii() and target.isprintable(), body
    return response.status_code, body["error"]["code"], body["error"]["message"]


# --- lone surrogates -----------------------------------------------------------------------------


@pytest.mark.parametrize("raw", [
    b'{"\\ud800":1}',
    b'{"\\udfff":1, "tenantId": "contoso.com", "authenticationMethod": "token"}',
    b'{"x\\udc00y":1}',
])
def test_a_field_name_holding_a_lone_surrogate_answers_400_on_tenant_put(services, raw):
    status, code, message = error_of(put_customer(raw))
    assert status == 400 and code in {"invalidJson", "unknownField"}
    assert message.isascii() and message.isprintable()
    assert services.customers.get("contoso") is None and services.secrets.values == {}


@pytest.mark.parametrize("raw", [b'{"\\ud800":1}', b'{"clientId":"x","\\udbff":1}'])
def test_a_field_name_holding_a_lone_surrogate_answers_400_on_settings_put(services, raw):
    status, code, message = error_of(put_settings(raw))
    assert status == 400 and code in {"invalidJson", "unknownField"}
    assert message.isascii() and message.isprintable()
    assert services.provider_settings.get() is None and services.secrets.values == {}


@pytest.mark.parametrize("body, field", [
    (PASSWORD_TENANT, "tenantId"), (PASSWORD_TENANT, "m365Email"), (PASSWORD_TENANT, "password"),
    (PASSWORD_TENANT, "authenticationMethod"), (APPLICATION_TENANT, "applicationId"),
    (APPLICATION_TENANT, "applicationSecret"), (PASSWORD_TENANT, "hint"),  # read-only, still not text
])
def test_a_customer_value_holding_a_lone_surrogate_is_refused_and_stores_nothing(services, body, field):
    status, code, _ = error_of(put_customer(with_lone_surrogate(body, field)))
    assert (status, code) in {(400, "invalidJson"), (400, "invalidField")}
    assert services.customers.get("contoso") is None
    assert services.secrets.values == {}


@pytest.mark.parametrize("field", ["clientId", "redirectUrl", "clientSecret", "updatedAt"])
def test_a_settings_value_holding_a_lone_surrogate_is_refused_and_stores_nothing(services, field):
    status, code, _ = error_of(put_settings(with_lone_surrogate(SETTINGS, field)))
    assert (status, code) in {(400, "invalidJson"), (400, "invalidField")}
    assert services.provider_settings.get() is None and services.secrets.values == {}


def test_a_lone_surrogate_nested_deep_in_the_body_is_refused():
    raw = b'{"tenantId": "contoso.com", "authenticationMethod": "token", "history": [[{"a": ["\\ud800"]}]]}'
    with pytest.raises(InputError) as err:
        parsing.json_object(raw)
    assert err.value.code == "invalidJson"


def test_an_escaped_surrogate_pair_is_a_real_character_and_is_kept(services):
    # "\ud83d\ude00" is one emoji written as a pair of escapes: valid text, a legitimate password.
    raw = json.dumps(PASSWORD_TENANT).replace("Pa55-word-X", "Pa55-\\ud83d\\ude00").encode()
    assert put_customer(raw).status_code == 201
    assert list(services.secrets.values.values()) == ["Pa55-\U0001F600"]


def test_parsed_dicts_with_surrogates_are_refused_even_without_json_object():
    # The field parsers guard themselves too: a secret with a surrogate never gets past them.
    with pytest.raises(InputError) as err:
        parsing.customer_input({**PASSWORD_TENANT, "password": "pw\ud800"})
    assert err.value.code == "invalidField"
    with pytest.raises(InputError) as err:
        parsing.provider_settings_input({**SETTINGS, "clientSecret": "\udfff"})
    assert err.value.code == "invalidField"


@pytest.mark.parametrize("name", ["\ud800", "a\x00b", "caf\u00e9", "new\nline", "\u202eevil", "x" * 65])
def test_an_unknown_field_name_is_echoed_only_when_it_is_short_printable_ascii(name):
    with pytest.raises(InputError) as err:
        parsing.customer_input({"tenantId": GUID, "authenticationMethod": "token", name: 1})
    assert err.value.code == "unknownField"
    assert err.value.message.isascii() and err.value.message.isprintable()
    assert name not in err.value.message


def test_a_printable_ascii_unknown_field_name_is_named():
    with pytest.raises(InputError) as err:
        parsing.provider_settings_input({**SETTINGS, "isAdmin": True})
    assert err.value.code == "unknownField" and "isAdmin" in err.value.message


def test_json_responses_always_encode_even_when_given_a_lone_surrogate():
    # Defence in depth: a response body that cannot be UTF-8 must not turn an answer into a 500.
    response = error_response(InputError("unknownField", "Unknown field: \ud800.", target="\ud800"))
    assert response.status_code == 400
    assert json.loads(response.get_body().decode("utf-8"))["error"]["code"] == "unknownField"
    assert json.loads(json_response({"x": "caf\u00e9"}).get_body().decode("utf-8")) == {"x": "caf\u00e9"}


@pytest.mark.parametrize("params", [
    {"status": "\ud800"}, {"method": "failed\udfff"}, {"top": "1\ud800"}, {"continuationToken": "\ud800"},
    {"continuationToken": "c1.\ud800"},
])
def test_query_parameters_holding_lone_surrogates_answer_400(services, params):
    response = status_functions.status_list(func.HttpRequest("GET", "/api/status", body=b"", params=params))
    status, code, _ = error_of(response)
    assert (status, code) in {(400, "invalidQueryParameter"), (400, "invalidContinuationToken")}


def test_a_customer_id_holding_a_lone_surrogate_answers_400(services):
    status, code, _ = error_of(put_customer(json.dumps(PASSWORD_TENANT).encode(), customer_id="a\ud800"))
    assert (status, code) == (400, "invalidCustomerId")
    assert services.secrets.values == {}


# --- top: huge numbers ---------------------------------------------------------------------------


@pytest.mark.parametrize("top", [
    "0" * 5000, "9" * 5000, "1" + "0" * 5000, "0" * 4301 + "5000", "1001", "0", "+5", " 5", "5 ", "5.0", "1_0",
    "0x10", "\u0665", "\u00b2", "\uff15", "",
])
def test_any_top_that_is_not_1_to_1000_answers_400_whatever_its_length(services, top):
    response = status_functions.status_list(func.HttpRequest("GET", "/api/status", body=b"", params={"top": top}))
    assert error_of(response)[:2] == (400, "invalidQueryParameter")


@pytest.mark.parametrize("top, expected", [("1", 1), ("1000", 1000), ("007", 7), ("0" * 5000 + "42", 42)])
def test_top_from_1_to_1000_is_read_as_its_number(top, expected):
    assert parsing.status_query({"top": top}).top == expected


# --- redirectUrl hosts ---------------------------------------------------------------------------


def callback_on(host: str, scheme: str = "https") -> str:
    return f"{scheme}://{host}/authenticate/OAuth2Callback"


@pytest.mark.parametrize("host", [
    "tas.example.com", "TAS.Example.COM", "a-b.c0.example", "xn--bcher-kva.example", "localhost", "intranet",
    "10.0.0.1", "[::1]", "[2001:db8::1]", "[::ffff:192.0.2.1]", "tas.example.com:8443", "[::1]:8443",
    "a" * 63 + ".example", ".".join(["a" * 63] * 3) + "." + "b" * 61,
])
def test_redirect_url_hosts_that_are_dns_names_or_ip_literals_are_accepted(host):
    assert parsing.redirect_url(callback_on(host)) == callback_on(host)


@pytest.mark.parametrize("host", [
    'a"b.example', "a'b.example", "a<b>.example", "<script>.example", "a\x00b.example", "a\\b.example",
    "a\x7fb.example", "a\x1bb.example", "a{b}.example", "a|b.example", "a^b.example", "a`b.example",
    "a;b.example", "a,b.example", "a*b.example", "a%41b.example", "a!b.example", "a$b.example", "a(b).example",
    "exa_mple.com", "b\u00fccher.example", "ex\u0430mple.com", "contoso\u212a.com", "\uff41.example",
    "-a.example", "a-.example", "a..example", ".a.example", "a.example.", "a" * 64 + ".example",
    ".".join(["a" * 63] * 4), "256.1.1.1", "1.2.3", "01.2.3.4", "1.2.3.4.5", "999",
    "[::1%25eth0]", "[v1.fe]", "[1.2.3.4]", "[::1", "::1", "[not-ip]", "[]",
])
def test_redirect_url_hosts_holding_other_characters_are_refused(host):
    with pytest.raises(InputError) as err:
        parsing.redirect_url(callback_on(host))
    assert err.value.code == "invalidRedirectUrl"


@pytest.mark.parametrize("url", [
    callback_on("localhost:7071", "http"), callback_on("127.0.0.1", "http"), callback_on("LOCALHOST", "http"),
])
def test_plain_http_stays_allowed_for_localhost_only(url):
    assert parsing.redirect_url(url) == url


@pytest.mark.parametrize("host", ["[::1]", "10.0.0.1", "localhost.example", "127.0.0.2"])
def test_plain_http_is_refused_elsewhere(host):
    with pytest.raises(InputError) as err:
        parsing.redirect_url(callback_on(host, "http"))
    assert err.value.code == "invalidRedirectUrl"


@pytest.mark.parametrize("url", [
    "HTTPS://tas.example.com/authenticate/OAuth2Callback", "Http://localhost/authenticate/OAuth2Callback",
    "https://tas.example.com:/authenticate/OAuth2Callback", "https://tas.example.com:08443/authenticate/OAuth2Callback",
    "https://[::1]:/authenticate/OAuth2Callback", "https://tas.example.com:+443/authenticate/OAuth2Callback",
])
def test_redirect_url_scheme_and_port_are_judged_as_typed(url):
    # urlsplit lower-cases the scheme, reads "host:" as no port and ":08443" as 8443; the URL is stored as typed.
    with pytest.raises(InputError) as err:
        parsing.redirect_url(url)
    assert err.value.code == "invalidRedirectUrl"


# --- customerIds of dots -------------------------------------------------------------------------


@pytest.mark.parametrize("value", [".", "..", "...", "." * 64])
def test_customer_ids_made_only_of_dots_are_refused(value):
    # URL normalisation removes "." and ".." path segments: no HTTP client could address such a customer.
    with pytest.raises(InputError) as err:
        parsing.customer_id(value)
    assert err.value.code == "invalidCustomerId"


@pytest.mark.parametrize("value", [".a", "a.", "a..b", "-", "_", "._", "." * 63 + "x"])
def test_customer_ids_with_dots_and_something_else_are_accepted(value):
    assert parsing.customer_id(value) == value


# --- identifiers that lower() would fold to ASCII ------------------------------------------------

KELVIN = "\u212a"  # "K".lower() is the ASCII "k"


@pytest.mark.parametrize("tenant_id", [f"contoso{KELVIN}.com", f"{KELVIN}ontoso.onmicrosoft.com",
                                       "contoso.co\u0130", GUID.replace("1", "\u0661")])
def test_a_tenant_id_must_be_ascii_before_it_is_lower_cased(tenant_id):
    with pytest.raises(InputError) as err:
        parsing.customer_input({"tenantId": tenant_id, "authenticationMethod": "token"})
    assert err.value.code == "invalidTenantId"


@pytest.mark.parametrize("email", [f"admin@contoso{KELVIN}.com", f"admin@{KELVIN}.example.com",
                                   f"{KELVIN}@contoso.com"])
def test_an_email_must_be_ascii(email):
    with pytest.raises(InputError) as err:
        parsing.customer_input({"tenantId": GUID, "authenticationMethod": "password", "m365Email": email})
    assert err.value.code == "invalidEmail"


@pytest.mark.parametrize("guid", [GUID.replace("1", "\u0661"), GUID.replace("1", "\uff11"), GUID + KELVIN])
def test_application_and_client_ids_must_be_ascii(guid):
    with pytest.raises(InputError) as err:
        parsing.customer_input({"tenantId": GUID, "authenticationMethod": "application", "applicationId": guid,
                                "applicationSecret": "s"})
    assert err.value.code == "invalidField"
    with pytest.raises(InputError) as err:
        parsing.provider_settings_input({**SETTINGS, "clientId": guid})
    assert err.value.code == "invalidClientId"


def test_kelvin_sign_through_the_handler_stores_nothing(services):
    body = {**PASSWORD_TENANT, "tenantId": f"contoso{KELVIN}.com"}
    assert error_of(put_customer(json.dumps(body).encode()))[:2] == (400, "invalidTenantId")
    body = {**PASSWORD_TENANT, "m365Email": f"admin@contoso{KELVIN}.com"}
    assert error_of(put_customer(json.dumps(body).encode()))[:2] == (400, "invalidEmail")
    assert services.customers.get("contoso") is None and services.secrets.values == {}
