"""In-memory fakes of the alert ports (channels, deliveries, the dispatcher's follower state, the transport), for
unit tests of use cases and handlers."""
from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shared.domain.alerts.batches import BatchHead
from shared.domain.alerts.channel_urls import ChannelUrl, check_channel_url
from shared.domain.alerts.channels import AlertChannel
from shared.domain.alerts.deliveries import Delivery, DeliveryState
from shared.domain.alerts.delivery_retry import OutcomeKind, SendOutcome
from shared.domain.alerts.reminders import Acknowledgement
from shared.domain.errors import Conflict


class InMemoryChannelStore:
    def __init__(self) -> None:
        self.channels: dict[str, AlertChannel] = {}
        self._etags = itertools.count(1)

    def _stamp(self, channel: AlertChannel) -> AlertChannel:
        channel = dataclasses.replace(channel, etag=f"W/{next(self._etags)}")
        self.channels[channel.channel_id] = channel
        return channel

    def get(self, channel_id: str) -> AlertChannel | None:
        return self.channels.get(channel_id)

    def list(self) -> list[AlertChannel]:
        return [self.channels[k] for k in sorted(self.channels)]

    def create(self, channel: AlertChannel) -> AlertChannel:
        if channel.channel_id in self.channels:
            raise Conflict("modifiedConcurrently", "exists")
        return self._stamp(channel)

    def replace(self, previous: AlertChannel, channel: AlertChannel) -> AlertChannel:
        current = self.channels.get(channel.channel_id)
        if current is None or current.etag != previous.etag:
            raise Conflict("modifiedConcurrently", "changed")
        return self._stamp(channel)

    def delete(self, channel: AlertChannel) -> None:
        current = self.channels.get(channel.channel_id)
        if current is None or current.etag != channel.etag:
            raise Conflict("modifiedConcurrently", "changed")
        del self.channels[channel.channel_id]


class InMemoryDeliveryStore:
    def __init__(self) -> None:
        self.deliveries: dict[str, Delivery] = {}
        self._etags = itertools.count(1)

    def _stamp(self, delivery: Delivery) -> Delivery:
        delivery = dataclasses.replace(delivery, etag=f"W/{next(self._etags)}")
        self.deliveries[delivery.delivery_id] = delivery
        return delivery

    def add(self, delivery: Delivery) -> Delivery:
        return self.deliveries.get(delivery.delivery_id) or self._stamp(delivery)

    def replace(self, previous: Delivery, delivery: Delivery) -> Delivery:
        current = self.deliveries.get(delivery.delivery_id)
        if current is None or current.etag != previous.etag:
            raise Conflict("modifiedConcurrently", "changed")
        return self._stamp(delivery)

    def list_due(self, *, now: datetime, top: int) -> list[Delivery]:
        due = [d for d in self.deliveries.values() if d.state is DeliveryState.PENDING
               and d.next_attempt_at is not None and d.next_attempt_at <= now]
        return sorted(due, key=lambda d: (d.next_attempt_at, d.delivery_id))[:top]

    def list_recent(self, channel_id: str, *, top: int) -> list[Delivery]:
        mine = [d for d in self.deliveries.values() if d.channel_id == channel_id]
        return sorted(mine, key=lambda d: (d.created_at, d.delivery_id), reverse=True)[:top]

    def delete_older_than(self, moment: datetime) -> int:
        gone = [key for key, d in self.deliveries.items()
                if d.created_at < moment and d.state is not DeliveryState.PENDING]
        for key in gone:
            del self.deliveries[key]
        return len(gone)


class InMemoryAlertFollower:
    def __init__(self) -> None:
        self.mark: str | None = None
        self.acks: dict[str, Acknowledgement] = {}
        self.heads: dict[str, BatchHead] = {}
        self.recorded_at: dict[str, datetime] = {}
        self._etags = itertools.count(1)

    def get_mark(self) -> str | None:
        return self.mark

    def set_mark(self, mark: str | None) -> None:
        self.mark = mark

    def get_batch_head(self, chain: str) -> BatchHead | None:
        return self.heads.get(chain)

    def put_batch_head(self, previous: BatchHead | None, head: BatchHead) -> BatchHead:
        current = self.heads.get(head.chain)
        if (current and current.etag) != (previous and previous.etag):
            raise Conflict("modifiedConcurrently", "changed")
        self.heads[head.chain] = stored = dataclasses.replace(head, etag=str(next(self._etags)))
        self.recorded_at[head.chain] = datetime.now(UTC)
        return stored

    def forget_runs_batches(self, *, done_before: datetime) -> int:
        old = [chain for chain, head in self.heads.items()
               if chain.startswith("run:") and head.done and self.recorded_at[chain] < done_before]
        for chain in old:
            del self.heads[chain]
        return len(old)

    def acknowledge(self, customer_id: str, acknowledgement: Acknowledgement) -> None:
        self.acks[customer_id] = acknowledgement

    def list_acknowledgements(self) -> dict[str, Acknowledgement]:
        return dict(self.acks)


@dataclass
class Sent:
    url: str
    body: bytes
    headers: dict[str, str]


@dataclass
class ScriptedTransport:
    """Checks URLs by the rules alone (no lookup; hosts ending in `.internal` resolve to a private address) and
    answers each post with the next scripted outcome, or 200."""

    local_development: bool = True
    outcomes: list[SendOutcome] = field(default_factory=list)
    sent: list[Sent] = field(default_factory=list)

    def check_destination(self, url: str) -> ChannelUrl:
        from shared.domain.alerts.channel_urls import not_allowed

        target = check_channel_url(url, local_development=self.local_development)
        if target.host.endswith(".internal"):
            raise not_allowed(f"{target.host} resolves to 10.0.0.1, a private address, which alerts may not reach")
        return target

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendOutcome:
        self.sent.append(Sent(url, body, dict(headers)))
        return self.outcomes.pop(0) if self.outcomes else SendOutcome(OutcomeKind.SENT, "HTTP 200", 200)
