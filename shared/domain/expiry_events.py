"""The `connectionExpiring` events a record makes when it is written: each warning band (30, 14, 7, 1 days) once
per credential (expiry_bands.next_warnings), kept on the record (`Foresight.warned`) so the next write knows.

The event is a StatusEvent of type connectionExpiring written with the record (the outbox); its `from` and `to` are
the customer's state, unchanged. Which expiry and band made it is in `ExpiringWarning`, beside it: the StatusEvent
has no field for them yet (the alerts issue's delivery reads them from here when it gains one).
"""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from .alerts.events import EventType, StatusEvent, StatusPoint
from .expiry import Expiry
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
                                            before=point, after=point, at=now, run_id=run_id), expiry, band)
                for expiry, band in emits]
    return dataclasses.replace(customer, foresight=dataclasses.replace(kept, warned=warned)), warnings
