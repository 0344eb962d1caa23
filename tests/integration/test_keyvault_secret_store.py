"""KeyVaultSecretStore with the real SecretClient against the Key Vault simulator over real HTTPS."""
from __future__ import annotations

import logging
import traceback
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor

import pytest
from azure.identity import CredentialUnavailableError
from azure.keyvault.secrets._shared import http_challenge_cache

from shared.adapters.keyvault import KeyVaultSecretStore
from shared.adapters.secret_store_names import store_name
from shared.domain.errors import DependencyUnavailable
from shared.domain.secrets import SecretKind
from tests.support.credentials import FixedTokenCredential
from tests.support.keyvault_sim import DEFAULT_TENANT, KeyVaultSimulator
from tests.support.tls import TestCA

SECRET = "Pa55-w0rd!{not-in-any-url}"
PASSWORD = SecretKind.PASSWORD
VAULT_SCOPE = "https://vault.azure.net/.default"
NO_VERSION = "0" * 32  # a version id no secret has


@pytest.fixture(scope="module")
def ca(tmp_path_factory: pytest.TempPathFactory) -> TestCA:
    return TestCA(tmp_path_factory.mktemp("keyvault-ca"))


def _vault(ca: TestCA, **options: int) -> Iterator[KeyVaultSimulator]:
    with KeyVaultSimulator(ca, **options) as sim:
        # SecretClient caches challenges per host:port per process; a reused port must still be challenged.
        http_challenge_cache.remove_challenge_for_url(sim.url)
        yield sim


@pytest.fixture
def vault(ca: TestCA) -> Iterator[KeyVaultSimulator]:
    yield from _vault(ca)


@pytest.fixture
def slow_vault(ca: TestCA) -> Iterator[KeyVaultSimulator]:
    """Deletion and recovery each take a few polls before they complete, as in the service."""
    yield from _vault(ca, deletion_polls=3, recovery_polls=3)


def make_store(
    vault: KeyVaultSimulator, ca: TestCA, credential: FixedTokenCredential | None = None, **options: object
) -> KeyVaultSecretStore:
    settings: dict[object, object] = {
        "connection_verify": str(ca.bundle_path),
        "verify_challenge_resource": False,  # the simulator is not on *.vault.azure.net
        "retry_total": 0,  # error tests need one answer, not the SDK's back-off
        "poll_interval": 0.01,
        "max_wait": 10.0,
    }
    settings.update(options)
    return KeyVaultSecretStore(vault.url, credential=credential or FixedTokenCredential(), **settings)


def test_challenge_is_answered_then_the_authorized_request_succeeds(
    vault: KeyVaultSimulator, ca: TestCA
) -> None:
    credential = FixedTokenCredential()
    with make_store(vault, ca, credential) as store:
        version = store.create_version("Contoso", PASSWORD, SECRET)
        assert store.get("Contoso", PASSWORD, version) == SECRET
    first, second, third = vault.requests
    name = store_name("Contoso", PASSWORD)
    assert (first.method, first.path) == (second.method, second.path) == ("PUT", f"/secrets/{name}")
    assert (first.authorized, first.status) == (False, 401)
    assert (second.authorized, second.status) == (True, 200)
    assert (third.method, third.authorized, third.status) == ("GET", True, 200)
    # The token was asked for the scope and tenant named in the challenge, once.
    assert credential.calls == [((VAULT_SCOPE,), DEFAULT_TENANT)]


def test_get_of_a_missing_secret_is_none(vault: KeyVaultSimulator, ca: TestCA) -> None:
    with make_store(vault, ca) as store:
        assert store.get("Contoso", PASSWORD, NO_VERSION) is None
    assert vault.requests[-1].status == 404


def test_set_writes_a_tagged_text_secret_and_overwrite_adds_a_version(
    vault: KeyVaultSimulator, ca: TestCA
) -> None:
    with make_store(vault, ca) as store:
        store.create_version("Contoso", PASSWORD, "first")
        version = store.create_version("Contoso", PASSWORD, SECRET)
        assert store.get("Contoso", PASSWORD, version) == SECRET
    stored = vault.secret(store_name("Contoso", PASSWORD))
    assert stored is not None
    assert [v["value"] for v in stored.versions] == ["first", SECRET]
    assert stored.latest["contentType"] == "text/plain"
    assert stored.latest["tags"] == {"customerId": "Contoso", "kind": "password"}


def test_each_put_returns_its_version_which_reads_back_until_retired(vault: KeyVaultSimulator, ca: TestCA) -> None:
    with make_store(vault, ca) as store:
        first = store.create_version("Contoso", PASSWORD, "first")
        second = store.create_version("Contoso", PASSWORD, SECRET)
        assert first != second
        assert store.get("Contoso", PASSWORD, first) == "first"
        assert store.get("Contoso", PASSWORD, second) == SECRET
        store.retire_version("Contoso", PASSWORD, first)
        store.retire_version("Contoso", PASSWORD, first)  # idempotent
        assert store.get("Contoso", PASSWORD, first) is None  # Key Vault answers 403 for a disabled version
        assert store.get("Contoso", PASSWORD, second) == SECRET
        store.retire_version("Contoso", PASSWORD, "f" * 32)  # a version that never existed
        found = {(s.customer_id, s.kind): [v.version for v in s.versions] for s in store.list_secrets()}
    assert found == {("Contoso", "password"): [second]}  # retired versions are not listed
    stored = vault.secret(store_name("Contoso", PASSWORD))
    assert [v.get("enabled", True) for v in stored.versions] == [False, True]
    assert ("GET", f"/secrets/{stored.name}/{first}", 403) in [(r.method, r.path, r.status) for r in vault.requests]


def test_case_variants_of_a_customer_stay_apart_in_a_case_insensitive_vault(
    vault: KeyVaultSimulator, ca: TestCA
) -> None:
    with make_store(vault, ca) as store:
        upper = store.create_version("Contoso", PASSWORD, "upper")
        lower = store.create_version("contoso", PASSWORD, "lower")
        token = store.create_version("contoso", SecretKind.REFRESH_TOKEN, "token")
        assert store.get("Contoso", PASSWORD, upper) == "upper"
        assert store.get("contoso", PASSWORD, lower) == "lower"
        assert store.get("contoso", SecretKind.REFRESH_TOKEN, token) == "token"
    assert len(vault.names()) == 3


def test_delete_then_delete_again(vault: KeyVaultSimulator, ca: TestCA) -> None:
    with make_store(vault, ca) as store:
        store.delete("Contoso", PASSWORD)  # never existed
        version = store.create_version("Contoso", PASSWORD, SECRET)
        store.delete("Contoso", PASSWORD)
        assert store.get("Contoso", PASSWORD, version) is None
        store.delete("Contoso", PASSWORD)  # already deleted
    stored = vault.secret(store_name("Contoso", PASSWORD))
    assert stored is not None and stored.state == "deleted"


def test_delete_waits_until_the_secret_is_recoverable(slow_vault: KeyVaultSimulator, ca: TestCA) -> None:
    name = store_name("Contoso", PASSWORD)
    with make_store(slow_vault, ca) as store:
        store.create_version("Contoso", PASSWORD, "old")
        store.delete("Contoso", PASSWORD)
    # The simulator completes a deletion only when polled: "deleted" proves delete() waited for it.
    stored = slow_vault.secret(name)
    assert stored is not None and stored.state == "deleted"
    polls = [r for r in slow_vault.requests if r.path == f"/deletedsecrets/{name}"]
    assert [r.status for r in polls] == [404, 404, 404, 200]


def test_recreate_after_delete_recovers_then_writes(slow_vault: KeyVaultSimulator, ca: TestCA) -> None:
    name = store_name("Contoso", PASSWORD)
    with make_store(slow_vault, ca) as store:
        store.create_version("Contoso", PASSWORD, "old")
        store.delete("Contoso", PASSWORD)
        version = store.create_version("Contoso", PASSWORD, SECRET)
        assert store.get("Contoso", PASSWORD, version) == SECRET
    seen = [(r.method, r.path, r.status) for r in slow_vault.requests]
    conflict = seen.index(("PUT", f"/secrets/{name}", 409))
    recover = seen.index(("POST", f"/deletedsecrets/{name}/recover", 200))
    final_put = max(i for i, s in enumerate(seen) if s == ("PUT", f"/secrets/{name}", 200))
    assert conflict < recover < final_put
    stored = slow_vault.secret(name)
    assert stored is not None and stored.state == "active"
    assert [v["value"] for v in stored.versions] == ["old", SECRET]


def test_a_deletion_that_never_completes_fails_set_within_its_bound(
    ca: TestCA, caplog: pytest.LogCaptureFixture
) -> None:
    for sim in _vault(ca, deletion_polls=10**9):
        with make_store(sim, ca, max_wait=0.3) as store:
            old = store.create_version("Contoso", PASSWORD, "old")
            with caplog.at_level(logging.WARNING, logger="shared.adapters.keyvault"):
                store.delete("Contoso", PASSWORD)  # accepted: the secret is gone from reads already
            assert "still in progress" in caplog.text
            assert store.get("Contoso", PASSWORD, old) is None
            with pytest.raises(DependencyUnavailable) as caught:
                store.create_version("Contoso", PASSWORD, SECRET)
        assert caught.value.code == "secretStoreUnavailable"
        assert "recovering" in caught.value.message
        assert SECRET not in "".join(traceback.format_exception(caught.value))


@pytest.mark.parametrize("failure", [{"status": 503}, {"status": 500}, {"status": 403}, {"drop": True}])
@pytest.mark.parametrize("operation", ["set", "get", "delete", "retire"])
def test_vault_failures_become_dependency_unavailable(
    vault: KeyVaultSimulator, ca: TestCA, failure: dict, operation: str
) -> None:
    with make_store(vault, ca) as store:
        store.create_version("Contoso", PASSWORD, "warm-up")  # past the challenge, so the failure hits the real call
        vault.fail(**failure)
        with pytest.raises(DependencyUnavailable) as caught:
            if operation == "set":
                store.create_version("Contoso", PASSWORD, SECRET)
            elif operation == "get":
                store.get("Contoso", PASSWORD, NO_VERSION)
            elif operation == "retire":
                store.retire_version("Contoso", PASSWORD, "0" * 32)
            else:
                store.delete("Contoso", PASSWORD)
    assert caught.value.code == "secretStoreUnavailable"
    assert "Contoso" in caught.value.message
    rendered = "".join(traceback.format_exception(caught.value))  # the whole chain, as a host would log it
    assert SECRET not in rendered and "warm-up" not in rendered
    assert vault.requests[-1].status == (None if "drop" in failure else failure["status"])


def test_a_token_the_vault_refuses_is_an_authentication_failure(vault: KeyVaultSimulator, ca: TestCA) -> None:
    with make_store(vault, ca, FixedTokenCredential("not-the-vault-token")) as store:
        with pytest.raises(DependencyUnavailable) as caught:
            store.create_version("Contoso", PASSWORD, SECRET)
    assert "authenticate" in caught.value.message
    assert SECRET not in "".join(traceback.format_exception(caught.value))
    assert [(r.authorized, r.status) for r in vault.requests] == [(False, 401), (False, 401)]


def test_a_credential_that_cannot_get_a_token_is_an_authentication_failure(
    vault: KeyVaultSimulator, ca: TestCA
) -> None:
    credential = FixedTokenCredential(error=CredentialUnavailableError("no managed identity endpoint"))
    with make_store(vault, ca, credential) as store:
        with pytest.raises(DependencyUnavailable) as caught:
            store.get("Contoso", PASSWORD, NO_VERSION)
    assert "authenticate" in caught.value.message
    assert credential.calls  # the challenge reached the credential
    assert all(not r.authorized for r in vault.requests)


def test_an_unreachable_vault_is_dependency_unavailable(ca: TestCA) -> None:
    for sim in _vault(ca):
        url = sim.url
    store = KeyVaultSecretStore(
        url, credential=FixedTokenCredential(), connection_verify=str(ca.bundle_path),
        verify_challenge_resource=False, retry_total=0,
    )
    with store, pytest.raises(DependencyUnavailable) as caught:
        store.get("Contoso", PASSWORD, NO_VERSION)
    assert "could not be reached" in caught.value.message


def test_certificates_are_checked(
    vault: KeyVaultSimulator, ca: TestCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the simulator's CA in the trust store the TLS handshake must fail: nothing turns checks off.
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with make_store(vault, ca, connection_verify=None) as store:
        with pytest.raises(DependencyUnavailable):
            store.get("Contoso", PASSWORD, NO_VERSION)
    assert vault.requests == []  # no request got through the handshake


def test_a_pooled_store_checks_certificates_and_takes_its_ca_bundle_from_the_environment(
    vault: KeyVaultSimulator, ca: TestCA, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REQUESTS_CA_BUNDLE", raising=False)
    monkeypatch.delenv("CURL_CA_BUNDLE", raising=False)
    with make_store(vault, ca, connection_verify=None, pool_size=4) as store:
        with pytest.raises(DependencyUnavailable):
            store.get("Contoso", PASSWORD, NO_VERSION)
    assert vault.requests == []
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(ca.bundle_path))  # read when the store is made
    with make_store(vault, ca, connection_verify=None, pool_size=4) as store:
        version = store.create_version("Contoso", PASSWORD, SECRET)
        assert store.get("Contoso", PASSWORD, version) == SECRET


def test_a_pooled_store_serves_more_readers_at_once_than_the_sdks_pool(vault: KeyVaultSimulator, ca: TestCA) -> None:
    with make_store(vault, ca, pool_size=24) as store:
        versions = {f"c{n:02d}": store.create_version(f"c{n:02d}", PASSWORD, f"value-{n}") for n in range(24)}
        with ThreadPoolExecutor(24) as pool:
            got = dict(pool.map(lambda item: (item[0], store.get(item[0], PASSWORD, item[1])), versions.items()))
    assert got == {cid: f"value-{int(cid[1:])}" for cid in versions}


def test_secret_values_never_reach_urls_headers_logs_or_reprs(
    slow_vault: KeyVaultSimulator, ca: TestCA, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # every logger, every level
    with make_store(slow_vault, ca) as store:
        store.create_version("Contoso", PASSWORD, "old-" + SECRET)
        store.delete("Contoso", PASSWORD)
        version = store.create_version("Contoso", PASSWORD, SECRET)
        assert store.get("Contoso", PASSWORD, version) == SECRET
        slow_vault.fail(status=503)
        with pytest.raises(DependencyUnavailable):
            store.create_version("Contoso", PASSWORD, SECRET)
        assert SECRET not in repr(store)
    assert len(slow_vault.requests) > 10
    for request in slow_vault.requests:
        assert SECRET not in request.head  # request line (path and query) and every header
        assert "Contoso" not in request.target  # names carry the encoded id, not the raw one
    assert caplog.records  # the SDK and the store did log: the check below is not vacuous
    assert all(SECRET not in record.getMessage() for record in caplog.records)
