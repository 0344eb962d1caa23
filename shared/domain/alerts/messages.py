"""The message one attempt of a delivery sends: its body and headers, by the channel's kind.

Every attempt of a delivery sends the same body under the same `X-Delivery-Id` (receivers deduplicate on it); a
webhook's signature is made anew at each attempt, over its timestamp and the body.
"""
from __future__ import annotations

from dataclasses import dataclass

from .channels import ChannelKind
from .digests import Digest
from .signing import DELIVERY_ID_HEADER, webhook_headers
from .teams_card import teams_body
from .webhook_body import webhook_body

JSON = "application/json; charset=utf-8"


@dataclass(frozen=True, slots=True)
class OutgoingMessage:
    body: bytes
    headers: dict[str, str]


def outgoing_message(kind: ChannelKind, digest: Digest, *, delivery_id: str, page_url: str,
                     signing_secret: str | None, timestamp: int) -> OutgoingMessage:
    """What to POST to the channel's URL. A webhook needs its channel's `signing_secret`; Teams takes none."""
    if kind is ChannelKind.TEAMS:
        return OutgoingMessage(teams_body(digest, page_url=page_url),
                               {"Content-Type": JSON, DELIVERY_ID_HEADER: delivery_id})
    if not signing_secret:
        raise ValueError("a webhook message needs its channel's signing secret")
    body = webhook_body(digest, delivery_id=delivery_id, page_url=page_url)
    return OutgoingMessage(body, webhook_headers(delivery_id=delivery_id, secret=signing_secret, body=body,
                                                 timestamp=timestamp))
