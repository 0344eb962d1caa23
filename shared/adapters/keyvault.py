"""SecretStore on Azure Key Vault, for a vault with soft delete and purge protection.

Secret values only ever travel in request bodies and return values: never in a name, tag, log line,
exception message or repr.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
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

from ..domain.errors import SECRET_STORE_UNAVAILABLE, DependencyUnavailable
from ..domain.secrets import AnySecret, SecretVersion, StoredSecret
from .http_sessions import pooled_transport, use_environment_proxies
from .secret_store_names import owner_of, store_name

logger = logging.getLogger(__name__)

CONTENT_TYPE = "text/plain"


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
        pool_size: int | None = None,
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
        if pool_size is not None:
            # One pooled connection per verification in flight (the SDK's session keeps 10), and the environment
            # read once instead of on every request.
            transport = pooled_transport(pool_size, verify=connection_verify)
            use_environment_proxies(transport.session, vault_url)
            options["transport"] = transport
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

    def create_version(self, customer_id: str | None, kind: AnySecret, value: str) -> str:
        key = store_name(customer_id, kind)
        owner = {"owner": "provider"} if customer_id is None else {"customerId": customer_id}
        tags = {"kind": str(kind), **owner}
        deadline = time.monotonic() + self._max_wait
        with self._mapped(_describe("store", customer_id, kind)):
            while True:
                try:
                    stored = self._client.set_secret(key, value, content_type=CONTENT_TYPE, tags=tags)
                    return str(stored.properties.version)
                except ResourceExistsError:
                    # 409: the name is soft-deleted, or its deletion is still running. Purge protection rules
                    # out purging, so bring the old secret back and write the value as its next version
                    # (the recovered versions are named by no record: the sweep retires them).
                    logger.info("Secret %s of customer %s is soft-deleted; recovering it.", kind, customer_id)
                    if not self._recover(key, deadline):
                        raise DependencyUnavailable(
                            SECRET_STORE_UNAVAILABLE,
                            f"Key Vault did not finish recovering the deleted {kind} secret of customer "
                            f"'{customer_id}' within {self._max_wait:g} seconds; try again later.",
                        ) from None

    def get(self, customer_id: str | None, kind: AnySecret, version: str) -> str | None:
        key = store_name(customer_id, kind)
        with self._mapped(_describe("read", customer_id, kind)):
            try:
                return self._client.get_secret(key, version).value
            except ResourceNotFoundError:
                return None
            except HttpResponseError as exc:
                if exc.status_code == 403 and _disabled(exc):
                    return None  # a retired version
                raise

    def retire_version(self, customer_id: str | None, kind: AnySecret, version: str) -> None:
        key = store_name(customer_id, kind)
        with self._mapped(_describe("retire", customer_id, kind)):
            try:
                # Key Vault cannot delete one version; a disabled one can no longer be read.
                self._client.update_secret_properties(key, version, enabled=False)
            except ResourceNotFoundError:
                return

    def list_versions(self, customer_id: str | None, kind: AnySecret) -> tuple[SecretVersion, ...]:
        key = store_name(customer_id, kind)
        with self._mapped(_describe("list", customer_id, kind)):
            try:
                return self._enabled_versions(key)
            except ResourceNotFoundError:
                return ()

    def list_secrets(self) -> Iterator[StoredSecret]:
        with self._mapped("list the secrets"):
            for item in self._client.list_properties_of_secrets():
                owner = owner_of(item.name or "")
                if owner is not None:  # else not a name this app makes
                    yield StoredSecret(customer_id=owner[0], kind=owner[1], versions=self._enabled_versions(item.name))

    def _enabled_versions(self, key: str) -> tuple[SecretVersion, ...]:
        return tuple(
            SecretVersion(str(v.version), v.created_on or datetime.fromtimestamp(0, UTC))
            for v in self._client.list_properties_of_secret_versions(key)
            if v.enabled
        )

    def delete(self, customer_id: str | None, kind: AnySecret) -> None:
        key = store_name(customer_id, kind)
        deadline = time.monotonic() + self._max_wait
        with self._mapped(_describe("delete", customer_id, kind)):
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
                    kind, customer_id, self._max_wait,
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
    def _mapped(self, what: str) -> Iterator[None]:
        """Turn SDK failures into DependencyUnavailable with a sentence that holds no secret value."""
        try:
            yield
        except ClientAuthenticationError as exc:
            logger.warning(
                "Key Vault refused to %s: %s (HTTP %s).", what, type(exc).__name__, exc.status_code
            )
            raise DependencyUnavailable(
                SECRET_STORE_UNAVAILABLE, f"Key Vault could not authenticate the app while trying to {what}."
            ) from exc
        except HttpResponseError as exc:
            logger.warning("Key Vault failed to %s: HTTP %s %s.", what, exc.status_code, exc.reason)
            raise DependencyUnavailable(
                SECRET_STORE_UNAVAILABLE, f"Key Vault answered HTTP {exc.status_code} while trying to {what}."
            ) from exc
        except (ServiceRequestError, ServiceResponseError) as exc:
            logger.warning("Key Vault could not be reached to %s: %s.", what, type(exc).__name__)
            raise DependencyUnavailable(SECRET_STORE_UNAVAILABLE, f"Key Vault could not be reached to {what}.") from exc
        except AzureError as exc:
            logger.warning("Key Vault failed to %s: %s.", what, type(exc).__name__)
            raise DependencyUnavailable(SECRET_STORE_UNAVAILABLE, f"Key Vault failed to {what}.") from exc
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
                SECRET_STORE_UNAVAILABLE,
                f"The app did not trust the Key Vault's authentication challenge while trying to {what}; "
                "KEY_VAULT_URL must be the vault's own URL.",
            ) from exc


def _describe(action: str, customer_id: str | None, kind: AnySecret) -> str:
    owner = "the provider" if customer_id is None else f"customer '{customer_id}'"
    return f"{action} the {kind} secret of {owner}"


def _disabled(error: HttpResponseError) -> bool:
    """Key Vault answers 403 "Operation get is not allowed on a disabled secret" for a disabled version."""
    return "disabled" in (error.message or "").lower()
