"""Delegated admin (GDAP) relationships a partner tenant holds with its customers, as Microsoft Graph lists them
at `tenantRelationships/delegatedAdminRelationships` in the partner's tenant.

A relationship is registered with the status it has; answered at the simulator's date (`SimulatorState.clock`),
an `active` one past its end rolls forward by its `autoExtendDuration` (P180D) until it ends in the future, or
is answered `expired` when it cannot extend: PT0S / P0D, or it holds Global Administrator, which Partner Center
never auto-extends (learn.microsoft.com/partner-center/customers/expiring-gdap-relationships-and-auto-extend-gdap).
"""
from __future__ import annotations

import dataclasses
import re
import threading
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"  # the role definition id, the same in every tenant
STATUSES = frozenset({"activating", "active", "approvalPending", "approved", "created", "expired", "expiring",
                      "terminated", "terminating", "terminationRequested"})
# The day/time part of an ISO 8601 duration: what Graph uses for autoExtendDuration (PT0S, P0D, P180D).
_DURATION = re.compile(r"P(?:(\d+)D)?(?:T(?:(\d+)H)?(?:(\d+)M)?(?:(\d+)S)?)?")


def duration(text: str) -> timedelta:
    """`P180D`, `PT0S`, `P0D`, `PT12H`...; raises ValueError for anything else (years and months included)."""
    found = _DURATION.fullmatch(text)
    if found is None or text in ("P", "PT") or text.endswith("T"):
        raise ValueError(f"not a day/time ISO 8601 duration: {text!r}")
    days, hours, minutes, seconds = (int(part or 0) for part in found.groups())
    return timedelta(days=days, hours=hours, minutes=minutes, seconds=seconds)


def _new_id() -> str:
    return f"{uuid.uuid4()}-{uuid.uuid4()}"  # Graph's relationship ids are two GUIDs joined


@dataclass(frozen=True)
class DelegatedAdminRelationship:
    customer_tenant_id: str
    ends_at: datetime | None  # endDateTime; None until the relationship is active (approvalPending, created)
    status: str = "active"
    auto_extend: str = "PT0S"  # autoExtendDuration: PT0S (the default) and P0D never extend; P180D extends
    roles: tuple[str, ...] = ("88d8e3e3-8f55-4a1e-953a-9b9898b8876b",)  # role definition ids (Directory Readers)
    customer_name: str = ""
    display_name: str = ""
    id: str = field(default_factory=_new_id)
    duration: str = "P730D"
    activated_at: datetime | None = None
    created_at: datetime | None = None

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"status must be one of {sorted(STATUSES)}, got {self.status!r}")
        duration(self.auto_extend)  # refuse what Graph would never send

    def at(self, now: datetime) -> DelegatedAdminRelationship:
        """The relationship as Graph shows it at `now`: an active one past its end extended or expired."""
        if self.status != "active" or self.ends_at is None or self.ends_at > now:
            return self
        step = duration(self.auto_extend)
        if not step or GLOBAL_ADMINISTRATOR in self.roles:
            return dataclasses.replace(self, status="expired")
        ends_at = self.ends_at
        while ends_at <= now:
            ends_at += step
        return dataclasses.replace(self, ends_at=ends_at)

    def graph_json(self, *, timestamp: Callable[[datetime | None], str | None]) -> dict[str, Any]:
        return {
            "@odata.type": "#microsoft.graph.delegatedAdminRelationship",
            "@odata.etag": f'W/"{uuid.uuid5(uuid.NAMESPACE_OID, self.id).hex}"',
            "id": self.id,
            "displayName": self.display_name or f"{self.customer_name or self.customer_tenant_id} relationship",
            "duration": self.duration,
            "customer": {"tenantId": self.customer_tenant_id, "displayName": self.customer_name},
            "accessDetails": {"unifiedRoles": [{"roleDefinitionId": role} for role in self.roles]},
            "status": self.status,
            "autoExtendDuration": self.auto_extend,
            "createdDateTime": timestamp(self.created_at),
            "lastModifiedDateTime": timestamp(self.activated_at or self.created_at),
            "activatedDateTime": timestamp(self.activated_at),
            "endDateTime": timestamp(self.ends_at),
        }


class DelegatedAdminRelationships:
    """Each partner tenant's relationships, in the order they were added (Graph's order is stable too)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_partner: dict[str, list[DelegatedAdminRelationship]] = {}

    def add(self, partner_tenant_id: str, relationship: DelegatedAdminRelationship) -> DelegatedAdminRelationship:
        with self._lock:
            self._by_partner.setdefault(partner_tenant_id, []).append(relationship)
        return relationship

    def of(self, partner_tenant_id: str, *, now: datetime) -> Sequence[DelegatedAdminRelationship]:
        with self._lock:
            held = list(self._by_partner.get(partner_tenant_id, ()))
        return [relationship.at(now) for relationship in held]

    def clear(self) -> None:
        with self._lock:
            self._by_partner.clear()
