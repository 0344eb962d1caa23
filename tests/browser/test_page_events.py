"""The feed of recent changes: what GET /api/events holds, newest first and in words, linked from the page's
header; it follows Verify now at once, filters by type, pages with Load more, and opens a customer."""
from __future__ import annotations

import uuid

import requests
from selenium.webdriver.common.by import By

from tests.browser.conftest import running_app
from tools.identity_sim import AppRegistration, ClientSecret, Tenant

APP, APP_SECRET = "7b7b7b7b-1111-4222-8333-977777777777", "Page-Events-Secret-1"


def feed(page) -> list[str]:
    return [item.text for item in page.css("#events-list li")]


def test_the_feed_shows_each_change_in_words_and_follows_verify_now(identity, open_page, tmp_path):
    tenant = identity.add_tenant(Tenant.named(f"pageevents{uuid.uuid4().hex[:6]}"))
    identity.add_app(AppRegistration(client_id=APP, secrets=(ClientSecret(APP_SECRET),),
                                     roles={"*": ("User.Read.All",)}))
    with running_app(tmp_path, identity) as app:
        for n in range(23):  # more changes than one page of the feed: cust-00 lost at its first verification
            body = {"tenantId": tenant.id, "authenticationMethod": "application", "applicationId": APP,
                    "applicationSecret": APP_SECRET if n else "Not-The-Secret"}
            customer_id = f"cust-{n:02d}"
            assert requests.put(app.url(f"/api/tenants/{customer_id}"), json=body, timeout=30).status_code == 201
            requests.post(app.url(f"/api/status/{customer_id}/verify"), timeout=60).raise_for_status()
            if n:  # succeeded, then lost: one event each
                identity.update_app(APP, secrets=(ClientSecret("Another-Secret-1"),))
                requests.post(app.url(f"/api/status/{customer_id}/verify"), timeout=60).raise_for_status()
                identity.update_app(APP, secrets=(ClientSecret(APP_SECRET),))
        page = open_page(app)
        link = page.driver.find_element(By.CSS_SELECTOR, "a[href='#events-heading']")
        assert link.text == "Recent changes"
        page.wait(lambda: len(feed(page)) == 20, "the first page of the feed")
        first = feed(page)[0]
        assert "Connection lost" in first and "cust-22" in first
        assert "Succeeded → Failed (Wrong client secret)" in first and "verify now or consent" in first
        assert page.by_id("events-more").is_displayed()
        page.by_id("events-more").click()
        page.wait(lambda: len(feed(page)) == 23, "every change after Load more")
        page.wait_hidden("events-more")
        page.select("events-type", "connectionRestored")
        page.wait(lambda: page.by_id("events-empty").text == "No changes yet.", "an empty filtered feed")
        page.select("events-type", "")
        page.wait(lambda: len(feed(page)) == 20, "the whole feed again")
        page.row("cust-22").find_element(By.CSS_SELECTOR, 'button[data-action="verify"]').click()
        page.wait(lambda: "cust-22" in feed(page)[0] and "Connection restored" in feed(page)[0],
                  "the restored connection at the top of the feed")
        page.css("#events-list li button.link")[0].click()
        page.wait_visible("customer-dialog")
        assert "cust-22" in page.by_id("customer-title").text
        page.screenshot("page-events-feed")
        assert page.console_errors() == []
