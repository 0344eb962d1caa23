"""The development secret store: versioned, a 0600 JSON file, written atomically, safe for concurrent requests."""
from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest

from shared.adapters.local_secrets import LocalFileSecretStore
from shared.adapters.secret_store_names import store_name
from shared.domain.errors import DependencyUnavailable
from shared.domain.secrets import SecretKind

P = SecretKind.PASSWORD


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "dir" / "dev-secrets.json"


def test_each_put_is_a_new_version_and_every_version_stays_readable(path: Path) -> None:
    store = LocalFileSecretStore(path)
    assert store.get("Contoso", P, "nope") is None
    first = store.create_version("Contoso", P, "first")
    second = store.create_version("Contoso", P, "second")
    assert first != second
    assert (store.get("Contoso", P, first), store.get("Contoso", P, second)) == ("first", "second")
    # A new instance (a restarted host) reads what the first wrote.
    assert LocalFileSecretStore(path).get("Contoso", P, first) == "first"


def test_retire_removes_one_version_and_the_name_with_its_last(path: Path) -> None:
    store = LocalFileSecretStore(path)
    first, second = store.create_version("Contoso", P, "first"), store.create_version("Contoso", P, "second")
    store.retire_version("Contoso", P, first)
    store.retire_version("Contoso", P, first)  # idempotent
    assert store.get("Contoso", P, first) is None and store.get("Contoso", P, second) == "second"
    store.retire_version("Contoso", P, second)
    assert json.loads(path.read_text()) == {}
    assert "first" not in path.read_text() and "second" not in path.read_text()


def test_file_is_private_and_keyed_by_vault_names(path: Path) -> None:
    version = LocalFileSecretStore(path).create_version("Contoso", SecretKind.REFRESH_TOKEN, "rt-value")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    stored = json.loads(path.read_text())
    assert list(stored) == [store_name("Contoso", SecretKind.REFRESH_TOKEN)]
    assert stored[store_name("Contoso", SecretKind.REFRESH_TOKEN)][version]["value"] == "rt-value"
    # Only the file itself remains: the temporary file was renamed into place, not left behind.
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_a_file_in_the_stored_format_is_read(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"tenant-inxw45dponxq-password": {
        "v-1": {"value": "old", "created": "2026-11-26T02:00:00+00:00"},
        "v-2": {"value": "new", "created": "2026-11-27T02:00:00+00:00"},
    }}))
    store = LocalFileSecretStore(path)
    assert (store.get("Contoso", P, "v-1"), store.get("Contoso", P, "v-2")) == ("old", "new")
    assert sorted(v.version for v in store.list_versions("Contoso", P)) == ["v-1", "v-2"]


def test_existing_wider_file_is_narrowed_on_write(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    path.chmod(0o644)
    LocalFileSecretStore(path).create_version("Contoso", P, "p")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_delete_is_idempotent_and_removes_every_version(path: Path) -> None:
    store = LocalFileSecretStore(path)
    store.delete("Contoso", P)  # no file yet
    assert not path.exists()
    first, second = store.create_version("Contoso", P, "p1"), store.create_version("Contoso", P, "p2")
    kept = store.create_version("Contoso", SecretKind.APPLICATION_SECRET, "s")
    store.delete("Contoso", P)
    store.delete("Contoso", P)  # already gone
    assert store.get("Contoso", P, first) is None and store.get("Contoso", P, second) is None
    assert store.get("Contoso", SecretKind.APPLICATION_SECRET, kept) == "s"


def test_secrets_are_isolated_by_customer_and_kind(path: Path) -> None:
    store = LocalFileSecretStore(path)
    versions = {cid: store.create_version(cid, P, value) for cid, value in
                (("Contoso", "upper"), ("contoso", "lower"), ("a.b", "dot"), ("a_b", "underscore"))}
    assert {cid: store.get(cid, P, v) for cid, v in versions.items()} == {
        "Contoso": "upper", "contoso": "lower", "a.b": "dot", "a_b": "underscore"}
    assert store.get("Contoso", SecretKind.REFRESH_TOKEN, versions["Contoso"]) is None
    store.delete("contoso", P)
    assert store.get("Contoso", P, versions["Contoso"]) == "upper"


def test_inventory_lists_owners_kinds_and_versions(path: Path) -> None:
    store = LocalFileSecretStore(path)
    first, second = store.create_version("Contoso", P, "a"), store.create_version("Contoso", P, "b")
    provider = store.create_version(None, "clientSecret", "c")
    found = {(s.customer_id, s.kind): {v.version for v in s.versions} for s in store.list_secrets()}
    assert found == {("Contoso", "password"): {first, second}, (None, "clientSecret"): {provider}}


def test_concurrent_writers_lose_nothing(path: Path) -> None:
    store = LocalFileSecretStore(path)
    start = threading.Barrier(8)
    written: dict[str, str] = {}

    def writer(worker: int) -> None:
        start.wait(timeout=30)
        for i in range(25):
            written[f"c{worker}-{i}"] = store.create_version(f"c{worker}-{i}", P, f"v{worker}-{i}")

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert len(json.loads(path.read_text())) == 8 * 25
    for cid, version in written.items():
        assert store.get(cid, P, version) == "v" + cid[1:]


def test_corrupt_file_is_reported_without_its_contents(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text('{"tenant-x-password": "s3cret-value')
    with pytest.raises(DependencyUnavailable) as caught:
        LocalFileSecretStore(path).get("Contoso", P, "v-1")
    assert caught.value.code == "secretStoreUnavailable"
    assert "s3cret" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_a_store_that_can_be_read_but_not_written_is_unavailable_not_a_crash(path: Path, monkeypatch) -> None:
    store = LocalFileSecretStore(path)
    version = store.create_version("Contoso", P, "p")

    def refuse(*args, **kwargs):  # what a read-only file system (or a full disk) answers, even to root
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("tempfile.mkstemp", refuse)
    with pytest.raises(DependencyUnavailable) as caught:
        store.create_version("Contoso", P, "q")
    assert caught.value.code == "secretStoreUnavailable" and "Permission denied" in caught.value.message
    assert store.get("Contoso", P, version) == "p"
