"""Alerts end to end: the local host over its own Azurite, the identity platform simulator and the local alert
receiver (tools/alert_receiver). A lost and a restored connection reach a webhook (whose signature the receiver
verifies) and a Teams channel (whose card validates against the pinned Adaptive Card schema); a receiver that is
down when a run ends gets the run's digest once it is back, under one delivery id, though the host that made the
delivery was killed meanwhile; SSRF targets are refused."""
from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import jsonschema
import pytest
import requests

from shared.usecases.alert_dispatch import CLAIM_FOR
from tests.e2e.conftest import identity_env, start_app
from tools.alert_receiver import AlertReceiver
from tools.azurite import start_azurite
from tools.identity_sim import AppRegistration, ClientSecret, Tenant, User
from tools.processes import stop_process

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CARD_SCHEMA = json.loads((ROOT / "tests/support/adaptive_cards/adaptive-card-1.4.schema.json").read_text("utf-8"))
WEBHOOK_SCHEMA = json.loads((ROOT / "docs/alerts-webhook.schema.json").read_text("utf-8"))
PROVIDER, PROVIDER_SECRET, PASSWORD = "34343434-5656-4787-8989-0a0a0a0a0a0a", "Alert-Provider-Secret-1", "Alert-Pass-2"
# A retry waits 15 to 30 s (the first back-off), then the minute's timer sends it.
RETRY_WAIT = 120


class Hosts:
    """The app on the local host, which a test may kill (SIGKILL) and start again on the same storage and secrets."""

    def __init__(self, tmp: Path, connection_string: str, env: dict[str, str]) -> None:
        self._tmp, self._connection_string = tmp, connection_string
        self.app = start_app(tmp, connection_string, env)
        # The next host reads the same secrets, and logs to a file of its own (where it says where it listens).
        self._env = {**env, "LOCAL_SECRETS_FILE": str(self.app.secrets_file)}

    def crash_and_restart(self) -> None:
        self.app.process.kill()
        self.app.process.wait(timeout=30)
        self.app = start_app(self._tmp / "after-crash", self._connection_string, self._env)


@pytest.fixture(scope="module")
def world(identity, tmp_path_factory):
    azurite = start_azurite()
    tenant = identity.add_tenant(Tenant.named(f"alerts{uuid.uuid4().hex[:6]}"))
    upn = f"admin@{tenant.default_domain}"
    identity.add_user(User(upn=upn, password=PASSWORD))
    identity.add_app(AppRegistration(client_id=PROVIDER, secrets=(ClientSecret(PROVIDER_SECRET),)))
    receiver = AlertReceiver(ca_dir=tmp_path_factory.mktemp("receiver")).start()
    hosts = Hosts(tmp_path_factory.mktemp("alerts"), azurite.connection_string, identity_env(identity))
    try:
        yield hosts, identity, receiver, tenant, upn
    finally:
        stop_process(hosts.app.process)
        receiver.stop()
        azurite.stop()


def api(app, method, path, body=None):
    response = requests.request(method, app.url(path), json=body, timeout=60)
    assert response.status_code < 500, response.text
    return response


def verify_all(app) -> dict:
    run_id = api(app, "POST", "/api/runs").json()["runId"]
    deadline = time.monotonic() + 90
    while (run := api(app, "GET", f"/api/runs/{run_id}").json())["finishedAt"] is None:
        assert time.monotonic() < deadline, "the run did not finish"
        time.sleep(0.3)
    return run


def arrived(receiver: AlertReceiver, count: int, *, timeout: float = 30) -> list:
    assert receiver.inbox.wait_for(lambda inbox: len(inbox.messages()) >= count, timeout=timeout), (
        receiver.inbox.attempts())
    return receiver.inbox.messages()


def test_lost_and_restored_connections_reach_a_webhook_and_teams_signed_and_valid(world):
    hosts, identity, receiver, tenant, upn = world
    app = hosts.app
    assert api(app, "PUT", "/api/settings", {"clientId": PROVIDER, "clientSecret": PROVIDER_SECRET,
                                             "redirectUrl": "http://localhost:7071/authenticate/OAuth2Callback"}
               ).status_code == 200
    assert api(app, "PUT", "/api/tenants/alpha", {"tenantId": tenant.id, "authenticationMethod": "password",
                                                  "m365Email": upn, "password": PASSWORD}).status_code == 201
    assert verify_all(app)["byStatus"]["succeeded"] == 1  # a first success tells no one anything

    # SSRF targets are refused before anything is stored.
    for url in ("https://169.254.169.254/latest/meta-data/", "https://10.0.0.7/hook", "https://[fd12::1]/hook"):
        refused = api(app, "PUT", "/api/alerts/channels/evil", {"kind": "webhook", "url": url})
        assert (refused.status_code, refused.json()["error"]["code"], refused.json()["error"]["target"]) == (
            400, "channelUrlNotAllowed", "url")
    assert api(app, "GET", "/api/alerts/channels").json() == {"channels": []}

    created = api(app, "PUT", "/api/alerts/channels/ops", {"kind": "webhook", "url": receiver.add_webhook(
        "ops", scheme="http")})
    assert created.status_code == 201
    receiver.add_webhook("ops", created.json()["signingSecret"])  # the receiver verifies with it
    teams_url = receiver.add_teams("team", scheme="http")
    assert api(app, "PUT", "/api/alerts/channels/team", {"kind": "teams", "url": teams_url}).status_code == 201
    views = {c["channelId"]: c for c in api(app, "GET", "/api/alerts/channels").json()["channels"]}
    assert views["team"]["urlHost"] == "127.0.0.1" and "sig=" not in json.dumps(views)
    assert api(app, "POST", "/api/alerts/channels/ops/test").json()["delivered"] is True
    arrived(receiver, 1)

    identity.update_user(upn, mfa_required=True)
    verify_all(app)
    messages = arrived(receiver, 3)  # the test message, then one digest per channel
    webhook = next(m.payload for m in messages if m.channel == "ops" and not m.payload["test"])
    jsonschema.Draft202012Validator(WEBHOOK_SCHEMA).validate(webhook)
    assert webhook["counts"]["connectionLost"] == 1 and webhook["customers"][0]["reason"] == "mfaRequired"
    card = next(m.payload for m in messages if m.channel == "team")
    jsonschema.Draft6Validator(CARD_SCHEMA).validate(card["attachments"][0]["content"])

    acknowledged = api(app, "POST", "/api/status/alpha/acknowledge")
    assert (acknowledged.status_code, acknowledged.json()["reason"]) == (200, "mfaRequired")

    identity.update_user(upn, mfa_required=False)
    verify_all(app)
    messages = arrived(receiver, 5)
    restored = [m.payload for m in messages if m.channel == "ops" and not m.payload["test"]][-1]
    assert restored["counts"]["connectionRestored"] == 1 and restored["customers"][0]["customerId"] == "alpha"
    assert all(a.outcome == "accepted" for a in receiver.inbox.attempts())
    assert "whsec_" not in app.log_text() and "sig=" not in app.log_text()


def test_a_receiver_down_when_a_run_ends_gets_its_digest_once_when_back_even_after_a_host_crash(world):
    hosts, identity, receiver, tenant, upn = world
    app = hosts.app
    before = len(receiver.inbox.messages())
    receiver.down()
    identity.update_user(upn, mfa_required=True)
    verify_all(app)
    # Both channels' first attempts are over before the crash: a delivery claimed by the host that is killed
    # waits out its claim (CLAIM_FOR), which is longer than this test waits.
    deadline = time.monotonic() + 30
    while not all(_failed_once(d := _last_delivery(app, channel)) for channel in ("ops", "team")):
        assert time.monotonic() < deadline, d
        time.sleep(0.3)
    pending = _last_delivery(app, "ops")
    assert "could not connect" in pending["lastError"]
    hosts.crash_and_restart()  # the delivery is kept in storage: the host that made it is not needed
    app = hosts.app
    receiver.up()
    messages = arrived(receiver, before + 2, timeout=RETRY_WAIT)
    ids = [m.delivery_id for m in messages[before:]]
    assert pending["deliveryId"] in ids and len(ids) == len(set(ids)) == 2
    assert [a.outcome for a in receiver.inbox.attempts() if a.delivery_id == pending["deliveryId"]] == ["accepted"]
    # The sender records "sent" once the receiver's answer is in: a moment after the receiver took the message.
    deadline = time.monotonic() + 30
    while (state := _last_delivery(app, "ops")["state"]) != "sent":
        assert state == "pending" and time.monotonic() < deadline, state
        time.sleep(0.3)


def _failed_once(delivery: dict | None) -> bool:
    """Attempted, failed and waiting for its retry, not claimed by a host sending it again (a claim holds the
    delivery for CLAIM_FOR, longer than any back-off of the first attempts)."""
    if not (delivery and delivery["state"] == "pending" and delivery["lastError"]):
        return False
    retry_in = datetime.fromisoformat(delivery["nextAttemptAt"]) - datetime.now(UTC)
    return retry_in < CLAIM_FOR - timedelta(seconds=30)


def _last_delivery(app, channel_id: str) -> dict | None:
    views = {c["channelId"]: c for c in api(app, "GET", "/api/alerts/channels").json()["channels"]}
    return views[channel_id]["lastDelivery"]


def test_a_lost_connection_fixed_by_a_new_password_is_reported_restored(world):
    """The edit resets the customer to notVerified; the success after it is still a restored connection, as the
    operator who was told "lost" needs to hear."""
    hosts, identity, receiver, tenant, upn = world
    app = hosts.app
    assert api(app, "GET", "/api/status/alpha").json()["lastVerificationStatus"] == "failed"  # lost, and told
    before = len(receiver.inbox.messages())
    identity.update_user(upn, mfa_required=False, password="Alert-Pass-3")
    edited = api(app, "PUT", "/api/tenants/alpha", {"tenantId": tenant.id, "authenticationMethod": "password",
                                                    "m365Email": upn, "password": "Alert-Pass-3"})
    assert (edited.status_code, edited.json()["lastVerificationStatus"]) == (200, "notVerified")
    assert verify_all(app)["byStatus"]["succeeded"] == 1
    messages = arrived(receiver, before + 2)[before:]
    assert sorted(m.channel for m in messages) == ["ops", "team"]
    webhook = next(m.payload for m in messages if m.channel == "ops")
    assert webhook["counts"]["connectionRestored"] == 1 and webhook["customers"][0]["customerId"] == "alpha"
    (event,) = api(app, "GET", "/api/events?customerId=alpha&type=connectionRestored&top=1").json()["events"]
    assert (event["from"]["status"], event["from"]["reason"], event["to"]["status"]) == (
        "failed", "mfaRequired", "succeeded")
