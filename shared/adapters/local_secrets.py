"""Development-only SecretStore: a JSON file that only its owner can read, next to local Azurite.

Secret values never reach a log line, an exception message or a repr.
"""
from __future__ import annotations

import json
import os
import tempfile
import threading
from pathlib import Path

from ..domain.errors import SECRET_STORE_UNAVAILABLE, DependencyUnavailable
from ..domain.models import ProviderSecret
from ..domain.secrets import SecretName
from .secret_names import secret_name


class LocalFileSecretStore:
    """Development-only SecretStore: one JSON object of name -> value in a file only its owner can read.

    Used when KEY_VAULT_URL is unset and storage is local Azurite; bootstrap warns at start.
    """

    def __init__(self, path: str | os.PathLike[str]) -> None:
        self._path = Path(path)
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return f"LocalFileSecretStore({str(self._path)!r})"

    def get(self, customer_id: str | None, name: SecretName | ProviderSecret) -> str | None:
        key = secret_name(customer_id, name)
        with self._lock:
            return self._read().get(key)

    def set(self, customer_id: str | None, name: SecretName | ProviderSecret, value: str) -> None:
        key = secret_name(customer_id, name)
        with self._lock:
            secrets = self._read()
            secrets[key] = value
            self._write(secrets)

    def delete(self, customer_id: str | None, name: SecretName | ProviderSecret) -> None:
        key = secret_name(customer_id, name)
        with self._lock:
            secrets = self._read()
            if secrets.pop(key, None) is not None:
                self._write(secrets)

    def _read(self) -> dict[str, str]:
        try:
            raw = self._path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        except OSError as exc:
            raise DependencyUnavailable(
                SECRET_STORE_UNAVAILABLE, f"The local secret file {self._path} cannot be read ({exc.strerror})."
            ) from None
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            # `from None`: the decoder's message quotes the file's text, which is secret.
            raise DependencyUnavailable(
                SECRET_STORE_UNAVAILABLE,
                f"The local secret file {self._path} is not a JSON object of names to strings.",
            ) from None
        return data

    def _write(self, secrets: dict[str, str]) -> None:
        self._path.parent.mkdir(parents=True, exist_ok=True)
        # mkstemp makes a 0600 file in the same directory: os.replace is then atomic and never widens access.
        fd, tmp = tempfile.mkstemp(prefix=f".{self._path.name}.", suffix=".tmp", dir=self._path.parent)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(secrets, handle, indent=2, sort_keys=True)
                handle.flush()
                os.fsync(handle.fileno())
            os.chmod(tmp, 0o600)
            os.replace(tmp, self._path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
