"""How a table column holds foresight values as JSON: a customer's `Foresight`, an expiry part, a kept Graph read.

Read tolerantly: a part that cannot be read is read as unknown (`unexpectedAnswer`), never as "no expiry", so a
damaged column can only make the view say less, not claim that nothing expires.
"""
from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from ..domain.expiry import Expiry, ExpiryKind, ExpirySource, ExpiryUnknown, Part, UnknownReason
from ..domain.expiry_reads import KeptRead
from ..domain.expiry_record import Foresight


def foresight_to_json(foresight: Foresight | None) -> str | None:
    if foresight is None:
        return None
    return json.dumps({
        "clientSecret": part_to_data(foresight.client_secret),
        "clientSecretRead": read_to_data(foresight.client_secret_read),
        "viaProvider": foresight.via_provider,
        "providerSecret": part_to_data(foresight.provider_secret),
        "providerChecked": foresight.provider_checked,
        "refreshTokenRedeemedAt": _time(foresight.refresh_token_redeemed_at),
        "gdap": part_to_data(foresight.gdap),
        "gdapReason": foresight.gdap_reason,
        "warned": dict(foresight.warned),
    }, sort_keys=True)


def foresight_of(data: Any) -> Foresight:
    warned = data.get("warned") or {}
    return Foresight(
        client_secret=part_of(data.get("clientSecret"), ExpiryKind.CLIENT_SECRET),
        client_secret_read=read_of(data.get("clientSecretRead")),
        via_provider=data.get("viaProvider") is True,
        provider_secret=part_of(data.get("providerSecret"), ExpiryKind.PROVIDER_CLIENT_SECRET),
        provider_checked=data.get("providerChecked") is True,
        refresh_token_redeemed_at=_instant(data.get("refreshTokenRedeemedAt")),
        gdap=part_of(data.get("gdap"), ExpiryKind.GDAP_RELATIONSHIP),
        gdap_reason=data.get("gdapReason") if isinstance(data.get("gdapReason"), str) else None,
        warned={str(key): value if isinstance(value, int) else None for key, value in dict(warned).items()},
    )


def part_to_data(part: Part) -> dict[str, Any] | None:
    if part is None:
        return None
    if isinstance(part, Expiry):
        return {"what": part.what.value, "source": part.source.value, "at": part.at.isoformat(),
                "credentialId": part.credential_id}
    return {"what": part.what.value, "unknown": part.reason.value, "message": part.message}


def part_of(data: Any, what: ExpiryKind) -> Part:
    if data is None:
        return None
    try:
        if "unknown" in data:
            return ExpiryUnknown(ExpiryKind(data["what"]), UnknownReason(data["unknown"]), str(data["message"]))
        return Expiry(ExpiryKind(data["what"]), ExpirySource(data["source"]), datetime.fromisoformat(data["at"]),
                      str(data.get("credentialId") or ""))
    except (KeyError, TypeError, ValueError):
        return ExpiryUnknown(what, UnknownReason.UNEXPECTED_ANSWER, "The stored expiry cannot be read.")


def expiry_of(data: Any) -> Expiry | None:
    """A known expiry kept beside something else (a connectionExpiring event, a digest's line): None when none was
    kept (an older row) or it cannot be read, so the row still reads."""
    part = part_of(data, ExpiryKind.CLIENT_SECRET)
    return part if isinstance(part, Expiry) else None


def read_to_data(read: KeptRead | None) -> dict[str, Any] | None:
    if read is None:
        return None
    return {"key": read.key, "readAt": read.read_at.isoformat(),
            "failed": read.failed.value if read.failed is not None else None}


def read_of(data: Any) -> KeptRead | None:
    try:
        failed = data.get("failed")
        return KeptRead(str(data["key"]), datetime.fromisoformat(data["readAt"]),
                        UnknownReason(failed) if failed is not None else None)
    except (AttributeError, KeyError, TypeError, ValueError):
        return None  # read again


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _instant(value: Any) -> datetime | None:
    try:
        return datetime.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        return None
