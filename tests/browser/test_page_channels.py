"""Alert channels and acknowledge in the page: an SSRF target refused beside the URL field, a webhook added with its
signing secret shown once, a test message that reaches the local receiver, one that does not and says why, and a
failure acknowledged from a customer's dialog."""
from __future__ import annotations

import uuid

import pytest
import requests

from tests.browser.conftest import running_app
from tools.alert_receiver import AlertReceiver
from tools.identity_sim import Tenant


@pytest.fixture(scope="module")
def world(identity, tmp_path_factory):
    tenant = identity.add_tenant(Tenant.named(f"pagealerts{uuid.uuid4().hex[:6]}"))
    with AlertReceiver(ca_dir=tmp_path_factory.mktemp("receiver")) as receiver, \
            running_app(tmp_path_factory.mktemp("page-channels"), identity) as app:
        body = {"tenantId": tenant.default_domain, "authenticationMethod": "token"}
        assert requests.put(app.url("/api/tenants/lima"), json=body, timeout=30).status_code == 201
        verified = requests.post(app.url("/api/status/lima/verify"), timeout=60).json()  # no token: failed
        assert verified["lastVerificationStatus"] == "failed"
        yield app, receiver


def test_channels_are_added_tested_and_a_failure_acknowledged(world, open_page):
    app, receiver = world
    page = open_page(app)
    page.wait_text("channel-rows", "No alert channels yet.")
    # Each part of the page is a card of its own (a section left open once swallowed the channels), and a table's
    # empty row spans exactly its header's columns: both come from one list of columns.
    assert len(page.css("main > section")) == len(page.css("main section")) == 6
    [empty] = page.css("#channel-rows td")
    headers = [th.get_attribute("textContent") for th in page.css("#channels thead th[scope=col]")]
    assert headers == ["Channel", "Kind", "Host", "Events", "Last delivery", "Last failure", "Actions"]
    assert empty.get_attribute("colspan") == str(len(headers))

    page.type_into("c-channelId", "ops")
    page.type_into("c-url", "https://169.254.169.254/latest/meta-data/")
    page.by_id("channel-form").submit()
    page.wait_text("c-url-error", "link-local")
    assert page.by_id("c-url").get_attribute("aria-invalid") == "true"
    assert requests.get(app.url("/api/alerts/channels"), timeout=30).json() == {"channels": []}

    url = receiver.add_webhook("ops", scheme="http")
    page.type_into("c-url", url)
    page.by_id("channel-form").submit()
    page.wait_text("channel-state", "Channel ops saved.")
    secret = page.wait_visible("channel-secret-value").get_attribute("value")
    assert secret.startswith("whsec_") and page.by_id("c-url").get_attribute("value") == ""
    page.wait_text("channel-rows", "127.0.0.1")
    assert url not in page.by_id("channel-rows").text
    receiver.add_webhook("ops", secret)

    page.css('#channel-rows button[data-action="test"]')[0].click()
    page.wait_text("channel-state", "Test message delivered to ops.")
    assert [m.channel for m in receiver.inbox.messages()] == ["ops"]

    receiver.answer(404, times=1)
    page.css('#channel-rows button[data-action="test"]')[0].click()
    page.wait_text("channel-state", "not delivered: HTTP 404: the receiver refused the message")

    page.open_customer("lima")
    page.wait_visible("customer-acknowledge").click()
    page.wait_text("customer-state", "Failure acknowledged")
    assert page.console_errors(expected_api_errors=("400",)) == []


def test_the_channels_fit_a_phone_width(world, open_page):
    app, receiver = world
    requests.put(app.url("/api/alerts/channels/wide"), json={"kind": "teams", "url": receiver.add_teams(
        "wide", scheme="http")}, timeout=30).raise_for_status()
    page = open_page(app)
    page.driver.set_window_size(390, 844)
    page.wait_text("channel-rows", "wide")
    assert page.driver.execute_script("return document.documentElement.scrollWidth <= window.innerWidth")
