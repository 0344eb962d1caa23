"""TableConsentStates against a real Azurite: a state is claimed once, and expired ones are forgotten."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.table_consent_states import TableConsentStates
from shared.domain.consent import state_hash

pytestmark = pytest.mark.integration


@pytest.fixture
def states(tables) -> TableConsentStates:
    return TableConsentStates(tables, table=f"ConsentStates{uuid.uuid4().hex[:12]}")


def test_a_state_is_claimed_once(states):
    now = datetime.now(UTC).replace(microsecond=0)
    states.create(state_hash("s1"), customer_id="contoso", expires_at=now + timedelta(minutes=15))
    claimed = states.claim(state_hash("s1"))
    assert (claimed.customer_id, claimed.expires_at) == ("contoso", now + timedelta(minutes=15))
    assert states.claim(state_hash("s1")) is None and states.claim(state_hash("never")) is None


def test_states_that_expired_before_the_moment_are_forgotten_and_no_others(states):
    now = datetime.now(UTC)
    for name, expires in (("long-ago", now - timedelta(days=2)), ("just-now", now - timedelta(hours=1)),
                          ("valid", now + timedelta(minutes=10))):
        states.create(state_hash(name), customer_id=name, expires_at=expires)
    assert states.delete_expired(expired_before=now - timedelta(days=1)) == 1
    assert states.claim(state_hash("long-ago")) is None
    assert states.claim(state_hash("just-now")).customer_id == "just-now"  # still answers "expired" a while
    assert states.claim(state_hash("valid")).customer_id == "valid"
    assert states.delete_expired(expired_before=now) == 0
