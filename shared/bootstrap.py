"""Builds the app's services: `build()` takes every dependency as a keyword argument and builds the production
adapter from the configuration for each one not given (tests give fakes); `services()` builds them once per process.

The only module that imports shared.adapters: handlers reach every adapter through `services()`.
"""
from __future__ import annotations

import functools
import importlib
import logging
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from contextlib import AbstractContextManager, ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar, cast

from .config import AppConfig, load_config
from .domain.errors import ConfigurationError
from .domain.ports import (
    AlertFollower,
    AlertTransport,
    AuditLog,
    ChannelStore,
    ConsentPlatform,
    ConsentStates,
    CustomerStore,
    DeliveryStore,
    EventLog,
    EventOutbox,
    FunctionKeyCheck,
    GraphReader,
    HistoryStore,
    IdentityPlatform,
    ProviderSettingsStore,
    RunStore,
    SecretStore,
    WorkQueue,
)
from .usecases.alert_dispatch import AlertContext
from .usecases.consent import ConsentContext
from .usecases.foresight import ForesightReads
from .usecases.limiter import ConcurrencyLimiter
from .usecases.token_key import TokenKey
from .usecases.verify import VerifyContext

if TYPE_CHECKING:
    from .adapters.msal_platform import MsalIdentityPlatform

logger = logging.getLogger(__name__)
T = TypeVar("T")

APP_ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True, slots=True)
class Services(AbstractContextManager):
    """The app's ports and use-case contexts. It owns the verification threads and the clients `build()` made:
    `close()` (or leaving a `with` block) ends them; what the caller gave `build()` stays the caller's."""

    config: AppConfig
    customers: CustomerStore
    history: HistoryStore
    secrets: SecretStore
    provider_settings: ProviderSettingsStore
    token_keys: TokenKey
    verification: VerifyContext
    runs: RunStore
    work: WorkQueue
    consent: ConsentContext
    channels: ChannelStore
    deliveries: DeliveryStore
    alert_follower: AlertFollower
    alert_transport: AlertTransport
    alerts: AlertContext
    events: EventLog
    outbox: EventOutbox
    audit: AuditLog
    function_keys: FunctionKeyCheck
    status_reads: Executor  # GET /api/status lists its customers on one of these while it reads the summary
    _owned: ExitStack = field(default_factory=ExitStack, repr=False, compare=False)

    def close(self) -> None:
        """End the verification threads and close the clients build() made."""
        self._owned.close()

    def __exit__(self, *exc_info: object) -> None:
        self.close()


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


# The stores kept in Table Storage, by build()'s keyword: (module of shared.adapters, class); each is made over
# the one table service, its module imported when it is first made.
_TABLE_STORES = {
    "customers": ("table_customers", "TableCustomerStore"),
    "provider_settings": ("table_settings", "TableProviderSettingsStore"),
    "runs": ("table_runs", "TableRunStore"),
    "consent_states": ("table_consent_states", "TableConsentStates"),
    "event_log": ("table_events", "TableEventLog"),
    "audit": ("table_audit", "TableAuditLog"),
    "channels": ("table_channels", "TableChannelStore"),
    "deliveries": ("table_deliveries", "TableDeliveryStore"),
    "alert_follower": ("table_alert_follower", "TableAlertFollower"),
}


class _Production:
    """The production adapters, each made on first use from the configuration, its clients closed with `owned`.
    Adapters are imported here, not at module level: the host imports the app on every cold start."""

    def __init__(self, config: AppConfig, owned: ExitStack) -> None:
        self.config = config
        self.owned = owned

    def _owns(self, client: Any) -> Any:
        self.owned.callback(client.close)
        return client

    @functools.cached_property
    def credential(self) -> Any:
        """One credential for storage and Key Vault, so they share its token cache; None with a connection string
        and no Key Vault."""
        from .adapters.storage_clients import default_credential

        config = self.config
        if config.key_vault_url or not config.storage.connection_string:
            return self._owns(default_credential(config.storage))
        return None

    @functools.cached_property
    def tables(self) -> Any:
        from .adapters.storage_clients import table_service_from_config

        # Every verification in flight reads and writes tables: one pooled connection each.
        return self._owns(table_service_from_config(
            self.config.storage, credential_factory=lambda _storage: self.credential,
            pool_size=self.config.verify_concurrency + 8))

    def stored(self, keyword: str) -> Callable[[], Any]:
        """What makes the table store of build()'s `keyword` (_TABLE_STORES)."""
        module, store = _TABLE_STORES[keyword]
        return lambda: getattr(importlib.import_module(f".adapters.{module}", __package__), store)(self.tables)

    @functools.cached_property
    def msal(self) -> MsalIdentityPlatform:
        from .adapters.msal_platform import MsalIdentityPlatform

        config = self.config
        return self._owns(MsalIdentityPlatform(
            config.entra_authority_host, delegated_scopes=config.consent_scopes,
            application_scope=f"{config.graph_endpoint}/.default", pool_size=config.verify_concurrency))

    def secrets(self) -> SecretStore:
        from .adapters.keyvault import KeyVaultSecretStore
        from .adapters.local_secrets import LocalFileSecretStore

        config = self.config
        check_secret_store(config)
        if config.key_vault_url:
            return self._owns(KeyVaultSecretStore(config.key_vault_url, credential=self.credential,
                                                  pool_size=config.verify_concurrency + 4))
        return LocalFileSecretStore(_local_secrets_path(config))

    def work(self) -> WorkQueue:
        from .adapters.queue_work import StorageWorkQueue
        from .adapters.storage_clients import queue_service_from_config

        # A short retry budget: Verify All answers at once, not after the SDK's minute of back-off.
        queues = self._owns(queue_service_from_config(
            self.config.storage, credential_factory=lambda _storage: self.credential,
            retry_total=2, connection_timeout=5, read_timeout=10))
        return StorageWorkQueue(queues)

    def consent_platform(self) -> ConsentPlatform:
        from .adapters.msal_consent import MsalConsentPlatform

        return MsalConsentPlatform(self.msal)

    def graph(self) -> GraphReader:
        from .adapters.graph_reader import HttpGraphReader

        return self._owns(HttpGraphReader(self.config.graph_endpoint, pool_size=self.config.verify_concurrency))

    def function_keys(self) -> FunctionKeyCheck:
        from .adapters.function_key_probe import FunctionKeyProbe, probe_url

        return self._owns(FunctionKeyProbe(probe_url(self.config.website_hostname)))

    def alert_transport(self) -> AlertTransport:
        from .adapters.outbound_http import OutboundHttp

        # Loopback (and plain http to it) only in local development, where storage is the local emulator.
        return OutboundHttp(local_development=self.config.storage.is_local_emulator)


def build(
    config: AppConfig,
    *,
    customers: CustomerStore | None = None,
    history: HistoryStore | None = None,
    secrets: SecretStore | None = None,
    provider_settings: ProviderSettingsStore | None = None,
    runs: RunStore | None = None,
    work: WorkQueue | None = None,
    platform: IdentityPlatform | None = None,
    consent_states: ConsentStates | None = None,
    consent_platform: ConsentPlatform | None = None,
    channels: ChannelStore | None = None,
    deliveries: DeliveryStore | None = None,
    alert_follower: AlertFollower | None = None,
    alert_transport: AlertTransport | None = None,
    event_log: EventLog | None = None,
    outbox: EventOutbox | None = None,
    graph: GraphReader | None = None,
    foresight: bool = True,
    audit: AuditLog | None = None,
    function_keys: FunctionKeyCheck | None = None,
) -> Services:
    """The services over the dependencies given; None builds the production adapter from `config`. `foresight`
    False verifies without foresight's Graph reads (the bench compares both)."""
    owned = ExitStack()
    made = _Production(config, owned)
    try:
        secrets = _given(secrets, made.secrets)
        customers = _given(customers, made.stored("customers"))
        provider_settings = _given(provider_settings, made.stored("provider_settings"))
        # The histories and the outbox are rows of the customers' own table, written in their transactions: the
        # store is the history and the outbox.
        history = history or cast(HistoryStore, customers)
        events, outbox = _given(event_log, made.stored("event_log")), outbox or cast(EventOutbox, customers)
        platform = _given(platform, lambda: made.msal)
        reads = ForesightReads(
            graph=_given(graph, made.graph), platform=platform, consent_scopes=config.consent_scopes,
            provider_tenant_id=config.provider_tenant_id, gdap_check=config.gdap_check) if foresight else None
        verification = VerifyContext(
            customers=customers, secrets=secrets, provider_settings=provider_settings, platform=platform,
            limiter=ConcurrencyLimiter(config.verify_concurrency), foresight=reads,
            # One pool of verification threads, shared by every chunk a worker handles at once: threads are
            # reused, and never more than VERIFY_CONCURRENCY of them exist. It starts them on first use.
            pool=ThreadPoolExecutor(max_workers=config.verify_concurrency, thread_name_prefix="verify"),
            required_roles=config.required_application_roles, outbox=outbox, event_log=events,
        )
        consent = ConsentContext(
            verification=verification, states=_given(consent_states, made.stored("consent_states")),
            platform=_given(consent_platform, made.consent_platform), scopes=config.consent_scopes,
            application_scope=f"{config.graph_endpoint}/.default",
        )
        runs, work = _given(runs, made.stored("runs")), _given(work, made.work)
        audit, function_keys = _given(audit, made.stored("audit")), _given(function_keys, made.function_keys)
        channels, deliveries = _given(channels, made.stored("channels")), _given(deliveries, made.stored("deliveries"))
        alert_follower = _given(alert_follower, made.stored("alert_follower"))
        alert_transport = _given(alert_transport, made.alert_transport)
    except BaseException:
        owned.close()
        raise
    # Closed first: the verifications in flight finish before the clients they use are closed.
    owned.callback(verification.pool.shutdown, wait=True, cancel_futures=True)
    status_reads = ThreadPoolExecutor(max_workers=4, thread_name_prefix="status-page")
    owned.callback(status_reads.shutdown, wait=True, cancel_futures=True)
    return Services(
        config=config, customers=customers, history=history, secrets=secrets, provider_settings=provider_settings,
        token_keys=TokenKey(secrets), verification=verification, runs=runs, work=work, consent=consent, events=events,
        outbox=outbox, channels=channels, deliveries=deliveries, alert_follower=alert_follower,
        alert_transport=alert_transport, audit=audit, function_keys=function_keys, status_reads=status_reads,
        _owned=owned, alerts=AlertContext(
            events=events, follower=alert_follower, channels=channels, deliveries=deliveries, customers=customers,
            history=history, runs=runs, secrets=secrets, transport=alert_transport, page_url=config.page_url,
            reminder_interval=config.reminder_interval),
    )


def _given(dependency: T | None, production: Callable[[], T]) -> T:
    return production() if dependency is None else dependency


def services() -> Services:
    global _services
    with _lock:
        if _services is None:
            _services = build(load_config())
        return _services


def use(replacement: Services | None) -> None:
    """Install the services handlers use (the tests' one fixture), or None to build them from the configuration
    again on next use."""
    global _services
    with _lock:
        _services = replacement
