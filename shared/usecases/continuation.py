"""The one continuation-token format of GET /api/status.

Opaque to clients: "c1." + base64url (no padding) of compact JSON holding where the next page starts
(the store's cursor), the filter the token was issued for, and the summary counts of the walk with the
time they were taken. A token is accepted only if re-encoding what it decodes to gives back the very same
string, and only for the filter it was issued for.
"""
from __future__ import annotations

import base64
import binascii
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from ..domain.errors import invalid_continuation_token
from ..domain.models import Cursor, Status, TenantFilter

_PREFIX = "c1."
_MAX_CHARS = 4096
_BODY = re.compile(r"[A-Za-z0-9_-]+")
_KEYS = frozenset({"p", "r", "s", "m", "c", "at"})


@dataclass(frozen=True, slots=True)
class Continuation:
    cursor: Cursor
    counts: dict[Status, int]
    counted_at: datetime


def encode(continuation: Continuation, flt: TenantFilter) -> str:
    body = {
        "p": continuation.cursor.partition,
        "r": continuation.cursor.row,
        "s": flt.status.value if flt.status is not None else None,
        "m": flt.method.value if flt.method is not None else None,
        "c": {status.value: continuation.counts.get(status, 0) for status in Status},
        "at": int(continuation.counted_at.timestamp()),
    }
    compact = json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=True)
    return _PREFIX + base64.urlsafe_b64encode(compact.encode("ascii")).rstrip(b"=").decode("ascii")


def decode(token: str, flt: TenantFilter) -> Continuation:
    """The continuation a token carries; raises InputError for any token not issued for this filter."""
    payload = token[len(_PREFIX):]
    if len(token) > _MAX_CHARS or not token.startswith(_PREFIX) or not _BODY.fullmatch(payload):
        raise invalid_continuation_token()
    try:
        body: Any = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
        continuation = _from_body(body)
    except (binascii.Error, ValueError, TypeError, KeyError, AttributeError, OverflowError, OSError, RecursionError):
        raise invalid_continuation_token() from None
    if continuation is None or encode(continuation, flt) != token:  # not canonical, or for another filter
        raise invalid_continuation_token()
    return continuation


def _from_body(body: Any) -> Continuation | None:
    if not isinstance(body, dict) or set(body) != _KEYS:
        return None
    partition, row, raw_counts, at = body["p"], body["r"], body["c"], body["at"]
    if not isinstance(partition, str) or not partition or not (row is None or isinstance(row, str)):
        return None
    if not isinstance(raw_counts, dict) or type(at) is not int:
        return None
    counts = {Status(name): value for name, value in raw_counts.items()}
    if set(counts) != set(Status) or not all(type(v) is int and v >= 0 for v in counts.values()):
        return None
    return Continuation(Cursor(partition, row), counts, datetime.fromtimestamp(at, UTC))
