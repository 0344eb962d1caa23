"""ChannelStore on Azure Table Storage: the AlertChannels table, one entity per channel (PartitionKey "channel",
RowKey the channelId). It holds the URL's host and the secret versions of the URL and the signing secret, never
their values."""
from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import ResourceExistsError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableServiceClient, UpdateMode

from ..domain.alerts.channels import AlertChannel, ChannelKind, ChannelSecret
from ..domain.alerts.events import EventType
from ..domain.errors import Conflict
from .table_columns import plain_datetime, utc, without_none
from .table_common import TableAccess, storage_call

logger = logging.getLogger(__name__)

PARTITION = "channel"
_VERSION_COLUMNS = {ChannelSecret.URL: "urlVersion", ChannelSecret.SIGNING_SECRET: "signingSecretVersion"}


class TableChannelStore:
    """Implements ports.ChannelStore. Creates its table on first use, once per process."""

    def __init__(self, service: TableServiceClient, *, table: str = "AlertChannels") -> None:
        self._on_table = TableAccess(service, table)

    def get(self, channel_id: str) -> AlertChannel | None:
        with storage_call("read an alert channel"):
            try:
                entity = self._on_table(lambda table: table.get_entity(PARTITION, channel_id))
            except ResourceNotFoundError:
                return None
        return channel_from_entity(entity)

    def list(self) -> list[AlertChannel]:
        with storage_call("list the alert channels"):
            entities = self._on_table(lambda table: list(table.query_entities(
                "PartitionKey eq @pk", parameters={"pk": PARTITION})))
        channels = []
        for entity in entities:
            try:
                channels.append(channel_from_entity(entity))
            except (KeyError, ValueError):  # one odd row must not hide the others
                logger.warning("An alert channel row could not be read and is left out.")
        return sorted(channels, key=lambda c: c.channel_id)

    def create(self, channel: AlertChannel) -> AlertChannel:
        entity = channel_to_entity(channel)
        with storage_call("save an alert channel"), _conflict_if_changed():
            metadata = self._on_table(lambda table: table.create_entity(entity))
        return replace(channel, etag=metadata["etag"])

    def replace(self, previous: AlertChannel, channel: AlertChannel) -> AlertChannel:
        if previous.etag is None:
            raise ValueError("To replace a channel, read it from the store first: its etag guards the write.")
        entity = channel_to_entity(channel)
        with storage_call("save an alert channel"), _conflict_if_changed():
            metadata = self._on_table(lambda table: table.update_entity(
                entity, mode=UpdateMode.REPLACE, etag=previous.etag, match_condition=MatchConditions.IfNotModified))
        return replace(channel, etag=metadata["etag"])

    def delete(self, channel: AlertChannel) -> None:
        if channel.etag is None:
            raise ValueError("To delete a channel, read it from the store first: its etag guards the write.")
        with storage_call("delete an alert channel"), _conflict_if_changed():
            self._on_table(lambda table: table.delete_entity(
                PARTITION, channel.channel_id, etag=channel.etag, match_condition=MatchConditions.IfNotModified))


@contextmanager
def _conflict_if_changed() -> Iterator[None]:
    """Created (409), changed (412) or deleted (404) by another request since it was read."""
    try:
        yield
    except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
        raise Conflict("modifiedConcurrently",
                       "The channel was changed by another request; read it again and retry.") from None


def channel_to_entity(channel: AlertChannel) -> dict[str, Any]:
    return without_none({
        "PartitionKey": PARTITION,
        "RowKey": channel.channel_id,
        "kind": channel.kind.value,
        "events": ",".join(sorted(e.value for e in channel.events)),
        "enabled": channel.enabled,
        "urlHost": channel.url_host,
        **{column: channel.secret_versions.get(kind) for kind, column in _VERSION_COLUMNS.items()},
        "remindedAt": utc(channel.reminded_at),
        "createdAt": utc(channel.created_at),
        "updatedAt": utc(channel.updated_at),
    })


def channel_from_entity(entity: Any) -> AlertChannel:
    known = {t.value for t in EventType}
    return AlertChannel(
        channel_id=entity["RowKey"],
        kind=ChannelKind(entity["kind"]),
        events=frozenset(EventType(e) for e in str(entity.get("events") or "").split(",") if e in known),
        enabled=bool(entity.get("enabled", True)),
        url_host=entity.get("urlHost"),
        secret_versions={kind: entity[column] for kind, column in _VERSION_COLUMNS.items() if entity.get(column)},
        reminded_at=plain_datetime(entity.get("remindedAt")),
        created_at=plain_datetime(entity.get("createdAt")),
        updated_at=plain_datetime(entity.get("updatedAt")),
        etag=entity.metadata["etag"],
    )
