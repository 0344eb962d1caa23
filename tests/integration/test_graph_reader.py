"""The Graph reader (shared/adapters/graph_reader.py) against the identity simulator's Microsoft Graph over real
HTTPS: credentials and relationships read, every page followed, each refusal an unknown with its reason, 429 and
5xx retried by the design's policy (sleeps recorded, not slept), and the token never leaves for another host."""
from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.graph_reader import HttpGraphReader
from shared.adapters.retries import RetryPolicy
from shared.domain.expiry import UnknownReason
from shared.domain.expiry_credentials import AppCredentials
from shared.domain.expiry_gdap import GLOBAL_ADMINISTRATOR_ROLE
from shared.domain.expiry_reads import ReadUnknown
from tools.identity_sim import (
    AppRegistration,
    CertificateCredential,
    ClientSecret,
    DelegatedAdminRelationship,
    GraphError,
    Hang,
    IdentitySimulator,
    Reset,
    ServerError,
    Success,
    Tenant,
    Throttle,
)

pytestmark = pytest.mark.integration

PARTNER = Tenant(id="10000000-0000-4000-8000-0000000000a1", domains=("partner.onmicrosoft.com",))
CONTOSO = Tenant(id="20000000-0000-4000-8000-0000000000a2", domains=("contoso.onmicrosoft.com",))
PROVIDER_APP, CUSTOMER_APP = "aaaaaaaa-0000-4000-8000-0000000000aa", "bbbbbbbb-0000-4000-8000-0000000000bb"
PROVIDER_SECRET, CUSTOMER_SECRET = "Prov-reader-secret", "Cust-reader-secret"
ENDS = (datetime.now(UTC) + timedelta(days=40)).replace(microsecond=314826)
POLICY = RetryPolicy(attempts=4, retry_after_cap=2.0, backoff=0.05, request_timeout=2.0)


@pytest.fixture(scope="module")
def sim(tmp_path_factory) -> Iterator[IdentitySimulator]:
    with IdentitySimulator(ca_dir=tmp_path_factory.mktemp("graph-reader")) as simulator:
        simulator.add_tenant(PARTNER)
        simulator.add_tenant(CONTOSO)
        yield simulator


@pytest.fixture
def world(sim, monkeypatch):
    sim.clear_script()
    sim.clear_recording()
    sim.set_graph_page_size(100)
    sim.clear_relationships()
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(sim.ca_bundle_path))
    sim.add_app(AppRegistration(
        client_id=CUSTOMER_APP, home_tenant=CONTOSO.id, roles={"*": ("Application.Read.All",)},
        secrets=(ClientSecret(CUSTOMER_SECRET, expires_at=ENDS, key_id="c0000000-0000-4000-8000-0000000000cc",
                              display_name="tas"),),
        certificates=(CertificateCredential(expires_at=ENDS + timedelta(days=30),
                                            key_id="d0000000-0000-4000-8000-0000000000dd"),)))
    sim.add_app(AppRegistration(client_id=PROVIDER_APP, home_tenant=PARTNER.id,
                                secrets=(ClientSecret(PROVIDER_SECRET),),
                                roles={"*": ("DelegatedAdminRelationship.Read.All",)}))
    sleeps: list[float] = []
    reader = HttpGraphReader(sim.graph_endpoint, pool_size=4, policy=POLICY, sleep=sleeps.append)
    return reader, sleeps


def token(sim: IdentitySimulator, tenant: Tenant, client_id: str, secret: str) -> str:
    answer = sim.session(timeout=10).post(f"{sim.authority_host}/{tenant.id}/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": secret,
        "scope": "https://graph.microsoft.com/.default"})
    assert answer.status_code == 200, answer.text
    return answer.json()["access_token"]


def customer_token(sim: IdentitySimulator) -> str:
    return token(sim, CONTOSO, CUSTOMER_APP, CUSTOMER_SECRET)


def partner_token(sim: IdentitySimulator) -> str:
    return token(sim, PARTNER, PROVIDER_APP, PROVIDER_SECRET)


def deadline(seconds: float = 10.0) -> float:
    return time.monotonic() + seconds


def read_credentials(reader: HttpGraphReader, access_token: str, app_id: str = CUSTOMER_APP):
    return reader.application_credentials(access_token=access_token, application_id=app_id, deadline=deadline())


def graph_requests(sim: IdentitySimulator) -> list:
    return [request for request in sim.requests if request.endpoint == "graph"]


def test_an_applications_credentials_are_read(sim, world):
    reader, sleeps = world

    read = read_credentials(reader, customer_token(sim))

    assert isinstance(read, AppCredentials)
    (secret,) = read.passwords
    assert secret.hint == "Cus" and secret.key_id == "c0000000-0000-4000-8000-0000000000cc"
    assert secret.ends_at == ENDS and secret.display_name == "tas"  # Graph's seven fraction digits read
    (certificate,) = read.certificates
    assert certificate.ends_at == ENDS + timedelta(days=30)
    assert sleeps == [] and len(graph_requests(sim)) == 1


def test_every_page_of_relationships_is_read(sim, world):
    reader, _ = world
    made = [DelegatedAdminRelationship(customer_tenant_id=f"40000000-0000-4000-8000-{n:012d}",
                                       ends_at=ENDS + timedelta(days=n), auto_extend="P180D" if n % 2 else "PT0S",
                                       roles=(GLOBAL_ADMINISTRATOR_ROLE,) if n == 3 else ())
            for n in range(7)]
    for relationship in made:
        sim.add_relationship(PARTNER.id, relationship)
    paged = HttpGraphReader(sim.graph_endpoint, pool_size=2, policy=POLICY, page_size=3)

    read = paged.delegated_admin_relationships(access_token=partner_token(sim), deadline=deadline())

    assert not isinstance(read, ReadUnknown)
    assert [item.id for item in read] == [relationship.id for relationship in made]
    assert [item.customer_tenant_id for item in read] == [relationship.customer_tenant_id for relationship in made]
    assert read[1].auto_extend_duration == "P180D" and read[0].auto_extend_duration == "PT0S"
    assert read[3].role_ids == (GLOBAL_ADMINISTRATOR_ROLE,) and read[2].ends_at == ENDS + timedelta(days=2)
    assert len(graph_requests(sim)) == 3


def test_relationships_are_asked_for_300_a_page(sim, world):
    reader, _ = world
    for n in range(301):
        sim.add_relationship(PARTNER.id, DelegatedAdminRelationship(customer_tenant_id=CONTOSO.id, ends_at=ENDS,
                                                                    id=f"rel-{n}"))

    read = reader.delegated_admin_relationships(access_token=partner_token(sim), deadline=deadline())

    assert len(read) == 301 and len(graph_requests(sim)) == 2  # the simulator's own page size is 100


def test_no_relationships_is_an_empty_listing_not_unknown(sim, world):
    reader, _ = world

    assert reader.delegated_admin_relationships(access_token=partner_token(sim), deadline=deadline()) == ()


def test_a_missing_permission_is_unknown_for_that_reason(sim, world):
    reader, sleeps = world
    sim.set_roles(CUSTOMER_APP, CONTOSO.id, ["User.Read.All"])
    access_token = customer_token(sim)

    read = read_credentials(reader, access_token)

    assert read == ReadUnknown(UnknownReason.PERMISSION_MISSING, "The app lacks the Microsoft Graph permission to "
                                                                 "read this (HTTP 403): Authorization_RequestDenied.")
    assert sleeps == [] and len(graph_requests(sim)) == 1  # a refusal is not retried


def test_an_application_not_in_the_tenant_is_unknown_not_found(sim, world):
    reader, _ = world

    read = read_credentials(reader, customer_token(sim), app_id="eeeeeeee-0000-4000-8000-0000000000ee")

    assert isinstance(read, ReadUnknown) and read.reason is UnknownReason.NOT_FOUND
    assert "Request_ResourceNotFound" in read.message


def test_a_token_graph_does_not_take_is_unknown_token_rejected(sim, world):
    reader, _ = world

    read = read_credentials(reader, "not-a-token")

    assert isinstance(read, ReadUnknown) and read.reason is UnknownReason.TOKEN_REJECTED


def test_429_waits_for_its_retry_after_then_reads(sim, world):
    reader, sleeps = world
    sim.script(CONTOSO.id, Throttle(retry_after=1), endpoint="graph", times=2)

    read = read_credentials(reader, customer_token(sim))

    assert isinstance(read, AppCredentials)
    assert sleeps == [1.0, 1.0]
    assert [request.status for request in graph_requests(sim)] == [429, 429, 200]


def test_a_retry_after_above_the_cap_waits_the_cap(sim, world):
    reader, sleeps = world
    sim.script(CONTOSO.id, Throttle(retry_after=120), endpoint="graph", times=1)

    assert isinstance(read_credentials(reader, customer_token(sim)), AppCredentials)
    assert sleeps == [POLICY.retry_after_cap]


def test_throttled_on_every_attempt_is_unknown_throttled(sim, world):
    reader, sleeps = world
    sim.script(CONTOSO.id, Throttle(retry_after=1), endpoint="graph")

    read = read_credentials(reader, customer_token(sim))

    assert isinstance(read, ReadUnknown) and read.reason is UnknownReason.THROTTLED
    assert len(graph_requests(sim)) == POLICY.attempts and len(sleeps) == POLICY.attempts - 1


def test_5xx_on_every_attempt_is_unknown_unreachable(sim, world):
    reader, sleeps = world
    sim.script(CONTOSO.id, ServerError(500), endpoint="graph")

    read = read_credentials(reader, customer_token(sim))

    assert read == ReadUnknown(UnknownReason.UNREACHABLE, "Microsoft Graph answered HTTP 500.")
    assert [request.status for request in graph_requests(sim)] == [500] * POLICY.attempts
    assert len(sleeps) == POLICY.attempts - 1 and all(0 <= delay <= 0.4 for delay in sleeps)  # jittered back-off


def test_5xx_and_a_reset_then_success_reads(sim, world):
    reader, _ = world
    sim.script(CONTOSO.id, ServerError(503), endpoint="graph", times=1)
    sim.script(CONTOSO.id, Reset(), endpoint="graph", times=1)

    assert isinstance(read_credentials(reader, customer_token(sim)), AppCredentials)
    assert [request.status for request in graph_requests(sim)] == [503, None, 200]


def test_a_page_that_fails_makes_the_whole_listing_unknown(sim, world):
    reader, _ = world
    for _ in range(4):
        sim.add_relationship(PARTNER.id, DelegatedAdminRelationship(customer_tenant_id=CONTOSO.id, ends_at=ENDS))
    paged = HttpGraphReader(sim.graph_endpoint, pool_size=2, policy=POLICY, page_size=2)
    access_token = partner_token(sim)
    sim.script(PARTNER.id, Success(), endpoint="graph", times=1)  # the first page as it is
    sim.script(PARTNER.id, GraphError(403), endpoint="graph", times=1)  # the second: permission gone

    read = paged.delegated_admin_relationships(access_token=access_token, deadline=deadline())

    assert isinstance(read, ReadUnknown) and read.reason is UnknownReason.PERMISSION_MISSING
    assert [request.status for request in graph_requests(sim)] == [200, 403]


def test_a_graph_that_does_not_answer_in_time_is_unreachable(sim, world):
    reader, _ = world
    sim.script(CONTOSO.id, Hang(seconds=3), endpoint="graph", times=POLICY.attempts)
    quick = HttpGraphReader(sim.graph_endpoint, pool_size=2, sleep=lambda _: None,
                            policy=RetryPolicy(attempts=2, backoff=0.01, request_timeout=0.3))

    read = quick.application_credentials(access_token=customer_token(sim), application_id=CUSTOMER_APP,
                                         deadline=deadline())

    assert read == ReadUnknown(UnknownReason.UNREACHABLE, "Microsoft Graph did not answer in time.")


def test_a_deadline_already_past_sends_nothing(sim, world):
    reader, _ = world
    access_token = customer_token(sim)

    read = reader.application_credentials(access_token=access_token, application_id=CUSTOMER_APP,
                                          deadline=time.monotonic() - 1)

    assert isinstance(read, ReadUnknown) and read.reason is UnknownReason.UNREACHABLE
    assert graph_requests(sim) == []


def test_a_next_link_to_another_host_is_not_followed(sim, world):
    reader, _ = world
    for _ in range(3):
        sim.add_relationship(PARTNER.id, DelegatedAdminRelationship(customer_tenant_id=CONTOSO.id, ends_at=ENDS))
    # The simulator writes its links for 127.0.0.1; a reader configured for localhost sees another host.
    elsewhere = HttpGraphReader(sim.graph_endpoint.replace("127.0.0.1", "localhost"), pool_size=2, policy=POLICY,
                                page_size=2)

    read = elsewhere.delegated_admin_relationships(access_token=partner_token(sim), deadline=deadline())

    assert isinstance(read, ReadUnknown) and read.reason is UnknownReason.UNEXPECTED_ANSWER
    assert len(graph_requests(sim)) == 1


def test_no_token_reaches_a_log_line_or_a_message(sim, world, caplog):
    reader, _ = world
    caplog.set_level(logging.DEBUG)
    access_token = customer_token(sim)
    sim.script(CONTOSO.id, ServerError(500), endpoint="graph")

    read = read_credentials(reader, access_token)

    assert isinstance(read, ReadUnknown)
    signature = access_token.rsplit(".", 1)[1]
    assert signature not in caplog.text and signature not in read.message
    assert CUSTOMER_SECRET not in caplog.text


def test_a_graph_whose_certificate_the_bundle_does_not_trust_is_not_read(sim, world, monkeypatch):
    access_token = customer_token(sim)
    monkeypatch.delenv("REQUESTS_CA_BUNDLE")  # requests' own bundle, which does not hold the simulator's CA
    untrusting = HttpGraphReader(sim.graph_endpoint, pool_size=2, policy=POLICY, sleep=lambda _: None)

    read = read_credentials(untrusting, access_token)

    assert read == ReadUnknown(UnknownReason.UNREACHABLE, "Microsoft Graph could not be reached.")
    assert graph_requests(sim) == []  # no request, and so no token, went out
