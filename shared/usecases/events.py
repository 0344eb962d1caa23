"""Status events: the event a recorded result makes (written with it, in the customer store's outbox), the relay
that copies the outbox to the event log, and the newest-first listing of `GET /api/events`.

The relay runs in the invocation that wrote the events (right after the write, or once a run's chunk is
recorded), and again from the run watch, the verification timer and maintenance for what a writer left behind
(a host killed between its write and its relay). It logs the event line (shared/domain/event_log.py) of each
event it relays, from the invocation that relays it.
"""
from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from ..domain.alerts.events import EventFilter, EventListing, StatusEvent, StatusPoint, compared_state, status_event
from ..domain.event_log import event_log_line
from ..domain.models import Cursor, Customer
from ..domain.ports import EventLog, EventOutbox
from ..domain.verification import VerificationResult
from . import continuation
from .token_key import TokenKey

logger = logging.getLogger(__name__)

# Outbox rows younger than this are left to the writer that is relaying them (a relay takes milliseconds); older
# ones were left behind. A writer's own relay and a later one never log the same event twice, but for a host
# that relayed and died before it could clear the outbox.
RELAY_GRACE = timedelta(seconds=10)
RELAY_ROWS = 100  # outbox rows a periodic relay takes at a time


def event_of_result(read: Customer, result: VerificationResult, *, run_id: str | None) -> StatusEvent | None:
    """The event `result` makes when it is written over `read` (the record as read, seen through a reset), or
    None."""
    return status_event(
        event_id=uuid.uuid4().hex, customer_id=read.customer_id, tenant_id=read.tenant_id,
        before=compared_state(read), after=StatusPoint(result.status, result.reason), at=result.verified_at,
        run_id=run_id,
    )


def relay(outbox: EventOutbox, log: EventLog, writes: Sequence[Sequence[StatusEvent]]) -> bool:
    """Copy the events writes put in the outbox (each write's as it handed them to the store) to the log in one
    append, log a line for each, and clear them from the outbox. Never raises: on failure they stay in the outbox
    for a later relay (False)."""
    writes = [write for write in writes if write]
    events = [event for write in writes for event in write]
    if not events:
        return True
    try:
        log.append_many(events)
    except Exception as err:  # noqa: BLE001 - the result is recorded; its events wait in the outbox
        logger.warning("%d status events could not be relayed now (%s); they wait in the outbox.",
                       len(events), type(err).__name__)
        return False
    for event in events:
        logger.info("%s", _line(event))
    try:
        outbox.forget_relayed(writes)
    except Exception as err:  # noqa: BLE001 - relayed; a later relay appends them again, which keeps them once
        logger.warning("%d relayed status events could not be cleared from the outbox (%s).",
                       len(events), type(err).__name__)
    return True


def relay_left_behind(outbox: EventOutbox, log: EventLog, *, now: datetime | None = None) -> int:
    """Relay what writers left in the outbox (older than RELAY_GRACE); how many events were relayed."""
    written_before = (now or datetime.now(UTC)) - RELAY_GRACE
    relayed = 0
    while True:
        groups = outbox.claim_unrelayed(written_before=written_before, top=RELAY_ROWS)
        if not relay(outbox, log, groups):
            return relayed
        relayed += sum(len(events) for events in groups)
        if len(groups) < RELAY_ROWS:
            break
    if relayed:
        logger.warning("%d status events left in the outbox by an earlier invocation were relayed.", relayed)
    return relayed


def relay_quietly(outbox: EventOutbox | None, log: EventLog | None) -> None:
    """relay_left_behind for a periodic step that has other work to do: a failure is logged, not raised."""
    if outbox is None or log is None:
        return
    try:
        relay_left_behind(outbox, log)
    except Exception as err:  # noqa: BLE001 - the outbox keeps them for the next periodic step
        logger.warning("The outbox could not be relayed now (%s).", type(err).__name__)


def _line(event: StatusEvent) -> str:
    return event_log_line(
        event_type=event.type, event_id=event.event_id, customer_id=event.customer_id, tenant_id=event.tenant_id,
        from_status=event.before.status, from_reason=event.before.reason, to_status=event.after.status,
        to_reason=event.after.reason, at=event.at, run_id=event.run_id,
        expiry_what=event.expiry.what if event.expiry else None,
        expiry_source=event.expiry.source if event.expiry else None,
        expiry_at=event.expiry.at if event.expiry else None, within_days=event.within_days)


def list_events(log: EventLog, flt: EventFilter, *, top: int, continuation_token: str | None,
                keys: TokenKey) -> tuple[list[StatusEvent], str | None]:
    """What `GET /api/events` lists, newest first, and the signed token of what follows (None at the end)."""
    scope = _scope(flt)
    after = _cursor(continuation_token, scope, keys) if continuation_token is not None else None
    listing: EventListing = log.list_events(flt, top=top, after=after)
    token = continuation.encode_scoped(listing.next, scope, keys.current()) if listing.next is not None else None
    return listing.events, token


def _scope(flt: EventFilter) -> dict[str, str | None]:
    """What a token is issued for, besides where it starts: the listing (events) and its filter."""
    return {"e": "events", "t": flt.type.value if flt.type is not None else None, "u": flt.customer_id}


def _cursor(token: str, scope: dict[str, str | None], keys: TokenKey) -> Cursor:
    return continuation.decode_scoped(token, scope, continuation.key_to_check(token, keys))
