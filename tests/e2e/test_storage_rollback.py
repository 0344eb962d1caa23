"""Storage that loses writes it had confirmed loses nothing else: Azurite killed (SIGKILL) a few seconds into a
Verify All over `token` customers and restarted on the same data, then a clean run: every customer succeeds.

Azurite keeps its tables in memory and saves them to its data folder every 5 seconds (LokiJS autosave), so a
SIGKILL loses every write it confirmed since its last save. Here the run starts just after a save and Azurite
is killed before the next one: the run, and every record that moved to a renewed refresh token, are lost,
while the secret store (a file the app writes itself) keeps every version it was given. What the records are
left naming must still be there to read.
"""
from __future__ import annotations

import json
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
import requests
from azure.data.tables import TableServiceClient

from shared.adapters.local_secrets import LocalFileSecretStore
from shared.adapters.secret_store_names import store_name
from shared.adapters.table_customers import CUSTOMER_PARTITION
from shared.domain.secrets import SecretKind
from tests.e2e.conftest import identity_env, start_app
from tools.azurite import AZURITE_BIN, Azurite, start_azurite
from tools.identity_sim import AppRegistration, ClientSecret, Tenant, User
from tools.processes import stop_process

pytestmark = pytest.mark.e2e

CUSTOMERS = 120
SAVE_INTERVAL = 5.0  # Azurite's LokiJS autosaveInterval (node_modules/azurite/dist/src/table/persistence)
KILL_BY = 4.5  # seconds after a save: before the next one
ENOUGH = 20  # results recorded since the save: kill as soon as there are this many
PROVIDER_SECRET = "Rollback-Provider-Secret-4"
RT = SecretKind.REFRESH_TOKEN


def table_db(azurite: Azurite) -> Path:
    return Path(azurite.location) / "__azurite_db_table__.json"


def write_then_wait_for_a_save(azurite: Azurite, *, timeout: float = 3 * SAVE_INTERVAL) -> float:
    """Change a table (Azurite saves only what changed), then wait until Azurite has saved its tables; returns
    when it did (the file's modification time)."""
    moment = time.time()
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    service.create_table_if_not_exists("SaveMarker").upsert_entity({"PartitionKey": "p", "RowKey": str(moment)})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        saved = table_db(azurite).stat().st_mtime if table_db(azurite).exists() else 0.0
        if saved > moment:
            return saved
        time.sleep(0.02)
    raise AssertionError("Azurite did not save its tables within the time-out")


def kill_and_restart(azurite: Azurite, log: Path) -> None:
    """SIGKILL, then Azurite again on the same folder and ports (`azurite` now holds the new process), as a
    crashed emulator, or an account after an unplanned failover, comes back."""
    azurite.process.send_signal(signal.SIGKILL)
    azurite.process.wait(timeout=30)
    azurite.process = subprocess.Popen(
        [str(AZURITE_BIN), "--location", azurite.location, "--skipApiVersionCheck", "--disableTelemetry", "--loose",
         "--blobPort", str(azurite.blob_port), "--queuePort", str(azurite.queue_port),
         "--tablePort", str(azurite.table_port)],
        stdout=log.open("ab"), stderr=subprocess.STDOUT, cwd=azurite.location,
    )
    service = TableServiceClient.from_connection_string(azurite.connection_string, retry_total=0)
    deadline = time.monotonic() + 60
    while True:
        assert azurite.process.poll() is None, "Azurite did not come back:\n" + log.read_text(errors="replace")[-2000:]
        try:
            list(service.list_tables())
            return
        except Exception:  # noqa: BLE001 - not listening yet
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture
def world(identity, tmp_path):
    azurite = start_azurite()
    app = None
    try:
        tenant = identity.add_tenant(Tenant.named(f"rollback{uuid.uuid4().hex[:6]}"))
        identity.add_user(User(upn=f"admin@{tenant.default_domain}", password=uuid.uuid4().hex))
        provider = str(uuid.uuid4())
        identity.add_app(AppRegistration(client_id=provider, secrets=(ClientSecret(PROVIDER_SECRET),)))
        identity.set_latency(40, tenant=tenant.id)  # a run that lasts a few seconds
        app = start_app(tmp_path, azurite.connection_string, {**identity_env(identity), "VERIFY_CONCURRENCY": "4"})
        yield app, azurite, identity, tenant, provider
    finally:
        if app is not None:
            stop_process(app.process)
        azurite.stop()


def add_token_customers(app, azurite, identity, tenant, provider) -> list[str]:
    """Token customers as a consent leaves them: a refresh token stored, the record naming its version."""
    settings = {"clientId": provider, "redirectUrl": "http://localhost:7071/authenticate/OAuth2Callback",
                "clientSecret": PROVIDER_SECRET}
    assert requests.put(app.url("/api/settings"), json=settings, timeout=30).status_code == 200
    customers = [f"rb-{n:03d}" for n in range(CUSTOMERS)]
    store = LocalFileSecretStore(app.secrets_file)
    table = TableServiceClient.from_connection_string(azurite.connection_string).get_table_client("Tenants")
    for cid in customers:
        body = {"tenantId": tenant.id, "authenticationMethod": "token"}
        assert requests.put(app.url(f"/api/tenants/{cid}"), json=body, timeout=30).status_code == 201
        token = identity.issue_refresh_token(tenant=tenant.id, upn=f"admin@{tenant.default_domain}", client_id=provider)
        entity = table.get_entity(CUSTOMER_PARTITION, cid)
        entity["secretVersions"] = json.dumps({RT.value: store.create_version(cid, RT, token)})
        table.update_entity(entity)
    return customers


def newest_stored(app, cid: str) -> str | None:
    """The newest version of a customer's refresh token in the app's secret file (which Azurite cannot lose)."""
    stored = json.loads(app.secrets_file.read_text()).get(store_name(cid, RT), {})
    return max(stored, key=lambda version: stored[version]["created"], default=None)


def named(azurite: Azurite, cid: str) -> str:
    table = TableServiceClient.from_connection_string(azurite.connection_string).get_table_client("Tenants")
    return json.loads(table.get_entity(CUSTOMER_PARTITION, cid)["secretVersions"])[RT.value]


def wait_finished(app, run_id: str, *, timeout: float = 120) -> dict:
    deadline = time.monotonic() + timeout
    while (run := requests.get(app.url(f"/api/runs/{run_id}"), timeout=30).json())["finishedAt"] is None:
        assert time.monotonic() < deadline, run
        time.sleep(0.3)
    return run


def test_every_token_customer_succeeds_after_azurite_is_killed_mid_run_and_restarted(world, tmp_path):
    app, azurite, identity, tenant, provider = world
    customers = add_token_customers(app, azurite, identity, tenant, provider)
    first = requests.post(app.url("/api/runs"), timeout=30).json()["runId"]  # renews every token once
    assert wait_finished(app, first)["byStatus"]["succeeded"] == CUSTOMERS

    # Start a run just after a save that holds the first run, and kill Azurite before the next save.
    saved = write_then_wait_for_a_save(azurite)
    started = requests.post(app.url("/api/runs"), timeout=30)
    assert started.status_code == 202, started.text
    lost_run = started.json()["runId"]
    while time.time() < saved + KILL_BY:
        if requests.get(app.url(f"/api/runs/{lost_run}"), timeout=30).json()["completed"] >= ENOUGH:
            break
        time.sleep(0.05)
    kill_and_restart(azurite, tmp_path / "azurite-restarted.log")

    # What storage lost: the run, and each renewed token's move (the secret file kept the renewed versions).
    assert requests.get(app.url(f"/api/runs/{lost_run}"), timeout=30).status_code == 404, "the run was saved"
    moved_back = [cid for cid in customers if named(azurite, cid) != newest_stored(app, cid)]
    assert moved_back, "no refresh token was renewed before the kill"

    rerun = requests.post(app.url("/api/runs"), timeout=30)
    assert rerun.status_code == 202 and rerun.json()["runId"] != lost_run, rerun.text
    run = wait_finished(app, rerun.json()["runId"])
    assert run["total"] == run["completed"] == CUSTOMERS, run
    views = requests.get(app.url("/api/status?method=token"), timeout=30).json()["tenants"]
    outcome = {view["customerId"]: (view["lastVerificationStatus"], view["lastVerificationReason"],
                                    view["secretsConfigured"]) for view in views if view["customerId"] in customers}
    failed = sorted((cid, *found) for cid, found in outcome.items() if found != ("succeeded", None, ["refreshToken"]))
    assert len(outcome) == CUSTOMERS and not failed, f"{len(moved_back)} moved back; {len(failed)} not succeeded, " \
                                                     f"e.g. {failed[:3]}"
