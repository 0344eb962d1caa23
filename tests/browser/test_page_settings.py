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


# An API error as the client makes it from an answer (api.js), shown by the form code every form uses: what the
# settings form and the customer form do with an error the server answers. The server names `target` for every
# validation error (and its messages start with that field, so the tests above pass either way); this proves the
# page's side: the field `target` names wins over the one the message starts with.
SHOW_ERROR = """
const [formId, generalId, target, message, done] = arguments;
Promise.all([import("/page/api.js"), import("/page/form-fields.js")]).then(([{ ApiError }, { formFields }]) => {
  const errors = formFields(document.getElementById(formId), document.getElementById(generalId));
  errors.clear();
  errors.show(new ApiError(400, "invalidField", message, target));
  done(document.activeElement.id);
}, (error) => done(String(error)));
"""


def test_a_message_goes_beside_the_field_its_target_names(world, open_page):
    page = open_page(world)

    def show(form_id: str, general_id: str, target: str | None, message: str) -> str:
        return page.driver.execute_async_script(SHOW_ERROR, form_id, general_id, target, message)

    def shown(element_id: str) -> str:
        element = page.by_id(element_id)
        return element.text if element.is_displayed() else ""

    # The settings form: the target, not the first word.
    assert show("settings", "settings-error", "redirectUrl", "clientId is named first; the URL is at fault.") == \
        "redirectUrl"
    assert shown("redirectUrl-error") == "clientId is named first; the URL is at fault."
    assert page.by_id("redirectUrl").get_attribute("aria-invalid") == "true"
    assert (shown("clientId-error"), shown("settings-error")) == ("", "")
    assert page.by_id("clientId").get_attribute("aria-invalid") is None
    # A target this form does not show: the form's own paragraph, and no guess from the message.
    show("settings", "settings-error", "customerId", "clientId is not what is at fault here.")
    assert (shown("settings-error"), shown("clientId-error")) == ("clientId is not what is at fault here.", "")
    # No target: the field the message starts with.
    show("settings", "settings-error", None, "clientSecret must be 1 to 512 characters.")
    assert shown("clientSecret-error") == "clientSecret must be 1 to 512 characters."

    # The customer form, as Add customer opens it for an application registration.
    page.by_id("add-customer").click()
    page.wait_visible("tenant-dialog")
    page.select("t-authenticationMethod", "application")
    assert show("tenant-form", "tenant-error", "applicationId", "tenantId is named first; the id is at fault.") == \
        "t-applicationId"
    assert shown("t-applicationId-error") == "tenantId is named first; the id is at fault."
    assert (shown("t-tenantId-error"), shown("tenant-error")) == ("", "")
    # The field of another method is hidden: the form's own paragraph says it.
    show("tenant-form", "tenant-error", "password", "password is accepted only with authenticationMethod password.")
    assert shown("tenant-error") == "password is accepted only with authenticationMethod password."
    show("tenant-form", "tenant-error", None, "m365Email must be an email address such as admin@contoso.com.")
    assert shown("t-m365Email-error") == "m365Email must be an email address such as admin@contoso.com."
    assert page.console_errors() == []
