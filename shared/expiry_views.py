"""Foresight's parts of the contract's JSON bodies: the tenant view's expiry fields, the settings' client secret
expiry, the status summary's `expiring` counts and provider secret line, and the bulk consent links (JSON, CSV)."""
from __future__ import annotations

import csv
import io
from datetime import UTC, datetime
from typing import Any

from .domain.expiry import Expiry, ExpiryKind, ExpiryUnknown, Part
from .domain.expiry_consent import BulkLink, retirement
from .domain.expiry_gdap import HINTS, GdapReason
from .domain.expiry_record import provider_secret_part, record_outlook
from .domain.models import Customer, ProviderSettings, StatusListing


def _iso(value: datetime) -> str:
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def expiry_view(expiry: Expiry | None, *, gdap_reason: str | None = None) -> dict[str, Any] | None:
    """`{"what", "source", "at"}`, or None; a delegated admin relationship also says why it ends (`reason`,
    `hint`: it will not auto-extend, or holds Global Administrator)."""
    if expiry is None:
        return None
    view = {"what": expiry.what.value, "source": expiry.source.value, "at": _iso(expiry.at)}
    if expiry.what is ExpiryKind.GDAP_RELATIONSHIP and gdap_reason in set(GdapReason):
        view.update(reason=gdap_reason, hint=HINTS[GdapReason(gdap_reason)])
    return view


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
    gdap_reason = customer.foresight.gdap_reason if customer.foresight is not None else None
    return {
        "expiresAt": _iso(view.expiry.at) if view.expiry is not None else None,
        "expiry": expiry_view(view.expiry, gdap_reason=gdap_reason),
        "expiryUnknown": [unknown_view(item) for item in view.unknown],
        "retirement": ({"message": notice.text, "hint": notice.hint, "reference": notice.reference}
                       if notice is not None else None),
    }


def provider_secret_fields(settings: ProviderSettings, *, graph_reads: bool = True) -> dict[str, Any]:
    """The settings' `clientSecretExpiresAt` (the operator's date) and `clientSecretExpiry` (what is known;
    `graph_reads` False: PROVIDER_TENANT_ID is empty)."""
    return {
        "clientSecretExpiresAt": (_iso(settings.client_secret_expires_at)
                                  if settings.client_secret_expires_at is not None else None),
        "clientSecretExpiry": part_view(provider_secret_part(settings, graph_reads=graph_reads)),
    }


def expiring_summary(listing: StatusListing) -> dict[str, Any]:
    """`summary.expiring` (`{"within7Days", "within30Days"}`) and `summary.providerClientSecret`."""
    if listing.expiring is None:
        return {}
    return {
        "expiring": {f"within{days}Days": count for days, count in sorted(listing.expiring.items())},
        "providerClientSecret": part_view(listing.provider_secret),
    }


def bulk_links_view(links: list[BulkLink]) -> dict[str, Any]:
    """POST /api/consent as JSON: a link per customer, or why there is none."""
    return {"links": [{
        "customerId": item.customer_id, "tenantId": item.tenant_id, "m365Email": item.m365_email,
        "authorizationUrl": item.link.authorization_url if item.link else None,
        "expiresAt": _iso(item.link.expires_at) if item.link else None,
        "error": {"code": item.error_code, "message": item.error_message} if item.error_code else None,
    } for item in links]}


CSV_COLUMNS = ("customerId", "tenantId", "m365Email", "authorizationUrl", "expiresAt", "error")
# A cell a spreadsheet would read as a formula (OWASP "CSV injection"): shown as text by a leading apostrophe.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def bulk_links_csv(links: list[BulkLink]) -> str:
    """POST /api/consent as CSV (RFC 4180, CRLF), every cell safe to open in a spreadsheet."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_COLUMNS)
    for row in bulk_links_view(links)["links"]:
        error = row["error"]
        cells = [row["customerId"], row["tenantId"], row["m365Email"], row["authorizationUrl"], row["expiresAt"],
                 f"{error['code']}: {error['message']}" if error else None]
        writer.writerow([_cell(value) for value in cells])
    return out.getvalue()


def _cell(value: str | None) -> str:
    if value is None:
        return ""
    return "'" + value if value.startswith(_FORMULA_START) else value
