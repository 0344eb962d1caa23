"""Settings and Grant Consent in the page, on a store where nothing is configured yet: the 409 in words, each
validation error beside its field, Reset Changes, Apply Changes, then a consent link to hand out."""
from __future__ import annotations

import uuid

import pytest
import requests

from tests.browser.conftest import running_app
from tools.identity_sim import AppRegistration, ClientSecret, Tenant

PROVIDER, PROVIDER_SECRET = "6d6d6d6d-2222-4333-8444-a55555555555", "Page-Consent-Secret-1"


@pytest.fixture(scope="module")
def world(identity, tmp_path_factory):
    tenant = identity.add_tenant(Tenant.named(f"pageconsent{uuid.uuid4().hex[:6]}"))
    identity.add_app(AppRegistration(client_id=PROVIDER, secrets=(ClientSecret(PROVIDER_SECRET),)))
    with running_app(tmp_path_factory.mktemp("page-settings"), identity) as app:
        body = {"tenantId": tenant.default_domain, "authenticationMethod": "token"}
        assert requests.put(app.url("/api/tenants/kilo"), json=body, timeout=30).status_code == 201
        yield app


def test_settings_errors_reset_apply_and_a_consent_link(world, open_page, identity):
    app = world
    page = open_page(app)
    page.wait_text("clientSecret-state", "No client secret is set.")
    assert page.by_id("suggested-redirect").text == app.url("/authenticate/OAuth2Callback")

    # Grant Consent before any settings: the 409 in words, no link.
    page.open_customer("kilo")
    page.by_id("consent-form").submit()
    page.wait_text("consent-error", "The Client Id is not set: enter it under Settings")
    assert not page.by_id("consent-result").is_displayed()
    page.by_id("customer-dialog").find_element("css selector", "[data-close]").click()
    page.wait_hidden("customer-dialog")

    # Each validation error beside its field.
    page.type_into("clientId", "not-a-guid")
    page.by_id("settings").submit()
    page.wait_text("clientId-error", "clientId must be the GUID")
    assert page.by_id("clientId").get_attribute("aria-invalid") == "true"
    assert not page.by_id("redirectUrl-error").is_displayed()
    page.type_into("clientId", PROVIDER.upper())
    page.type_into("redirectUrl", "https://tas.example.com/wrong/path")
    page.by_id("settings").submit()
    page.wait_text("redirectUrl-error", "redirectUrl must be an absolute https URL")
    assert not page.by_id("clientId-error").is_displayed()
    assert "Unsaved changes." in page.by_id("settings-state").text

    # Reset Changes puts back what was loaded (nothing) and clears the errors.
    page.by_id("settings-reset").click()
    page.wait_text("settings-state", "Changes discarded.")
    assert page.by_id("clientId").get_attribute("value") == ""
    assert page.by_id("redirectUrl").get_attribute("value") == ""
    assert not page.by_id("redirectUrl-error").is_displayed()
    assert requests.get(app.url("/api/settings"), timeout=30).json()["clientId"] is None

    # Apply Changes, with this host's callback as suggested; the secret is write-only.
    page.type_into("clientId", PROVIDER.upper())
    page.by_id("use-suggested").click()
    page.type_into("clientSecret", PROVIDER_SECRET)
    page.by_id("settings").submit()
    page.wait_text("settings-state", "Changes applied.")
    assert "A client secret is set (never shown)" in page.by_id("clientSecret-state").text
    assert page.by_id("clientSecret").get_attribute("value") == ""
    assert page.by_id("clientId").get_attribute("value") == PROVIDER  # as stored: lower-cased
    saved = requests.get(app.url("/api/settings"), timeout=30).json()
    assert saved["redirectUrl"] == app.url("/authenticate/OAuth2Callback") and saved["clientSecretConfigured"]
    assert PROVIDER_SECRET not in page.driver.page_source

    # Now the link, with its expiry, to hand to the customer's admin.
    page.open_customer("kilo")
    page.by_id("consent-form").submit()
    page.wait_visible("consent-result")
    link = page.by_id("consent-link").get_attribute("value")
    assert link.startswith(identity.authority_host + "/") and "/oauth2/v2.0/authorize?" in link
    assert "Valid once, until" in page.by_id("consent-expiry").text
    assert not page.by_id("consent-error").is_displayed()
    page.wait_text("customer-facts", "Consent link pending")
    assert requests.get(app.url("/api/tenants/kilo"), timeout=30).json()["pendingConsent"]["method"] == "token"
    # The 409 and the refused settings were answers the page showed in words, not page errors.
    assert page.console_errors(expected_api_errors=("/api/consent/kilo", "/api/settings")) == []
