"""The audit log: one record per change made through the API, who made it and how it ended. Append-only, kept
400 days.

A record is built only from plain values the edge already holds: the actor of access.decide, the route template
and its parameters, the status code it answered, the request id. Never a body, a header or a query string; and
every value is checked here, so a bug at the edge cannot write a secret into the table: what could carry one is
refused, by the name of its field, never by its value.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import MappingProxyType

from .access import ROUTE_ROLES, Actor, ActorKind, is_state_changing, normalize_route
from .rules import is_guid

RETENTION = timedelta(days=400)

# Route parameters are identifiers (customerId's own rule, runId, channelId): short, of a small alphabet.
_PARAMETER_VALUE = re.compile(r"[A-Za-z0-9._-]{1,64}")
_REQUEST_ID = re.compile(r"[A-Za-z0-9-]{1,64}")
_ACTION = re.compile(r"[a-z][a-z0-9_]{0,63}")
_TEMPLATE_PARAMETER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_MAX_NAME = 256
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
# What a name never holds but a secret often does: a URL (a webhook's), a JWT, a long opaque run of key alphabet.
_SECRET_LIKE = (
    re.compile(r"[A-Za-z][A-Za-z0-9+.-]*://"),
    re.compile(r"eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+"),
    re.compile(r"[A-Za-z0-9+/=_]{32,}"),
)


class UnsafeAuditValue(ValueError):
    """A value the audit log must not hold; the message names its field, never the value."""

    def __init__(self, field_name: str, why: str) -> None:
        super().__init__(f"audit record refused: {field_name} {why}")
        self.field_name = field_name


@dataclass(frozen=True, slots=True)
class AuditRecord:
    at: datetime  # UTC
    actor: Actor
    method: str  # POST, PUT, PATCH or DELETE
    route: str  # the contract's template, e.g. /api/tenants/{customerId}
    action: str  # the function's name, e.g. tenants_delete
    customer_id: str | None  # the route's customerId, when it has one
    parameters: Mapping[str, str] = field(default_factory=dict)  # every route parameter, customerId included
    status: int = 0  # the status code the request was answered with
    request_id: str = ""


@dataclass(frozen=True, slots=True)
class AuditListing:
    records: list[AuditRecord]
    cursor: str | None  # the store's own, opaque; None at the end


def audit_record(*, at: datetime, actor: Actor, method: str, route: str, action: str,
                 parameters: Mapping[str, str], status: int, request_id: str) -> AuditRecord:
    """A record of one change; raises UnsafeAuditValue for anything that is not what its field holds."""
    if at.tzinfo is None:
        raise UnsafeAuditValue("at", "must be an aware time")
    method = method.upper()
    if not is_state_changing(method):
        raise UnsafeAuditValue("method", "is not a change: reads are not audited")
    template = normalize_route(route)  # a request path (values, a query) is no template of the table
    if ROUTE_ROLES.get((method, template)) is None:
        raise UnsafeAuditValue("route", "is not a route of the contract that needs a role")
    names = _TEMPLATE_PARAMETER.findall(template)
    if set(parameters) != set(names):
        raise UnsafeAuditValue("parameters", "must be exactly the route template's parameters")
    for name, value in parameters.items():
        if not isinstance(value, str) or not _PARAMETER_VALUE.fullmatch(value):
            raise UnsafeAuditValue(f"parameters.{name}", "is not an identifier")
    if not _ACTION.fullmatch(action):
        raise UnsafeAuditValue("action", "is not a function name")
    if isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 599:
        raise UnsafeAuditValue("status", "is not an HTTP status code")
    if not _REQUEST_ID.fullmatch(request_id):
        raise UnsafeAuditValue("requestId", "is not a request id")
    _check_actor(actor)
    return AuditRecord(at=at.astimezone(UTC), actor=actor, method=method, route=template, action=action,
                       customer_id=parameters.get("customerId"), parameters=MappingProxyType(dict(parameters)),
                       status=status, request_id=request_id)


def _check_actor(actor: Actor) -> None:
    if actor.kind is ActorKind.FUNCTION_KEY:
        if (actor.id, actor.name) != ("functionKey", "function key"):
            raise UnsafeAuditValue("actor", "of a function key is named only so")
        return
    if actor.kind is not ActorKind.PRINCIPAL or not is_guid(actor.id):
        raise UnsafeAuditValue("actor.id", "is not an object id")
    if not 0 < len(actor.name) <= _MAX_NAME or _CONTROL.search(actor.name):
        raise UnsafeAuditValue("actor.name", "is not a name")
    if any(pattern.search(actor.name) for pattern in _SECRET_LIKE):
        raise UnsafeAuditValue("actor.name", "looks like a secret")


def expired_before(now: datetime) -> datetime:
    """Records from before this moment are past their retention: the maintenance step deletes them."""
    return now.astimezone(UTC) - RETENTION
