"""ProviderSettingsStore on Azure Table Storage: one entity (PartitionKey "provider", RowKey "consent") in the
Settings table with the provider's consent settings (never the secret, only the version of it in use)."""
from __future__ import annotations

import json
from typing import Any

from azure.data.tables import TableServiceClient

from ..domain.expiry import ExpiryKind
from ..domain.models import ProviderSettings
from .table_columns import plain_datetime, utc, without_none
from .table_foresight import part_of, part_to_data, read_of, read_to_data
from .table_guarded_rows import GuardedRows

_KEYS = ("provider", "consent")  # (PartitionKey, RowKey) of the one entity


class TableProviderSettingsStore(GuardedRows[ProviderSettings]):
    """Implements ports.ProviderSettingsStore."""

    def __init__(self, service: TableServiceClient, *, table: str = "Settings") -> None:
        super().__init__(service, table, to_entity=settings_to_entity, from_entity=settings_from_entity,
                         what="the settings",
                         changed="The settings were changed by another request; read them again and retry.")

    def get(self) -> ProviderSettings | None:
        return self._get(*_KEYS)


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
