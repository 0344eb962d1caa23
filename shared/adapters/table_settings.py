"""ProviderSettingsStore on Azure Table Storage: one entity (PartitionKey "provider", RowKey "consent") in the
Settings table with the provider's consent settings (never the secret, only the version of it in use)."""
from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableServiceClient, UpdateMode

from ..domain.errors import Conflict
from ..domain.expiry import ExpiryKind
from ..domain.models import ProviderSettings
from .table_columns import plain_datetime, utc, without_none
from .table_common import TableAccess, storage_call
from .table_foresight import part_of, part_to_data, read_of, read_to_data

_KEYS = ("provider", "consent")  # (PartitionKey, RowKey) of the one entity


class TableProviderSettingsStore:
    """Implements ports.ProviderSettingsStore."""

    def __init__(self, service: TableServiceClient, *, table: str = "Settings") -> None:
        self._name = table
        self._on_table = TableAccess(service, table)

    def get(self) -> ProviderSettings | None:
        with storage_call("read the settings"):
            try:
                entity = self._on_table(lambda table: table.get_entity(*_KEYS))
            except ResourceNotFoundError:
                return None
        return settings_from_entity(entity)

    def create(self, settings: ProviderSettings) -> ProviderSettings:
        entity = settings_to_entity(settings)
        with storage_call("save the settings"), _conflict_if_changed():
            metadata = self._on_table(lambda table: table.create_entity(entity))
        return replace(settings, etag=metadata["etag"])

    def replace(self, previous: ProviderSettings, settings: ProviderSettings) -> ProviderSettings:
        if previous.etag is None:
            raise ValueError("To replace the settings, read them from the store first: their etag guards the write.")
        entity = settings_to_entity(settings)
        with storage_call("save the settings"), _conflict_if_changed():
            metadata = self._on_table(lambda table: table.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=previous.etag, match_condition=MatchConditions.IfNotModified))
        return replace(settings, etag=metadata["etag"])


@contextmanager
def _conflict_if_changed() -> Iterator[None]:
    """Created (409), changed (412) or deleted (404) by another request since they were read."""
    try:
        yield
    except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
        raise Conflict(
            "modifiedConcurrently", "The settings were changed by another request; read them again and retry."
        ) from None


def settings_to_entity(settings: ProviderSettings) -> dict[str, Any]:
    return without_none({
        "PartitionKey": _KEYS[0],
        "RowKey": _KEYS[1],
        "clientId": settings.client_id,
        "redirectUrl": settings.redirect_url,
        "clientSecretVersion": settings.client_secret_version,
        "updatedAt": utc(settings.updated_at),
        "clientSecretExpiresAt": utc(settings.client_secret_expires_at),
        "clientSecretGraph": _json(part_to_data(settings.client_secret_graph)),
        "clientSecretRead": _json(read_to_data(settings.client_secret_read)),
    })


def _json(data: Any) -> str | None:
    return json.dumps(data, sort_keys=True) if data is not None else None


def _loaded(entity: Any, column: str) -> Any:
    try:
        return json.loads(entity.get(column) or "null")
    except ValueError:
        return None


def settings_from_entity(entity: Any) -> ProviderSettings:
    return ProviderSettings(
        client_id=entity.get("clientId"),
        redirect_url=entity.get("redirectUrl"),
        client_secret_version=entity.get("clientSecretVersion"),
        updated_at=plain_datetime(entity.get("updatedAt")),
        client_secret_expires_at=plain_datetime(entity.get("clientSecretExpiresAt")),
        client_secret_graph=part_of(_loaded(entity, "clientSecretGraph"), ExpiryKind.PROVIDER_CLIENT_SECRET),
        client_secret_read=read_of(_loaded(entity, "clientSecretRead")),
        etag=entity.metadata["etag"],
    )
