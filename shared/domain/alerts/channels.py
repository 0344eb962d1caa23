"""Alert channels: where digests go (a signed webhook or a Teams Workflows webhook), and the rules of their fields.

The URL is a secret (a Teams workflow URL carries its own signature): the record names the secret version of the
URL and of the signing secret, and keeps only the URL's host, for views.
"""
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from datetime import datetime

from ..errors import InputError
from ..rules import is_customer_id
from ..secrets import ChannelSecret
from .events import EventType


class ChannelKind(enum.StrEnum):
    WEBHOOK = "webhook"  # our JSON body, signed with the channel's signing secret
    TEAMS = "teams"  # an Adaptive Card in the message envelope of a Teams Workflows webhook


@dataclass(frozen=True, slots=True)
class AlertChannel:
    channel_id: str
    kind: ChannelKind
    events: frozenset[EventType]
    enabled: bool = True
    url_host: str | None = None  # what views show of the URL
    secret_versions: dict[ChannelSecret, str] = field(default_factory=dict)
    reminded_at: datetime | None = None  # when a digest for this channel last carried reminders
    created_at: datetime | None = None
    updated_at: datetime | None = None
    etag: str | None = field(default=None, compare=False)

    @property
    def url_configured(self) -> bool:
        return ChannelSecret.URL in self.secret_versions

    def wants(self, event_type: EventType) -> bool:
        """Whether a digest for this channel carries events of `event_type` (an enabled channel's choice)."""
        return self.enabled and event_type in self.events


def is_channel_id(value: str | None) -> bool:
    """The customerId rule: 1-64 characters of A-Z a-z 0-9 . _ -, not only dots."""
    return is_customer_id(value)


def check_channel_id(value: str | None) -> str:
    if not is_channel_id(value):
        raise InputError("invalidChannelId", "channelId must be 1 to 64 characters of letters, digits, '.', '_' "
                         "or '-', and not only dots.", target="channelId")
    assert value is not None
    return value


def check_kind(value: object) -> ChannelKind:
    if not isinstance(value, str) or value not in {kind.value for kind in ChannelKind}:
        raise InputError("invalidChannelKind", "kind must be \"webhook\" or \"teams\".", target="kind")
    return ChannelKind(value)


def check_events(values: object) -> frozenset[EventType]:
    """A non-empty list of event types, each named once or more (repeats are one)."""
    known = ", ".join(t.value for t in EventType)
    if not isinstance(values, list) or not values or not all(isinstance(v, str) for v in values):
        raise InputError("invalidEvents", f"events must be a non-empty list of event types ({known}).",
                         target="events")
    if not set(values) <= {t.value for t in EventType}:
        raise InputError("invalidEvents", f"events holds unknown types; known: {known}.", target="events")
    return frozenset(EventType(v) for v in values)


CHANNEL_FIELDS = frozenset({"kind", "url", "events", "enabled", "rotateSigningSecret"})
READ_ONLY_FIELDS = frozenset({"channelId", "urlHost", "urlConfigured", "signingSecretConfigured", "createdAt",
                              "updatedAt", "lastDelivery", "lastFailure", "signingSecret"})


@dataclass(frozen=True, slots=True)
class ChannelInput:
    """The body of `PUT /api/alerts/channels/{channelId}`. `url` None keeps the stored URL (it is write-only);
    `rotate_signing_secret` makes a webhook channel a new signing secret, shown once in the answer."""

    kind: ChannelKind
    events: frozenset[EventType]
    enabled: bool = True
    url: str | None = field(default=None, repr=False)
    rotate_signing_secret: bool = False


def channel_input(body: dict[str, object]) -> ChannelInput:
    """`body` checked field by field (not the URL's destination: that needs a lookup, done by the use case).
    Fields a view shows are allowed and ignored, so a view can be sent back."""
    unknown = sorted(set(body) - CHANNEL_FIELDS - READ_ONLY_FIELDS)
    if unknown:
        raise InputError("unknownField", f"Unknown field: {unknown[0][:64]}.", target=unknown[0][:64])
    if "kind" not in body:
        raise InputError("missingField", "kind is required.", target="kind")
    url = body.get("url")
    if url is not None and not isinstance(url, str):
        raise InputError("invalidChannelUrl", "url must be an absolute https URL.", target="url")
    events = check_events(body["events"]) if "events" in body else frozenset(EventType)
    for name in ("enabled", "rotateSigningSecret"):
        if name in body and not isinstance(body[name], bool):
            raise InputError("invalidField", f"{name} must be true or false.", target=name)
    return ChannelInput(kind=check_kind(body["kind"]), events=events, enabled=bool(body.get("enabled", True)),
                        url=url, rotate_signing_secret=bool(body.get("rotateSigningSecret", False)))
