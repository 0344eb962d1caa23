"""ChannelStore on Azure Table Storage: the AlertChannels table, one entity per channel (PartitionKey "channel",
RowKey the channelId). It holds the URL's host and the secret versions of the URL and the signing secret, never
their values."""
from __future__ import annotations

import logging
from typing import Any

from azure.data.tables import TableServiceClient

from ..domain.alerts.channels import AlertChannel, ChannelKind
from ..domain.alerts.events import EventType
from ..domain.secrets import ChannelSecret
from .table_columns import plain_datetime, utc, without_none
from .table_common import storage_call
from .table_guarded_rows import GuardedRows

logger = logging.getLogger(__name__)

PARTITION = "channel"
_VERSION_COLUMNS = {ChannelSecret.URL: "urlVersion", ChannelSecret.SIGNING_SECRET: "signingSecretVersion"}


class TableChannelStore(GuardedRows[AlertChannel]):
    """Implements ports.ChannelStore."""

    def __init__(self, service: TableServiceClient, *, table: str = "AlertChannels") -> None:
        super().__init__(service, table, to_entity=channel_to_entity, from_entity=channel_from_entity,
                         what="an alert channel",
                         changed="The channel was changed by another request; read it again and retry.")

    def get(self, channel_id: str) -> AlertChannel | None:
        return self._get(PARTITION, channel_id)

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

    def delete(self, channel: AlertChannel) -> None:
        self._delete(channel, PARTITION, channel.channel_id)


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
