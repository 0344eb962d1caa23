"""Builds the Table and Queue Storage clients from StorageConfig: a connection string, or a URI plus Entra ID.

azure.identity is imported only when the identity form is used: the Functions host imports the app
on every cold start, and local runs on a connection string never need it.
"""
from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

from azure.data.tables import TableServiceClient
from azure.storage.queue import QueueServiceClient

from ..config import StorageConfig
from ..domain.errors import ConfigurationError
from .http_sessions import pooled_transport, use_environment_proxies

if TYPE_CHECKING:
    from azure.core.credentials import TokenCredential

CredentialFactory = Callable[[StorageConfig], "TokenCredential"]
S = TypeVar("S", TableServiceClient, QueueServiceClient)


def default_credential(storage: StorageConfig) -> TokenCredential:
    """DefaultAzureCredential, pinned to a user-assigned identity when the configuration names one."""
    from azure.identity import DefaultAzureCredential

    if storage.credential == "managedidentity" and storage.client_id:
        return DefaultAzureCredential(managed_identity_client_id=storage.client_id)
    return DefaultAzureCredential()


def table_service_from_config(
    storage: StorageConfig,
    *,
    credential_factory: CredentialFactory = default_credential,
    retry_total: int | None = None,
    connection_timeout: float | None = None,
    read_timeout: float | None = None,
    pool_size: int | None = None,
) -> TableServiceClient:
    """A TableServiceClient; no network call happens here.

    The retry and time-out options go to azure-core's pipeline (None keeps the SDK's defaults); tests
    pass `retry_total=0` so an unreachable endpoint fails at once.
    """
    return _service_client(
        TableServiceClient, storage, uri=storage.table_service_uri, setting="tableServiceUri",
        credential_factory=credential_factory, retry_total=retry_total, connection_timeout=connection_timeout,
        read_timeout=read_timeout, pool_size=pool_size,
    )


def queue_service_from_config(
    storage: StorageConfig, *, credential_factory: CredentialFactory = default_credential, **pipeline: Any
) -> QueueServiceClient:
    """A QueueServiceClient for the same account, built the same way and with the same pipeline options
    (retry_total, connection_timeout, read_timeout, pool_size); no network call happens here."""
    return _service_client(
        QueueServiceClient, storage, uri=storage.queue_service_uri, setting="queueServiceUri",
        credential_factory=credential_factory, **pipeline,
    )


def _service_client(
    kind: type[S], storage: StorageConfig, *, uri: str | None, setting: str, credential_factory: CredentialFactory,
    pool_size: int | None = None, **pipeline: Any,
) -> S:
    """A service client of `kind` from the connection string, or from its service URI plus an Entra credential."""
    options = {name: value for name, value in pipeline.items() if value is not None}
    if pool_size is not None:
        # Verifications in flight beyond the SDK's 10 pooled connections would each open (and throw away) one.
        # A client given a transport no longer hands it its time-outs: the transport takes them.
        options["transport"] = pooled_transport(pool_size, **{name: options.pop(name) for name in _TIMEOUTS
                                                              if name in options})
    client = _client(kind, storage, uri=uri, setting=setting, credential_factory=credential_factory, options=options)
    if pool_size is not None:
        use_environment_proxies(options["transport"].session, client.url)
    return client


_TIMEOUTS = ("connection_timeout", "read_timeout")


def _client(
    kind: type[S], storage: StorageConfig, *, uri: str | None, setting: str, credential_factory: CredentialFactory,
    options: dict[str, Any],
) -> S:
    if storage.connection_string:
        try:
            return kind.from_connection_string(storage.connection_string, **options)
        except ValueError:
            # Not chained: the SDK's message may quote the string, and with it the account key.
            raise ConfigurationError("AzureWebJobsStorage is not a usable storage connection string.") from None
    if uri:
        if not uri.lower().startswith("https://"):
            raise ConfigurationError(
                f"AzureWebJobsStorage__{setting} must be an https URL when an Entra ID credential is used."
            )
        return kind(uri, credential=credential_factory(storage), **options)
    raise ConfigurationError(
        f"Storage is not configured: set AzureWebJobsStorage, or AzureWebJobsStorage__{setting}."
    )
