"""Foresight's inputs at the edge: the expiry dates an operator gives with a secret, and `expiringWithinDays`."""
from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from shared.domain.errors import InputError

MAX_WITHIN_DAYS = 3650
# ISO 8601 as the contract writes times (2026-06-30T00:00:00Z, with an offset, with a fraction), or a date alone.
_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?")
_EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
_LATEST = datetime(9000, 1, 1, tzinfo=UTC)


def expiry_date(body: Mapping[str, Any], name: str) -> datetime | None:
    """`name` as an aware UTC datetime; None when absent or null. A date alone is that day's start, UTC; a time
    must say its zone (a time without one means different moments to different readers)."""
    raw = body.get(name)
    if raw is None:
        return None
    problem = InputError("invalidExpiryDate", f"{name} must be an ISO 8601 date and time with its zone, such as "
                         "2026-06-30T00:00:00Z.", target=name)
    if not isinstance(raw, str) or not raw.isascii() or _DATE_TIME.fullmatch(raw) is None:
        raise problem
    text = raw[:-1] + "+00:00" if raw.endswith("Z") else raw
    fraction = re.search(r"\.(\d+)", text)
    if fraction and len(fraction.group(1)) > 6:  # Graph writes seven digits; Python reads at most six
        text = text.replace(fraction.group(0), "." + fraction.group(1)[:6])
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise problem from None
    moment = (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)
    if not _EARLIEST <= moment < _LATEST:
        raise problem
    return moment


def expiring_within_days(params: Mapping[str, str]) -> int | None:
    """`expiringWithinDays` of GET /api/status: a whole number of days from 0 to MAX_WITHIN_DAYS."""
    raw = params.get("expiringWithinDays")
    if not raw:
        return None  # an empty value is absent (the Functions host drops it)
    significant = raw.lstrip("0") or "0"  # leading zeros never reach int(), whatever their number
    if not re.fullmatch(r"[0-9]{1,4}", significant) or int(significant) > MAX_WITHIN_DAYS:
        raise InputError("invalidQueryParameter", f"expiringWithinDays must be a whole number from 0 to "
                         f"{MAX_WITHIN_DAYS}.", target="expiringWithinDays")
    return int(significant)


_BULK_FIELDS = frozenset({"customerIds", "allPasswordCustomers"})


def bulk_consent_input(body: Mapping[str, Any], *, limit: int) -> list[str] | None:
    """Body of POST /api/consent: `{"customerIds": [...]}` (1 to `limit` ids, duplicates answered once, in the
    order given) or `{"allPasswordCustomers": true}` (None)."""
    from .parsing import _unknown_field, customer_id  # parsing imports this module

    unknown = sorted(set(body) - _BULK_FIELDS)
    if unknown:
        raise _unknown_field(unknown[0])
    ids, everyone = body.get("customerIds"), body.get("allPasswordCustomers")
    if everyone is not None and everyone is not True:
        raise InputError("invalidField", "allPasswordCustomers must be true when given.", target="allPasswordCustomers")
    if (ids is None) == (everyone is None):
        raise InputError("invalidField", "Give either customerIds (a list) or allPasswordCustomers: true.",
                         target="customerIds")
    if everyone:
        return None
    if not isinstance(ids, list) or not ids:
        raise InputError("invalidField", "customerIds must be a list of 1 or more customerIds.", target="customerIds")
    if len(ids) > limit:
        raise InputError("tooManyCustomers", f"customerIds holds more than {limit} ids: ask in batches.",
                         target="customerIds")
    seen: dict[str, None] = {}
    for raw in ids:
        if not isinstance(raw, str):
            raise InputError("invalidCustomerId", "Each of customerIds must be a customerId.", target="customerIds")
        try:
            seen[customer_id(raw)] = None
        except InputError:
            raise InputError("invalidCustomerId", "Each of customerIds must be 1 to 64 of A-Z a-z 0-9 . _ -.",
                             target="customerIds") from None
    return list(seen)
