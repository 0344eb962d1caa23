"""SecretStore adapters: Azure Key Vault in every deployed environment, a local JSON file for development.

Secret values only ever travel in request bodies and return values: never in a name, tag, log line,
exception message or repr.
"""
from __future__ import annotations

import base64
import json
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from azure.core.credentials import TokenCredential
from azure.core.exceptions import (
    AzureError,
    ClientAuthenticationError,
    HttpResponseError,
    ResourceExistsError,
    ResourceNotFoundError,
    ServiceRequestError,
    ServiceResponseError,
)
from azure.keyvault.secrets import SecretClient

from . import validation
from .errors import DependencyUnavailable
from .models import ProviderSecret, SecretName

logger = logging.getLogger(__name__)

UNAVAILABLE = "secretStoreUnavailable"
CONTENT_TYPE = "text/plain"

# Fixed per kind; never derived from the enum value, so renaming a SecretName cannot orphan stored secrets.
_KIND_TOKEN: dict[SecretName, str] = {
    SecretName.PASSWORD: "password",
    SecretName.REFRESH_TOKEN: "refresh-token",
    SecretName.APPLICATION_SECRET: "app-secret",
}


_PROVIDER_KIND_TOKEN: dict[ProviderSecret, str] = {ProviderSecret.CLIENT_SECRET: "client-secret"}


def secret_name(customer_id: str | None, name: SecretName | ProviderSecret) -> str:
    """The vault name of a secret: `provider-<kind>` for the provider's own (customer_id None), else
    `tenant-<base32 of the customerId>-<kind>`; the two prefixes can never meet.

    The vault name of one customer's secret: `tenant-<base32 of the customerId>-<kind>`.

    Key Vault names are case-insensitive and allow only `0-9a-zA-Z-`, while customer ids are case-sensitive
    and may hold `._`. Lower-case base32 (no padding) is injective, fits that alphabet and never contains `-`,
    so distinct (customerId, kind) pairs can never share a name; a 64-character id gives 124 characters.
    """
    if customer_id is None:
        return f"provider-{_PROVIDER_KIND_TOKEN[ProviderSecret(name)]}"
    validation.customer_id(customer_id)  # the contract's rule; raises InputError("invalidCustomerId")
    encoded = base64.b32encode(customer_id.encode("utf-8")).decode("ascii").rstrip("=").lower()
    return f"tenant-{encoded}-{_KIND_TOKEN[SecretName(name)]}"


class KeyVaultSecretStore:
    """SecretStore over azure-keyvault-secrets, for a vault with soft delete and purge protection.

    Names are deleted "softly": the old secret stays recoverable (and, with purge protection, cannot be
    purged), so writing to a deleted name recovers it first and then adds the new value as its next version.
    """

    def __init__(
        self,
        vault_url: str,
        *,
        credential: TokenCredential,
        connection_verify: bool | str | None = None,
        verify_challenge_resource: bool = True,
        retry_total: int | None = None,
        connection_timeout: float | None = None,
        read_timeout: float | None = None,
        poll_interval: float = 1.0,
        max_wait: float = 60.0,
    ) -> None:
        options: dict[str, Any] = {"verify_challenge_resource": verify_challenge_resource}
        for key, value in (
            ("connection_verify", connection_verify),
            ("retry_total", retry_total),
            ("connection_timeout", connection_timeout),
            ("read_timeout", read_timeout),
        ):
            if value is not None:
                options[key] = value
        self._vault_url = vault_url
        self._client = SecretClient(vault_url, credential, **options)
        self._poll_interval = poll_interval
        self._max_wait = max_wait

    def __repr__(self) -> str:
        return f"KeyVaultSecretStore({self._vault_url!r})"

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> KeyVaultSecretStore:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def get(self, customer_id: str | None, name: SecretName | ProviderSecret) -> str | None:
        key = secret_name(customer_id, name)
        with self._mapped("read", customer_id, name):
            try:
                return self._client.get_secret(key).value
            except ResourceNotFoundError:
                return None

    def set(self, customer_id: str | None, name: SecretName | ProviderSecret, value: str) -> None:
        key = secret_name(customer_id, name)
        owner = {"owner": "provider"} if customer_id is None else {"customerId": customer_id}
        tags = {"kind": str(name), **owner}
        deadline = time.monotonic() + self._max_wait
        with self._mapped("store", customer_id, name):
            while True:
                try:
                    self._client.set_secret(key, value, content_type=CONTENT_TYPE, tags=tags)
                    return
                except ResourceExistsError:
                    # 409: the name is soft-deleted, or its deletion is still running. Purge protection rules
                    # out purging, so bring the old secret back and write the value as its next version.
                    logger.info("Secret %s of customer %s is soft-deleted; recovering it.", name, customer_id)
                    if not self._recover(key, deadline):
                        raise DependencyUnavailable(
                            UNAVAILABLE,
                            f"Key Vault did not finish recovering the deleted {name} secret of customer "
                            f"'{customer_id}' within {self._max_wait:g} seconds; try again later.",
                        ) from None

    def delete(self, customer_id: str | None, name: SecretName | ProviderSecret) -> None:
        key = secret_name(customer_id, name)
        deadline = time.monotonic() + self._max_wait
        with self._mapped("delete", customer_id, name):
            try:
                deleted = self._client.begin_delete_secret(key).result()
            except ResourceNotFoundError:
                return
            if deleted.recovery_id is None:  # a vault without soft delete: nothing left to wait for
                return
            # Wait until it lands in the deleted collection: only then can a later set recover it.
            if not self._wait_for(lambda: self._client.get_deleted_secret(key), deadline):
                logger.warning(
                    "Deleting secret %s of customer %s was still in progress after %g s; "
                    "a later write waits for it.",
                    name, customer_id, self._max_wait,
                )

    def _recover(self, key: str, deadline: float) -> bool:
        """Recover a soft-deleted secret; False when the deadline passed first."""
        try:
            self._client.begin_recover_deleted_secret(key)
        except (ResourceNotFoundError, ResourceExistsError):
            # Still being deleted (not recoverable yet), or another writer recovered it: retry the set.
            return self._pause(deadline)
        return self._wait_for(lambda: self._client.get_secret(key), deadline)

    def _wait_for(self, probe: Callable[[], object], deadline: float) -> bool:
        """Poll until probe stops answering 404 (Key Vault's way of saying "not there yet")."""
        while True:
            try:
                probe()
                return True
            except ResourceNotFoundError:
                if not self._pause(deadline):
                    return False

    def _pause(self, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        time.sleep(min(self._poll_interval, remaining))
        return True

    @contextmanager
    def _mapped(self, action: str, customer_id: str | None, name: SecretName | ProviderSecret) -> Iterator[None]:
        """Turn SDK failures into DependencyUnavailable with a sentence that holds no secret value."""
        owner = "the provider" if customer_id is None else f"customer '{customer_id}'"
        what = f"{action} the {name} secret of {owner}"
        try:
            yield
        except ClientAuthenticationError as exc:
            logger.warning(
                "Key Vault refused to %s: %s (HTTP %s).", what, type(exc).__name__, exc.status_code
            )
            raise DependencyUnavailable(
                UNAVAILABLE, f"Key Vault could not authenticate the app while trying to {what}."
            ) from exc
        except HttpResponseError as exc:
            logger.warning("Key Vault failed to %s: HTTP %s %s.", what, exc.status_code, exc.reason)
            raise DependencyUnavailable(
                UNAVAILABLE, f"Key Vault answered HTTP {exc.status_code} while trying to {what}."
            ) from exc
        except (ServiceRequestError, ServiceResponseError) as exc:
            logger.warning("Key Vault could not be reached to %s: %s.", what, type(exc).__name__)
            raise DependencyUnavailable(UNAVAILABLE, f"Key Vault could not be reached to {what}.") from exc
        except AzureError as exc:
            logger.warning("Key Vault failed to %s: %s.", what, type(exc).__name__)
            raise DependencyUnavailable(UNAVAILABLE, f"Key Vault failed to {what}.") from exc
        except ValueError as exc:
            # The SDK raises ValueError, before any token is sent, when the vault's 401 challenge does not
            # verify (its resource does not cover KEY_VAULT_URL's host: not the vault's own name).
            # Its text advises turning verification off, so it is not passed on.
            logger.warning(
                "Key Vault at %s was not trusted to %s: the client refused its authentication challenge "
                "(%s). KEY_VAULT_URL must be the vault's own URL, https://<name>.vault.azure.net/.",
                self._vault_url, what, type(exc).__name__,
            )
            raise DependencyUnavailable(
                UNAVAILABLE,
                f"The app did not trust the Key Vault's authentication challenge while trying to {what}; "
                "KEY_VAULT_URL must be the vault's own URL.",
            ) from exc


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
                UNAVAILABLE, f"The local secret file {self._path} cannot be read ({exc.strerror})."
            ) from None
        try:
            data = json.loads(raw)
        except ValueError:
            data = None
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            # `from None`: the decoder's message quotes the file's text, which is secret.
            raise DependencyUnavailable(
                UNAVAILABLE, f"The local secret file {self._path} is not a JSON object of names to strings."
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
