"""The `connectionExpiring` events a record makes when it is written: each warning band (30, 14, 7, 1 days) once
per credential (expiry_bands.next_warnings), kept on the record (`Foresight.warned`) so the next write knows.

The event is a StatusEvent of type connectionExpiring written with the record (the outbox); its `from` and `to` are
the customer's state, unchanged; its `expiry` (what, source, at: no credential id) and `within_days` say which expiry
and band made it.
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from .alerts.events import EventType, StatusEvent, StatusPoint
from .expiry import Expiry, ExpiryKind, ExpirySource
from .expiry_bands import next_warnings
from .expiry_record import Foresight, record_outlook
from .models import Customer


@dataclass(frozen=True, slots=True)
class ExpiringWarning:
    event: StatusEvent
    expiry: Expiry
    band: int  # days: 30, 14, 7 or 1


def with_warnings(customer: Customer, *, now: datetime, run_id: str | None,
                  new_id: Callable[[], str]) -> tuple[Customer, list[ExpiringWarning]]:
    """The record with its warned bands brought up to `now`, and the warnings to write with it."""
    kept = customer.foresight or Foresight()
    emits, warned = next_warnings(kept.warned, record_outlook(customer).known, now=now)
    if warned == dict(kept.warned) and not emits:
        return customer, []
    point = StatusPoint(customer.last_verification_status, customer.last_verification_reason)
    warnings = [ExpiringWarning(StatusEvent(event_id=new_id(), type=EventType.CONNECTION_EXPIRING,
                                            customer_id=customer.customer_id, tenant_id=customer.tenant_id,
                                            before=point, after=point, at=now, run_id=run_id,
                                            expiry=dataclasses.replace(expiry, credential_id=""), within_days=band),
                                expiry, band)
                for expiry, band in emits]
    return dataclasses.replace(customer, foresight=dataclasses.replace(kept, warned=warned)), warnings


WHAT_WORDS = {
    ExpiryKind.CLIENT_SECRET: "client secret",
    ExpiryKind.PROVIDER_CLIENT_SECRET: "provider's client secret",
    ExpiryKind.REFRESH_TOKEN_INACTIVITY: "refresh token (90 days unused)",
    ExpiryKind.GDAP_RELATIONSHIP: "delegated admin relationship",
}
SOURCE_WORDS = {ExpirySource.GRAPH: "from Microsoft Graph", ExpirySource.OPERATOR: "as given",
                ExpirySource.COMPUTED: "computed"}


def warning_text(expiry: Expiry, within_days: int | None) -> str:
    """A connectionExpiring event in words, for a message: "client secret expires within 7 days, on 2026-12-02
    (from Microsoft Graph)"."""
    days = f" within {within_days} {'day' if within_days == 1 else 'days'}," if within_days is not None else ""
    return (f"{WHAT_WORDS[expiry.what]} expires{days} on {expiry.at.astimezone(UTC).date().isoformat()} "
            f"({SOURCE_WORDS[expiry.source]})")
