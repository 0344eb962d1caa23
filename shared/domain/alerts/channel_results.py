"""What the channel use cases answer: a channel with its latest deliveries, a saved channel (with its signing secret
once), and what came of a test message."""
from __future__ import annotations

from dataclasses import dataclass, field

from .channels import AlertChannel
from .deliveries import Delivery
from .delivery_retry import SendOutcome


@dataclass(frozen=True, slots=True)
class ChannelState:
    """A channel as the page sees it: the record, its latest delivery and its latest failed one."""

    channel: AlertChannel
    last_delivery: Delivery | None = None
    last_failure: Delivery | None = None


@dataclass(frozen=True, slots=True)
class ChannelSaved:
    channel: AlertChannel
    created: bool
    signing_secret: str | None = field(default=None, repr=False)  # shown once: when made or rotated


@dataclass(frozen=True, slots=True)
class ChannelTest:
    delivery_id: str
    outcome: SendOutcome
