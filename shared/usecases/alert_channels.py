"""Alert channels: list, create or update, delete, send a test message (README, "Alerts").

A channel's URL and signing secret are secrets: they follow the write rule of usecases/secret_writes.py (a new
version, then the record's pointer under its ETag), and only the URL's host reaches the record.
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

from ..domain.alerts.channel_results import ChannelSaved, ChannelState, ChannelTest
from ..domain.alerts.channels import AlertChannel, ChannelInput, ChannelKind
from ..domain.alerts.deliveries import DeliveryState
from ..domain.alerts.digests import channel_test_digest
from ..domain.alerts.messages import outgoing_message
from ..domain.alerts.signing import new_signing_secret
from ..domain.errors import Conflict, InputError, NotFound
from ..domain.ports import AlertTransport, ChannelStore, DeliveryStore, SecretStore
from ..domain.secrets import ChannelSecret
from .secret_writes import new_versions, read_named

RECENT_DELIVERIES = 20  # what a channel's view looks through for its last failure


def list_channels(channels: ChannelStore, deliveries: DeliveryStore) -> list[ChannelState]:
    return [channel_state(channel, deliveries) for channel in channels.list()]


def channel_state(channel: AlertChannel, deliveries: DeliveryStore) -> ChannelState:
    recent = deliveries.list_recent(channel.channel_id, top=RECENT_DELIVERIES)
    failed = next((d for d in recent if d.state is DeliveryState.FAILED), None)
    return ChannelState(channel, recent[0] if recent else None, failed)


def put_channel(channels: ChannelStore, secrets: SecretStore, transport: AlertTransport, channel_id: str,
                data: ChannelInput, *, now: datetime | None = None) -> ChannelSaved:
    """Create or replace a channel. The URL is checked where it leads (its host resolved, every address allowed)
    before anything is stored; without `url` the stored one is kept. A webhook channel gets a signing secret when
    it has none, or a new one when asked (`rotateSigningSecret`); the old one stops signing at once."""
    now = now or datetime.now(UTC)
    existing = channels.get(channel_id)
    if existing is None and data.url is None:
        raise InputError("missingField", "url is required for a new channel.", target="url")
    if data.rotate_signing_secret and data.kind is not ChannelKind.WEBHOOK:
        raise InputError("invalidField", "Only webhook channels have a signing secret to rotate.",
                         target="rotateSigningSecret")
    host = transport.check_destination(data.url).host if data.url is not None else None
    versions = dict(existing.secret_versions) if existing else {}
    signing = None
    if data.kind is ChannelKind.WEBHOOK and (data.rotate_signing_secret
                                             or ChannelSecret.SIGNING_SECRET not in versions):
        signing = new_signing_secret()
    with new_versions(secrets, channel_id, {ChannelSecret.URL: data.url,
                                            ChannelSecret.SIGNING_SECRET: signing}) as written:
        versions.update(written)
        channel = AlertChannel(
            channel_id=channel_id, kind=data.kind, events=data.events, enabled=data.enabled,
            url_host=host or (existing.url_host if existing else None), secret_versions=versions,
            reminded_at=existing.reminded_at if existing else None,
            created_at=(existing.created_at if existing else None) or now, updated_at=now)
        saved = channels.replace(existing, channel) if existing else channels.create(channel)
    return ChannelSaved(saved, existing is None, signing)


def delete_channel(channels: ChannelStore, secrets: SecretStore, channel_id: str) -> None:
    """The record first, under its ETag (nothing reads the secrets then), then every version of its secrets; a
    failure there is left to the sweep."""
    channel = get_channel(channels, channel_id)
    channels.delete(channel)
    for kind in ChannelSecret:
        secrets.delete(channel_id, kind)


def get_channel(channels: ChannelStore, channel_id: str) -> AlertChannel:
    channel = channels.get(channel_id)
    if channel is None:
        raise NotFound(f"No alert channel with channelId {channel_id}.")
    return channel


def send_test_message(channels: ChannelStore, secrets: SecretStore, transport: AlertTransport, channel_id: str, *,
                 page_url: str, now: datetime | None = None) -> ChannelTest:
    """Send a test message now, once, and say what came of it (a disabled channel is tested too: that is how an
    operator checks it before turning it on)."""
    now = now or datetime.now(UTC)
    channel = get_channel(channels, channel_id)
    test_id = uuid.uuid4().hex
    digest = channel_test_digest(channel_id, test_id=test_id, created_at=now)
    delivery_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"test:{channel_id}:{test_id}"))
    url, signing = channel_secrets(secrets, channel)
    message = outgoing_message(channel.kind, digest, delivery_id=delivery_id, page_url=page_url,
                               signing_secret=signing, timestamp=int(now.timestamp()))
    return ChannelTest(delivery_id, transport.post(url, message.body, message.headers))


def channel_secrets(secrets: SecretStore, channel: AlertChannel) -> tuple[str, str | None]:
    """The channel's URL and (a webhook's) signing secret, as the record names them; Conflict when the store no
    longer holds the URL (set it again with PUT)."""
    values: dict[ChannelSecret, str | None] = {}
    for kind in ChannelSecret:
        version = channel.secret_versions.get(kind)
        values[kind] = read_named(secrets, channel.channel_id, kind, version).value if version else None
    url = values[ChannelSecret.URL]
    if url is None:
        raise Conflict("channelUrlMissing", f"The URL of channel {channel.channel_id} is not in the secret store; "
                       "set it again with PUT.", target="url")
    if channel.kind is ChannelKind.WEBHOOK and values[ChannelSecret.SIGNING_SECRET] is None:
        raise Conflict("signingSecretMissing", f"The signing secret of channel {channel.channel_id} is not in the "
                       "secret store; rotate it with PUT and rotateSigningSecret.", target="rotateSigningSecret")
    return url, values[ChannelSecret.SIGNING_SECRET]
