"""The HTTP edge's parser (functions/parsing.py): every refusal is an InputError with a contract code."""
import json

import pytest

from functions import parsing
from functions.http import error_status
from shared.domain.errors import InputError
from shared.domain.models import AuthMethod, Status

GUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"


@pytest.mark.parametrize("value", ["a", "Contoso-01", "c.d_e-f", "x" * 64])
def test_customer_ids_of_the_contract_are_accepted(value):
    assert parsing.customer_id(value) == value


@pytest.mark.parametrize("value", [None, "", "x" * 65, "a b", "a/b", "a' or 'x' eq 'x", "ü", "a\nb", "a%20b"])
def test_other_customer_ids_are_refused(value):
    with pytest.raises(InputError) as err:
        parsing.customer_id(value)
    assert err.value.code == "invalidCustomerId"


@pytest.mark.parametrize("value", [GUID, GUID.upper(), "contoso.onmicrosoft.com", "Fabrikam.com", "a-b.co.uk"])
def test_tenant_id_is_a_guid_or_a_domain(value):
    data = parsing.customer_input({"tenantId": value, "authenticationMethod": "token"})
    assert data.tenant_id == value.lower()


@pytest.mark.parametrize(
    "value", ["contoso", "-a.com", "a..com", "a.c0m1", "72f988bf86f141af91ab2d7cd011db47x", " ", "a.b/"]
)
def test_tenant_id_that_is_neither_is_refused(value):
    with pytest.raises(InputError) as err:
        parsing.customer_input({"tenantId": value, "authenticationMethod": "token"})
    assert err.value.code == "invalidTenantId"


def test_password_method_needs_an_email_and_refuses_a_bad_one():
    with pytest.raises(InputError) as err:
        parsing.customer_input({"tenantId": GUID, "authenticationMethod": "password"})
    assert (err.value.code, "m365Email" in err.value.message) == ("missingField", True)
    with pytest.raises(InputError) as err:
        parsing.customer_input({"tenantId": GUID, "authenticationMethod": "password", "m365Email": "admin"})
    assert err.value.code == "invalidEmail"


@pytest.mark.parametrize("body, code, target", [
    ({"tenantId": GUID}, "missingField", "authenticationMethod"),
    ({"tenantId": GUID, "authenticationMethod": "saml"}, "invalidAuthenticationMethod", "authenticationMethod"),
    ({"tenantId": GUID, "authenticationMethod": 3}, "invalidField", "authenticationMethod"),
    ({"tenantId": 12, "authenticationMethod": "token"}, "invalidField", "tenantId"),
    ({"tenantId": "not a tenant", "authenticationMethod": "token"}, "invalidTenantId", "tenantId"),
    ({"tenantId": GUID, "authenticationMethod": "token", "colour": "red"}, "unknownField", "colour"),
    ({"tenantId": GUID, "authenticationMethod": "token", "c\u00f6lour": "red"}, "unknownField", None),  # not echoed
    ({"tenantId": GUID, "authenticationMethod": "token", "password": "pw"}, "invalidField", "password"),
    ({"tenantId": GUID, "authenticationMethod": "password", "m365Email": "a@b.com", "password": ""}, "invalidField",
     "password"),
    ({"tenantId": GUID, "authenticationMethod": "password", "m365Email": "a@b.com", "password": "p" * 257},
     "invalidField", "password"),
    ({"tenantId": GUID, "authenticationMethod": "password", "m365Email": "admin"}, "invalidEmail", "m365Email"),
    ({"tenantId": GUID, "authenticationMethod": "application", "applicationId": "nope"}, "invalidField",
     "applicationId"),
    ({"tenantId": GUID, "authenticationMethod": "token", "applicationSecret": "s"}, "invalidField",
     "applicationSecret"),
    ({"tenantId": GUID, "authenticationMethod": "token", "applicationId": GUID, "applicationSecret": "s"},
     "invalidField", "applicationId"),
])
def test_malformed_customer_bodies_name_the_problem_and_the_field(body, code, target):
    with pytest.raises(InputError) as err:
        parsing.customer_input(body)
    assert (err.value.code, err.value.target) == (code, target)
    assert error_status(err.value) == 400


CALLBACK = "https://tas.example.com/authenticate/OAuth2Callback"


@pytest.mark.parametrize("parse, value, code, target", [
    (parsing.provider_settings_input, {"clientId": "app", "redirectUrl": CALLBACK}, "invalidClientId", "clientId"),
    (parsing.provider_settings_input, {"redirectUrl": CALLBACK}, "missingField", "clientId"),
    (parsing.provider_settings_input, {"clientId": GUID, "redirectUrl": "http://tas.example.com/"},
     "invalidRedirectUrl", "redirectUrl"),
    (parsing.provider_settings_input, {"clientId": GUID, "redirectUrl": CALLBACK, "clientSecret": ""},
     "invalidField", "clientSecret"),
    (parsing.consent_input, {"method": "password"}, "invalidField", "method"),
    (parsing.consent_input, {"loginHint": "admin"}, "invalidField", "loginHint"),
    (parsing.consent_input, {"prompt": "none"}, "unknownField", "prompt"),
    (parsing.customer_id, "..", "invalidCustomerId", "customerId"),
    (parsing.run_id, "a/b", "invalidRunId", "runId"),
    (parsing.runs_top, {"top": "101"}, "invalidQueryParameter", "top"),
])
def test_every_validation_error_names_its_field_or_parameter(parse, value, code, target):
    with pytest.raises(InputError) as err:
        parse(value)
    assert (err.value.code, err.value.target, error_status(err.value)) == (code, target, 400)


def test_read_only_view_fields_sent_back_are_ignored():
    data = parsing.customer_input({
        "tenantId": GUID, "authenticationMethod": "token", "customerId": "x",
        "lastVerificationStatus": "succeeded", "secretsConfigured": [],
    })
    assert data.authentication_method is AuthMethod.TOKEN


def test_customer_input_repr_hides_secrets():
    data = parsing.customer_input({
        "tenantId": GUID, "authenticationMethod": "password", "m365Email": "a@b.com", "password": "Sup3r-S3cret!",
    })
    assert "Sup3r-S3cret!" not in repr(data)
    assert data.password == "Sup3r-S3cret!"


@pytest.mark.parametrize("body, code, status", [
    (b"", "invalidJson", 400),
    (b"{", "invalidJson", 400),
    (b"\xff\xfe", "invalidJson", 400),
    (b"[1]", "invalidBody", 400),
    (b'"text"', "invalidBody", 400),
    (b"[" * 40000 + b"]" * 20000, "invalidJson", 400),
    (json.dumps({"x": "y" * 70000}).encode(), "payloadTooLarge", 413),
])
def test_json_object_refuses_what_is_not_one_small_object(body, code, status):
    with pytest.raises(InputError) as err:
        parsing.json_object(body)
    assert (err.value.code, error_status(err.value), err.value.target) == (code, status, None)  # the whole body


def test_list_query_defaults_and_values():
    query = parsing.status_query({"code": "function-key"})
    assert (query.status, query.method, query.top, query.continuation_token) == (None, None, 1000, None)
    query = parsing.status_query({"status": "failed", "method": "application", "top": "5", "continuationToken": "t"})
    assert (query.status, query.method, query.top, query.continuation_token) == (
        Status.FAILED, AuthMethod.APPLICATION, 5, "t")


@pytest.mark.parametrize("params", [
    {"status": "broken"}, {"method": "kerberos"}, {"top": "0"}, {"top": "1001"}, {"top": "ten"},
    {"top": "-1"}, {"top": "٣"}, {"continuationToken": ""},
])
def test_list_query_refuses_unknown_values(params):
    with pytest.raises(InputError) as err:
        parsing.status_query(params)
    assert err.value.code in {"invalidQueryParameter", "invalidContinuationToken"}
    assert [err.value.target] == list(params)
