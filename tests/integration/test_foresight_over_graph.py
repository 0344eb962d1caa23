"""Foresight through the real MSAL platform and Graph reader against the identity simulator over HTTPS: the access
token verification claimed reads the app's own secret (matched by its hint among several), and Graph's 403, 429
and 500 each leave the expiry unknown with its reason, never "no expiry"."""
from __future__ import annotations

import dataclasses
import time
from contextlib import closing
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.graph_reader import HttpGraphReader
from shared.adapters.msal_platform import MsalIdentityPlatform
from shared.adapters.retries import RetryPolicy
from shared.domain.inputs import CustomerInput
from shared.domain.models import AuthMethod, Status
from shared.expiry_views import foresight_fields
from shared.usecases.customers import put_customer
from shared.usecases.verify import verify_customer
from tests.support.fakes import fake_services
from tools.identity_sim import (
    AppRegistration,
    ClientSecret,
    GraphError,
    IdentitySimulator,
    ServerError,
    Tenant,
    Throttle,
)

pytestmark = pytest.mark.integration

APP = "cccccccc-0000-4000-8000-0000000000cc"
SECRET = "Fs1-foresight-secret"
POLICY = RetryPolicy(attempts=3, retry_after_cap=0.2, backoff=0.01, request_timeout=3.0)


@pytest.fixture(scope="module")
def sim(tmp_path_factory):
    with IdentitySimulator(ca_dir=tmp_path_factory.mktemp("foresight-graph")) as simulator:
        yield simulator


@pytest.fixture
def world(sim, monkeypatch):
    sim.clear_script()
    sim.clear_recording()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sim.ca_bundle_path))
    tenant = Tenant.named(f"fore{time.monotonic_ns()}")
    sim.add_tenant(tenant)
    ends = (datetime.now(UTC) + timedelta(days=5)).replace(microsecond=0)
    sim.add_app(AppRegistration(
        client_id=APP, home_tenant=tenant.id, roles={"*": ("User.Read.All", "Application.Read.All")},
        secrets=(ClientSecret("Zz9-another-secret", expires_at=ends - timedelta(days=2)),
                 ClientSecret(SECRET, expires_at=ends))))
    platform = MsalIdentityPlatform(sim.authority_host, delegated_scopes=("https://graph.microsoft.com/.default",),
                                    application_scope="https://graph.microsoft.com/.default", pool_size=4,
                                    policy=POLICY)
    reader = HttpGraphReader(sim.graph_endpoint, pool_size=4, policy=POLICY, sleep=lambda _seconds: None)
    with closing(platform), closing(reader), fake_services(platform=platform, graph=reader) as services:
        put_customer(services.customers, services.secrets, "c1", CustomerInput(
            tenant_id=tenant.id, authentication_method=AuthMethod.APPLICATION, m365_email=None,
            application_id=APP, application_secret=SECRET))
        ctx = dataclasses.replace(services.verification, deadline_seconds=10.0)
        yield dataclasses.make_dataclass("World", ["sim", "ctx", "tenant", "ends"])(sim, ctx, tenant, ends)


def graph_requests(sim):
    return [request for request in sim.requests if request.endpoint == "graph"]


def test_the_apps_own_token_reads_its_secret_expiry(world):
    verified = verify_customer(world.ctx, "c1", in_run=True)
    assert verified.last_verification_status is Status.SUCCEEDED
    view = foresight_fields(verified)
    assert (view["expiry"]["what"], view["expiry"]["source"]) == ("clientSecret", "graph")
    assert view["expiresAt"] == world.ends.isoformat().replace("+00:00", "Z")
    assert len(graph_requests(world.sim)) == 1
    verify_customer(world.ctx, "c1", in_run=True)
    assert len(graph_requests(world.sim)) == 1  # one read a day, kept on the record


@pytest.mark.parametrize("outcome, reason", [
    (GraphError(403), "permissionMissing"),
    (Throttle(retry_after=0), "throttled"),
    (ServerError(500), "unreachable"),
])
def test_graph_refusals_leave_the_expiry_unknown_with_the_reason(world, outcome, reason):
    world.sim.script(world.tenant.id, outcome, endpoint="graph")
    verified = verify_customer(world.ctx, "c1", in_run=True)
    assert verified.last_verification_status is Status.SUCCEEDED  # the connection works; its expiry is unknown
    view = foresight_fields(verified)
    assert view["expiresAt"] is None and view["expiry"] is None
    assert [(item["what"], item["reason"]) for item in view["expiryUnknown"]] == [("clientSecret", reason)]
