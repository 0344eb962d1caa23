"""openapi.yaml's request schemas and the server's parser accept and refuse the same requests.

A client that validates against the spec must not be told "valid" for a body the server refuses (the spec
may not be looser), nor be refused a body the server takes (nor stricter), except for the documented trim
of surrounding whitespace, which the server forgives and the spec does not describe.
"""
from __future__ import annotations

import json
import re
from typing import Any

import pytest
from jsonschema import Draft202012Validator, FormatChecker

from functions import parsing
from shared.domain.errors import InputError
from shared.domain.rules import MAX_TOP, is_customer_id
from tests.support.openapi_check import spec

GUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
CALLBACK = "/authenticate/OAuth2Callback"
VIEW = {  # a tenant view as GET answers it, which a portal may send back on PUT
    "customerId": "contoso", "whenLastVerified": "2026-01-01T00:00:00Z", "lastVerificationStatus": "failed",
    "lastVerificationReason": "mfaRequired", "lastVerificationMessage": "AADSTS50076", "aadstsCode": 50076,
    "hint": "Switch to token.", "secretsConfigured": ["password"], "history": [], "pendingConsent": None,
    "lastConsent": {"outcome": "declined", "method": "token", "at": "2026-01-01T00:00:00Z", "message": "No."},
}
TOKEN = {"tenantId": GUID, "authenticationMethod": "token"}
PASSWORD = {"tenantId": "contoso.onmicrosoft.com", "authenticationMethod": "password",
            "m365Email": "admin@contoso.com", "password": "Pa55-word"}
APPLICATION = {"tenantId": GUID, "authenticationMethod": "application", "applicationId": GUID,
               "applicationSecret": "s3cret"}
SETTINGS = {"clientId": GUID, "redirectUrl": "https://tas.example.com" + CALLBACK}


def request_schema(path: str, method: str) -> dict[str, Any]:
    schema = spec()["paths"][path][method]["requestBody"]["content"]["application/json"]["schema"]
    return {**schema, "components": spec()["components"]}


def component(name: str) -> dict[str, Any]:
    return spec()["components"]["schemas"][name]


def schema_accepts(schema: dict[str, Any], body: Any) -> bool:
    return Draft202012Validator(schema, format_checker=FormatChecker()).is_valid(body)


def server_accepts(parse, body: Any) -> bool:
    try:
        parse(body) if isinstance(body, dict) else parsing.json_object(json.dumps(body).encode())
    except InputError:
        return False
    return True


TENANT_BODIES = [
    # accepted by both
    TOKEN, PASSWORD, APPLICATION, {**TOKEN, "tenantId": GUID.upper()}, {**TOKEN, "tenantId": "Fabrikam.COM"},
    {**TOKEN, "tenantId": "xn--bcher-kva.example"}, {**TOKEN, "tenantId": "a-1.b2.co"},
    {**TOKEN, "m365Email": None}, {**TOKEN, "password": None, "applicationId": None, "applicationSecret": None},
    {**TOKEN, "m365Email": "first.last+tag@sub.contoso.com"}, {**PASSWORD, "password": None},
    {**PASSWORD, "m365Email": "o'brien@contoso.com"}, {**PASSWORD, "password": "p" * 256},
    {**APPLICATION, "applicationSecret": "s" * 1024}, {**APPLICATION, "applicationId": GUID.upper()},
    {**TOKEN, **VIEW}, {**PASSWORD, **VIEW}, {**TOKEN, "customerId": 5, "history": "anything"},
    {**TOKEN, "tenantId": "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 61},
    # refused by both
    {}, {"tenantId": GUID}, {"authenticationMethod": "token"}, {**TOKEN, "tenantId": None},
    {**TOKEN, "authenticationMethod": "kerberos"}, {**TOKEN, "authenticationMethod": None},
    {**TOKEN, "isAdmin": True}, {**TOKEN, "pendingConsent": None}, {**TOKEN, "tenantId": "contoso"},
    {**TOKEN, "tenantId": "-a.com"}, {**TOKEN, "tenantId": "a..com"}, {**TOKEN, "tenantId": "a.c0m"},
    {**TOKEN, "tenantId": GUID.replace("-", "")}, {**TOKEN, "tenantId": "{" + GUID + "}"},
    {**TOKEN, "tenantId": "a" * 64 + ".com"}, {**TOKEN, "tenantId": "contoso\u212a.com"},
    {**TOKEN, "tenantId": "a" * 63 + "." + "b" * 63 + "." + "c" * 63 + "." + "d" * 62}, {**TOKEN, "tenantId": 7},
    {**PASSWORD, "m365Email": None}, {key: value for key, value in PASSWORD.items() if key != "m365Email"},
    {**PASSWORD, "m365Email": "admin"}, {**PASSWORD, "m365Email": ".a@contoso.com"},
    {**PASSWORD, "m365Email": "a.@contoso.com"}, {**PASSWORD, "m365Email": "a..b@contoso.com"},
    {**PASSWORD, "m365Email": "a b@contoso.com"}, {**PASSWORD, "m365Email": "a@contoso"},
    {**PASSWORD, "m365Email": "x" * 65 + "@contoso.com"}, {**PASSWORD, "m365Email": "admin@contoso\u212a.com"},
    {**PASSWORD, "m365Email": "a" * 64 + "@" + "b" * 63 + "." + "c" * 63 + "." + "d" * 63 + ".com"},
    {**PASSWORD, "password": ""}, {**PASSWORD, "password": "p" * 257}, {**PASSWORD, "password": "a\x00b"},
    {**PASSWORD, "password": 5}, {**TOKEN, "password": "pw"}, {**TOKEN, "applicationId": GUID},
    {**TOKEN, "applicationSecret": "s"}, {**PASSWORD, "applicationSecret": "s"},
    {**APPLICATION, "password": "pw"}, {**APPLICATION, "applicationId": "app"},
    {**APPLICATION, "applicationSecret": ""}, {**APPLICATION, "applicationSecret": "s" * 1025},
    [TOKEN], "text",
]

SETTINGS_BODIES = [
    # accepted by both
    SETTINGS, {**SETTINGS, "clientId": GUID.upper()}, {**SETTINGS, "clientSecret": "c" * 1024},
    {**SETTINGS, "clientSecret": None}, {**SETTINGS, "clientSecretConfigured": True, "updatedAt": None},
    *[{**SETTINGS, "redirectUrl": url + CALLBACK} for url in (
        "https://tas.example.com:8443", "https://10.0.0.1", "https://[::1]", "https://[2001:db8::1]:443",
        "https://localhost", "https://intranet", "http://localhost:7071", "http://127.0.0.1", "http://LOCALHOST",
        "https://xn--bcher-kva.example", "https://TAS.example.COM:65535", "https://a-b.c:1")],
    # refused by both
    {}, {"clientId": GUID}, {"redirectUrl": SETTINGS["redirectUrl"]}, {**SETTINGS, "clientId": None},
    {**SETTINGS, "clientId": "not-a-guid"}, {**SETTINGS, "clientId": GUID.replace("-", "")},
    {**SETTINGS, "clientSecret": ""}, {**SETTINGS, "clientSecret": "c" * 1025}, {**SETTINGS, "tenant": "x"},
    {**SETTINGS, "clientSecret": "a\x00b"}, {**SETTINGS, "redirectUrl": None},
    *[{**SETTINGS, "redirectUrl": url} for url in (
        "http://tas.example.com" + CALLBACK, "https://tas.example.com/authenticate/oauth2callback",
        "https://tas.example.com" + CALLBACK + "/", "https://tas.example.com" + CALLBACK + "?x=1",
        "https://tas.example.com" + CALLBACK + "#f", "https://u@tas.example.com" + CALLBACK,
        "https://tas.example.com:0" + CALLBACK, "https://tas.example.com:65536" + CALLBACK,
        "https://tas.example.com:" + CALLBACK, "https://tas.example.com:08443" + CALLBACK,
        "HTTPS://tas.example.com" + CALLBACK, "Http://localhost" + CALLBACK, CALLBACK,
        'https://a"b.example' + CALLBACK, "https://a<b>.example" + CALLBACK, "https://a\\b.example" + CALLBACK,
        "https://exa_mple.com" + CALLBACK, "https://b\u00fccher.example" + CALLBACK, "https://1.2.3" + CALLBACK,
        "https://256.0.0.1" + CALLBACK, "https://a.0x1f" + CALLBACK, "https://a.example." + CALLBACK,
        "https://-a.example" + CALLBACK, "http://[::1]" + CALLBACK, "https://" + "a" * 64 + ".example" + CALLBACK,
        "ftp://tas.example.com" + CALLBACK)],
]


@pytest.mark.parametrize("body", TENANT_BODIES)
def test_tenant_body_schema_and_server_agree(body):
    schema = request_schema("/api/tenants/{customerId}", "put")
    assert schema_accepts(schema, body) == server_accepts(parsing.customer_input, body)


@pytest.mark.parametrize("body", SETTINGS_BODIES)
def test_settings_body_schema_and_server_agree(body):
    schema = request_schema("/api/settings", "put")
    assert schema_accepts(schema, body) == server_accepts(parsing.provider_settings_input, body)


@pytest.mark.parametrize("parse, path, body, field", [
    (parsing.customer_input, "/api/tenants/{customerId}", TOKEN, "tenantId"),
    (parsing.customer_input, "/api/tenants/{customerId}", {**TOKEN, "tenantId": "contoso"}, "tenantId"),
    (parsing.customer_input, "/api/tenants/{customerId}", PASSWORD, "m365Email"),
    (parsing.customer_input, "/api/tenants/{customerId}", APPLICATION, "applicationId"),
    (parsing.provider_settings_input, "/api/settings", SETTINGS, "clientId"),
    (parsing.provider_settings_input, "/api/settings", SETTINGS, "redirectUrl"),
    (parsing.provider_settings_input, "/api/settings",
     {**SETTINGS, "redirectUrl": "http://tas.example.com" + CALLBACK}, "redirectUrl"),
])
def test_surrounding_whitespace_is_trimmed_then_judged_as_the_schema_does(parse, path, body, field):
    # The documented leniency: the spec describes the trimmed value; the server trims before judging.
    padded = {**body, field: f" {body[field]}\t"}
    assert server_accepts(parse, padded) == schema_accepts(request_schema(path, "put"), body)


def test_the_corpora_hold_both_verdicts():
    # Guards the two tests above against a corpus that only ever agrees on "accepted".
    for parse, bodies in ((parsing.customer_input, TENANT_BODIES), (parsing.provider_settings_input, SETTINGS_BODIES)):
        verdicts = [server_accepts(parse, body) for body in bodies]
        assert verdicts.count(True) >= 12 and verdicts.count(False) >= 20


@pytest.mark.parametrize("name, fields, read_only", [
    ("TenantBody", parsing._CUSTOMER_FIELDS, parsing._READ_ONLY_VIEW_FIELDS),
    ("SettingsBody", parsing._SETTINGS_FIELDS, parsing._READ_ONLY_SETTINGS_FIELDS),
])
def test_request_bodies_list_exactly_the_fields_the_server_takes(name, fields, read_only):
    schema = component(name)
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == set(fields) | set(read_only)
    assert {field for field, value in schema["properties"].items() if value.get("readOnly")} == set(read_only)


@pytest.mark.parametrize("value", [
    "a", "Contoso-01", "c.d_e-f", "x" * 64, ".a", "a.", "..a", "_", "-",
    "", ".", "..", "...", "x" * 65, "a b", "a/b", "\u00fc", "a\nb", "a%20b", "a\r",
])
def test_customer_id_pattern_is_the_server_rule(value):
    pattern = component("CustomerId")["pattern"]
    assert (re.search(pattern, value) is not None) == is_customer_id(value)


def test_top_is_1_to_the_page_size():
    (top,) = [p for p in spec()["paths"]["/api/status"]["get"]["parameters"] if p["name"] == "top"]
    assert (top["schema"]["minimum"], top["schema"]["maximum"], top["schema"]["default"]) == (1, MAX_TOP,
                                                                                                MAX_TOP)
