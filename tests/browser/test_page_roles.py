"""The page as each role sees it, signed in through the local host's emulation (LOCAL_PRINCIPAL): a Reader sees no
edit, delete or settings; an Operator edits but cannot open the settings; an Administrator sees everything,
the Activity view of the audit log included."""
from __future__ import annotations

import uuid

import pytest
import requests
from selenium.webdriver.common.by import By

from tests.e2e.conftest import identity_env, start_app
from tools.azurite import start_azurite
from tools.processes import stop_process

ROLES = ("Reader", "Operator", "Administrator")
CUSTOMER = f"roles-{uuid.uuid4().hex[:6]}"


@pytest.fixture(scope="module")
def apps(identity, tmp_path_factory):
    azurite = start_azurite()
    running = {}
    try:
        for role in ROLES:
            env = {**identity_env(identity), "LOCAL_PRINCIPAL": f"{role} Person;{role}"}
            running[role] = start_app(tmp_path_factory.mktemp(f"page-{role}"), azurite.connection_string, env)
        body = {"tenantId": "contoso.com", "authenticationMethod": "password", "m365Email": "a@contoso.com",
                "password": "Pw-page-roles"}
        created = requests.put(running["Operator"].url(f"/api/tenants/{CUSTOMER}"), json=body, timeout=30)
        assert created.status_code == 201
        yield running
    finally:
        for app in running.values():
            stop_process(app.process)
        azurite.stop()


def shown(page, element_id: str) -> bool:
    return page.by_id(element_id).is_displayed()


def signed_in_page(open_page, app, role: str):
    page = open_page(app)
    page.wait_text("who-role", role)
    assert page.by_id("who-name").text == f"{role} Person"
    return page


def row_verify_shown(page) -> bool:
    return page.row(CUSTOMER).find_element(By.CSS_SELECTOR, 'button[data-action="verify"]').is_displayed()


def test_a_reader_sees_no_edit_delete_or_settings(apps, open_page):
    page = signed_in_page(open_page, apps["Reader"], "Reader")
    assert not shown(page, "verify-all") and not shown(page, "add-customer") and not row_verify_shown(page)
    assert not shown(page, "settings-heading") and not shown(page, "activity-heading")
    page.open_customer(CUSTOMER)
    assert not any(shown(page, b) for b in ("customer-verify", "customer-edit", "customer-delete"))
    assert not shown(page, "consent-heading") and shown(page, "history-heading")
    assert page.console_errors() == []


def test_an_operator_edits_but_cannot_open_the_settings(apps, open_page):
    page = signed_in_page(open_page, apps["Operator"], "Operator")
    assert shown(page, "verify-all") and shown(page, "add-customer") and row_verify_shown(page)
    assert not shown(page, "settings-heading") and not shown(page, "activity-heading")
    page.open_customer(CUSTOMER)
    assert shown(page, "customer-edit") and shown(page, "consent-heading") and not shown(page, "customer-delete")
    assert page.console_errors() == []


def test_an_administrator_sees_everything_and_the_activity(apps, open_page):
    page = signed_in_page(open_page, apps["Administrator"], "Administrator")
    assert shown(page, "settings-heading") and shown(page, "verify-all")
    page.wait_text("clientSecret-state", "No client secret is set.")
    page.type_into("activity-customer", CUSTOMER)
    page.by_id("activity-load").click()
    page.wait(lambda: len(page.css("#activity-rows tr")) == 1, "the customer's one change")
    cells = [td.text for td in page.css("#activity-rows tr td")]
    assert cells[1:] == ["Operator Person", "PUT /api/tenants/{customerId}", CUSTOMER, "201"]
    page.open_customer(CUSTOMER)
    assert shown(page, "customer-delete") and shown(page, "customer-edit")
    assert page.console_errors() == []
