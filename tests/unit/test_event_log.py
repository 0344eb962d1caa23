"""The log line of a status event (shared/domain/event_log.py): what it holds, and that it reads back.

tests/infra/test_alerts.py checks that the alert rule's KQL reads this same prefix and these fields.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from shared.domain.event_log import EVENT_LOG_PREFIX, FIELDS, event_log_line, parse_event_log_line
from shared.domain.models import Status
from shared.domain.reasons import Reason

AT = datetime(2025, 3, 4, 5, 6, 7, 890000, tzinfo=UTC)


def _line(**changes: object) -> str:
    values: dict[str, object] = {
        "event_type": "connectionLost", "event_id": "evt-1", "customer_id": "contoso", "tenant_id": "contoso.com",
        "from_status": "succeeded", "from_reason": None, "to_status": "failed",
        "to_reason": "invalidCredentials", "at": AT, "run_id": "run-9",
    }
    return event_log_line(**(values | changes))  # type: ignore[arg-type]


def test_the_line_is_the_prefix_then_one_json_object_with_the_fixed_fields() -> None:
    line = _line()
    assert line.startswith(EVENT_LOG_PREFIX) and "\n" not in line
    assert json.loads(line[len(EVENT_LOG_PREFIX):]) == {
        "type": "connectionLost", "eventId": "evt-1", "customerId": "contoso", "tenantId": "contoso.com",
        "fromStatus": "succeeded", "fromReason": None, "toStatus": "failed", "toReason": "invalidCredentials",
        "at": "2025-03-04T05:06:07Z", "runId": "run-9", "expiry": None, "withinDays": None,
    }


def test_the_line_reads_back_to_the_values_it_was_made_of() -> None:
    record = parse_event_log_line(_line(event_type="reasonChanged", from_status=Status.FAILED,
                                        from_reason=Reason.INVALID_CREDENTIALS, to_status=Status.FAILED,
                                        to_reason=Reason.MFA_REQUIRED, run_id=None))
    assert record is not None and tuple(record) == FIELDS
    assert (record["type"], record["fromStatus"], record["fromReason"], record["toStatus"], record["toReason"]) == \
        ("reasonChanged", "failed", "invalidCredentials", "failed", "mfaRequired")
    assert record["runId"] is None


def test_the_time_is_utc_with_a_z_whatever_zone_it_came_in() -> None:
    record = parse_event_log_line(_line(at=AT.astimezone(timezone(timedelta(hours=2)))))
    assert record is not None and record["at"] == "2025-03-04T05:06:07Z"


def test_a_value_cannot_break_the_line_or_forge_another_record() -> None:
    forged = f'x\n{EVENT_LOG_PREFIX}{{"type":"connectionLost","customerId":"victim"}}\u2028'
    line = _line(customer_id=forged)
    assert line.splitlines() == [line] and line.isascii()  # \u2028 would split the line for some readers
    record = parse_event_log_line(line)
    assert record is not None and record["customerId"] == forged


def test_an_expiring_connections_line_names_its_expiry_and_band_as_the_events_api_does(caplog) -> None:
    """The relay logs a connectionExpiring event's expiry (what, source, at; never the credential's id) and band."""
    import logging

    from shared.domain.alerts.events import EventType, StatusEvent, StatusPoint
    from shared.domain.expiry import Expiry, ExpiryKind, ExpirySource
    from shared.usecases.events import relay
    from tests.support.fakes import InMemoryCustomerStore, InMemoryEventLog

    ends = Expiry(ExpiryKind.CLIENT_SECRET, ExpirySource.GRAPH, AT + timedelta(days=6, hours=1), "key-1")
    point = StatusPoint(Status.SUCCEEDED)
    event = StatusEvent("evt-7", EventType.CONNECTION_EXPIRING, "contoso", "contoso.com", point, point, AT,
                        "run-9", expiry=ends, within_days=7)
    with caplog.at_level(logging.INFO, logger="shared.usecases.events"):
        relay(InMemoryCustomerStore(), InMemoryEventLog(), [[event]])
    (record,) = [line for r in caplog.records if (line := parse_event_log_line(r.getMessage())) is not None]
    assert tuple(record) == FIELDS and record["type"] == "connectionExpiring"
    assert (record["expiry"], record["withinDays"]) == (
        {"what": "clientSecret", "source": "graph", "at": "2025-03-10T06:06:07Z"}, 7)
    assert "key-1" not in caplog.text


@pytest.mark.parametrize("changes", [
    {"within_days": 0}, {"within_days": "7"}, {"within_days": True},
    {"expiry_what": "clientSecret"}, {"expiry_what": "clientSecret", "expiry_source": "graph"},
    {"expiry_what": "", "expiry_source": "graph", "expiry_at": AT},
    {"expiry_what": "clientSecret", "expiry_source": "graph", "expiry_at": datetime(2025, 3, 4)},
])
def test_an_expiry_or_band_that_is_not_whole_is_refused(changes: dict[str, object]) -> None:
    with pytest.raises(ValueError):
        _line(event_type="connectionExpiring", **changes)


def test_a_time_without_zone_is_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        _line(at=datetime(2025, 3, 4, 5, 6, 7))


@pytest.mark.parametrize("name", ["event_type", "event_id", "customer_id", "tenant_id", "from_status", "to_status"])
def test_a_required_value_missing_is_refused(name: str) -> None:
    for missing in (None, ""):
        with pytest.raises(ValueError, match="non-empty string"):
            _line(**{name: missing})


def test_a_value_that_is_not_text_is_refused() -> None:
    with pytest.raises(ValueError, match="runId"):
        _line(run_id=42)


@pytest.mark.parametrize("line", [
    "verification finished",
    EVENT_LOG_PREFIX.lower() + '{"type":"connectionLost"}',  # the rule matches the prefix case-sensitively
    EVENT_LOG_PREFIX + "not json",
    EVENT_LOG_PREFIX + '["connectionLost"]',
    "",
])
def test_other_lines_are_not_events(line: str) -> None:
    assert parse_event_log_line(line) is None
