"""Verification end to end: the timer's NCRONTAB fires in the local host, the run fans out over Azurite's real
queue, queue workers verify against the identity platform simulator over HTTPS, and the run finishes with exact
counts. Also Verify All, lockout safety across scheduled runs, and no secret anywhere it should not be."""
from __future__ import annotations

import json
import time
import uuid
from datetime import UTC, datetime

import pytest
import requests
from azure.data.tables import TableServiceClient

from shared.adapters.local_secrets import LocalFileSecretStore
from shared.adapters.table_customers import CUSTOMER_PARTITION
from tests.e2e.conftest import identity_env, start_app
from tools.azurite import start_azurite
from tools.identity_sim import AppRegistration, ClientSecret, Tenant, User
from tools.processes import stop_process

pytestmark = pytest.mark.e2e

PROVIDER, APP = "12121212-3434-4545-8656-787878787878", "abababab-cdcd-4efe-8a0a-b1b1b1b1b1b1"
PROVIDER_SECRET, APP_SECRET = "Flow-Provider-Secret-9", "Flow-App-Secret-8"
GOOD_PASSWORD, WRONG_PASSWORD, NEW_PASSWORD = "Flow-Good-Pass-7", "Flow-Wrong-Pass-6", "Flow-New-Pass-5"


@pytest.fixture(scope="module")
def world(identity, tmp_path_factory):
    """An app on an Azurite of its own (its runs cover every tenant in it), the timer every 4 seconds."""
    azurite = start_azurite()
    tenants = {name: Tenant.named(f"flow{name}{uuid.uuid4().hex[:6]}") for name in ("a", "b", "c", "d")}
    for tenant in tenants.values():
        identity.add_tenant(tenant)
    identity.add_user(User(upn=f"admin@{tenants['a'].default_domain}", password=GOOD_PASSWORD))
    identity.add_user(User(upn=f"admin@{tenants['b'].default_domain}", password=GOOD_PASSWORD, mfa_required=True))
    identity.add_user(User(upn=f"admin@{tenants['c'].default_domain}", password=GOOD_PASSWORD))
    identity.add_app(AppRegistration(client_id=PROVIDER, secrets=(ClientSecret(PROVIDER_SECRET),)))
    identity.add_app(AppRegistration(client_id=APP, secrets=(ClientSecret(APP_SECRET),),
                                     roles={"*": ("User.Read.All",)}))
    refresh_token = identity.issue_refresh_token(tenant=tenants["a"].id, upn=f"admin@{tenants['a'].default_domain}",
                                                 client_id=PROVIDER)
    env = {**identity_env(identity), "VERIFY_SCHEDULE": "*/4 * * * * *", "VERIFY_CONCURRENCY": "8"}
    running = start_app(tmp_path_factory.mktemp("flow"), azurite.connection_string, env)
    try:
        yield running, identity, tenants, refresh_token, azurite
    finally:
        stop_process(running.process)
        azurite.stop()


def api(app, method, path, body=None):
    response = requests.request(method, app.url(path), json=body, timeout=60)
    assert response.status_code < 500, response.text
    return response


def wait_for_run(app, *, after: str, timeout: float = 90) -> dict:
    """The first run started after `after` that has finished."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        runs = api(app, "GET", "/api/runs?top=20").json()["runs"]
        done = [r for r in runs if r["startedAt"] > after and r["finishedAt"]]
        if done:
            return done[-1]
        time.sleep(0.5)
    pytest.fail(f"no run started after {after} finished within {timeout} s")


def now_iso() -> str:
    return datetime.now(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def test_the_timer_runs_verify_every_customer_and_count_exactly(world):
    app, identity, tenants, refresh_token, _ = world
    assert api(app, "PUT", "/api/settings", {
        "clientId": PROVIDER, "redirectUrl": "http://localhost:7071/authenticate/OAuth2Callback",
        "clientSecret": PROVIDER_SECRET}).status_code == 200
    customers = {
        "pw-ok": {"tenantId": tenants["a"].id, "authenticationMethod": "password",
                  "m365Email": f"admin@{tenants['a'].default_domain}", "password": GOOD_PASSWORD},
        "pw-mfa": {"tenantId": tenants["b"].id, "authenticationMethod": "password",
                   "m365Email": f"admin@{tenants['b'].default_domain}", "password": GOOD_PASSWORD},
        "pw-wrong": {"tenantId": tenants["c"].id, "authenticationMethod": "password",
                     "m365Email": f"admin@{tenants['c'].default_domain}", "password": WRONG_PASSWORD},
        "app-ok": {"tenantId": tenants["d"].id, "authenticationMethod": "application", "applicationId": APP,
                   "applicationSecret": APP_SECRET},
        "app-bad": {"tenantId": tenants["d"].id, "authenticationMethod": "application", "applicationId": APP,
                    "applicationSecret": "Not-The-Secret"},
        "no-tenant": {"tenantId": str(uuid.uuid4()), "authenticationMethod": "application", "applicationId": APP,
                      "applicationSecret": APP_SECRET},
        "tok": {"tenantId": tenants["a"].id, "authenticationMethod": "token"},
    }
    for cid, body in customers.items():
        assert api(app, "PUT", f"/api/tenants/{cid}", body).status_code == 201
    time.sleep(1.1)  # a whole second later, so "started after" excludes a run that began before the last PUT
    ready = now_iso()
    run = wait_for_run(app, after=ready)
    assert run["trigger"] == "timer"
    assert (run["total"], run["completed"]) == (len(customers), len(customers))
    assert sum(run["byStatus"].values()) == run["total"]
    statuses = {t["customerId"]: (t["lastVerificationStatus"], t["lastVerificationReason"])
                for t in api(app, "GET", "/api/status").json()["tenants"]}
    assert statuses == {
        "pw-ok": ("succeeded", None), "pw-mfa": ("failed", "mfaRequired"), "pw-wrong": ("failed", "invalidCredentials"),
        "app-ok": ("succeeded", None), "app-bad": ("failed", "invalidClientSecret"),
        "no-tenant": ("failed", "tenantNotFound"), "tok": ("failed", "notConfigured"),
    }
    assert run["byStatus"] == {"notVerified": 0, "succeeded": 2, "failed": 5}
    app.wait_for_log("Run " + run["runId"] + " (timer) finished: 7 tenants")  # logged just after it finished


def test_a_rejected_password_is_sent_once_across_scheduled_runs_and_again_once_changed(world):
    app, identity, tenants, _, _ = world
    wrong_tenant = tenants["c"].id
    sent = lambda: len(identity.requests_for(wrong_tenant, endpoint="token"))  # noqa: E731
    before = sent()
    wait_for_run(app, after=now_iso())
    wait_for_run(app, after=now_iso())
    assert sent() == before, "a scheduled run sent the rejected password again"
    hint = api(app, "GET", "/api/tenants/pw-wrong").json()["hint"]
    assert "Not sent again" in hint
    identity.update_user(f"admin@{tenants['c'].default_domain}", password=NEW_PASSWORD)
    body = {"tenantId": wrong_tenant, "authenticationMethod": "password",
            "m365Email": f"admin@{tenants['c'].default_domain}", "password": NEW_PASSWORD}
    assert api(app, "PUT", "/api/tenants/pw-wrong", body).json()["lastVerificationStatus"] == "notVerified"
    time.sleep(1.1)
    run = wait_for_run(app, after=now_iso())
    # Sent once by that run: counted within its own seconds, since the timer (every 4 s) may also have sent the
    # changed password in a run that began between the PUT and `now`, or in the next one by the time it is read.
    began, ended = (datetime.fromisoformat(run[k].replace("Z", "+00:00")).timestamp() for k in ("startedAt",
                                                                                                "finishedAt"))
    by_run = [r for r in identity.requests_for(wrong_tenant, endpoint="token") if began <= r.received_at < ended + 1]
    assert len(by_run) == 1 and sent() >= before + 1
    assert api(app, "GET", "/api/tenants/pw-wrong").json()["lastVerificationStatus"] == "succeeded"


def test_verify_all_answers_at_once_and_its_run_finishes(world):
    app, *_ = world
    response = api(app, "POST", "/api/runs")
    assert response.status_code == 202 and response.headers["Location"].endswith(response.json()["runId"])
    run_id = response.json()["runId"]
    deadline = time.monotonic() + 60
    while (run := api(app, "GET", f"/api/runs/{run_id}").json())["finishedAt"] is None:
        assert time.monotonic() < deadline, run
        time.sleep(0.3)
    assert run["completed"] == run["total"] == 7


def test_a_token_customer_rotates_its_refresh_token_and_no_secret_is_anywhere(world):
    app, identity, tenants, refresh_token, azurite = world
    api(app, "PUT", "/api/tenants/tok", {"tenantId": tenants["a"].id, "authenticationMethod": "token"})
    secrets_file = app.secrets_file
    # The consent callback (a later capability) stores refresh tokens; here the test puts one in as it would.
    version = LocalFileSecretStore(secrets_file).create_version("tok", "refreshToken", refresh_token)
    tables = TableServiceClient.from_connection_string(azurite.connection_string).get_table_client("Tenants")
    entity = tables.get_entity(CUSTOMER_PARTITION, "tok")
    entity["secretVersions"] = json.dumps({"refreshToken": version})
    tables.update_entity(entity)
    view = api(app, "POST", "/api/status/tok/verify").json()
    assert view["lastVerificationStatus"] == "succeeded", view
    renewed = [v["value"] for name, versions in json.loads(secrets_file.read_text()).items()
               for v in versions.values() if name.endswith("refresh-token")]
    # Renewed (the timer may have run meanwhile, renewing again); the replaced versions are left to the sweep.
    assert len(renewed) >= 2 and refresh_token in renewed
    # Secrets are searched for, not assumed absent: every table entity, every response, the whole log.
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    everything = [json.dumps(dict(e), default=str) for t in service.list_tables()
                  for e in service.get_table_client(t.name).list_entities()]
    everything += [api(app, "GET", path).text for path in ("/api/status", "/api/runs", "/api/tenants/tok",
                                                             "/api/status/tok", "/api/settings")]
    everything.append(app.log_text())
    haystack = "\n".join(everything)
    for secret in (PROVIDER_SECRET, APP_SECRET, GOOD_PASSWORD, WRONG_PASSWORD, NEW_PASSWORD, refresh_token,
                   *renewed):
        assert secret not in haystack
