"""The development secret store: a 0600 JSON file, written atomically, safe for concurrent requests."""
from __future__ import annotations

import json
import stat
import threading
from pathlib import Path

import pytest

from shared.adapters.local_secrets import LocalFileSecretStore
from shared.adapters.secret_names import secret_name
from shared.domain.errors import DependencyUnavailable
from shared.domain.secrets import SecretName


@pytest.fixture
def path(tmp_path: Path) -> Path:
    return tmp_path / "nested" / "dir" / "dev-secrets.json"


def test_round_trip_and_overwrite(path: Path) -> None:
    store = LocalFileSecretStore(path)
    assert store.get("Contoso", SecretName.PASSWORD) is None
    store.set("Contoso", SecretName.PASSWORD, "first")
    assert store.get("Contoso", SecretName.PASSWORD) == "first"
    store.set("Contoso", SecretName.PASSWORD, "second")
    assert store.get("Contoso", SecretName.PASSWORD) == "second"
    # A new instance (a restarted host) reads what the first wrote.
    assert LocalFileSecretStore(path).get("Contoso", SecretName.PASSWORD) == "second"


def test_file_is_private_and_keyed_by_vault_names(path: Path) -> None:
    LocalFileSecretStore(path).set("Contoso", SecretName.REFRESH_TOKEN, "rt-value")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert json.loads(path.read_text()) == {secret_name("Contoso", SecretName.REFRESH_TOKEN): "rt-value"}
    # Only the file itself remains: the temporary file was renamed into place, not left behind.
    assert [p.name for p in path.parent.iterdir()] == [path.name]


def test_existing_wider_file_is_narrowed_on_write(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text("{}")
    path.chmod(0o644)
    LocalFileSecretStore(path).set("Contoso", SecretName.PASSWORD, "p")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_delete_is_idempotent(path: Path) -> None:
    store = LocalFileSecretStore(path)
    store.delete("Contoso", SecretName.PASSWORD)  # no file yet
    assert not path.exists()
    store.set("Contoso", SecretName.PASSWORD, "p")
    store.set("Contoso", SecretName.APPLICATION_SECRET, "s")
    store.delete("Contoso", SecretName.PASSWORD)
    store.delete("Contoso", SecretName.PASSWORD)  # already gone
    assert store.get("Contoso", SecretName.PASSWORD) is None
    assert store.get("Contoso", SecretName.APPLICATION_SECRET) == "s"


def test_secrets_are_isolated_by_customer_and_kind(path: Path) -> None:
    store = LocalFileSecretStore(path)
    store.set("Contoso", SecretName.PASSWORD, "upper")
    store.set("contoso", SecretName.PASSWORD, "lower")
    store.set("a.b", SecretName.PASSWORD, "dot")
    store.set("a_b", SecretName.PASSWORD, "underscore")
    assert store.get("Contoso", SecretName.PASSWORD) == "upper"
    assert store.get("contoso", SecretName.PASSWORD) == "lower"
    assert store.get("a.b", SecretName.PASSWORD) == "dot"
    assert store.get("a_b", SecretName.PASSWORD) == "underscore"
    assert store.get("Contoso", SecretName.REFRESH_TOKEN) is None
    store.delete("contoso", SecretName.PASSWORD)
    assert store.get("Contoso", SecretName.PASSWORD) == "upper"


def test_concurrent_writers_lose_nothing(path: Path) -> None:
    store = LocalFileSecretStore(path)
    start = threading.Barrier(8)

    def writer(worker: int) -> None:
        start.wait(timeout=30)
        for i in range(25):
            store.set(f"c{worker}-{i}", SecretName.PASSWORD, f"v{worker}-{i}")

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert len(json.loads(path.read_text())) == 8 * 25
    for w in range(8):
        for i in range(25):
            assert store.get(f"c{w}-{i}", SecretName.PASSWORD) == f"v{w}-{i}"


def test_corrupt_file_is_reported_without_its_contents(path: Path) -> None:
    path.parent.mkdir(parents=True)
    path.write_text('{"tenant-x-password": "s3cret-value')
    with pytest.raises(DependencyUnavailable) as caught:
        LocalFileSecretStore(path).get("Contoso", SecretName.PASSWORD)
    assert caught.value.code == "secretStoreUnavailable"
    assert "s3cret" not in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__
