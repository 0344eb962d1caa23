"""Builds the adapters once per process from the configuration; tests hand their own to `use()`.

The only module that imports shared.adapters: handlers reach every adapter through `services()`.
"""
from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path

from .config import AppConfig, load_config
from .domain.errors import ConfigurationError
from .domain.ports import CustomerStore, HistoryStore, ProviderSettingsStore, RunStore, SecretStore, WorkQueue
from .usecases.consent import ConsentContext
from .usecases.limiter import ConcurrencyLimiter
from .usecases.token_key import TokenKey
from .usecases.verify import VerifyContext

logger = logging.getLogger(__name__)

APP_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Services:
    config: AppConfig | None
    customers: CustomerStore
    history: HistoryStore
    secrets: SecretStore
    provider_settings: ProviderSettingsStore
    token_keys: TokenKey
    verification: VerifyContext
    runs: RunStore
    work: WorkQueue
    consent: ConsentContext


_lock = threading.Lock()
_services: Services | None = None


def check_secret_store(config: AppConfig) -> None:
    """Without a Key Vault, secrets may only go to the local development store, next to local Azurite."""
    if config.key_vault_url is None and not config.storage.is_local_emulator:
        raise ConfigurationError(
            "KEY_VAULT_URL is not set. Secrets are kept only in Azure Key Vault; the local development "
            "store is allowed only with local Azurite storage (UseDevelopmentStorage=true)."
        )


def startup_check() -> None:
    """Called by the local host at start: fail early and loudly on a configuration that cannot work."""
    config = load_config()
    check_secret_store(config)
    if config.key_vault_url is None:
        logger.warning(
            "KEY_VAULT_URL is not set: secrets go to the LOCAL DEVELOPMENT store %s. Never use this outside "
            "local development.",
            _local_secrets_path(config),
        )


def _local_secrets_path(config: AppConfig) -> Path:
    path = Path(config.local_secrets_file)
    return path if path.is_absolute() else APP_ROOT / path


def build(config: AppConfig) -> Services:
    check_secret_store(config)
    # Imported here, not at module level: the host imports the app on every cold start.
    from .adapters.keyvault import KeyVaultSecretStore
    from .adapters.local_secrets import LocalFileSecretStore
    from .adapters.msal_consent import MsalConsentPlatform
    from .adapters.msal_platform import MsalIdentityPlatform
    from .adapters.queue_work import StorageWorkQueue
    from .adapters.storage_clients import default_credential, queue_service_from_config, table_service_from_config
    from .adapters.table_consent_states import TableConsentStates
    from .adapters.table_customers import TableCustomerStore
    from .adapters.table_history import TableHistoryStore
    from .adapters.table_runs import TableRunStore
    from .adapters.table_settings import TableProviderSettingsStore

    credential = None
    if config.key_vault_url or not config.storage.connection_string:
        # One credential for storage and Key Vault, so they share its token cache.
        credential = default_credential(config.storage)
    # Every verification in flight reads and writes tables: one pooled connection each.
    tables = table_service_from_config(config.storage, credential_factory=lambda _storage: credential,
                                       pool_size=config.verify_concurrency + 8)
    secrets: SecretStore
    if config.key_vault_url:
        secrets = KeyVaultSecretStore(config.key_vault_url, credential=credential,
                                      pool_size=config.verify_concurrency + 4)
    else:
        secrets = LocalFileSecretStore(_local_secrets_path(config))
    customers, history = TableCustomerStore(tables), TableHistoryStore(tables)
    provider_settings = TableProviderSettingsStore(tables)
    platform = MsalIdentityPlatform(
        config.entra_authority_host,
        delegated_scopes=config.consent_scopes,
        application_scope=f"{config.graph_endpoint}/.default",
        pool_size=config.verify_concurrency,
    )
    verification = VerifyContext(
        customers=customers, history=history, secrets=secrets, provider_settings=provider_settings, platform=platform,
        limiter=ConcurrencyLimiter(config.verify_concurrency), required_roles=config.required_application_roles,
    )
    # A short retry budget: Verify All answers at once, not after the SDK's minute of back-off.
    queues = queue_service_from_config(config.storage, credential_factory=lambda _storage: credential,
                                       retry_total=2, connection_timeout=5, read_timeout=10)
    return Services(
        config=config,
        customers=customers,
        history=history,
        secrets=secrets,
        provider_settings=provider_settings,
        token_keys=TokenKey(secrets),
        verification=verification,
        runs=TableRunStore(tables),
        work=StorageWorkQueue(queues),
        consent=ConsentContext(verification=verification, states=TableConsentStates(tables),
                               platform=MsalConsentPlatform(platform), scopes=config.consent_scopes,
                               application_scope=f"{config.graph_endpoint}/.default"),
    )


def services() -> Services:
    global _services
    with _lock:
        if _services is None:
            _services = build(load_config())
        return _services


def use(replacement: Services | None) -> None:
    """Install the adapters to use (tests), or None to build them from the configuration again."""
    global _services
    with _lock:
        _services = replacement
