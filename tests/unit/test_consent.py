"""Consent over fakes: links, the callback's every branch, single use, expiry, tid checks, the page."""
from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import azure.functions as func
import pytest

from functions import consent
from shared import bootstrap
from shared.domain.errors import Conflict
from shared.domain.inputs import ProviderSettingsInput, TenantInput
from shared.domain.models import AuthMethod, Status
from shared.domain.reasons import Reason
from shared.domain.secrets import SecretName
from shared.domain.verification import TokenAnswer
from shared.usecases.consent import complete_consent, start_consent
from shared.usecases.provider_settings import put_settings
from shared.usecases.tenants import put_tenant
from tests.support.fakes import fake_services

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
OTHER = "0f6a5d1c-3b7e-4f7a-9a51-6c1c2d3e4f50"
PROVIDER = "11111111-2222-4333-8444-555555555555"
CALLBACK = "https://tas.example.com/authenticate/OAuth2Callback"


@pytest.fixture
def services():
    services = fake_services()
    put_settings(services.provider_settings, services.secrets,
                 ProviderSettingsInput(client_id=PROVIDER, redirect_url=CALLBACK, client_secret="provider-secret"))
    put_tenant(services.tenants, services.secrets, "c1", TenantInput(
        tenant_id=TENANT, authentication_method=AuthMethod.PASSWORD, m365_email="old@contoso.com", password="pw"))
    services.verification.platform.script(TENANT, TokenAnswer(claims={"tid": TENANT}))
    bootstrap.use(services)
    yield services
    bootstrap.use(None)


def link_state(url: str) -> str:
    return parse_qs(urlsplit(url).query)["state"][0]


def test_a_token_consent_switches_the_customer_stores_the_refresh_token_and_verifies(services):
    link = start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint=None)
    pending = services.tenants.get("c1").pending_consent
    assert pending.method is AuthMethod.TOKEN and pending.expires_at == link.expires_at
    services.consent.platform.redeemed = TokenAnswer(
        claims={}, identity={"tid": TENANT, "preferred_username": "admin@contoso.com"}, refresh_token="rt-1")
    outcome = complete_consent(services.consent, {"state": link_state(link.authorization_url), "code": "c0de"})
    assert outcome.status == 200 and outcome.title == "Consent granted"
    tenant = services.tenants.get("c1")
    assert (tenant.authentication_method, tenant.m365_email, tenant.pending_consent) == (
        AuthMethod.TOKEN, "admin@contoso.com", None)
    assert services.secrets.get("c1", SecretName.REFRESH_TOKEN, tenant.secret_versions[SecretName.REFRESH_TOKEN]) \
        == "rt-1"
    assert tenant.last_verification_status is Status.SUCCEEDED  # verified at once
    assert not any(name == SecretName.CONSENT_FLOW for (_, name), v in services.secrets.stored.items() if v)
    again = complete_consent(services.consent, {"state": link_state(link.authorization_url), "code": "c0de"})
    assert again.status == 400  # single use


def test_a_tid_that_is_not_the_customers_tenant_stores_nothing(services):
    link = start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint="admin@contoso.com")
    services.consent.platform.redeemed = TokenAnswer(claims={}, identity={"tid": OTHER}, refresh_token="rt-x")
    outcome = complete_consent(services.consent, {"state": link_state(link.authorization_url), "code": "c"})
    assert outcome.status == 400 and OTHER in " ".join(outcome.lines)
    tenant = services.tenants.get("c1")
    assert tenant.authentication_method is AuthMethod.PASSWORD
    assert SecretName.REFRESH_TOKEN not in tenant.secret_versions


def test_admin_consent_checks_the_returned_tenant_with_a_token_then_switches_to_application(services):
    link = start_consent(services.consent, "c1", method=AuthMethod.APPLICATION, login_hint=None)
    state = link_state(link.authorization_url)
    services.verification.platform.script(TENANT, TokenAnswer(claims={"tid": TENANT, "roles": ["User.Read.All"]}))
    outcome = complete_consent(services.consent, {"state": state, "admin_consent": "True", "tenant": TENANT})
    assert outcome.status == 200
    tenant = services.tenants.get("c1")
    assert (tenant.authentication_method, tenant.application_id) == (AuthMethod.APPLICATION, PROVIDER)
    assert tenant.last_verification_status is Status.SUCCEEDED


def test_admin_consent_for_a_tenant_whose_token_says_otherwise_is_refused(services):
    link = start_consent(services.consent, "c1", method=AuthMethod.APPLICATION, login_hint=None)
    services.verification.platform.script(OTHER, TokenAnswer(claims={"tid": TENANT}))
    outcome = complete_consent(services.consent, {"state": link_state(link.authorization_url),
                                                  "admin_consent": "True", "tenant": OTHER})
    assert outcome.status == 400 and services.tenants.get("c1").authentication_method is AuthMethod.PASSWORD


def test_an_error_answer_marks_consent_denied_and_keeps_the_working_connection(services):
    link = start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint=None)
    outcome = complete_consent(services.consent, {
        "state": link_state(link.authorization_url), "error": "access_denied",
        "error_description": "AADSTS65004: User declined to consent."})
    tenant = services.tenants.get("c1")
    assert (tenant.last_verification_status, tenant.last_verification_reason) == (Status.FAILED, Reason.CONSENT_DENIED)
    assert tenant.authentication_method is AuthMethod.PASSWORD and SecretName.PASSWORD in tenant.secret_versions
    assert outcome.status == 200 and tenant.pending_consent is None


@pytest.mark.parametrize("params", [{}, {"state": "forged"}, {"code": "c"}])
def test_missing_or_unknown_states_answer_400_and_change_nothing(services, params):
    before = services.tenants.get("c1")
    assert complete_consent(services.consent, params).status == 400
    assert services.tenants.get("c1") == before


def test_an_expired_state_answers_400(services):
    link = start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint=None,
                         now=datetime.now(UTC) - timedelta(minutes=16))
    outcome = complete_consent(services.consent, {"state": link_state(link.authorization_url), "code": "c"})
    assert outcome.status == 400 and "expired" in outcome.lines[0]
    assert services.tenants.get("c1").authentication_method is AuthMethod.PASSWORD


def test_a_newer_link_makes_the_older_one_useless(services):
    old = start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint=None)
    start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint=None)
    assert complete_consent(services.consent, {"state": link_state(old.authorization_url), "code": "c"}).status == 400


@pytest.mark.parametrize("missing, code", [
    ("clientId", "clientIdNotConfigured"), ("clientSecret", "clientSecretNotConfigured"),
    ("redirectUrl", "redirectUrlNotConfigured"),
])
def test_links_need_complete_settings(missing, code):
    services = fake_services()
    put_tenant(services.tenants, services.secrets, "c1", TenantInput(
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
