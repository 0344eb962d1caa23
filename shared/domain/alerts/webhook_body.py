"""The JSON body a `webhook` channel receives (docs/alerts-webhook.schema.json describes it).

Rendered from the delivery's digest alone, so every attempt of one delivery sends the same bytes.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from ..expiry import Expiry
from .digests import Digest, DigestEntry

SCHEMA_VERSION = 1


def webhook_payload(digest: Digest, *, delivery_id: str, page_url: str) -> dict[str, Any]:
    return {
        "schemaVersion": SCHEMA_VERSION,
        "deliveryId": delivery_id,
        "channelId": digest.channel_id,
        "test": digest.test,
        "runId": digest.run_id,
        "createdAt": utc_text(digest.created_at),
        "counts": {kind.value: count for kind, count in digest.counts.items()},
        "customers": [_entry(entry) for entry in digest.entries],
        "more": digest.more,
        "pageUrl": page_url,
    }


def webhook_body(digest: Digest, *, delivery_id: str, page_url: str) -> bytes:
    """The exact bytes sent (and signed): compact UTF-8 JSON."""
    payload = webhook_payload(digest, delivery_id=delivery_id, page_url=page_url)
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def utc_text(value: datetime) -> str:
    """ISO 8601 in UTC with a Z, to the second, as every time of the contract."""
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _entry(entry: DigestEntry) -> dict[str, Any]:
    return {
        "type": entry.kind.value,
        "customerId": entry.customer_id,
        "tenantId": entry.tenant_id,
        "reason": entry.reason,
        "previousReason": entry.previous_reason,
        "hint": entry.hint,
        "message": entry.message,
        "at": utc_text(entry.at),
        "eventId": entry.event_id,
        "expiry": _expiry(entry.expiry),
        "withinDays": entry.within_days,
    }


def _expiry(expiry: Expiry | None) -> dict[str, Any] | None:
    """As the tenant view's `expiry` (what, source, at)."""
    if expiry is None:
        return None
    return {"what": expiry.what.value, "source": expiry.source.value, "at": utc_text(expiry.at)}
