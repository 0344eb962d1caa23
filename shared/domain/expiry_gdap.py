"""The provider's delegated admin (GDAP) relationships with a customer's tenant, as Microsoft Graph lists them in
the provider's tenant, and what they say about the customer's time to failure (only with `GDAP_CHECK=true`).

A relationship lasts at most two years; one that will not auto-extend ends at its `endDateTime`. It will not
auto-extend when its `autoExtendDuration` is zero (`PT0S`, the default, or `P0D`), or when it holds the Global
Administrator role, which Partner Center never auto-extends ("Don't autoextend GDAP with Global Administrator",
learn.microsoft.com/partner-center/customers/expiring-gdap-relationships-and-auto-extend-gdap).

For the relationships whose `customer.tenantId` is the customer's tenant id:
- each `active` one that ends and will not auto-extend is a **warning**, with that reason (`autoExtendOff` or
  `holdsGlobalAdministrator`) and its endDateTime as the time to failure; one that auto-extends has none;
- when none is active, one that ended is a **failure**: `relationshipExpired` (status `expired` or `expiring`) or
  `relationshipTerminated` (`terminated`, `terminating`, `terminationRequested`), its time to failure the
  endDateTime (already past or about to be). These are findings about the provider's admin access, not
  verification reasons: the connection's `lastVerificationStatus` stays what verification found;
- relationships not yet in force (`created`, `approvalPending`, `approved`, `activating`) say nothing yet, and
  neither does a tenant with no relationship at all (not every customer is a CSP customer).
Several active relationships each count: the earliest warning is the customer's, since the roles of the one that
ends go with it even when another remains.
"""
from __future__ import annotations

import enum
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from .expiry import Expiry, ExpiryKind, ExpirySource, ExpiryUnknown
from .expiry_reads import ReadUnknown

GLOBAL_ADMINISTRATOR_ROLE = "62e90394-69f5-4237-9190-012177145e10"  # the role definition id, in every tenant
_EXPIRED = frozenset({"expired", "expiring"})
_TERMINATED = frozenset({"terminated", "terminating", "terminationRequested"})
# ISO 8601 durations (PT0S, P0D, P180D, P1Y2M...): auto-extension only asks whether any part is not zero.
_DURATION = re.compile(r"P(?=\d|T\d)(?:\d+(?:[.,]\d+)?[YMWD])*(?:T(?:\d+(?:[.,]\d+)?[HMS])+)?")


class GdapReason(enum.StrEnum):
    AUTO_EXTEND_OFF = "autoExtendOff"  # warning: autoExtendDuration is zero
    HOLDS_GLOBAL_ADMINISTRATOR = "holdsGlobalAdministrator"  # warning: it cannot auto-extend
    RELATIONSHIP_EXPIRED = "relationshipExpired"  # failure
    RELATIONSHIP_TERMINATED = "relationshipTerminated"  # failure


HINTS: dict[GdapReason, str] = {
    GdapReason.AUTO_EXTEND_OFF: "The delegated admin relationship ends and is not set to auto-extend: turn on "
                                "auto-extend in Partner Center, or request a new relationship before it ends.",
    GdapReason.HOLDS_GLOBAL_ADMINISTRATOR: "The delegated admin relationship holds Global Administrator, which "
                                           "cannot auto-extend: request a new relationship with least-privileged "
                                           "roles before it ends.",
    GdapReason.RELATIONSHIP_EXPIRED: "The delegated admin relationship has expired: request a new one in Partner "
                                     "Center and have the customer's admin approve it.",
    GdapReason.RELATIONSHIP_TERMINATED: "The delegated admin relationship was terminated: request a new one in "
                                        "Partner Center and have the customer's admin approve it.",
}


@dataclass(frozen=True, slots=True)
class DelegatedAdminRelationship:
    """What foresight reads of a Graph delegatedAdminRelationship."""

    id: str
    customer_tenant_id: str
    status: str
    ends_at: datetime | None
    auto_extend_duration: str | None  # ISO 8601; None when Graph gave none (the default, PT0S)
    role_ids: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GdapFinding:
    relationship_id: str
    reason: GdapReason
    ends_at: datetime | None
    failed: bool  # True: it has ended (a failure); False: it will end (a warning)

    @property
    def hint(self) -> str:
        return HINTS[self.reason]


@dataclass(frozen=True, slots=True)
class GdapOutlook:
    expiry: Expiry | ExpiryUnknown | None  # the earliest dated finding; unknown when the listing failed
    findings: tuple[GdapFinding, ...] = ()


def auto_extends(duration: str | None) -> bool:
    """Whether an autoExtendDuration extends at all: a well-formed duration with a part that is not zero. None
    (Graph's default is PT0S) and anything unreadable do not (the relationship is then warned about)."""
    if not duration or _DURATION.fullmatch(duration) is None:
        return False
    return any(digit not in "0" for digit in re.findall(r"\d", duration))


def findings_for(
    relationships: Sequence[DelegatedAdminRelationship], customer_tenant_id: str,
) -> tuple[GdapFinding, ...]:
    """The warnings and failures of the customer's relationships (the rules are in the module's docstring)."""
    mine = [item for item in relationships if item.customer_tenant_id.casefold() == customer_tenant_id.casefold()]
    active = [item for item in mine if item.status == "active"]
    if active:
        return tuple(finding for finding in map(_warning, active) if finding is not None)
    ended = [GdapFinding(item.id, GdapReason.RELATIONSHIP_EXPIRED if item.status in _EXPIRED
                         else GdapReason.RELATIONSHIP_TERMINATED, item.ends_at, failed=True)
             for item in mine if item.status in _EXPIRED | _TERMINATED]
    return tuple(ended)


def gdap_outlook(
    listing: Sequence[DelegatedAdminRelationship] | ReadUnknown | None, customer_tenant_id: str,
) -> GdapOutlook:
    """The GDAP part of a customer's outlook: the earliest dated finding as an Expiry (source graph), nothing
    when there is nothing to say, unknown when the listing failed. `listing` None: GDAP_CHECK is off."""
    if listing is None:
        return GdapOutlook(None)
    if isinstance(listing, ReadUnknown):
        return GdapOutlook(listing.about(ExpiryKind.GDAP_RELATIONSHIP))
    findings = findings_for(listing, customer_tenant_id)
    dated = sorted((item for item in findings if item.ends_at is not None), key=lambda item: item.ends_at)
    if not dated:
        return GdapOutlook(None, findings)
    first = dated[0]
    return GdapOutlook(Expiry(ExpiryKind.GDAP_RELATIONSHIP, ExpirySource.GRAPH, first.ends_at, first.relationship_id),
                       findings)


def _warning(relationship: DelegatedAdminRelationship) -> GdapFinding | None:
    if GLOBAL_ADMINISTRATOR_ROLE in (role.casefold() for role in relationship.role_ids):
        reason = GdapReason.HOLDS_GLOBAL_ADMINISTRATOR
    elif not auto_extends(relationship.auto_extend_duration):
        reason = GdapReason.AUTO_EXTEND_OFF
    else:
        return None
    return GdapFinding(relationship.id, reason, relationship.ends_at, failed=False)
