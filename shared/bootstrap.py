"""Builds the adapters once per process from the settings; tests hand their own to `use()`."""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from .config import Settings, load_settings
from .errors import ConfigurationError
from .ports import SecretStore, SettingsStore, TenantStore

log = logging.getLogger(__name__)

APP_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Services:
    settings: Settings | None
    tenants: TenantStore
    secrets: SecretStore
    settings_store: SettingsStore


_lock = threading.Lock()
_services: Services | None = None


def check_secret_store(settings: Settings) -> None:
    """Without a Key Vault, secrets may only go to the local development store, next to local Azurite."""
    if settings.key_vault_url is None and not settings.storage.is_local_emulator:
        raise ConfigurationError(
            "KEY_VAULT_URL is not set. Secrets are kept only in Azure Key Vault; the local development "
            "store is allowed only with local Azurite storage (UseDevelopmentStorage=true)."
        )


def startup_check() -> None:
    """Called by the local host at start: fail early and loudly on settings that cannot work."""
    settings = load_settings()
    check_secret_store(settings)
    if settings.key_vault_url is None:
        log.warning(
            "KEY_VAULT_URL is not set: secrets go to the LOCAL DEVELOPMENT store %s. Never use this outside "
            "local development.",
            _local_secrets_path(settings),
        )


def _local_secrets_path(settings: Settings) -> Path:
    path = Path(settings.local_secrets_file)
    return path if path.is_absolute() else APP_ROOT / path


def build(settings: Settings) -> Services:
    check_secret_store(settings)
    from .secrets import KeyVaultSecretStore, LocalFileSecretStore
    from .storage_clients import default_credential, table_service_from_settings
    from .tables import TableSettingsStore, TableTenantStore

    credential = None
    if settings.key_vault_url or not settings.storage.connection_string:
        # One credential for storage and Key Vault, so they share its token cache.
        credential = default_credential(settings.storage)
    tables = table_service_from_settings(settings.storage, credential_factory=lambda _storage: credential)
    tenants = TableTenantStore(tables)
    secrets: SecretStore
    if settings.key_vault_url:
        secrets = KeyVaultSecretStore(settings.key_vault_url, credential=credential)
    else:
        secrets = LocalFileSecretStore(_local_secrets_path(settings))
    return Services(
        settings=settings, tenants=tenants, secrets=secrets, settings_store=TableSettingsStore(tables)
    )


def services() -> Services:
    global _services
    with _lock:
        if _services is None:
            _services = build(load_settings())
        return _services


def use(replacement: Services | None) -> None:
    """Install the adapters to use (tests), or None to build them from settings again."""
    global _services
    with _lock:
        _services = replacement
