"""The latest consent attempt on the page: a declined consent is described beside a connection that is still
Succeeded, the provider's text shown as text and never run; a granted one in the customer's dialog."""
from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import pytest
import requests
from selenium.webdriver.common.by import By

from tests.browser.conftest import running_app
from tests.support.consent_world import apply_provider_settings, consenting_tenant, provider_app

PROVIDER, PROVIDER_SECRET = "7a7a7a7a-1111-4222-8333-944444444444", "Page-Consent-Provider-Secret-1"
GOOD = "Page-Consent-Pass-1"
XSS = '<img src=x onerror="window.__xss=1">'
DECLINED = f"AADSTS65004: {XSS} The admin declined to consent."
HOOK = ("window.__imgErrors = 0; addEventListener('error', (e) => { "
        "if (e.target && e.target.tagName === 'IMG') window.__imgErrors += 1; }, true);")


@pytest.fixture(scope="module")
def world(identity, tmp_path_factory):
    tenant, admin = consenting_tenant(identity, "pageconsent", password=GOOD)
    provider_app(identity, PROVIDER, PROVIDER_SECRET)
    with running_app(tmp_path_factory.mktemp("page-consent"), identity) as app:
        apply_provider_settings(app, PROVIDER, PROVIDER_SECRET)
        body = {"tenantId": tenant.default_domain, "authenticationMethod": "password", "m365Email": admin,
                "password": GOOD}
        for customer in ("kilo-declined", "lima-granted"):
            assert requests.put(app.url(f"/api/tenants/{customer}"), json=body, timeout=30).status_code == 201
            requests.post(app.url(f"/api/status/{customer}/verify"), timeout=60).raise_for_status()
        # Whoever holds kilo's link answers with an error of their own wording.
        link = requests.post(app.url("/api/consent/kilo-declined"), timeout=30).json()["authorizationUrl"]
        state = parse_qs(urlsplit(link).query)["state"][0]
        assert requests.get(app.url("/authenticate/OAuth2Callback"), timeout=30, params={
            "state": state, "error": "access_denied", "error_description": DECLINED}).status_code == 200
        # lima's admin consents through the simulator's admin-consent page.
        link = requests.post(app.url("/api/consent/lima-granted"), json={"method": "application"},
                             timeout=30).json()["authorizationUrl"]
        answer = requests.get(link, allow_redirects=False, timeout=30, verify=str(identity.ca_bundle_path))
        assert requests.get(answer.headers["Location"], timeout=60).status_code == 200
        yield app


def test_a_declined_consent_is_described_beside_a_connection_that_still_works(world, open_page):
    page = open_page(world, before_load=HOOK)
    page.wait_rows({"kilo-declined", "lima-granted"}, "both customers")
    row = page.row("kilo-declined")
    assert "Succeeded" in row.text and "Username and Password" in row.text
    assert "Consent declined" in row.find_element(By.CSS_SELECTOR, ".consent-note").text
    assert "Consent" not in page.row("lima-granted").find_element(By.CSS_SELECTOR, ".verdict").text
    page.open_customer("kilo-declined")
    facts = page.by_id("customer-facts").text
    assert "Last consent" in facts and "Consent declined (Auth token)" in facts
    assert DECLINED in facts  # the provider's text, as text
    assert page.driver.execute_script("return document.querySelectorAll('img').length") == 0
    assert page.driver.execute_script("return window.__xss") is None
    assert page.driver.execute_script("return window.__imgErrors") == 0
    page.screenshot("page-consent-declined")
    assert page.console_errors() == []


def test_a_granted_consent_is_shown_in_the_dialog(world, open_page):
    page = open_page(world)
    page.wait_rows({"kilo-declined", "lima-granted"}, "both customers")
    assert "Application registration" in page.row("lima-granted").text
    page.open_customer("lima-granted")
    facts = page.by_id("customer-facts").text
    assert "Consent granted (Application registration)" in facts and "granted consent to the provider's app" in facts
    assert page.console_errors() == []
