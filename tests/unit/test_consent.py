"""Consent over fakes: links, the callback's every branch, single use, expiry, tid checks, the page."""
from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import azure.functions as func
import pytest

from functions import consent
from functions.http import CONSENT_STATUS, error_status
from shared.domain.consent import ConsentOutcome, tenant_in_issuer
from shared.domain.errors import Conflict
from shared.domain.inputs import CustomerInput, ProviderSettingsInput
from shared.domain.models import AuthMethod, ConsentResult, Customer, Status
from shared.domain.secrets import SecretKind
from shared.domain.verification import TokenAnswer
from shared.usecases.consent import complete_consent, start_consent
from shared.usecases.customers import put_customer
from shared.usecases.provider_settings import put_settings
from shared.usecases.verify import verify_customer
from shared.views import tenant_view
from tests.support.fakes import fake_services

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER = "0f6a5d1c-3b7e-4f7a-9a51-6c1c2d3e4f50"
PROVIDER = "11111111-2222-4333-8444-555555555555"
CALLBACK = "https://tas.example.com/authenticate/OAuth2Callback"
DOMAIN = "contoso.onmicrosoft.com"


@pytest.fixture
def services(services):
    put_settings(services.provider_settings, services.secrets,
                 ProviderSettingsInput(client_id=PROVIDER, redirect_url=CALLBACK, client_secret="provider-secret"))
    put_customer(services.customers, services.secrets, "c1", CustomerInput(
        tenant_id=TENANT, authentication_method=AuthMethod.PASSWORD, m365_email="old@contoso.com", password="pw"))
    services.verification.platform.script(TENANT, TokenAnswer(claims={"tid": TENANT}))
    return services


def answered(outcome: ConsentOutcome) -> int:
    """The status code the callback page answers with."""
    return CONSENT_STATUS[outcome.kind]


def link_state(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


def verified(services, customer_id: str) -> Customer:
    """The customer after a successful verification: a working connection a consent must not break."""
    customer = verify_customer(services.verification, customer_id, in_run=False)
    assert customer.last_verification_status is Status.SUCCEEDED
    return customer


def connection(customer: Customer) -> tuple:
    """What a refused or failed consent must leave as it was: how the customer is reached, and its status."""
    return (customer.tenant_id, customer.authentication_method, customer.application_id, customer.m365_email,
            customer.secret_versions, customer.last_verification_status, customer.when_last_verified,
            customer.last_verification_reason, customer.last_verification_message)


@pytest.fixture
def by_domain(services):
    """c2: a customer whose tenantId is a domain, which the identity platform resolves to TENANT; it works."""
    services.consent.platform.domains[DOMAIN] = TENANT
    put_customer(services.customers, services.secrets, "c2", CustomerInput(
        tenant_id=DOMAIN, authentication_method=AuthMethod.PASSWORD, m365_email="old@contoso.com", password="pw"))
    services.verification.platform.script(DOMAIN, TokenAnswer(claims={"tid": TENANT}))
    return verified(services, "c2")


def test_a_token_consent_switches_the_customer_stores_the_refresh_token_and_verifies(services):
    link = start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint=None)
    pending = services.customers.get("c1").pending_consent
    assert pending.method is AuthMethod.TOKEN and pending.expires_at == link.expires_at
    services.consent.platform.redeemed = TokenAnswer(
        claims={}, identity={"tid": TENANT, "preferred_username": "admin@contoso.com"}, refresh_token="rt-1")
    outcome = complete_consent(services.consent, {"state": link_state(link.authorization_url), "code": "c0de"})
    assert answered(outcome) == 200 and outcome.title == "Consent granted"
    customer = services.customers.get("c1")
    assert (customer.authentication_method, customer.m365_email, customer.pending_consent) == (
        AuthMethod.TOKEN, "admin@contoso.com", None)
    assert services.secrets.get("c1", SecretKind.REFRESH_TOKEN, customer.secret_versions[SecretKind.REFRESH_TOKEN]) \
        == "rt-1"
    assert customer.last_verification_status is Status.SUCCEEDED  # verified at once
    assert (customer.last_consent.outcome, customer.last_consent.method) == (ConsentResult.GRANTED, AuthMethod.TOKEN)
    assert "admin@contoso.com" in customer.last_consent.message
    assert not any(name == SecretKind.CONSENT_FLOW for (_, name), v in services.secrets.stored.items() if v)
    again = complete_consent(services.consent, {"state": link_state(link.authorization_url), "code": "c0de"})
    assert answered(again) == 400  # single use


def test_a_tid_that_is_not_the_customers_tenant_stores_nothing_and_uses_up_the_link(services):
    before = verified(services, "c1")
    link = start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint="admin@contoso.com")
    services.consent.platform.redeemed = TokenAnswer(claims={}, identity={"tid": OTHER}, refresh_token="rt-x")
    outcome = complete_consent(services.consent, {"state": link_state(link.authorization_url), "code": "c"})
    assert answered(outcome) == 400 and OTHER in " ".join(outcome.lines)
    after = services.customers.get("c1")
    assert connection(after) == connection(before)
    assert "rt-x" not in services.secrets.values.values()
    assert after.pending_consent is None and tenant_view(after)["pendingConsent"] is None  # the link is used up
    assert (after.last_consent.outcome, after.last_consent.method) == (ConsentResult.FAILED, AuthMethod.TOKEN)


def test_admin_consent_checks_the_returned_tenant_with_a_token_then_switches_to_application(services):
    link = start_consent(services.consent, "c1", method=AuthMethod.APPLICATION, login_hint=None)
    state = link_state(link.authorization_url)
    services.verification.platform.script(TENANT, TokenAnswer(claims={"tid": TENANT, "roles": ["User.Read.All"]}))
    outcome = complete_consent(services.consent, {"state": state, "admin_consent": "True", "tenant": TENANT})
    assert answered(outcome) == 200
    customer = services.customers.get("c1")
    assert (customer.authentication_method, customer.application_id) == (AuthMethod.APPLICATION, PROVIDER)
    assert customer.last_verification_status is Status.SUCCEEDED


def test_admin_consent_for_a_tenant_whose_token_says_otherwise_is_refused(services):
    link = start_consent(services.consent, "c1", method=AuthMethod.APPLICATION, login_hint=None)
    services.verification.platform.script(OTHER, TokenAnswer(claims={"tid": TENANT}))
    outcome = complete_consent(services.consent, {"state": link_state(link.authorization_url),
                                                  "admin_consent": "True", "tenant": OTHER})
    assert answered(outcome) == 400 and services.customers.get("c1").authentication_method is AuthMethod.PASSWORD
    assert services.customers.get("c1").pending_consent is None


def test_admin_consent_naming_the_right_tenant_is_still_checked_with_a_token(services):
    link = start_consent(services.consent, "c1", method=AuthMethod.APPLICATION, login_hint=None)
    services.verification.platform.script(TENANT, TokenAnswer(claims={"tid": OTHER}))  # not the tenant named
    outcome = complete_consent(services.consent, {"state": link_state(link.authorization_url),
                                                  "admin_consent": "True", "tenant": TENANT})
    assert answered(outcome) == 400 and services.customers.get("c1").authentication_method is AuthMethod.PASSWORD
    assert ("client_credentials", TENANT, PROVIDER) in services.verification.platform.calls


@pytest.mark.parametrize("params", [{}, {"state": "forged"}, {"code": "c"}])
def test_missing_or_unknown_states_answer_400_and_change_nothing(services, params):
    before = services.customers.get("c1")
    assert answered(complete_consent(services.consent, params)) == 400
    assert services.customers.get("c1") == before


def test_an_expired_state_answers_400(services):
    link = start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint=None,
                         now=datetime.now(UTC) - timedelta(minutes=16))
    outcome = complete_consent(services.consent, {"state": link_state(link.authorization_url), "code": "c"})
    assert answered(outcome) == 400 and "expired" in outcome.lines[0]
    assert services.customers.get("c1").authentication_method is AuthMethod.PASSWORD


def test_a_newer_link_makes_the_older_one_useless(services):
    old = start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint=None)
    start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint=None)
    outcome = complete_consent(services.consent, {"state": link_state(old.authorization_url), "code": "c"})
    assert answered(outcome) == 400


@pytest.mark.parametrize("missing, code", [
    ("clientId", "clientIdNotConfigured"), ("clientSecret", "clientSecretNotConfigured"),
    ("redirectUrl", "redirectUrlNotConfigured"),
])
def test_links_need_complete_settings(missing, code):
    with fake_services() as services:
        put_customer(services.customers, services.secrets, "c1", CustomerInput(
            tenant_id=TENANT, authentication_method=AuthMethod.TOKEN, m365_email=None))
        if missing == "clientSecret":
            put_settings(services.provider_settings, services.secrets,
                         ProviderSettingsInput(client_id=PROVIDER, redirect_url=CALLBACK, client_secret=None))
        if missing == "redirectUrl":  # the API cannot store settings without one; a record from elsewhere can
            saved = put_settings(services.provider_settings, services.secrets,
                                 ProviderSettingsInput(client_id=PROVIDER, redirect_url=CALLBACK, client_secret="s"))
            services.provider_settings.settings = dataclasses.replace(saved, redirect_url=None)
        with pytest.raises(Conflict) as err:
            start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint=None)
        assert err.value.code == code and "Settings" in err.value.message


def test_the_link_route_and_the_callback_page(services):
    response = consent.consent_start(func.HttpRequest(
        "POST", "/api/consent/c1", body=json.dumps({"loginHint": "admin@contoso.com"}).encode(),
        route_params={"customerId": "c1"}, headers={"Content-Type": "application/json"}))
    assert response.status_code == 200
    link = json.loads(response.get_body())
    assert set(link) == {"authorizationUrl", "expiresAt"}
    evil = "<script>alert(1)</script>"
    page = consent.consent_callback(func.HttpRequest(
        "GET", "/authenticate/OAuth2Callback", body=b"",
        params={"state": link_state(link["authorizationUrl"]), "error": "access_denied", "error_description": evil}))
    html = page.get_body().decode()
    assert page.status_code == 200 and page.mimetype == "text/html" and evil not in html
    assert "&lt;script&gt;" in html
    assert page.headers["Content-Security-Policy"].startswith("default-src 'none'")
    assert page.headers["Referrer-Policy"] == "no-referrer" and page.headers["Cache-Control"] == "no-store"
    missing = consent.consent_start(func.HttpRequest("POST", "/api/consent/nobody", body=b"",
                                                     route_params={"customerId": "nobody"}))
    assert missing.status_code == 404
    big = consent.consent_callback(func.HttpRequest("POST", "/authenticate/OAuth2Callback", body=b"a" * 70000))
    assert big.status_code == 413


def test_a_domain_customer_is_not_moved_to_another_tenant_by_admin_consent(services, by_domain):
    # The other tenant has the provider's app too: a token for it is issued, with its own tid.
    services.verification.platform.script(OTHER, TokenAnswer(claims={"tid": OTHER, "roles": ["User.Read.All"]}))
    link = start_consent(services.consent, "c2", method=AuthMethod.APPLICATION, login_hint=None)
    outcome = complete_consent(services.consent, {"state": link_state(link.authorization_url),
                                                  "admin_consent": "True", "tenant": OTHER})
    after = services.customers.get("c2")
    assert answered(outcome) == 400 and "Nothing was stored" in " ".join(outcome.lines)
    assert connection(after) == connection(by_domain) and after.tenant_id == DOMAIN
    assert after.pending_consent is None and after.last_consent.outcome is ConsentResult.FAILED
    assert services.consent.platform.lookups[-1] == DOMAIN  # resolved before the callback was accepted


def test_a_domain_customer_is_not_moved_to_another_tenant_by_an_id_token(services, by_domain):
    link = start_consent(services.consent, "c2", method=AuthMethod.TOKEN, login_hint=None)
    services.consent.platform.redeemed = TokenAnswer(
        claims={}, identity={"tid": OTHER, "preferred_username": "admin@other.example"}, refresh_token="rt-other")
    outcome = complete_consent(services.consent, {"state": link_state(link.authorization_url), "code": "c"})
    after = services.customers.get("c2")
    assert answered(outcome) == 400 and OTHER in " ".join(outcome.lines)
    assert connection(after) == connection(by_domain)
    assert "rt-other" not in services.secrets.values.values() and after.pending_consent is None


@pytest.mark.parametrize("method", [AuthMethod.TOKEN, AuthMethod.APPLICATION])
def test_a_domain_customer_consenting_in_its_own_tenant_is_bound_to_that_tenant_id(services, by_domain, method):
    link = start_consent(services.consent, "c2", method=method, login_hint=None)
    services.consent.platform.redeemed = TokenAnswer(
        claims={}, identity={"tid": TENANT, "preferred_username": "admin@contoso.com"}, refresh_token="rt-own")
    services.verification.platform.script(TENANT, TokenAnswer(claims={"tid": TENANT, "roles": ["User.Read.All"]}))
    params = {"code": "c"} if method is AuthMethod.TOKEN else {"admin_consent": "True", "tenant": TENANT.upper()}
    outcome = complete_consent(services.consent, {"state": link_state(link.authorization_url), **params})
    after = services.customers.get("c2")
    assert answered(outcome) == 200, outcome.lines
    assert (after.tenant_id, after.authentication_method, after.last_consent.outcome) == (
        TENANT, method, ConsentResult.GRANTED)


@pytest.mark.parametrize("method", [AuthMethod.TOKEN, AuthMethod.APPLICATION])
def test_a_domain_the_platform_does_not_know_is_refused_not_trusted(services, by_domain, method):
    link = start_consent(services.consent, "c2", method=method, login_hint=None)
    del services.consent.platform.domains[DOMAIN]  # the domain left the tenant after the link was made
    services.consent.platform.redeemed = TokenAnswer(claims={}, identity={"tid": OTHER}, refresh_token="rt-x")
    params = {"code": "c"} if method is AuthMethod.TOKEN else {"admin_consent": "True", "tenant": OTHER}
    calls = len(services.verification.platform.calls)
    outcome = complete_consent(services.consent, {"state": link_state(link.authorization_url), **params})
    after = services.customers.get("c2")
    assert answered(outcome) == 400 and f"does not know the domain {DOMAIN}" in " ".join(outcome.lines)
    assert connection(after) == connection(by_domain) and after.pending_consent is None
    assert "rt-x" not in services.secrets.values.values()
    assert len(services.verification.platform.calls) == calls  # no token was asked for the tenant named
    assert after.last_consent.outcome is ConsentResult.FAILED and DOMAIN in after.last_consent.message


def test_a_domain_that_cannot_be_looked_up_now_is_refused_with_503(services, by_domain):
    link = start_consent(services.consent, "c2", method=AuthMethod.APPLICATION, login_hint=None)
    services.consent.platform.unreachable = True
    outcome = complete_consent(services.consent, {"state": link_state(link.authorization_url),
                                                  "admin_consent": "True", "tenant": TENANT})
    after = services.customers.get("c2")
    assert answered(outcome) == 503 and "could not be reached" in " ".join(outcome.lines)
    assert connection(after) == connection(by_domain) and after.pending_consent is None


@pytest.mark.parametrize("method", [AuthMethod.TOKEN, AuthMethod.APPLICATION])
def test_no_link_is_handed_out_for_a_domain_the_platform_does_not_know(services, method):
    put_customer(services.customers, services.secrets, "c3", CustomerInput(
        tenant_id="nosuch.example", authentication_method=AuthMethod.TOKEN, m365_email=None))
    with pytest.raises(Conflict) as err:
        start_consent(services.consent, "c3", method=method, login_hint=None)
    assert (err.value.code, error_status(err.value)) == ("invalidTenantId", 409)
    assert services.customers.get("c3").pending_consent is None


LONG = "AADSTS65004: User declined to consent to access the app. " + "x" * 600


@pytest.mark.parametrize("error, description, outcome, page_status", [
    ("access_denied", LONG + "\r\nTrace ID: 1\r\nCorrelation ID: 2", ConsentResult.DECLINED, 200),
    ("access_denied", None, ConsentResult.DECLINED, 200),
    ("access_denied", "AADSTS53003: Access has been blocked by Conditional Access policies.", ConsentResult.FAILED,
     400),
    ("invalid_request", "AADSTS50011: The redirect URI does not match.", ConsentResult.FAILED, 400),
])
def test_a_declined_or_failed_consent_keeps_the_connection_and_is_recorded_as_last_consent(
        services, error, description, outcome, page_status):
    before = verified(services, "c1")
    rows = len(services.history.results["c1"])
    link = start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint=None)
    params = {"state": link_state(link.authorization_url), "error": error}
    if description is not None:
        params["error_description"] = description
    page = complete_consent(services.consent, params, now=link.expires_at - timedelta(minutes=10))
    after = services.customers.get("c1")
    assert connection(after) == connection(before)  # still succeeded, still by password
    assert len(services.history.results["c1"]) == rows  # the history holds verification results only
    assert after.pending_consent is None and answered(page) == page_status
    last = after.last_consent
    assert (last.outcome, last.method, last.at) == (outcome, AuthMethod.TOKEN, link.expires_at - timedelta(minutes=10))
    shown = (description or error).splitlines()[0][:500]
    assert last.message == shown and shown in page.lines
    assert tenant_view(after)["lastConsent"] == {
        "outcome": outcome.value, "method": "token", "at": tenant_view(after)["lastConsent"]["at"], "message": shown}


def test_a_code_that_cannot_be_redeemed_keeps_the_connection(services):
    before = verified(services, "c1")
    link = start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint=None)
    services.consent.platform.redeemed = TokenAnswer(
        error="invalid_grant", error_codes=(70000,),
        description="AADSTS70000: Provided grant is invalid or malformed.\r\nTrace ID: t")
    outcome = complete_consent(services.consent, {"state": link_state(link.authorization_url), "code": "c"})
    after = services.customers.get("c1")
    assert answered(outcome) == 400 and connection(after) == connection(before)
    assert (after.last_consent.outcome, after.last_consent.message) == (
        ConsentResult.FAILED, "AADSTS70000: Provided grant is invalid or malformed.")


def test_control_characters_of_a_description_are_not_kept(services):
    link = start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint=None)
    complete_consent(services.consent, {"state": link_state(link.authorization_url), "error": "access_denied",
                                        "error_description": "no\x00thanks\x1b[31m\x7f"})
    assert services.customers.get("c1").last_consent.message == "no thanks [31m"


def test_the_callback_page_carries_every_security_header_whatever_it_says(services):
    expected = {
        "Content-Security-Policy": "default-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
        "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer", "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
    }
    for params in ({}, {"state": "unknown"}):
        page = consent.consent_callback(
            func.HttpRequest("GET", "/authenticate/OAuth2Callback", body=b"", params=params))
        assert page.status_code == 400
        assert {name: page.headers.get(name) for name in expected} == expected


def test_last_consent_is_null_until_a_callback_and_survives_an_edit(services):
    assert tenant_view(services.customers.get("c1"))["lastConsent"] is None
    link = start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint=None)
    assert tenant_view(services.customers.get("c1"))["lastConsent"] is None  # a link alone is no consent
    complete_consent(services.consent, {"state": link_state(link.authorization_url), "error": "access_denied"})
    put_customer(services.customers, services.secrets, "c1", CustomerInput(
        tenant_id=TENANT, authentication_method=AuthMethod.PASSWORD, m365_email="new@contoso.com", password=None))
    assert services.customers.get("c1").last_consent.outcome is ConsentResult.DECLINED


def test_a_consent_answer_is_recorded_even_when_the_record_changed_meanwhile(services):
    link = start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint=None)
    store, real_update, raced = services.customers, services.customers.replace, []

    def update(previous, customer):
        if not raced:  # a verification writes its result between our read and our write
            raced.append(real_update(previous, dataclasses.replace(previous, hint="written meanwhile")))
        return real_update(previous, customer)

    store.replace = update
    complete_consent(services.consent, {"state": link_state(link.authorization_url), "error": "access_denied"})
    after = store.get("c1")
    assert (after.hint, after.last_consent.outcome, after.pending_consent) == (
        "written meanwhile", ConsentResult.DECLINED, None)


@pytest.mark.parametrize("username", ["admin", "a b@contoso.com", "admin@contoso", "<b>x</b>@contoso.com",
                                      "x" * 65 + "@contoso.com", 42, None])
def test_an_id_token_email_that_is_not_an_email_is_not_stored(services, username):
    link = start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint=None)
    services.consent.platform.redeemed = TokenAnswer(
        claims={}, identity={"tid": TENANT, "preferred_username": username}, refresh_token="rt-1")
    outcome = complete_consent(services.consent, {"state": link_state(link.authorization_url), "code": "c"})
    after = services.customers.get("c1")
    assert answered(outcome) == 200 and after.authentication_method is AuthMethod.TOKEN  # the consent succeeds
    assert after.m365_email == "old@contoso.com"
    assert outcome.lines[0] == "The admin granted consent for customer c1."


def test_an_id_token_email_is_trimmed_then_stored(services):
    link = start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint=None)
    services.consent.platform.redeemed = TokenAnswer(
        claims={}, identity={"tid": TENANT, "preferred_username": " new@contoso.com "}, refresh_token="rt-1")
    complete_consent(services.consent, {"state": link_state(link.authorization_url), "code": "c"})
    assert services.customers.get("c1").m365_email == "new@contoso.com"


@pytest.mark.parametrize("issuer, tenant", [
    (f"https://login.microsoftonline.com/{TENANT}/v2.0", TENANT),
    (f"https://login.microsoftonline.com/{TENANT.upper()}/v2.0", TENANT),
    (f"https://sts.windows.net/{TENANT}/", TENANT),
    ("https://login.microsoftonline.com/{tenantid}/v2.0", None),  # the multi-tenant documents' placeholder
    ("https://login.microsoftonline.com/common/v2.0", None), ("https://login.microsoftonline.com/", None),
    (TENANT, None), ("", None), (None, None), (42, None),
])
def test_the_tenant_an_issuer_names(issuer, tenant):
    assert tenant_in_issuer(issuer) == tenant


def redeemed_for(services, customer_id: str = "c1", token: str = "rt-new"):
    """A token link for the customer, and the platform ready to redeem its code with `token`."""
    link = start_consent(services.consent, customer_id, method=AuthMethod.TOKEN, login_hint=None)
    services.consent.platform.redeemed = TokenAnswer(
        claims={}, identity={"tid": TENANT, "preferred_username": "admin@contoso.com"}, refresh_token=token)
    return {"state": link_state(link.authorization_url), "code": "c0de"}


def racing(services, change):
    """The customer store's next update first lets `change` write the record (another request, between the
    callback's read and its write) through the store's own methods."""
    store, real_update, raced = services.customers, services.customers.replace, []

    def update(previous, customer, **events):
        if not raced:
            raced.append(True)
            change(real_update, store, previous)
        return real_update(previous, customer, **events)

    store.replace = update
    return raced


def test_a_granted_consent_is_kept_when_a_verification_wrote_the_record_meanwhile(services):
    params = redeemed_for(services)
    raced = racing(services, lambda update, store, previous: update(previous, dataclasses.replace(
        previous, hint="a result written meanwhile")))
    outcome = complete_consent(services.consent, params)
    assert raced and answered(outcome) == 200 and outcome.title == "Consent granted"
    after = services.customers.get("c1")
    assert (after.authentication_method, after.pending_consent, after.last_consent.outcome) == (
        AuthMethod.TOKEN, None, ConsentResult.GRANTED)
    assert services.secrets.get("c1", SecretKind.REFRESH_TOKEN, after.secret_versions[SecretKind.REFRESH_TOKEN]) \
        == "rt-new"


def test_a_consent_for_a_customer_whose_tenant_changed_meanwhile_stores_nothing(services):
    params = redeemed_for(services, token="rt-stale")
    racing(services, lambda update, store, previous: update(previous, dataclasses.replace(previous, tenant_id=OTHER)))
    outcome = complete_consent(services.consent, params)
    assert answered(outcome) == 400
    after = services.customers.get("c1")
    assert (after.tenant_id, after.authentication_method) == (OTHER, AuthMethod.PASSWORD)
    assert SecretKind.REFRESH_TOKEN not in after.secret_versions
    assert "rt-stale" not in [value for found in services.secrets.stored.values() for value, _ in found.values()]
    assert after.pending_consent is None and after.last_consent.outcome is ConsentResult.FAILED


def test_a_consent_for_a_customer_deleted_meanwhile_stores_nothing(services):
    params = redeemed_for(services, token="rt-gone")
    racing(services, lambda update, store, previous: store.delete(previous))
    outcome = complete_consent(services.consent, params)
    assert answered(outcome) == 400 and services.customers.get("c1") is None
    assert "rt-gone" not in [value for found in services.secrets.stored.values() for value, _ in found.values()]


def test_the_refresh_token_a_consent_replaces_is_left_to_the_sweep(services):
    complete_consent(services.consent, redeemed_for(services, token="rt-first"))
    first = services.customers.get("c1").secret_versions[SecretKind.REFRESH_TOKEN]
    complete_consent(services.consent, redeemed_for(services, token="rt-second"))
    after = services.customers.get("c1")
    assert after.secret_versions[SecretKind.REFRESH_TOKEN] != first
    # Storage may yet lose the record's move back to `first`: it stays readable until the sweep's grace passes.
    assert services.secrets.get("c1", SecretKind.REFRESH_TOKEN, first) is not None
