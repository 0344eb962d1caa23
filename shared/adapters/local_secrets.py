"""Development-only SecretStore: a JSON file that only its owner can read, next to local Azurite.

The file maps each secret's store name (adapters/secret_store_names.py) to its versions:
{version: {"value", "created"}}.
Secret values never reach a log line, an exception message or a repr.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..domain.errors import SECRET_STORE_UNAVAILABLE, DependencyUnavailable
from ..domain.secrets import AnySecret, SecretVersion, StoredSecret
from .secret_store_names import owner_of, store_name

Versions = dict[str, dict[str, str]]


class LocalFileSecretStore:
    """Used when KEY_VAULT_URL is unset and storage is local Azurite; bootstrap warns at start.

    A lock serialises this process's writers; the file is replaced atomically, so a reader never sees half.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()
        # The last parse, by the file's (mtime, size, inode): a run reads thousands of secrets from one file.
        self._parsed: tuple[tuple[int, int, int], dict[str, Versions]] | None = None

    def __repr__(self) -> str:
        return f"LocalFileSecretStore({str(self._path)!r})"

    def create_version(self, customer_id: str | None, kind: AnySecret, value: str) -> str:
        key = store_name(customer_id, kind)
        version = uuid.uuid4().hex
        with self._lock:
            secrets = self._read()
            secrets.setdefault(key, {})[version] = {"value": value, "created": datetime.now(UTC).isoformat()}
            self._write(secrets)
        return version

    def get(self, customer_id: str | None, kind: AnySecret, version: str) -> str | None:
        key = store_name(customer_id, kind)
        with self._lock:
            versions = self._read_shared().get(key, {})
        found = versions.get(version)
        return found["value"] if found else None

    def retire_version(self, customer_id: str | None, kind: AnySecret, version: str) -> None:
        key = store_name(customer_id, kind)
        with self._lock:
            secrets = self._read()
            versions = secrets.get(key, {})
            if versions.pop(version, None) is None:
                return
            if not versions:
                del secrets[key]
            self._write(secrets)

    def delete(self, customer_id: str | None, kind: AnySecret) -> None:
        key = store_name(customer_id, kind)
        with self._lock:
            secrets = self._read()
            if secrets.pop(key, None) is not None:
                self._write(secrets)

    def list_versions(self, customer_id: str | None, kind: AnySecret) -> tuple[SecretVersion, ...]:
        key = store_name(customer_id, kind)
        with self._lock:
            return _listed(self._read().get(key, {}))

    def list_secrets(self) -> Iterator[StoredSecret]:
        with self._lock:
            secrets = self._read()
        for key, versions in secrets.items():
            owner = owner_of(key)
            if owner is not None:  # else not a name this app makes
                yield StoredSecret(customer_id=owner[0], kind=owner[1], versions=_listed(versions))

    def _read_shared(self) -> dict[str, Versions]:
        """For readers only (never to be changed): the parse is reused until the file changes."""
        try:
            stat = self._path.stat()
        except FileNotFoundError:
            return {}
        stamp = (stat.st_mtime_ns, stat.st_size, stat.st_ino)
        if self._parsed is None or self._parsed[0] != stamp:
            self._parsed = (stamp, self._read())
        return self._parsed[1]

    def _read(self) -> dict[str, Versions]:
        try:
            raw = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise self._unavailable(f"cannot be read ({exc.strerror})") from None
        try:
            data: Any = json.loads(raw)
        except ValueError:
            data = None  # `from None` below: the decoder's message quotes the file's text, which is secret
        if not isinstance(data, dict):
            raise self._unavailable("is not a JSON object of secret names") from None
        return {key: _versions(entry) for key, entry in data.items()}

    def _write(self, secrets: dict[str, Versions]) -> None:
        try:
            self._path.parent.mkdir(parents=True, exist_ok=True)
            # mkstemp makes a 0600 file in the same directory: os.replace is then atomic and never widens access.
            fd, tmp = tempfile.mkstemp(prefix=f".{self._path.name}.", suffix=".tmp", dir=self._path.parent)
        except OSError as exc:
            raise self._unavailable(f"cannot be written ({exc.strerror})") from None
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(secrets, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self._path)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise self._unavailable(f"cannot be written ({exc.strerror})") from None
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def _unavailable(self, problem: str) -> DependencyUnavailable:
        return DependencyUnavailable(SECRET_STORE_UNAVAILABLE, f"The local secret file {self._path} {problem}.")


def _versions(entry: Any) -> Versions:
    valid = isinstance(entry, dict) and all(
        isinstance(v, dict) and isinstance(v.get("value"), str) and isinstance(v.get("created"), str)
        for v in entry.values()
    )
    if not valid:
        raise DependencyUnavailable(SECRET_STORE_UNAVAILABLE, "The local secret file holds an entry it cannot read.")
    return entry


def _listed(versions: Versions) -> tuple[SecretVersion, ...]:
    return tuple(SecretVersion(v, datetime.fromisoformat(entry["created"])) for v, entry in versions.items())
