"""Foresight on the page: the Expires column (relative, coloured by warning band, unknown said so), the Expires
filter, the provider's client secret line and expiring counts in the summary, and the bulk consent export."""
from __future__ import annotations

import csv
import io
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from selenium.webdriver.common.by import By

from tests.browser.conftest import running_app
from tools.identity_sim import AppRegistration, ClientSecret, Tenant

PROVIDER, PROVIDER_SECRET = "8e8e8e8e-1111-4222-8333-944444444444", "Exp-Provider-Secret-1"
APP = "8f8f8f8f-1111-4222-8333-955555555555"


def iso(days: float) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).replace(microsecond=0).isoformat().replace("+00:00", "Z")


@pytest.fixture(scope="module")
def world(identity, tmp_path_factory):
    tenant = Tenant.named(f"pageexp{uuid.uuid4().hex[:6]}")
    identity.add_tenant(tenant)
    identity.add_app(AppRegistration(client_id=PROVIDER, secrets=(ClientSecret(PROVIDER_SECRET),)))

    def application(days):
        return {"tenantId": tenant.id, "authenticationMethod": "application", "applicationId": APP,
                "applicationSecret": "Exp-App-Secret", "applicationSecretExpiresAt": iso(days)}

    customers = {
        "in-5-days": application(5), "in-20-days": application(20), "in-200-days": application(200),
        "pw": {"tenantId": tenant.id, "authenticationMethod": "password", "m365Email": f"admin@{tenant.default_domain}",
               "password": "Exp-Pass-1"},
    }
    with running_app(tmp_path_factory.mktemp("page-expiry"), identity) as app:
        settings = {"clientId": PROVIDER, "clientSecret": PROVIDER_SECRET, "clientSecretExpiresAt": iso(10),
                    "redirectUrl": app.url("/authenticate/OAuth2Callback")}
        assert requests.put(app.url("/api/settings"), json=settings, timeout=30).status_code == 200
        for customer_id, body in customers.items():
            assert requests.put(app.url(f"/api/tenants/{customer_id}"), json=body, timeout=30).status_code == 201
        yield app, customers


def band(page, customer_id):
    return page.row(customer_id).find_element(By.CSS_SELECTOR, ".expiry").get_attribute("data-band")


def test_the_expires_column_is_relative_and_coloured_by_band(world, open_page):
    app, customers = world
    page = open_page(app)
    page.wait_rows(set(customers), "every customer")
    assert len(page.css("#customers thead th[scope=col]")) == 7
    assert [band(page, cid) for cid in ("in-5-days", "in-20-days", "in-200-days")] == ["band-7", "band-30", "none"]
    soon = page.row("in-5-days").find_element(By.CSS_SELECTOR, ".expiry")
    assert soon.text == "in 5 days" or soon.text == "in 4 days", soon.text
    assert soon.value_of_css_property("color") != page.row("in-200-days").find_element(
        By.CSS_SELECTOR, ".expiry").value_of_css_property("color")
    assert "Client secret as given" in soon.get_attribute("title")
    password = page.row("pw").text
    assert "Unknown" in password and "Microsoft is retiring sign-in with a username and password" in password
    assert page.console_errors() == []


def test_the_summary_counts_expiring_customers_and_shows_the_providers_secret(world, open_page):
    app, _ = world
    page = open_page(app)
    page.wait_text("count-expiring-30", "2")
    assert page.by_id("count-expiring-7").text == "1"
    line = page.wait_visible("provider-secret")
    assert "Provider's client secret expires in 10 days" in line.text or "in 9 days" in line.text, line.text
    assert "band-14" in line.get_attribute("class")


def test_the_expires_filter_asks_the_api_for_those_expiring_within_it(world, open_page):
    app, customers = world
    page = open_page(app)
    page.wait_rows(set(customers), "every customer")
    page.select("filter-expiring", "7")
    page.wait_rows({"in-5-days"}, "the customer expiring within 7 days")
    assert page.by_id("table-caption").text == "Customers (expiring within 7 days)"
    page.select("filter-expiring", "30")
    page.wait_rows({"in-5-days", "in-20-days"}, "those expiring within 30 days")
    page.select("filter-expiring", "")
    page.wait_rows(set(customers), "every customer again")


def test_the_consent_links_of_password_customers_are_exported(world, open_page):
    app, _ = world
    page = open_page(app)
    page.wait_rows(set(world[1]), "every customer")
    page.by_id("export-consent").click()
    page.wait_text("export-state", "1 consent link exported.")
    view = requests.get(app.url("/api/tenants/pw"), timeout=30).json()
    assert view["pendingConsent"]["method"] == "token"  # the link the export made is the customer's pending one
    assert page.console_errors() == []


def downloaded(page, folder, name):
    """The text of the file the page downloaded into `folder` under `name`, once it is whole."""
    path = folder / name
    page.wait(lambda: path.exists() and not list(folder.glob("*.crdownload")), f"the download {name}")
    return path.read_text(encoding="utf-8")


def test_the_consent_links_of_the_customers_shown_are_exported_as_json_and_csv(world, open_page, tmp_path):
    app, customers = world
    page = open_page(app)
    page.driver.execute_cdp_cmd("Browser.setDownloadBehavior", {"behavior": "allow", "downloadPath": str(tmp_path)})
    page.wait_rows(set(customers), "every customer")
    page.select("filter-expiring", "30")
    page.wait_rows({"in-5-days", "in-20-days"}, "those expiring within 30 days")
    page.select("export-scope", "shown")
    page.select("export-format", "json")
    page.by_id("export-consent").click()
    page.wait_text("export-state", "2 consent links exported.")
    links = json.loads(downloaded(page, tmp_path, "consent-links.json"))["links"]
    assert [link["customerId"] for link in links] == page.visible_ids() == ["in-20-days", "in-5-days"]
    assert all("/oauth2/v2.0/authorize?" in link["authorizationUrl"] and link["error"] is None for link in links)

    page.select("filter-expiring", "")
    page.wait_rows(set(customers), "every customer again")
    page.type_into("search", "in-200")
    page.wait_rows({"in-200-days"}, "the customer the search finds")
    page.select("export-format", "csv")
    page.by_id("export-consent").click()
    page.wait_text("export-state", "1 consent link exported.")
    rows = list(csv.DictReader(io.StringIO(downloaded(page, tmp_path, "consent-links.csv"))))
    assert [(row["customerId"], row["error"]) for row in rows] == [("in-200-days", "")]
    assert "/oauth2/v2.0/authorize?" in rows[0]["authorizationUrl"]
    assert requests.get(app.url("/api/tenants/in-200-days"), timeout=30).json()["pendingConsent"]["method"] == "token"

    page.type_into("search", "nobody")
    page.wait_rows(set(), "no customer")
    page.by_id("export-consent").click()
    page.wait_text("export-state", "No customers are shown: nothing to export.")
    assert page.console_errors() == []


def test_the_feed_says_which_expiry_comes_within_which_band(world, open_page):
    app, _ = world
    answer = requests.post(app.url("/api/status/in-5-days/verify"), timeout=60)  # its first result warns
    assert answer.status_code == 200, answer.text
    page = open_page(app)
    page.select("events-type", "connectionExpiring")
    page.wait(lambda: [li.get_attribute("class") for li in page.css("#events-list li")] == [
        "event event-connectionExpiring"], "the expiring event alone in the filtered feed")
    [item] = page.css("#events-list li")
    change = item.find_element(By.CSS_SELECTOR, ".event-change").text
    assert change.startswith("Client secret expires within 7 days, on ") and change.endswith("(as given)"), change
    assert "in-5-days" in item.text and "Connection expiring" in item.text
    assert page.console_errors() == []
