"""ProviderSettingsStore on Azure Table Storage: one entity in the Settings table (never the secret)."""
from __future__ import annotations

from dataclasses import replace

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableServiceClient, UpdateMode

from ..domain.errors import Conflict
from ..domain.models import ProviderSettings
from .table_common import TableAccess, storage_call
from .table_entities import SETTINGS_KEYS, settings_from_entity, settings_to_entity


class TableProviderSettingsStore:
    """Implements ports.ProviderSettingsStore."""

    def __init__(self, service: TableServiceClient, *, table: str = "Settings") -> None:
        self._name = table
        self._on_table = TableAccess(service, table)

    def get(self) -> ProviderSettings | None:
        with storage_call("read the settings"):
            try:
                entity = self._on_table(lambda table: table.get_entity(*SETTINGS_KEYS))
            except ResourceNotFoundError:
                return None
        return settings_from_entity(entity)

    def save(self, settings: ProviderSettings) -> ProviderSettings:
        entity = settings_to_entity(settings)
        with storage_call("save the settings"):
            try:
                if settings.etag is None:
                    metadata = self._on_table(lambda table: table.create_entity(entity))
                else:
                    metadata = self._on_table(lambda table: table.update_entity(
                        entity, mode=UpdateMode.REPLACE, etag=settings.etag,
                        match_condition=MatchConditions.IfNotModified,
                    ))
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                raise Conflict(
                    "modifiedConcurrently", "The settings were changed by another request; read them again and retry."
                ) from None
        return replace(settings, etag=metadata["etag"])


