"""An alert channel's secrets: their vault names (a namespace of their own), the sweep that retires the versions no
channel names, and the page URL alert messages link to."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from shared.adapters.secret_store_names import owner_of, store_name
from shared.config import load_config
from shared.domain.secrets import ChannelSecret, SecretKind
from shared.usecases.secret_sweep import GRACE, sweep_secrets
from tests.unit.test_alert_channels_api import URL, put


def test_channel_secrets_have_names_of_their_own_that_read_back():
    assert store_name("ops", ChannelSecret.URL) == "channel-n5yhg-url"
    assert store_name("ops", ChannelSecret.SIGNING_SECRET) == "channel-n5yhg-signing-secret"
    assert store_name("ops", ChannelSecret.URL) != store_name("ops", SecretKind.PASSWORD)
    for kind in ChannelSecret:
        assert owner_of(store_name("Ops.1", kind)) == ("Ops.1", kind.value)
    assert owner_of("channel-n5yhg-password") is None  # a customer's kind under the channel prefix is no name of ours
    assert owner_of("tenant-n5yhg-url") is None


def test_the_sweep_retires_replaced_channel_versions_and_keeps_the_named_ones(services):
    put({"kind": "webhook", "url": URL})
    put({"kind": "webhook", "url": URL + "&v=2", "rotateSigningSecret": True})
    later = datetime.now(UTC) + GRACE * 2
    without_channels = sweep_secrets(services.customers, services.provider_settings, services.secrets, now=later)
    assert without_channels.versions_retired == 0  # channel secrets are left alone
    report = sweep_secrets(services.customers, services.provider_settings, services.secrets, now=later,
                           channels=services.channels)
    assert report.versions_retired == 2  # the first URL and the first signing secret
    named = services.channels.get("ops").secret_versions
    for kind in ChannelSecret:
        assert [v.version for v in services.secrets.list_versions("ops", kind)] == [named[kind]]


def test_the_sweep_retires_the_versions_of_a_deleted_channel(services):
    put({"kind": "teams", "url": URL})
    services.channels.channels.clear()  # the record went, its secret stayed (a failure after deleting the record)
    report = sweep_secrets(services.customers, services.provider_settings, services.secrets,
                           now=datetime.now(UTC) + timedelta(hours=1), channels=services.channels)
    assert report.versions_retired == 1 and services.secrets.list_versions("ops", ChannelSecret.URL) == ()


def test_alert_messages_link_to_page_url_or_the_apps_own_host():
    base = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}
    assert load_config(base).page_url == "http://localhost:7071/"
    assert load_config({**base, "WEBSITE_HOSTNAME": "tas-abc.azurewebsites.net"}).page_url == (
        "https://tas-abc.azurewebsites.net/")
    assert load_config({**base, "WEBSITE_HOSTNAME": "x", "PAGE_URL": "https://status.example.com/"}).page_url == (
        "https://status.example.com/")
