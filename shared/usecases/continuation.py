"""The one continuation-token format of GET /api/status and GET /api/events.

Opaque to clients: "c3." + base64url (no padding) of compact JSON holding where the next listing starts (the
store's cursor, opaque here too) and the filter it was issued for, then "." and an HMAC-SHA256 of all that under
the token key (usecases/token_key.py). A token is accepted only with a valid signature, only if re-encoding what
it decodes to gives back the very same string, and only for the listing and filter it was issued for. The summary
counts are not in it: they are read from the store's kept counts for every listing.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import Mapping
from typing import Any

from ..domain.errors import invalid_continuation_token
from ..domain.models import Cursor, CustomerFilter, is_cursor
from .token_key import TokenKey

_PREFIX = "c3."
_MAX_CHARS = 4096
_PART = re.compile(r"[A-Za-z0-9_-]+")


def encode(cursor: Cursor, flt: CustomerFilter, key: bytes, *, expiring_within_days: int | None = None) -> str:
    return encode_scoped(cursor, _status_scope(flt, expiring_within_days), key)


def decode(token: str, flt: CustomerFilter, key: bytes, *, expiring_within_days: int | None = None) -> Cursor:
    """The cursor a token carries; raises InputError for any token this API did not issue for this filter."""
    return decode_scoped(token, _status_scope(flt, expiring_within_days), key)


def _status_scope(flt: CustomerFilter, expiring_within_days: int | None) -> dict[str, str | None]:
    scope = {"s": flt.status.value if flt.status is not None else None,
             "m": flt.method.value if flt.method is not None else None}
    if expiring_within_days is not None:  # only then, so tokens of other listings stay as they were
        scope["x"] = str(expiring_within_days)
    return scope


def encode_scoped(cursor: Cursor, scope: Mapping[str, str | None], key: bytes) -> str:
    """A token for the listing and filter `scope` names (short keys beside "c", the cursor)."""
    body = {"c": cursor, **scope}
    compact = json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=True)
    signed = _PREFIX + _b64(compact.encode("ascii"))
    return signed + "." + _b64(_signature(signed, key))


def decode_scoped(token: str, scope: Mapping[str, str | None], key: bytes) -> Cursor:
    """The cursor of a token encode_scoped made for this very scope; raises InputError for any other."""
    signed, _, signature = token.rpartition(".")
    payload = signed[len(_PREFIX):]
    if (len(token) > _MAX_CHARS or not signed.startswith(_PREFIX)
            or not _PART.fullmatch(payload) or not _PART.fullmatch(signature)):
        raise invalid_continuation_token()
    if not hmac.compare_digest(signature, _b64(_signature(signed, key))):
        raise invalid_continuation_token()
    try:
        body: Any = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise invalid_continuation_token() from None
    cursor = _cursor(body, {"c", *scope})
    if cursor is None or encode_scoped(cursor, scope, key) != token:  # not canonical, or for another scope
        raise invalid_continuation_token()
    return cursor


def _is_signed_with(token: str, key: bytes) -> bool:
    signed, _, signature = token.rpartition(".")
    return bool(signed) and hmac.compare_digest(signature, _b64(_signature(signed, key)))


def _cursor(body: Any, keys: set[str]) -> Cursor | None:
    if not isinstance(body, dict) or set(body) != keys or not is_cursor(body["c"]):
        return None
    return body["c"]


def _signature(signed: str, key: bytes) -> bytes:
    return hmac.new(key, signed.encode("ascii", "replace"), hashlib.sha256).digest()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def key_to_check(token: str, keys: TokenKey) -> bytes:
    """The key `token` is to be checked with; InputError when no key was ever made (no token was ever issued)."""
    key = keys.to_check()
    if key is not None and not _is_signed_with(token, key):
        # Another instance may have made the key everybody agrees on after this one read its own.
        key = keys.to_check(again=True)
    if key is None:
        raise invalid_continuation_token()
    return key
