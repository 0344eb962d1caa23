"""A run whose work keeps failing, end to end: the local host over its own Azurite delivers each chunk until the
host gives up on it (maxDequeueCount), moves it to verify-requests-poison, and the app's poison trigger sends
its customers once more, then gives them up; the run finishes and says so, and the next run verifies them."""
from __future__ import annotations

import json
import time

import pytest
import requests
from azure.storage.queue import QueueClient

from tests.e2e.conftest import REPO, app_on_own_azurite, identity_env
from tests.support.openapi_check import check_response
from tools.identity_sim import AppRegistration, ClientSecret, Tenant

pytestmark = pytest.mark.e2e

APP = "e1e1e1e1-2222-4333-8444-555555555555"
SECRET = "Recovery-App-Secret-1"
CUSTOMERS = ("rec-a", "rec-b", "rec-c")


def _finished(app, run_id: str, *, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        response = requests.get(app.url(f"/api/runs/{run_id}"), timeout=30)
        assert response.status_code == 200, response.text
        run = response.json()
        if run["finishedAt"] is not None:
            check_response("/api/runs/{runId}", "GET", 200, response.content, response.headers.get("Content-Type"))
            return run
        if time.monotonic() > deadline:
            pytest.fail(f"run {run_id} did not finish: {run}\n{app.log_text()[-4000:]}")
        time.sleep(0.5)


@pytest.fixture
def app(tmp_path, identity):
    """The local host with retries after 1 s instead of 30 s (host.json's visibilityTimeout), so a chunk uses
    its five deliveries in seconds; everything else as deployed."""
    host = json.loads((REPO / "host.json").read_text(encoding="utf-8"))
    host["extensions"]["queues"]["visibilityTimeout"] = "00:00:01"
    host_json = tmp_path / "host.json"
    host_json.write_text(json.dumps(host), encoding="utf-8")
    with app_on_own_azurite(tmp_path, {**identity_env(identity), "VERIFY_SCHEDULE": "0 0 0 1 1 *"},
                            ["--host-json", str(host_json)]) as running:
        yield running


def test_a_chunk_that_keeps_failing_is_given_up_and_its_run_finishes(app, identity):
    identity.add_app(AppRegistration(client_id=APP, secrets=(ClientSecret(SECRET),), roles={"*": ("User.Read.All",)}))
    for customer_id in CUSTOMERS:
        tenant = Tenant.named(f"{customer_id}-recovery")
        identity.add_tenant(tenant)
        body = {"tenantId": tenant.id, "authenticationMethod": "application", "applicationId": APP,
                "applicationSecret": SECRET}
        assert requests.put(app.url(f"/api/tenants/{customer_id}"), json=body, timeout=30).status_code == 201
    readable = app.secrets_file.read_bytes()
    app.secrets_file.write_text("[]", encoding="utf-8")  # the secret store cannot be read: every chunk fails
    try:
        started = requests.post(app.url("/api/runs"), timeout=30).json()
        run = _finished(app, started["runId"], timeout=180)
    finally:
        app.secrets_file.write_bytes(readable)

    assert (run["total"], run["completed"]) == (3, 0)
    recovery = run["recovery"]
    assert recovery["givenUp"] == 3 and recovery["resent"] >= 3 and "workFailed" in recovery["causes"]
    assert "3 customers were given up on" in recovery["message"]
    log = app.log_text()
    assert "failed on every delivery; it was sent once more" in log and "3 given up" in log  # the app's own words
    statuses = {c: requests.get(app.url(f"/api/tenants/{c}"), timeout=30).json()["lastVerificationStatus"]
                for c in CUSTOMERS}
    assert statuses == dict.fromkeys(CUSTOMERS, "notVerified")  # given up: they keep what they had

    # The poison queue is empty once the app has read it; the next run, with the store readable, verifies them.
    poison = QueueClient.from_connection_string(app.connection_string, "verify-requests-poison")
    assert list(poison.peek_messages(max_messages=32)) == []
    again = requests.post(app.url("/api/runs"), timeout=30).json()
    assert again["runId"] != run["runId"]
    second = _finished(app, again["runId"], timeout=120)
    assert (second["completed"], second["byStatus"]["succeeded"], second["recovery"]) == (3, 3, None)
