"""Parts of the simulator's Microsoft Graph that need no server: durations, a relationship at a date, Graph's date
format, the routes and the signature check of its own tokens."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from tools.identity_sim import GLOBAL_ADMINISTRATOR, DelegatedAdminRelationship
from tools.identity_sim.graph_api import graph_time
from tools.identity_sim.outcomes import Endpoint
from tools.identity_sim.relationships import duration
from tools.identity_sim.routes import route_for
from tools.identity_sim.tokens import encode_jwt, verified_claims

NOW = datetime(2026, 3, 1, tzinfo=UTC)
CUSTOMER = "20000000-0000-4000-8000-000000000002"


@pytest.mark.parametrize("text, expected", [
    ("PT0S", timedelta()), ("P0D", timedelta()), ("P180D", timedelta(days=180)),
    ("P1DT2H3M4S", timedelta(days=1, hours=2, minutes=3, seconds=4)), ("PT12H", timedelta(hours=12)),
])
def test_day_and_time_durations_are_read(text, expected):
    assert duration(text) == expected


@pytest.mark.parametrize("text", ["", "P", "PT", "P1DT", "P6M", "P2Y", "180D", "P-1D", "p180d"])
def test_other_durations_are_refused(text):
    with pytest.raises(ValueError):
        duration(text)


def test_a_relationship_before_its_end_is_answered_as_registered():
    relationship = DelegatedAdminRelationship(CUSTOMER, ends_at=NOW + timedelta(seconds=1))

    assert relationship.at(NOW) == relationship


def test_only_an_active_relationship_changes_at_a_later_date():
    ended = DelegatedAdminRelationship(CUSTOMER, ends_at=NOW - timedelta(days=3), status="terminated")

    assert ended.at(NOW) == ended


def test_an_auto_extending_relationship_rolls_forward_as_often_as_needed():
    relationship = DelegatedAdminRelationship(CUSTOMER, ends_at=NOW - timedelta(days=400), auto_extend="P180D")

    assert relationship.at(NOW).ends_at == NOW - timedelta(days=400) + timedelta(days=540)
    assert relationship.at(NOW).status == "active"


def test_global_administrator_or_no_extension_expires_at_the_end():
    with_admin = DelegatedAdminRelationship(CUSTOMER, ends_at=NOW, auto_extend="P180D", roles=(GLOBAL_ADMINISTRATOR,))
    without = DelegatedAdminRelationship(CUSTOMER, ends_at=NOW, auto_extend="PT0S")

    assert with_admin.at(NOW).status == without.at(NOW).status == "expired"
    assert with_admin.at(NOW).ends_at == NOW


def test_a_relationship_with_an_unknown_status_or_duration_cannot_be_made():
    with pytest.raises(ValueError):
        DelegatedAdminRelationship(CUSTOMER, ends_at=None, status="paused")
    with pytest.raises(ValueError):
        DelegatedAdminRelationship(CUSTOMER, ends_at=None, auto_extend="P1Y")


def test_graph_times_are_utc_with_seven_fraction_digits_only_when_there_is_a_fraction():
    assert graph_time(None) is None
    assert graph_time(NOW) == "2026-03-01T00:00:00Z"
    assert graph_time(NOW + timedelta(microseconds=1)) == "2026-03-01T00:00:00.0000010Z"
    assert graph_time(datetime(2026, 3, 1, 1, 0, tzinfo=UTC).astimezone()) == "2026-03-01T01:00:00Z"


@pytest.mark.parametrize("path, detail", [
    ("/v1.0/applications(appId='abc')", "applications(appId='abc')"),
    ("/v1.0/applications(appId=%27abc%27)", "applications(appId='abc')"),
    ("/v1.0/tenantRelationships/delegatedAdminRelationships", "tenantRelationships/delegatedAdminRelationships"),
])
def test_graph_paths_route_to_graph(path, detail):
    route = route_for(path)

    assert route.endpoint == Endpoint.GRAPH and route.detail == detail and route.tenant == ""


def test_only_tokens_signed_with_the_simulators_key_are_verified():
    token = encode_jwt({"tid": CUSTOMER}, key=b"k" * 32)

    assert verified_claims(token, key=b"k" * 32) == {"tid": CUSTOMER}
    assert verified_claims(token, key=b"x" * 32) is None
    assert verified_claims(token[:-2], key=b"k" * 32) is None
    assert verified_claims("", key=b"k" * 32) is None
    assert verified_claims("a.b.c", key=b"k" * 32) is None
