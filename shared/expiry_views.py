"""Foresight's parts of the contract's JSON bodies: the tenant view's expiry fields, the settings' client secret
expiry, and the status summary's `expiring` counts and provider secret line."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .domain.expiry import Expiry, ExpiryUnknown, Part
from .domain.expiry_consent import retirement
from .domain.expiry_record import provider_secret_part, record_outlook
from .domain.models import Customer, ProviderSettings, StatusListing


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def expiry_view(expiry: Expiry | None) -> dict[str, Any] | None:
    """`{"what", "source", "at"}`, or None."""
    if expiry is None:
        return None
    return {"what": expiry.what.value, "source": expiry.source.value, "at": _iso(expiry.at)}


def unknown_view(unknown: ExpiryUnknown) -> dict[str, Any]:
    return {"what": unknown.what.value, "reason": unknown.reason.value, "message": unknown.message}


def part_view(part: Part) -> dict[str, Any] | None:
    """An expiry, or why it is unknown (`{"what", "reason", "message"}`), or None (it never expires)."""
    if isinstance(part, ExpiryUnknown):
        return unknown_view(part)
    return expiry_view(part)


def foresight_fields(customer: Customer) -> dict[str, Any]:
    """`expiresAt` and `expiry` (the earliest known time to failure), `expiryUnknown` (the expiries that are not
    known, and why: a failed read is never "no expiry"), and `retirement` (the method's retirement notice)."""
    view = record_outlook(customer)
    notice = retirement(customer.authentication_method)
    return {
        "expiresAt": _iso(view.expiry.at) if view.expiry is not None else None,
        "expiry": expiry_view(view.expiry),
        "expiryUnknown": [unknown_view(item) for item in view.unknown],
        "retirement": ({"message": notice.text, "hint": notice.hint, "reference": notice.reference}
                       if notice is not None else None),
    }


def provider_secret_fields(settings: ProviderSettings) -> dict[str, Any]:
    """The settings' `clientSecretExpiresAt` (the operator's date) and `clientSecretExpiry` (what is known)."""
    return {
        "clientSecretExpiresAt": (_iso(settings.client_secret_expires_at)
                                  if settings.client_secret_expires_at is not None else None),
        "clientSecretExpiry": part_view(provider_secret_part(settings)),
    }


def expiring_summary(listing: StatusListing) -> dict[str, Any]:
    """`summary.expiring` (`{"within7Days", "within30Days"}`) and `summary.providerClientSecret`."""
    if listing.expiring is None:
        return {}
    return {
        "expiring": {f"within{days}Days": count for days, count in sorted(listing.expiring.items())},
        "providerClientSecret": part_view(listing.provider_secret),
    }
