"""Delegated admin relationships and a customer's time to failure (shared/domain/expiry_gdap.py)."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.expiry import Expiry, ExpiryKind, ExpirySource, ExpiryUnknown, UnknownReason
from shared.domain.expiry_gdap import (
    GLOBAL_ADMINISTRATOR_ROLE,
    DelegatedAdminRelationship,
    GdapReason,
    auto_extends,
    findings_for,
    gdap_outlook,
)
from shared.domain.expiry_reads import ReadUnknown

NOW = datetime(2026, 3, 1, tzinfo=UTC)
CUSTOMER = "20000000-0000-4000-8000-00000000000a"
OTHER = "30000000-0000-4000-8000-00000000000b"
READER = "88d8e3e3-8f55-4a1e-953a-9b9898b8876b"


def relationship(n: int = 1, *, status: str = "active", days: float | None = 30, extend: str | None = "PT0S",
                 roles: tuple[str, ...] = (READER,), tenant: str = CUSTOMER) -> DelegatedAdminRelationship:
    return DelegatedAdminRelationship(id=f"rel-{n}", customer_tenant_id=tenant, status=status,
                                      ends_at=None if days is None else NOW + timedelta(days=days),
                                      auto_extend_duration=extend, role_ids=roles)


@pytest.mark.parametrize("duration, extends", [
    ("P180D", True), ("P6M", True), ("PT1H", True), ("P1Y", True), ("P0.5D", True),
    ("PT0S", False), ("P0D", False), ("P0Y0M0D", False), ("PT0H0M0S", False), (None, False), ("", False),
    ("180 days", False), ("P", False), ("PT", False), ("P1DT", False),
])
def test_only_a_duration_with_a_part_above_zero_auto_extends(duration, extends):
    assert auto_extends(duration) is extends


def test_an_active_relationship_without_auto_extend_is_a_warning_at_its_end():
    (finding,) = findings_for([relationship(extend="PT0S")], CUSTOMER)

    assert finding.reason is GdapReason.AUTO_EXTEND_OFF and not finding.failed
    assert finding.ends_at == NOW + timedelta(days=30) and "auto-extend" in finding.hint


def test_an_active_relationship_that_auto_extends_says_nothing():
    assert findings_for([relationship(extend="P180D")], CUSTOMER) == ()


def test_global_administrator_cannot_auto_extend_whatever_the_duration():
    (finding,) = findings_for([relationship(extend="P180D", roles=(READER, GLOBAL_ADMINISTRATOR_ROLE.upper()))],
                              CUSTOMER)

    assert finding.reason is GdapReason.HOLDS_GLOBAL_ADMINISTRATOR and not finding.failed


@pytest.mark.parametrize("status, reason", [
    ("expired", GdapReason.RELATIONSHIP_EXPIRED), ("expiring", GdapReason.RELATIONSHIP_EXPIRED),
    ("terminated", GdapReason.RELATIONSHIP_TERMINATED), ("terminating", GdapReason.RELATIONSHIP_TERMINATED),
    ("terminationRequested", GdapReason.RELATIONSHIP_TERMINATED),
])
def test_with_none_active_an_ended_relationship_is_a_failure(status, reason):
    (finding,) = findings_for([relationship(status=status, days=-3)], CUSTOMER)

    assert finding.reason is reason and finding.failed and finding.ends_at == NOW - timedelta(days=3)


def test_an_ended_relationship_beside_an_active_one_is_history():
    assert findings_for([relationship(1, status="expired", days=-90), relationship(2, extend="P180D")],
                        CUSTOMER) == ()


@pytest.mark.parametrize("status", ["created", "approvalPending", "approved", "activating", "unknownFutureValue"])
def test_a_relationship_not_yet_in_force_says_nothing(status):
    assert findings_for([relationship(status=status, days=None)], CUSTOMER) == ()


def test_only_the_customers_own_tenant_counts_in_any_letter_case():
    found = findings_for([relationship(1, tenant=OTHER), relationship(2, tenant=CUSTOMER.upper())], CUSTOMER)

    assert [finding.relationship_id for finding in found] == ["rel-2"]


def test_each_ending_active_relationship_is_a_warning_and_the_earliest_is_the_customers():
    listing = [relationship(1, days=60), relationship(2, days=8, roles=(GLOBAL_ADMINISTRATOR_ROLE,)),
               relationship(3, extend="P180D", days=2)]

    seen = gdap_outlook(listing, CUSTOMER)

    assert [finding.relationship_id for finding in seen.findings] == ["rel-1", "rel-2"]
    assert seen.expiry == Expiry(ExpiryKind.GDAP_RELATIONSHIP, ExpirySource.GRAPH, NOW + timedelta(days=8), "rel-2")


def test_a_failure_is_an_expiry_in_the_past():
    seen = gdap_outlook([relationship(status="terminated", days=-1)], CUSTOMER)

    assert seen.expiry.at < NOW and seen.findings[0].failed


def test_a_failed_listing_is_unknown_not_no_expiry():
    seen = gdap_outlook(ReadUnknown(UnknownReason.PERMISSION_MISSING, "403"), CUSTOMER)

    assert seen.expiry == ExpiryUnknown(ExpiryKind.GDAP_RELATIONSHIP, UnknownReason.PERMISSION_MISSING, "403")


def test_gdap_check_off_or_no_relationship_says_nothing():
    assert gdap_outlook(None, CUSTOMER).expiry is None
    assert gdap_outlook((), CUSTOMER).expiry is None
    assert gdap_outlook([relationship(tenant=OTHER)], CUSTOMER).expiry is None
