"""What the tables hold, byte for byte, against a real Azurite: entities written by hand in the stored format are
read back by the stores, and what the stores write is that format. Keys and column names are literals here, so a
rename in the code that changed what is stored fails these tests."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.table_consent_states import TableConsentStates
from shared.adapters.table_customers import TableCustomerStore
from shared.adapters.table_runs import TableRunStore
from shared.adapters.table_settings import TableProviderSettingsStore
from shared.domain.models import (
    AuthMethod,
    ConsentResult,
    Customer,
    LastConsent,
    PendingConsent,
    ProviderSettings,
    Status,
)
from shared.domain.reasons import Reason
from shared.domain.runs import RecoveryCause, Run, Trigger
from shared.domain.secrets import SecretKind
from shared.domain.verification import VerificationResult

pytestmark = pytest.mark.integration

T0 = datetime(2026, 11, 27, 2, 0, 0, tzinfo=UTC)
# 10**20 - 1 minus the microseconds from 1970 to T0: keys that sort newest first.
T0_INVERTED = "99998204255199999999"

CUSTOMER_ENTITY = {
    "PartitionKey": "tenant",
    "RowKey": "contoso",
    "customerId": "contoso",
    "tenantId": "contoso.onmicrosoft.com",
    "m365Email": "admin@contoso.onmicrosoft.com",
    "authenticationMethod": "password",
    "lastVerificationStatus": "failed",
    "whenLastVerified": T0,
    "lastVerificationReason": "invalidCredentials",
    "lastVerificationMessage": "AADSTS50126: Error validating credentials.",
    "aadstsCode": 50126,
    "hint": "Check the password.",
    "secretVersions": '{"consentFlow": "f-1", "password": "v-1"}',
    "createdAt": T0 - timedelta(days=1),
    "updatedAt": T0,
    "pendingConsent": '{"createdAt": "2026-11-27T02:00:00+00:00", "expiresAt": "2026-11-27T02:15:00+00:00", '
                      '"flowVersion": "f-1", "method": "token", "stateHash": "ab12"}',
    "lastConsent": '{"at": "2026-11-27T01:00:00+00:00", "message": "The admin declined.", "method": "token", '
                   '"outcome": "declined"}',
}
CUSTOMER = Customer(
    customer_id="contoso",
    tenant_id="contoso.onmicrosoft.com",
    authentication_method=AuthMethod.PASSWORD,
    m365_email="admin@contoso.onmicrosoft.com",
    secret_versions={SecretKind.PASSWORD: "v-1", SecretKind.CONSENT_FLOW: "f-1"},
    last_verification_status=Status.FAILED,
    when_last_verified=T0,
    last_verification_reason=Reason.INVALID_CREDENTIALS,
    last_verification_message="AADSTS50126: Error validating credentials.",
    aadsts_code=50126,
    hint="Check the password.",
    created_at=T0 - timedelta(days=1),
    updated_at=T0,
    pending_consent=PendingConsent(AuthMethod.TOKEN, T0, T0 + timedelta(minutes=15), "ab12", "f-1"),
    last_consent=LastConsent(ConsentResult.DECLINED, AuthMethod.TOKEN, T0 - timedelta(hours=1),
                             "The admin declined."),
)


def _name(prefix: str) -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


def _rows(tables, table: str, partition: str) -> dict[str, dict]:
    rows = tables.get_table_client(table).query_entities("PartitionKey eq @pk", parameters={"pk": partition})
    return {row["RowKey"]: dict(row) for row in rows}


def test_a_customer_entity_in_the_stored_format_is_read(tables):
    table = _name("Tenants")
    tables.create_table(table).create_entity(CUSTOMER_ENTITY)
    assert TableCustomerStore(tables, table=table).get("contoso") == CUSTOMER


def test_a_customer_is_written_in_the_stored_format_with_its_status_count(tables):
    table = _name("Tenants")
    TableCustomerStore(tables, table=table).create(CUSTOMER)
    rows = _rows(tables, table, "tenant")
    assert rows.pop("contoso") == CUSTOMER_ENTITY
    ((shard_key, shard),) = rows.items()
    assert shard_key.startswith("~count-") and len(shard_key) == len("~count-00")
    assert {column: shard[column] for column in ("notVerified", "succeeded", "failed")} == {
        "notVerified": 0, "succeeded": 0, "failed": 1}


def test_status_counts_in_the_stored_format_are_summed(tables):
    table = _name("Tenants")
    client = tables.create_table(table)
    client.create_entity({"PartitionKey": "tenant", "RowKey": "~count-03", "notVerified": 2, "succeeded": 5,
                          "failed": 1})
    client.create_entity({"PartitionKey": "tenant", "RowKey": "~count-11", "notVerified": -1, "succeeded": 0,
                          "failed": 4})
    assert TableCustomerStore(tables, table=table).get_status_counts() == {
        Status.NOT_VERIFIED: 1, Status.SUCCEEDED: 5, Status.FAILED: 5}


def test_a_history_row_in_the_stored_format_is_read_and_written(tables):
    table = _name("Tenants")
    result = VerificationResult(customer_id="contoso", status=Status.FAILED, verified_at=T0,
                                method=AuthMethod.PASSWORD, reason=Reason.ACCOUNT_LOCKED, message="AADSTS50053: locked",
                                aadsts_code=50053, hint="Unlock it.")
    entity = {"PartitionKey": "tenant", "customerId": "contoso", "status": "failed", "verifiedAt": T0,
              "method": "password", "reason": "accountLocked", "message": "AADSTS50053: locked", "aadstsCode": 50053,
              "hint": "Unlock it."}
    tables.create_table(table).create_entity({**entity, "RowKey": "~history-contoso~04"})
    store = TableCustomerStore(tables, table=table)
    assert store.list_latest("contoso", limit=5) == [result]

    read = store.create(Customer("contoso", "contoso.com", AuthMethod.PASSWORD, results_recorded=25))
    store.replace(read, read.with_result(result), result=result)  # the 26th result goes into slot 25 mod 20
    rows = _rows(tables, table, "tenant")
    assert rows["~history-contoso~05"] == {**entity, "RowKey": "~history-contoso~05"}
    assert rows["contoso"]["resultsRecorded"] == 26


def test_the_provider_settings_entity_in_the_stored_format_is_read_and_written(tables):
    table = _name("Settings")
    entity = {"PartitionKey": "provider", "RowKey": "consent", "clientId": "11111111-2222-3333-4444-555555555555",
              "redirectUrl": "https://app.example/authenticate/OAuth2Callback", "clientSecretVersion": "cs-1",
              "updatedAt": T0}
    tables.create_table(table).create_entity(entity)
    store = TableProviderSettingsStore(tables, table=table)
    read = store.get()
    assert read == ProviderSettings(client_id="11111111-2222-3333-4444-555555555555",
                                    redirect_url="https://app.example/authenticate/OAuth2Callback",
                                    client_secret_version="cs-1", updated_at=T0)
    table = _name("Settings")
    store = TableProviderSettingsStore(tables, table=table)
    store.create(ProviderSettings(client_id=read.client_id, redirect_url=read.redirect_url,
                                  client_secret_version="cs-1", updated_at=T0))
    assert _rows(tables, table, "provider") == {"consent": entity}


def test_a_run_in_the_stored_format_is_read(tables):
    table = _name("Runs")
    client = tables.create_table(table)
    run_id = "20261127020000-0123456789abcdef"
    for entity in (
        {"PartitionKey": run_id, "RowKey": "!run", "trigger": "timer", "startedAt": T0, "fannedOut": True,
         "resent": 3, "stalls": 1, "causes": "workFailed,workerStalled", "enrolledThrough": "globex"},
        {"PartitionKey": run_id, "RowKey": "$globex", "ids": "contoso,fabrikam,globex"},
        {"PartitionKey": run_id, "RowKey": "contoso", "outcome": "succeeded"},
        {"PartitionKey": run_id, "RowKey": "globex", "outcome": "givenUp"},
        {"PartitionKey": run_id, "RowKey": "~count-05", "total": 3, "notVerified": 0, "succeeded": 1, "failed": 0,
         "givenUp": 1},
        {"PartitionKey": "!runs", "RowKey": f"{T0_INVERTED}-{run_id}", "runId": run_id},
        {"PartitionKey": "!runs", "RowKey": "~current", "runId": run_id},
    ):
        client.create_entity(entity)
    store = TableRunStore(tables, table=table)
    run = store.get(run_id)
    assert (run.trigger, run.started_at, run.finished_at, run.total, run.completed, run.given_up) == (
        Trigger.TIMER, T0, None, 3, 1, 1)
    assert run.by_status == {Status.NOT_VERIFIED: 0, Status.SUCCEEDED: 1, Status.FAILED: 0}
    assert (run.fanned_out, run.resent, run.stalls, run.causes) == (
        True, 3, 1, frozenset({RecoveryCause.WORK_FAILED, RecoveryCause.WORKER_STALLED}))
    assert store.list_pending(run_id) == ["fabrikam"]
    assert [listed.run_id for listed in store.list_recent(top=5)] == [run_id]


def test_a_run_is_started_in_the_stored_format(tables):
    table = _name("Runs")
    run_id = "20261127020000-fedcba9876543210"
    store = TableRunStore(tables, table=table, clock=lambda: T0)
    store.start(Run(run_id=run_id, trigger=Trigger.HTTP, started_at=T0, finished_at=None, total=0, completed=0,
                    by_status=dict.fromkeys(Status, 0), expected=2), stale_after=timedelta(minutes=30))
    store.enrol(run_id, ["contoso", "fabrikam"])
    store.complete(run_id, "fabrikam", Status.FAILED)
    assert store.get(run_id).expected == 2
    rows = _rows(tables, table, run_id)
    assert rows.pop("!run") == {"PartitionKey": run_id, "RowKey": "!run", "trigger": "http", "startedAt": T0,
                                "fannedOut": False, "expected": 2, "enrolledThrough": "fabrikam"}
    assert rows.pop("$fabrikam") == {"PartitionKey": run_id, "RowKey": "$fabrikam", "ids": "contoso,fabrikam"}
    assert rows.pop("fabrikam") == {"PartitionKey": run_id, "RowKey": "fabrikam", "outcome": "failed"}
    shards = list(rows.values())  # one, or two if the second write took another shard
    assert all(key.startswith("~count-") for key in rows) and 1 <= len(shards) <= 2
    assert (sum(s["total"] for s in shards), sum(s["failed"] for s in shards)) == (2, 1)
    assert all(set(s) == {"PartitionKey", "RowKey", "total", "notVerified", "succeeded", "failed", "givenUp"}
               for s in shards)
    assert _rows(tables, table, "!runs") == {
        f"{T0_INVERTED}-{run_id}": {"PartitionKey": "!runs", "RowKey": f"{T0_INVERTED}-{run_id}", "runId": run_id},
        "~current": {"PartitionKey": "!runs", "RowKey": "~current", "runId": run_id},
    }


def test_a_consent_state_in_the_stored_format_is_read_and_written(tables):
    table = _name("ConsentStates")
    tables.create_table(table).create_entity({"PartitionKey": "state", "RowKey": "hash-1", "customerId": "contoso",
                                              "expiresAt": T0})
    store = TableConsentStates(tables, table=table)
    claimed = store.claim("hash-1")
    assert (claimed.customer_id, claimed.expires_at) == ("contoso", T0)
    store.create("hash-2", customer_id="fabrikam", expires_at=T0)
    assert _rows(tables, table, "state") == {
        "hash-2": {"PartitionKey": "state", "RowKey": "hash-2", "customerId": "fabrikam", "expiresAt": T0}}
