"""The fields of an alert channel: its id (the customerId rule), kind and events, each refused with a machine code
and the field at fault."""
from __future__ import annotations

import pytest

from shared.domain.alerts.channels import AlertChannel, ChannelKind, check_channel_id, check_events, check_kind
from shared.domain.alerts.events import EventType
from shared.domain.errors import InputError
from shared.domain.secrets import ChannelSecret


@pytest.mark.parametrize("value", ["ops", "Ops.Team_1-a", "a" * 64, "..a"])
def test_channel_ids_follow_the_customer_id_rule(value):
    assert check_channel_id(value) == value


@pytest.mark.parametrize("value", [None, "", "a" * 65, "..", "a b", "ops/1", "café", "a%2F"])
def test_bad_channel_ids_are_refused_on_their_field(value):
    with pytest.raises(InputError) as error:
        check_channel_id(value)
    assert (type(error.value), error.value.code, error.value.target) == (InputError, "invalidChannelId", "channelId")
    assert isinstance(error.value, InputError)  # the edge maps it like every other input error


def test_kinds():
    assert check_kind("webhook") is ChannelKind.WEBHOOK
    assert check_kind("teams") is ChannelKind.TEAMS
    for bad in ("Teams", "email", None, ["teams"], {"kind": "teams"}):
        with pytest.raises(InputError) as error:
            check_kind(bad)
        assert (error.value.code, error.value.target) == ("invalidChannelKind", "kind")


def test_events_are_a_non_empty_list_of_known_types():
    assert check_events(["connectionLost", "connectionRestored", "connectionLost"]) == {
        EventType.CONNECTION_LOST, EventType.CONNECTION_RESTORED}
    for bad in ([], None, "connectionLost", ["connectionLost", "everything"], [1], [["connectionLost"]]):
        with pytest.raises(InputError) as error:
            check_events(bad)
        assert (error.value.code, error.value.target) == ("invalidEvents", "events")


def test_a_channel_wants_only_what_it_subscribes_to_and_nothing_while_disabled():
    channel = AlertChannel("ops", ChannelKind.WEBHOOK, frozenset({EventType.CONNECTION_LOST}))
    assert channel.wants(EventType.CONNECTION_LOST)
    assert not channel.wants(EventType.CONNECTION_RESTORED)
    disabled = AlertChannel("ops", ChannelKind.WEBHOOK, frozenset(EventType), enabled=False)
    assert not any(disabled.wants(t) for t in EventType)


def test_the_url_is_configured_when_the_record_names_its_version():
    channel = AlertChannel("ops", ChannelKind.TEAMS, frozenset(EventType))
    assert not channel.url_configured
    assert AlertChannel("ops", ChannelKind.TEAMS, frozenset(EventType),
                        secret_versions={ChannelSecret.URL: "v1"}).url_configured
