"""A run under faults, over real Azurite and the real MSAL adapter against the identity platform simulator:
a third of the tenants answer 429 with Retry-After, 5xx or hang; a table write fails once for some tenants;
every message is delivered twice; a worker stops mid-chunk and its message comes back. Every tenant ends
with a status, the run's counts are exact, and no secret is lost."""
from __future__ import annotations

import dataclasses
import uuid
from contextlib import closing

import pytest

from shared.adapters.local_secrets import LocalFileSecretStore
from shared.adapters.msal_platform import MsalIdentityPlatform, RetryPolicy
from shared.adapters.table_customers import TableCustomerStore
from shared.adapters.table_runs import TableRunStore
from shared.domain.errors import DependencyUnavailable
from shared.domain.inputs import CustomerInput
from shared.domain.models import AuthMethod, Status
from shared.domain.reasons import Reason
from shared.domain.runs import Trigger
from shared.domain.secrets import SecretKind
from shared.domain.work import decode, encode
from shared.usecases.customers import put_customer
from shared.usecases.runs import handle_work, start_run
from tests.support.fakes import FAKE_CONFIG, fake_services
from tests.support.verification_fakes import InMemoryWorkQueue
from tools.identity_sim import AppRegistration, ClientSecret, Hang, IdentitySimulator, ServerError, Tenant, Throttle

pytestmark = pytest.mark.integration

APP = "cdcdcdcd-1212-4343-8565-878787878787"
SECRET = "Faults-App-Secret-4"
COUNT = 30


class FlakyCustomers(TableCustomerStore):
    """Fails the first result write of some customers, as a storage hiccup would (a batched write with one of
    them fails as a whole)."""

    def __init__(self, *args, flaky: set[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.flaky = set(flaky)

    def replace(self, previous, customer, *, events=(), result=None):
        self._hiccup([customer])
        return super().replace(previous, customer, events=events, result=result)

    def replace_many(self, changes, *, events=(), results=()):
        self._hiccup([customer for _, customer in changes])
        return super().replace_many(changes, events=events, results=results)

    def _hiccup(self, customers):
        hit = {c.customer_id for c in customers if c.customer_id in self.flaky and c.when_last_verified is not None}
        if hit:
            self.flaky -= hit
            raise DependencyUnavailable("storageUnavailable", "Table Storage cannot be reached right now.")


class StoppingRuns(TableRunStore):
    """The worker process dies after recording `after` customers of the chunk it is on (once), part-way
    through a group if that is where the count ends."""

    def __init__(self, *args, after: int, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.left = after

    def complete_many(self, run_id, outcomes):
        if self.left < 0:
            return super().complete_many(run_id, outcomes)
        if len(outcomes) <= self.left:
            self.left -= len(outcomes)
            return super().complete_many(run_id, outcomes)
        first = dict(list(outcomes.items())[:self.left])
        self.left = -1
        if first:
            super().complete_many(run_id, first)
        raise SystemExit("worker stopped")  # not an Exception: nothing in the chunk catches it


@pytest.fixture
def world(azurite, tmp_path, monkeypatch):
    with IdentitySimulator(ca_dir=tmp_path / "ca") as sim:
        monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sim.ca_bundle_path))
        sim.add_app(AppRegistration(client_id=APP, secrets=(ClientSecret(SECRET),), roles={"*": ("User.Read.All",)}))
        yield sim


def test_a_run_under_faults_ends_with_every_customer_counted_once(world, tables, tmp_path):
    sim = world
    suffix = uuid.uuid4().hex[:10]
    secrets = LocalFileSecretStore(tmp_path / "secrets.json")
    ids = [f"f{n:02d}" for n in range(COUNT)]
    tenant_of = {cid: Tenant.named(f"faults{suffix}{cid}") for cid in ids}
    for tenant in tenant_of.values():
        sim.add_tenant(tenant)
    faults = {}  # a third of them: throttled once, 5xx twice, or hanging for good
    for n, cid in enumerate(ids[:COUNT // 3]):
        faults[cid] = (Throttle(retry_after=1), 1) if n % 3 == 0 else (ServerError(503), 2) if n % 3 == 1 \
            else (Hang(), None)
        sim.script(tenant_of[cid].id, faults[cid][0], times=faults[cid][1])
    flaky = set(ids[COUNT // 3: COUNT // 3 + 4])
    customers = FlakyCustomers(tables, table=f"Tenants{suffix}", flaky=flaky)
    for cid in ids:
        put_customer(customers, secrets, cid, CustomerInput(tenant_id=tenant_of[cid].id, m365_email=None,
                   authentication_method=AuthMethod.APPLICATION, application_id=APP, application_secret=SECRET))
    stored_before = {cid: customers.get(cid).secret_versions for cid in ids}
    platform = MsalIdentityPlatform(sim.authority_host, delegated_scopes=("https://graph.microsoft.com/.default",),
                                    application_scope="https://graph.microsoft.com/.default", pool_size=16,
                                    policy=RetryPolicy(attempts=4, retry_after_cap=2, backoff=0.05,
                                                       request_timeout=1.5))
    runs = StoppingRuns(tables, table=f"Runs{suffix}", after=3)
    queue = InMemoryWorkQueue()
    config = dataclasses.replace(FAKE_CONFIG, verify_concurrency=16)
    with closing(platform), fake_services(config=config, customers=customers, secrets=secrets, platform=platform,
                                          runs=runs,
                                          work=queue) as services:
        ctx = dataclasses.replace(services.verification, deadline_seconds=4.0)
        run, _ = start_run(runs, queue, trigger=Trigger.TIMER)

        deliveries = 0
        while queue.messages:
            message = encode(queue.messages.pop(0))
            for _ in range(2):  # every message is delivered twice
                deliveries += 1
                try:
                    handle_work(ctx, runs, queue, message)
                except (DependencyUnavailable, SystemExit):
                    queue.messages.append(decode(message))  # the host delivers a failed message again
        done = runs.get(run.run_id)
        assert (done.total, done.completed) == (COUNT, COUNT), done
        assert sum(done.by_status.values()) == COUNT and done.finished_at is not None
        assert runs.left == -1 and not customers.flaky, "the faults did not all happen"

        views = {cid: customers.get(cid) for cid in ids}
        assert all(v.last_verification_status is not Status.NOT_VERIFIED for v in views.values())
        for cid, (outcome, _) in faults.items():
            expected = Reason.UNREACHABLE if isinstance(outcome, Hang) else None
            assert views[cid].last_verification_reason is expected, (cid, outcome, views[cid])
        assert done.by_status[Status.FAILED] == sum(isinstance(o, Hang) for o, _ in faults.values())
        throttled = [r for r in sim.requests if r.status == 429]
        assert throttled and all(r.tenant_id for r in throttled)  # the 429s really came, and were retried past
        for cid in ids:  # no secret lost
            assert views[cid].secret_versions == stored_before[cid]
            version = views[cid].secret_versions[SecretKind.APPLICATION_SECRET]
            assert secrets.get(cid, SecretKind.APPLICATION_SECRET, version) == SECRET

