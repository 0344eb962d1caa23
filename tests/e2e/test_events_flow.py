"""Status events end to end: the local host over Azurite verifies against the identity platform simulator, and a
sequence of states gives exactly the expected events through GET /api/events; a host killed between recording a
result and relaying its event (it hangs at its first request to the Events table, and is killed there) loses
nothing: the next host's periodic relay brings the event, once."""
from __future__ import annotations

import json
import signal
import threading
import uuid
from contextlib import suppress
from datetime import UTC, datetime, timedelta

import pytest
import requests
from azure.data.tables import TableServiceClient

from shared.adapters.table_customers import CUSTOMER_PARTITION, OUTBOX_PREFIX
from shared.domain.event_log import parse_event_log_line
from tests.e2e.conftest import identity_env, start_app
from tests.support.devserver_process import eventually
from tests.support.holding_proxy import HoldingProxy
from tools.azurite import start_azurite
from tools.identity_sim import AppRegistration, ClientSecret, Tenant
from tools.processes import stop_process

pytestmark = pytest.mark.e2e

APP, SECRET = "e7e7e7e7-1212-4343-8565-878787878787", "Events-App-Secret-3"


@pytest.fixture(scope="module")
def world(identity, tmp_path_factory):
    """An app on an Azurite of its own, and an app registration in a tenant of the simulator."""
    azurite = start_azurite()
    tenant = identity.add_tenant(Tenant.named(f"events{uuid.uuid4().hex[:6]}"))
    identity.add_app(AppRegistration(client_id=APP, secrets=(ClientSecret(SECRET),), roles={"*": ("User.Read.All",)}))
    running = start_app(tmp_path_factory.mktemp("events"), azurite.connection_string, identity_env(identity))
    try:
        yield running, identity, tenant, azurite
    finally:
        stop_process(running.process)
        azurite.stop()


def api(app, method, path, **kwargs):
    response = requests.request(method, app.url(path), timeout=60, **kwargs)
    assert response.status_code < 500, response.text
    return response


def events_of(app, customer_id: str) -> list[dict]:
    return api(app, "GET", "/api/events", params={"customerId": customer_id}).json()["events"]


def verify(app, customer_id: str) -> dict:
    return api(app, "POST", f"/api/status/{customer_id}/verify").json()


def test_a_sequence_of_states_gives_exactly_the_expected_events(world):
    app, identity, tenant, _ = world
    body = {"tenantId": tenant.id, "authenticationMethod": "application", "applicationId": APP,
            "applicationSecret": SECRET}
    assert api(app, "PUT", "/api/tenants/seq", json=body).status_code == 201
    past = datetime.now(UTC) - timedelta(days=1)
    steps = [  # the app registration's secrets in the simulator -> status, reason
        ((ClientSecret(SECRET),), ("succeeded", None)),
        ((ClientSecret("Another-Secret-1"),), ("failed", "invalidClientSecret")),
        ((ClientSecret("Another-Secret-1"),), ("failed", "invalidClientSecret")),
        ((ClientSecret(SECRET, expires_at=past),), ("failed", "clientSecretExpired")),
        ((ClientSecret(SECRET),), ("succeeded", None)),
    ]
    for secrets, expected in steps:
        identity.update_app(APP, secrets=secrets)
        view = verify(app, "seq")
        assert (view["lastVerificationStatus"], view["lastVerificationReason"]) == expected
    events = events_of(app, "seq")
    assert [(e["type"], e["from"], e["to"]) for e in events] == [  # newest first
        ("connectionRestored", {"status": "failed", "reason": "clientSecretExpired"},
         {"status": "succeeded", "reason": None}),
        ("reasonChanged", {"status": "failed", "reason": "invalidClientSecret"},
         {"status": "failed", "reason": "clientSecretExpired"}),
        ("connectionLost", {"status": "succeeded", "reason": None},
         {"status": "failed", "reason": "invalidClientSecret"}),
    ]
    assert {(e["customerId"], e["tenantId"], e["runId"]) for e in events} == {("seq", tenant.id, None)}
    # The host logged the event line of each, once, for the Azure Monitor rule.
    logged = [line for line in map(_event_line, app.log_text().splitlines()) if line and line["customerId"] == "seq"]
    assert sorted(line["eventId"] for line in logged) == sorted(e["eventId"] for e in events)
    # A run records its results with their events too, with its runId.
    identity.update_app(APP, secrets=(ClientSecret("Another-Secret-2"),))
    run_id = api(app, "POST", "/api/runs").json()["runId"]
    latest = eventually(lambda: (found := events_of(app, "seq")) and len(found) == 4 and found[0],
                        timeout=60, what="the run's event")
    assert (latest["type"], latest["runId"]) == ("connectionLost", run_id)


def _event_line(text: str) -> dict | None:
    start = text.find("STATUS_EVENT ")
    return parse_event_log_line(text[start:]) if start >= 0 else None


def test_a_host_killed_between_a_result_and_its_relay_loses_no_event(identity, tmp_path):
    azurite = start_azurite()
    try:
        with HoldingProxy(azurite.table_port) as proxy:
            through_proxy = azurite.connection_string.replace(f":{azurite.table_port}/", f":{proxy.port}/")
            first = start_app(tmp_path / "first", through_proxy, identity_env(identity))
            try:
                body = {"tenantId": str(uuid.uuid4()), "authenticationMethod": "application", "applicationId": APP,
                        "applicationSecret": SECRET}  # a tenant the platform does not know: it fails
                assert api(first, "PUT", "/api/tenants/lost", json=body).status_code == 201
                proxy.hold(b"Events")  # the relay's first request to the Events table never comes back
                threading.Thread(target=_post_until_killed, args=(first.url("/api/status/lost/verify"),),
                                 daemon=True).start()
                assert proxy.held.wait(60), "the host never reached its relay"
                # The result is recorded with its event in the outbox, and nothing is relayed yet: kill it here.
                tenants = TableServiceClient.from_connection_string(azurite.connection_string).get_table_client(
                    "Tenants")
                assert tenants.get_entity(CUSTOMER_PARTITION, "lost")["lastVerificationStatus"] == "failed"
                (row,) = _outbox(tenants)
                first.host.stop(signal.SIGKILL)
            finally:
                stop_process(first.process)
        assert "STATUS_EVENT" not in first.log_text()
        second = start_app(tmp_path / "second", azurite.connection_string,
                           {**identity_env(identity), "LOCAL_SECRETS_FILE": str(first.secrets_file)})
        try:
            assert events_of(second, "lost") == []
            api(second, "POST", "/api/runs")  # its watch relays what the dead host left behind
            (event,) = eventually(lambda: events_of(second, "lost"), timeout=90, what="the event left behind")
            assert (event["type"], event["runId"]) == ("connectionLost", None)
            assert event["eventId"] == json.loads(row["events"])[0]["eventId"]
            # The relay appends, then clears the outbox: the event can be listed a moment before its row is gone.
            eventually(lambda: not _outbox(tenants), timeout=30, what="the outbox cleared after the relay")
            logged = [line for line in map(_event_line, second.log_text().splitlines()) if line]
            assert [line["eventId"] for line in logged] == [event["eventId"]]
            assert len(events_of(second, "lost")) == 1
        finally:
            stop_process(second.process)
    finally:
        azurite.stop()


def _post_until_killed(url: str) -> None:
    with suppress(requests.RequestException):
        requests.post(url, timeout=120)


def _outbox(tenants) -> list:
    return list(tenants.query_entities("PartitionKey eq @pk and RowKey ge @first and RowKey lt @end", parameters={
        "pk": CUSTOMER_PARTITION, "first": OUTBOX_PREFIX, "end": OUTBOX_PREFIX + "~"}))
