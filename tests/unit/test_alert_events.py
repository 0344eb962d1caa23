"""Which status change makes which event: every (from, to) pair of states a customer can be in."""
from __future__ import annotations

from datetime import UTC, datetime

import pytest

from shared.domain.alerts.events import EventType, StatusEvent, StatusPoint, change_type, status_event
from shared.domain.models import Status
from shared.domain.reasons import Reason

NOT_VERIFIED = StatusPoint(Status.NOT_VERIFIED)
SUCCEEDED = StatusPoint(Status.SUCCEEDED)
FAILED_A = StatusPoint(Status.FAILED, Reason.INVALID_CREDENTIALS)
FAILED_B = StatusPoint(Status.FAILED, Reason.MFA_REQUIRED)
POINTS = {"notVerified": NOT_VERIFIED, "succeeded": SUCCEEDED, "failed(A)": FAILED_A, "failed(B)": FAILED_B}

LOST, RESTORED, CHANGED = EventType.CONNECTION_LOST, EventType.CONNECTION_RESTORED, EventType.REASON_CHANGED
EXPECTED = {
    ("notVerified", "notVerified"): None,
    ("notVerified", "succeeded"): None,  # a first success tells no one anything new
    ("notVerified", "failed(A)"): LOST,
    ("notVerified", "failed(B)"): LOST,
    ("succeeded", "notVerified"): None,  # an edit resets the record: no result, no event
    ("succeeded", "succeeded"): None,
    ("succeeded", "failed(A)"): LOST,
    ("succeeded", "failed(B)"): LOST,
    ("failed(A)", "notVerified"): None,
    ("failed(A)", "succeeded"): RESTORED,
    ("failed(A)", "failed(A)"): None,  # a repeat
    ("failed(A)", "failed(B)"): CHANGED,
    ("failed(B)", "notVerified"): None,
    ("failed(B)", "succeeded"): RESTORED,
    ("failed(B)", "failed(A)"): CHANGED,
    ("failed(B)", "failed(B)"): None,
}


def test_the_table_covers_every_pair():
    assert set(EXPECTED) == {(a, b) for a in POINTS for b in POINTS}


@pytest.mark.parametrize(("before", "after"), sorted(EXPECTED))
def test_each_change_makes_its_event_or_none(before, after):
    assert change_type(POINTS[before], POINTS[after]) is EXPECTED[(before, after)]


def test_a_failure_without_a_reason_then_with_one_is_a_reason_change():
    assert change_type(StatusPoint(Status.FAILED), FAILED_A) is CHANGED


def test_the_event_value_carries_both_states_the_run_and_the_time():
    at = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)
    event = status_event(event_id="e-1", customer_id="contoso", tenant_id="t-1", before=SUCCEEDED, after=FAILED_A,
                         at=at, run_id="run-1")
    assert event == StatusEvent(event_id="e-1", type=LOST, customer_id="contoso", tenant_id="t-1", before=SUCCEEDED,
                                after=FAILED_A, at=at, run_id="run-1")


def test_a_repeat_makes_no_event_value():
    assert status_event(event_id="e-1", customer_id="c", tenant_id="t", before=FAILED_A, after=FAILED_A,
                        at=datetime(2025, 3, 1, tzinfo=UTC), run_id=None) is None


def test_event_types_are_spelled_as_the_contract():
    assert [t.value for t in EventType] == ["connectionLost", "connectionRestored", "reasonChanged",
                                            "connectionExpiring"]


def test_a_result_after_a_reset_is_compared_with_the_state_before_the_reset():
    from shared.domain.alerts.events import compared_state
    from shared.domain.models import AuthMethod, Customer

    never = Customer("c1", "t-1", AuthMethod.PASSWORD)
    failing = Customer("c1", "t-1", AuthMethod.PASSWORD, last_verification_status=Status.FAILED,
                       last_verification_reason=Reason.INVALID_CREDENTIALS)
    assert compared_state(never) == compared_state(never.not_verified()) == NOT_VERIFIED
    assert compared_state(failing) == compared_state(failing.not_verified().not_verified()) == FAILED_A
    assert change_type(compared_state(failing.not_verified()), SUCCEEDED) is RESTORED
