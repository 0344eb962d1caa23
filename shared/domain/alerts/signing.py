"""Webhook signatures: a signing secret per channel (made here, shown once, rotatable), the headers a webhook
carries, and the check a receiver makes, as Stripe and GitHub sign theirs.

    X-Delivery-Id: <id>                 the idempotency key: the same for every attempt of one delivery
    X-Signature-Timestamp: <t>          Unix seconds when this attempt was signed
    X-Signature: sha256=<hex>           HMAC-SHA256 under the signing secret (its UTF-8 bytes) of "<t>." + the body

A receiver recomputes the HMAC over the timestamp header, a dot and the exact bytes received (before any JSON
parsing), compares in constant time, refuses a timestamp more than a few minutes from its clock (a replay), and
keeps the delivery ids it has seen so a retried delivery is processed once. `check_signature` does all but the last.
"""
from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import secrets
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

DELIVERY_ID_HEADER = "X-Delivery-Id"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
SIGNATURE_HEADER = "X-Signature"
SECRET_PREFIX = "whsec_"
SIGNATURE_PREFIX = "sha256="
TOLERANCE = timedelta(minutes=5)


class SignatureProblem(enum.StrEnum):
    MISSING = "missing"  # no signature or timestamp header
    STALE = "stale"  # the timestamp is too far from the receiver's clock (or unreadable)
    MISMATCH = "mismatch"  # no signature matches any of the secrets


def new_signing_secret(*, token_bytes: Callable[[int], bytes] = secrets.token_bytes) -> str:
    """A fresh signing secret: 256 random bits, URL-safe base64, with a prefix that tells what it is."""
    return SECRET_PREFIX + base64.urlsafe_b64encode(token_bytes(32)).rstrip(b"=").decode("ascii")


def hmac_sha256_hex(key: bytes, message: bytes) -> str:
    return hmac.new(key, message, hashlib.sha256).hexdigest()


def signature(secret: str, *, timestamp: int, body: bytes) -> str:
    """The X-Signature value of `body` signed at `timestamp` under `secret`."""
    return SIGNATURE_PREFIX + hmac_sha256_hex(secret.encode("utf-8"), f"{timestamp}.".encode("ascii") + body)


def webhook_headers(*, delivery_id: str, secret: str, body: bytes, timestamp: int) -> dict[str, str]:
    """The headers of one attempt to deliver `body` (signed anew each attempt; the delivery id stays)."""
    return {
        "Content-Type": "application/json; charset=utf-8",
        DELIVERY_ID_HEADER: delivery_id,
        TIMESTAMP_HEADER: str(timestamp),
        SIGNATURE_HEADER: signature(secret, timestamp=timestamp, body=body),
    }


def check_signature(body: bytes, *, signature_header: str | None, timestamp_header: str | None,
                    signing_secrets: Sequence[str], now: datetime,
                    tolerance: timedelta = TOLERANCE) -> SignatureProblem | None:
    """None when `body` is signed by one of `signing_secrets` (several while a secret is being rotated) within
    `tolerance` of `now`; else what is wrong. The header may hold several comma-separated signatures; one match
    is enough."""
    if not signature_header or not timestamp_header:
        return SignatureProblem.MISSING
    text = timestamp_header.strip()
    if not text.isdigit() or len(text) > 12 or abs(now.timestamp() - int(text)) > tolerance.total_seconds():
        return SignatureProblem.STALE
    offered = [part.strip() for part in signature_header.split(",")]
    expected = [signature(secret, timestamp=int(text), body=body) for secret in signing_secrets]
    # Every pair is compared, in constant time, so the time taken tells nothing about which part matched.
    matches = [hmac.compare_digest(o.encode("ascii", "replace"), e.encode("ascii")) for o in offered for e in expected]
    return None if any(matches) else SignatureProblem.MISMATCH
