"""The status page with customers of every status: the table, filters and search, API text shown as text,
one customer's dialog (verify now, history, add, edit, delete), the keyboard, a phone's width, Verify All."""
from __future__ import annotations

import uuid

import pytest
import requests
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys

from tests.browser.conftest import running_app
from tools.identity_sim import AadstsError, AppRegistration, ClientSecret, Tenant, User

PROVIDER, PROVIDER_SECRET = "7e7e7e7e-1111-4222-8333-944444444444", "Page-Provider-Secret-1"
APP, APP_SECRET = "7f7f7f7f-1111-4222-8333-955555555555", "Page-App-Secret-1"
GOOD = "Page-Good-Pass-1"
# What a hostile (or merely odd) identity platform answer could hold; the page must show it as text.
XSS = '<img src=x onerror="window.__xss=1">'
# Before any page script runs: note any <img> that fails to load (a markup injection would make one).
HOOK = ("window.__imgErrors = 0; addEventListener('error', (e) => { "
        "if (e.target && e.target.tagName === 'IMG') window.__imgErrors += 1; }, true);")


@pytest.fixture(scope="module")
def world(identity, tmp_path_factory):
    names = {key: Tenant.named(f"page{key}{uuid.uuid4().hex[:6]}") for key in ("ok", "mfa", "xss", "app")}
    for tenant in names.values():
        identity.add_tenant(tenant)
    admin = {key: f"admin@{tenant.default_domain}" for key, tenant in names.items()}
    identity.add_user(User(upn=admin["ok"], password=GOOD))
    identity.add_user(User(upn=admin["mfa"], password=GOOD, mfa_required=True))
    identity.add_user(User(upn=admin["xss"], password=GOOD))
    identity.add_app(AppRegistration(client_id=PROVIDER, secrets=(ClientSecret(PROVIDER_SECRET),)))
    identity.add_app(AppRegistration(client_id=APP, secrets=(ClientSecret(APP_SECRET),),
                                     roles={"*": ("User.Read.All",)}))
    identity.script(names["xss"].id, AadstsError(50126, description=f"{XSS} Error validating credentials."))

    def password(key):
        return {"tenantId": names[key].id, "authenticationMethod": "password", "m365Email": admin[key],
                "password": GOOD}

    def application(secret):
        return {"tenantId": names["app"].id, "authenticationMethod": "application", "applicationId": APP,
                "applicationSecret": secret}

    customers = {
        "alpha-ok": password("ok"),                           # succeeded
        "bravo-mfa": password("mfa"),                         # failed: mfaRequired
        "charlie-new": {"tenantId": names["ok"].id, "authenticationMethod": "token"},  # never verified
        "delta-app": application(APP_SECRET),                 # succeeded
        "echo-xss": password("xss"),                          # failed, with markup in the message
        "foxtrot-app": application("Not-The-Secret"),         # failed: invalidClientSecret
    }
    with running_app(tmp_path_factory.mktemp("page-status"), identity) as app:
        settings = {"clientId": PROVIDER, "clientSecret": PROVIDER_SECRET,
                    "redirectUrl": app.url("/authenticate/OAuth2Callback")}
        assert requests.put(app.url("/api/settings"), json=settings, timeout=30).status_code == 200
        for customer_id, body in customers.items():
            assert requests.put(app.url(f"/api/tenants/{customer_id}"), json=body, timeout=30).status_code == 201
            if customer_id != "charlie-new":
                requests.post(app.url(f"/api/status/{customer_id}/verify"), timeout=60).raise_for_status()
        yield app, customers


def test_the_table_shows_customers_of_every_status_in_words(world, open_page):
    app, customers = world
    page = open_page(app)
    page.wait_rows(set(customers), "every customer")
    assert page.by_id("count-total").text == "6"
    assert [page.by_id(f"count-{s}").text for s in ("succeeded", "failed", "notVerified")] == ["2", "3", "1"]
    assert "Succeeded" in page.row("alpha-ok").text and "Username and Password" in page.row("alpha-ok").text
    mfa = page.row("bravo-mfa").text
    assert "Failed" in mfa and "Multi-factor authentication required" in mfa and "What to do:" in mfa
    assert "AADSTS50076" in mfa
    new = page.row("charlie-new").text
    assert "Not verified" in new and "Never" in new and "Auth token" in new
    assert "Wrong client secret" in page.row("foxtrot-app").text
    assert "Application registration" in page.row("delta-app").text
    # When Last Verified: the API's instant as a <time>, shown in local time with how long ago.
    when = page.row("alpha-ok").find_element(By.CSS_SELECTOR, "time")
    view = requests.get(app.url("/api/tenants/alpha-ok"), timeout=30).json()
    assert when.get_attribute("datetime") == view["whenLastVerified"] and when.text
    assert page.row("alpha-ok").find_element(By.CSS_SELECTOR, ".ago").text
    # Status is told by text and by an icon, not by colour alone.
    badge = page.row("bravo-mfa").find_element(By.CSS_SELECTOR, ".status")
    assert badge.text == "Failed" and "icon-failed.svg" in badge.value_of_css_property("background-image")
    # A semantic table: a caption, column headers and a row header per customer.
    assert page.by_id("table-caption").text == "All customers"
    assert len(page.css("#customers thead th[scope=col]")) == 7
    assert len(page.css("#rows th[scope=row]")) == 6
    assert "Last run: none yet." in page.by_id("last-run").text
    page.screenshot("page-status-table")
    assert page.console_errors() == []


def test_filters_by_status_and_method_and_search_by_customer_id(world, open_page):
    app, customers = world
    page = open_page(app)
    page.select("filter-status", "failed")
    page.wait_rows({"bravo-mfa", "echo-xss", "foxtrot-app"}, "the failed customers")
    assert page.by_id("table-caption").text == "Customers (Failed)"
    page.select("filter-method", "application")
    page.wait_rows({"foxtrot-app"}, "the failed application customers")
    page.select("filter-status", "")
    page.wait_rows({"delta-app", "foxtrot-app"}, "the application customers")
    page.select("filter-method", "")
    page.wait_rows(set(customers), "every customer again")
    page.type_into("search", "APP")
    page.wait_rows({"delta-app", "foxtrot-app"}, "the customers whose id holds 'app'")
    assert page.by_id("shown").text == "2 of 6 customers loaded match"
    page.type_into("search", "nobody")
    page.wait_rows(set(), "no match")
    page.type_into("search", "")
    page.wait_rows(set(customers), "every customer once the search is empty")
    assert page.console_errors() == []


def test_markup_from_the_api_is_shown_as_text_and_never_run(world, open_page):
    app, _ = world
    page = open_page(app, before_load=HOOK)
    page.wait_rows(set(world[1]), "every customer")
    message = page.row("echo-xss").find_element(By.CSS_SELECTOR, ".message").text
    assert XSS in message, message
    page.open_customer("echo-xss")
    page.wait(lambda: XSS in page.by_id("customer-dialog").text, "the message in the dialog, as text")
    assert page.driver.execute_script("return document.querySelectorAll('img').length") == 0
    assert page.driver.execute_script("return window.__xss") is None
    assert page.driver.execute_script("return window.__imgErrors") == 0
    assert page.console_errors() == []  # a CSP violation would be logged here


def test_a_customer_dialog_by_keyboard_verify_now_and_history(world, open_page):
    app, _ = world
    page = open_page(app)
    opener = page.row("bravo-mfa").find_element(By.CSS_SELECTOR, 'button[data-action="open"]')
    opener.send_keys(Keys.ENTER)
    page.wait_visible("customer-dialog")
    page.wait_text("customer-title", "bravo-mfa")
    assert page.driver.switch_to.active_element.get_attribute("id") == "customer-verify"
    before = len(page.css("#history-rows tr"))
    assert before >= 1 and "Multi-factor authentication required" in page.by_id("history-rows").text
    assert "Password (never shown)" in page.by_id("customer-facts").text
    page.by_id("customer-verify").click()
    page.wait_text("customer-state", "Verified")
    page.wait(lambda: len(page.css("#history-rows tr")) == before + 1, "one more result in the history")
    page.driver.switch_to.active_element.send_keys(Keys.ESCAPE)
    page.wait_hidden("customer-dialog")
    assert page.driver.switch_to.active_element.text == "bravo-mfa"  # focus is back on the opener
    # Verify now from the row itself
    row = page.row("alpha-ok")
    row.find_element(By.CSS_SELECTOR, 'button[data-action="verify"]').click()
    page.wait_replaced(row, "the row with the new result")
    assert "Succeeded" in page.row("alpha-ok").text
    assert len(requests.get(app.url("/api/status/alpha-ok"), timeout=30).json()["history"]) == 2
    assert page.console_errors() == []


def test_add_edit_and_delete_a_customer(world, open_page):
    app, _ = world
    page = open_page(app)
    page.by_id("add-customer").click()
    page.wait_visible("tenant-dialog")
    assert page.driver.switch_to.active_element.get_attribute("id") == "t-customerId"
    assert page.by_id("t-password").is_displayed() and not page.by_id("t-applicationSecret").is_displayed()
    page.select("t-authenticationMethod", "application")
    page.wait_visible("t-applicationSecret")
    assert not page.by_id("t-password").is_displayed()
    page.select("t-authenticationMethod", "password")
    # An id in use is refused beside its field: adding never overwrites a customer.
    page.type_into("t-customerId", "alpha-ok")
    page.type_into("t-tenantId", "india.onmicrosoft.com")
    page.by_id("tenant-form").submit()
    assert "exists already" in page.wait_text("t-customerId-error", "exists already")
    # The API's validation error shown beside the field it names
    page.type_into("t-customerId", "india-new")
    page.type_into("t-tenantId", "not a tenant")
    page.type_into("t-m365Email", "admin@india.onmicrosoft.com")
    page.type_into("t-password", "India-Pass-1")
    page.by_id("tenant-form").submit()
    page.wait_text("t-tenantId-error", "tenantId must be a GUID")
    assert page.by_id("t-tenantId").get_attribute("aria-invalid") == "true"
    page.type_into("t-tenantId", "india.onmicrosoft.com")
    page.by_id("tenant-form").submit()
    page.wait_hidden("tenant-dialog")
    page.wait(lambda: "india-new" in page.visible_ids(), "the new customer's row")
    assert "Not verified" in page.row("india-new").text
    assert "India-Pass-1" not in page.driver.page_source  # the secret is write-only
    # Edit: the stored password is never shown; an empty field keeps it.
    page.open_customer("india-new")
    assert "Password (never shown)" in page.by_id("customer-facts").text
    page.by_id("customer-edit").click()
    page.wait_visible("tenant-dialog")
    assert page.by_id("t-password").get_attribute("value") == ""
    assert "A password is stored" in page.by_id("t-password-help").text
    assert page.by_id("t-customerId").get_attribute("readonly") == "true"
    page.type_into("t-m365Email", "other@india.onmicrosoft.com")
    page.by_id("tenant-form").submit()
    page.wait_hidden("tenant-dialog")
    page.wait_text("customer-facts", "other@india.onmicrosoft.com")
    page.wait(lambda: "other@india.onmicrosoft.com" in page.row("india-new").text, "the row edited")
    assert "password" in requests.get(app.url("/api/tenants/india-new"), timeout=30).json()["secretsConfigured"]
    # Delete asks first; Cancel (which has the focus) keeps the customer.
    page.by_id("customer-delete").click()
    page.wait_visible("confirm-dialog")
    assert "india-new" in page.by_id("confirm-text").text
    assert page.driver.switch_to.active_element.get_attribute("id") == "confirm-no"
    page.by_id("confirm-no").click()
    page.wait_hidden("confirm-dialog")
    assert requests.get(app.url("/api/tenants/india-new"), timeout=30).status_code == 200
    page.by_id("customer-delete").click()
    page.wait_visible("confirm-dialog")
    page.by_id("confirm-yes").click()
    page.wait_hidden("customer-dialog")
    page.wait(lambda: "india-new" not in page.visible_ids(), "the row gone")
    assert requests.get(app.url("/api/tenants/india-new"), timeout=30).status_code == 404
    # The add form's existence check answers 404 for a free id: expected, not a page error.
    assert page.console_errors(expected_api_errors=("/api/tenants/india-new",)) == []


def test_a_phone_width_stacks_each_customer_into_a_card(world, open_page):
    app, customers = world
    page = open_page(app)
    page.driver.set_window_size(390, 844)
    page.wait(lambda: page.driver.execute_script(
        "return getComputedStyle(document.querySelector('#rows tr')).display") == "block", "rows as cards")
    assert page.driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
    label = page.driver.execute_script(  # each cell names itself, since the column headers are hidden
        "return getComputedStyle(document.querySelector('#rows tr td.email'), '::before').content")
    assert label == '"M365 Email"' and page.row("bravo-mfa").is_displayed()
    page.screenshot("page-status-phone")
    assert page.console_errors() == []


def test_verify_all_shows_its_progress_then_every_status_updated(world, open_page, identity):
    app, customers = world
    body = {"tenantId": customers["charlie-new"]["tenantId"], "authenticationMethod": "token"}
    assert requests.put(app.url("/api/tenants/juliet-new"), json=body, timeout=30).status_code == 201
    identity.set_latency(300)  # each token answer takes a while, as Microsoft's do
    try:
        page = open_page(app)
        page.wait(lambda: "Not verified" in page.row("juliet-new").text, "the new customer, not verified")
        page.by_id("verify-all").click()
        page.wait_visible("run-progress")
        assert " verified: succeeded " in page.wait_text("run-text", " of ")
        done = page.wait_text("run-text", "Verify All finished at", timeout=90)
        assert "7 of 7 verified" in done
        page.wait(lambda: page.by_id("count-notVerified").text == "0", "no customer left not verified")
        page.wait(lambda: "Not configured" in page.row("juliet-new").text, "the new customer's result")
        assert "Failed" in page.row("charlie-new").text
        assert "Verify All" in page.wait_text("last-run", "Last run:")
        assert page.by_id("verify-all").is_enabled()
    finally:
        identity.set_latency(0)
    assert page.console_errors() == []
