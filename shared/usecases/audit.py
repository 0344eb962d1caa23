"""The audit log's use cases: record a change as the edge saw it, list the records for GET /api/audit, and forget
those past their retention (the maintenance step)."""
from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ..domain.access import Actor
from ..domain.audit import AuditRecord, UnsafeAuditValue, audit_record, expired_before
from ..domain.ports import AuditLog
from . import continuation
from .token_key import TokenKey

logger = logging.getLogger(__name__)

MAX_AUDIT_TOP = 100
DEFAULT_AUDIT_TOP = 50


@dataclass(frozen=True, slots=True)
class AuditQuery:
    customer_id: str | None = None
    actor: str | None = None  # an actor's id: a principal's object id, or "functionKey"
    top: int = DEFAULT_AUDIT_TOP
    continuation_token: str | None = None


@dataclass(frozen=True, slots=True)
class AuditChanges:
    records: list[AuditRecord]
    continuation_token: str | None


def record_change(log: AuditLog, *, actor: Actor, method: str, route: str, action: str,
                  parameters: Mapping[str, str], status: int, request_id: str, at: datetime | None = None) -> bool:
    """Append the record of one change; False when a value cannot be recorded (a route parameter that is no
    identifier, answered 400 before anything changed): the log names the field, never the value."""
    try:
        record = audit_record(at=at or datetime.now(UTC), actor=actor, method=method, route=route, action=action,
                              parameters=parameters, status=status, request_id=request_id)
    except UnsafeAuditValue as refused:
        logger.warning("%s %s answered %d and is not audited: %s.", method, route, status, refused)
        return False
    log.append(record)
    return True


def list_changes(log: AuditLog, keys: TokenKey, query: AuditQuery) -> AuditChanges:
    """Newest first, filtered; the continuation token is signed and valid only for the same filter."""
    scope = {"cu": query.customer_id, "ac": query.actor}
    cursor = None
    if query.continuation_token is not None:
        key = continuation.key_to_check(query.continuation_token, keys)
        cursor = continuation.decode_scoped(query.continuation_token, scope, key)
    listing = log.list_records(customer_id=query.customer_id, actor_id=query.actor, top=query.top, cursor=cursor)
    token = continuation.encode_scoped(listing.cursor, scope, keys.current()) if listing.cursor else None
    return AuditChanges(listing.records, token)


def forget_expired(log: AuditLog, *, now: datetime | None = None) -> int:
    """Delete the records past their retention (400 days); how many."""
    return log.delete_older_than(expired_before(now or datetime.now(UTC)))
