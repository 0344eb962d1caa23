"""Records and secrets cannot disagree: concurrent writers, deletes racing writes, and the sweep, against a real
Azurite and the real secret-store adapters (the local file store, and Key Vault through its simulator).

Each round races real threads; the invariants are checked after every round:
- a record names a version that holds a value its own request wrote, and that request was answered success;
- after the sweep, the only readable versions are those records name (no orphan).
"""
from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from azure.keyvault.secrets._shared import http_challenge_cache

from shared.adapters.keyvault import KeyVaultSecretStore
from shared.adapters.local_secrets import LocalFileSecretStore
from shared.adapters.table_customers import TableCustomerStore
from shared.adapters.table_settings import TableProviderSettingsStore
from shared.domain.errors import Conflict, NotFound
from shared.domain.inputs import CustomerInput, ProviderSettingsInput
from shared.domain.models import AuthMethod, Status
from shared.domain.reasons import Reason
from shared.domain.secrets import ProviderSecret, SecretKind
from shared.domain.verification import TokenAnswer
from shared.usecases.customers import delete_customer, put_customer
from shared.usecases.provider_settings import put_settings
from shared.usecases.secret_sweep import sweep_secrets
from shared.usecases.verify import VerifyContext, verify_customer
from tests.support.credentials import FixedTokenCredential
from tests.support.fakes import fake_services
from tests.support.keyvault_sim import KeyVaultSimulator
from tests.support.tls import TestCA

pytestmark = pytest.mark.integration

ROUNDS = 50
WRITERS = 6
P = SecretKind.PASSWORD
A = SecretKind.APPLICATION_SECRET
GUID = "0f6a5d1c-3b7e-4f7a-9a51-6c1c2d3e4f50"
APP = "aaaaaaaa-bbbb-4ccc-8ddd-eeeeeeeeeeee"


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("records-ca"))


@pytest.fixture(params=["local", "keyvault"])
def secrets(request, tmp_path: Path, ca: TestCA) -> Iterator:
    if request.param == "local":
        yield LocalFileSecretStore(tmp_path / "secrets.json")
        return
    with KeyVaultSimulator(ca) as sim:
        http_challenge_cache.remove_challenge_for_url(sim.url)
        with KeyVaultSecretStore(sim.url, credential=FixedTokenCredential(), connection_verify=str(ca.bundle_path),
                                 verify_challenge_resource=False, retry_total=0) as store:
            yield store


@pytest.fixture
def stores(tables):
    suffix = uuid.uuid4().hex[:12]
    customers = TableCustomerStore(tables, table=f"Tenants{suffix}")
    return customers, customers, TableProviderSettingsStore(tables, table=f"Settings{suffix}")  # it holds the histories


def race(calls: list[Callable[[], object]]) -> list[object]:
    """Run the calls at once on real threads; each answer is its return value or the exception it raised."""
    start = threading.Barrier(len(calls))
    answers: list[object] = [None] * len(calls)

    def run(i: int) -> None:
        start.wait(timeout=30)
        try:
            answers[i] = calls[i]()
        except Exception as err:  # noqa: BLE001 - the answer is what is checked
            answers[i] = err

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads)
    return answers


def password(value: str) -> CustomerInput:
    return CustomerInput(tenant_id="contoso.com", authentication_method=AuthMethod.PASSWORD,
                         m365_email="admin@contoso.com", password=value)


def readable(secrets, customer_id: str | None, name) -> set[str]:
    return {v.version for s in secrets.list_secrets() if (s.customer_id, s.kind) == (customer_id, str(name))
            for v in s.versions}


def sweep_now(stores, secrets) -> None:
    customers, _, settings = stores
    sweep_secrets(customers, settings, secrets, now=datetime.now(UTC) + timedelta(hours=1))


def test_concurrent_puts_of_one_customer_leave_the_winners_password(stores, secrets):
    customers, _, _ = stores
    for round_ in range(ROUNDS):
        cid = f"conc-{round_}"
        values = [f"pw-{round_}-{w}-{uuid.uuid4().hex[:6]}" for w in range(WRITERS)]
        answers = race([lambda v=v, c=cid: put_customer(customers, secrets, c, password(v)) for v in values])
        assert all(isinstance(a, (tuple, Conflict)) for a in answers), answers
        succeeded = {values[i] for i, a in enumerate(answers) if isinstance(a, tuple)}
        assert succeeded, "at least the first writer wins"
        record = customers.get(cid)
        stored = secrets.get(cid, P, record.secret_versions[P])
        assert stored in succeeded, f"round {round_}: the record names a password no successful request wrote"
        # The last successful writer is the one whose answer carries the record's ETag.
        (last,) = [values[i] for i, a in enumerate(answers) if isinstance(a, tuple) and a[0].etag == record.etag]
        assert stored == last
        sweep_now(stores, secrets)
        assert readable(secrets, cid, P) == {record.secret_versions[P]}, f"round {round_}: orphans after the sweep"


def test_delete_racing_a_put_never_leaves_a_record_without_its_secret_or_a_secret_without_its_record(stores, secrets):
    customers, history, _ = stores
    outcomes = set()
    for round_ in range(ROUNDS):
        cid = f"race-{round_}"
        put_customer(customers, secrets, cid, password("before"))
        new = f"after-{round_}-{uuid.uuid4().hex[:6]}"
        def delete(c: str = cid, late: float = random.uniform(0, 0.03)) -> object:
            time.sleep(late)  # up to 30 ms after the PUT, at random: which one gets in first varies by round
            return delete_customer(customers, history, secrets, c)

        deleted, written = race([delete, lambda c=cid, v=new: put_customer(customers, secrets, c, password(v))])
        assert deleted is None or isinstance(deleted, (Conflict, NotFound)), deleted
        assert isinstance(written, (tuple, Conflict)), written
        outcomes.add((type(deleted).__name__, type(written).__name__))
        record = customers.get(cid)
        if record is None:
            assert deleted is None, f"round {round_}: the record is gone but DELETE did not answer 204"
        else:
            assert isinstance(written, tuple), f"round {round_}: a record survived, but not from the PUT"
            assert secrets.get(cid, P, record.secret_versions[P]) == new
        sweep_now(stores, secrets)
        assert readable(secrets, cid, P) == ({record.secret_versions[P]} if record else set()), f"round {round_}"
    assert len(outcomes) >= 2, f"the race never went more than one way: {outcomes}"


def test_concurrent_settings_changes_leave_the_winners_client_secret(stores, secrets):
    _, _, settings = stores
    for round_ in range(ROUNDS):
        values = [f"cs-{round_}-{w}-{uuid.uuid4().hex[:6]}" for w in range(WRITERS)]
        answers = race([lambda v=v: put_settings(settings, secrets, ProviderSettingsInput(
            client_id=GUID, redirect_url="https://tas.example.com/authenticate/OAuth2Callback", client_secret=v))
            for v in values])
        assert all(not isinstance(a, Exception) or isinstance(a, Conflict) for a in answers), answers
        record = settings.get()
        (last,) = [values[i] for i, a in enumerate(answers) if not isinstance(a, Exception) and a.etag == record.etag]
        assert secrets.get(None, ProviderSecret.CLIENT_SECRET, record.client_secret_version) == last
        sweep_now(stores, secrets)
        assert readable(secrets, None, ProviderSecret.CLIENT_SECRET) == {record.client_secret_version}


@pytest.fixture
def verifier(stores, secrets) -> Iterator[VerifyContext]:
    """Verification over these stores and secrets, with a scripted identity platform."""
    customers, history, settings = stores
    with fake_services(customers=customers, history=history, provider_settings=settings, secrets=secrets) as services:
        services.verification.platform.script(GUID, TokenAnswer(claims={"tid": GUID, "roles": ["User.Read.All"]}))
        yield services.verification


def application(secret: str) -> CustomerInput:
    return CustomerInput(tenant_id=GUID, authentication_method=AuthMethod.APPLICATION, m365_email=None,
                         application_id=APP, application_secret=secret)


def test_a_record_that_storage_moved_back_to_a_retired_version_reads_the_newest_and_moves_to_it(stores, secrets,
                                                                                                verifier):
    customers, _, _ = stores
    first, _ = put_customer(customers, secrets, "lost", application("first"))
    # A later PUT wrote its version and its record, but storage lost the record's write after confirming it;
    # the sweep had retired the version that write replaced before the loss.
    newer = secrets.create_version("lost", A, "second")
    secrets.retire_version("lost", A, first.secret_versions[A])
    assert secrets.get("lost", A, first.secret_versions[A]) is None
    ctx, platform = verifier, verifier.platform
    customer = verify_customer(ctx, "lost", in_run=True)
    assert platform.sent == ["second"] and customer.last_verification_status is Status.SUCCEEDED
    assert customers.get("lost").secret_versions[A] == newer
    sweep_now(stores, secrets)  # what the record moved to is named now, so it stays
    assert readable(secrets, "lost", A) == {newer}


def test_a_record_whose_secret_the_store_lost_altogether_stops_naming_it(stores, secrets, verifier):
    customers, _, _ = stores
    first, _ = put_customer(customers, secrets, "gone", application("first"))
    secrets.retire_version("gone", A, first.secret_versions[A])
    ctx, platform = verifier, verifier.platform
    customer = verify_customer(ctx, "gone", in_run=True)
    assert platform.sent == [] and customer.last_verification_reason is Reason.NOT_CONFIGURED
    assert customers.get("gone").secret_versions == {}
