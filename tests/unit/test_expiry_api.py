"""Foresight at the edge, over fakes: the operator's expiry dates (tenant body, settings), the view's expiry
fields, GET /api/status?expiringWithinDays= and summary.expiring with the provider's secret line."""
import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import azure.functions as func
import pytest

from functions import customers, status
from functions import provider_settings as settings_functions
from shared.domain.secrets import SecretKind
from shared.views import iso
from tests.support.fakes import FAKE_CONFIG, fake_services, serving

GUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP = "11111111-2222-3333-4444-555555555555"
CLIENT = "0f6a5d1c-3b7e-4f7a-9a51-6c1c2d3e4f50"
CALLBACK = "https://tas.example.com/authenticate/OAuth2Callback"


def call(handler, method, url, *, body=None, route_params=None, params=None):
    data = b"" if body is None else json.dumps(body).encode()
    response = handler(func.HttpRequest(method, url, body=data, route_params=route_params or {}, params=params or {},
                                        headers={"content-type": "application/json"} if data else {}))
    return response.status_code, json.loads(response.get_body()) if response.get_body() else None


def put(customer_id, body):
    return call(customers.tenants_put, "PUT", f"/api/tenants/{customer_id}", body=body,
                route_params={"customerId": customer_id})


def app_body(**extra):
    return {"tenantId": GUID, "authenticationMethod": "application", "applicationId": APP,
            "applicationSecret": "abc-secret-value", **extra}


def in_days(days):
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0)


def test_the_operators_date_is_the_application_customers_expiry_with_its_source(services):
    at = in_days(5)
    code, view = put("contoso", app_body(applicationSecretExpiresAt=iso(at)))
    assert code == 201
    assert view["expiresAt"] == iso(at)
    assert view["expiry"] == {"what": "clientSecret", "source": "operator", "at": iso(at)}
    assert view["expiryUnknown"] == [] and view["retirement"] is None
    assert services.customers.get("contoso").application_secret_expires_at == at


def test_without_a_date_or_a_read_the_expiry_is_unknown_not_none(services):
    code, view = put("contoso", app_body())
    assert code == 201
    assert view["expiresAt"] is None and view["expiry"] is None
    assert [item["reason"] for item in view["expiryUnknown"]] == ["notReadYet"]


def test_the_date_is_kept_while_the_secret_stays_and_dropped_with_a_new_secret(services):
    at = in_days(40)
    put("contoso", app_body(applicationSecretExpiresAt="2030-01-02"))
    _, kept = put("contoso", {**app_body(applicationSecretExpiresAt=iso(at)), "applicationSecret": None})
    assert kept["expiresAt"] == iso(at)
    _, unchanged = put("contoso", {**app_body(), "applicationSecret": None})
    assert unchanged["expiresAt"] == iso(at)
    _, renewed = put("contoso", app_body(applicationSecret="new-secret-value"))
    assert renewed["expiresAt"] is None
    assert services.secrets.values[("contoso", SecretKind.APPLICATION_SECRET)] == "new-secret-value"


@pytest.mark.parametrize("value", ["tomorrow", "2026-13-01", "2026-06-30T10:00", "2026-06-30T10:00:00", 5,
                                   "1999-12-31", "9999-01-01", "2026-06-30T10:00:00\u00a0Z", ["2026-06-30"]])
def test_a_bad_date_is_refused_with_its_field_and_nothing_is_stored(services, value):
    code, answer = put("contoso", app_body(applicationSecretExpiresAt=value))
    assert code == 400
    assert answer["error"]["code"] == "invalidExpiryDate"
    assert answer["error"]["target"] == "applicationSecretExpiresAt"
    assert services.customers.get("contoso") is None


def test_a_date_for_another_method_is_refused(services):
    body = {"tenantId": GUID, "authenticationMethod": "password", "m365Email": "a@contoso.com", "password": "p",
            "applicationSecretExpiresAt": "2030-01-01"}
    code, answer = put("contoso", body)
    assert (code, answer["error"]["code"], answer["error"]["target"]) == (
        400, "invalidField", "applicationSecretExpiresAt")


def test_dates_with_an_offset_or_a_graph_fraction_are_read_as_utc(services):
    _, view = put("a", app_body(applicationSecretExpiresAt="2030-06-30T12:00:00.3148266+02:00"))
    assert view["expiresAt"] == "2030-06-30T10:00:00Z"


def put_settings(**extra):
    return call(settings_functions.settings_put, "PUT", "/api/settings",
                body={"clientId": CLIENT, "redirectUrl": CALLBACK, **extra})


def test_settings_keep_the_client_secrets_date_and_show_it(services):
    at = in_days(20)
    code, view = put_settings(clientSecret="provider-secret", clientSecretExpiresAt=iso(at))
    assert code == 200
    assert view["clientSecretExpiresAt"] == iso(at)
    assert view["clientSecretExpiry"] == {"what": "providerClientSecret", "source": "operator", "at": iso(at)}
    _, again = put_settings()
    assert again["clientSecretExpiresAt"] == iso(at)
    _, renewed = put_settings(clientSecret="another-secret")
    assert renewed["clientSecretExpiresAt"] is None
    # No PROVIDER_TENANT_ID here: Graph is never asked, and the view says so rather than "not read yet".
    assert renewed["clientSecretExpiry"]["reason"] == "providerTenantNotSet"
    assert "PROVIDER_TENANT_ID" in renewed["clientSecretExpiry"]["message"]


def test_without_a_provider_tenant_the_settings_and_the_summary_say_why_the_providers_expiry_is_unknown(services):
    put_settings(clientSecret="provider-secret")
    _, view = call(settings_functions.settings_get, "GET", "/api/settings")
    _, listing = list_status()
    for part in (view["clientSecretExpiry"], listing["summary"]["providerClientSecret"]):
        assert part == {"what": "providerClientSecret", "reason": "providerTenantNotSet",
                        "message": "Not read from Microsoft Graph: PROVIDER_TENANT_ID (the provider's own tenant) is "
                                   "not set. Set it, or give clientSecretExpiresAt in the settings."}


def test_with_a_provider_tenant_the_providers_expiry_waits_for_its_first_read():
    with fake_services(config=replace(FAKE_CONFIG, provider_tenant_id=GUID)) as services, serving(services):
        put_settings(clientSecret="provider-secret")
        _, view = call(settings_functions.settings_get, "GET", "/api/settings")
        _, listing = list_status()
    assert view["clientSecretExpiry"]["reason"] == listing["summary"]["providerClientSecret"]["reason"] == "notReadYet"


def test_a_bad_settings_date_is_refused_and_nothing_is_stored(services):
    code, answer = put_settings(clientSecret="provider-secret", clientSecretExpiresAt="soon")
    assert (code, answer["error"]["code"], answer["error"]["target"]) == (
        400, "invalidExpiryDate", "clientSecretExpiresAt")
    assert services.provider_settings.get() is None


def list_status(**params):
    return call(status.status_list, "GET", "/api/status", params=params)


def test_expiring_within_days_lists_only_those_known_to_fail_within_it_and_the_summary_counts_them(services):
    put("in5", app_body(applicationSecretExpiresAt=iso(in_days(5))))
    put("in20", app_body(applicationSecretExpiresAt=iso(in_days(20))))
    put("in90", app_body(applicationSecretExpiresAt=iso(in_days(90))))
    put("past", app_body(applicationSecretExpiresAt=iso(in_days(-1))))
    put("unknown", app_body())
    put_settings(clientSecret="provider-secret", clientSecretExpiresAt=iso(in_days(12)))

    code, week = list_status(expiringWithinDays="7")
    assert code == 200
    assert [item["customerId"] for item in week["tenants"]] == ["in5", "past"]
    _, everyone = list_status()
    assert len(everyone["tenants"]) == 5
    assert everyone["summary"]["expiring"] == {"within7Days": 2, "within30Days": 3}
    assert everyone["summary"]["providerClientSecret"] == {
        "what": "providerClientSecret", "source": "operator", "at": iso(in_days(12))}


def test_a_continuation_token_belongs_to_its_expiring_filter(services):
    for name in ("a", "b", "c"):
        put(name, app_body(applicationSecretExpiresAt=iso(in_days(3))))
    _, first = list_status(expiringWithinDays="7", top="1")
    token = first["continuationToken"]
    _, second = list_status(expiringWithinDays="7", top="1", continuationToken=token)
    assert [item["customerId"] for item in second["tenants"]] == ["b"]
    for other in ({"expiringWithinDays": "8"}, {}):
        code, answer = list_status(top="1", continuationToken=token, **other)
        assert (code, answer["error"]["code"]) == (400, "invalidContinuationToken")


@pytest.mark.parametrize("value", ["-1", "3651", "7.5", "seven", "1e3", "\u0667"])
def test_a_bad_expiring_within_days_is_refused(services, value):
    code, answer = list_status(expiringWithinDays=value)
    assert (code, answer["error"]["code"], answer["error"]["target"]) == (
        400, "invalidQueryParameter", "expiringWithinDays")


def test_password_customers_carry_the_retirement_notice(services):
    _, view = put("pw", {"tenantId": GUID, "authenticationMethod": "password", "m365Email": "a@contoso.com",
                         "password": "p"})
    assert "retiring" in view["retirement"]["message"]
    assert view["retirement"]["reference"].startswith("https://learn.microsoft.com/")
