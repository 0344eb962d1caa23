"""The log line of a status event, which the log alert rule in infra/modules/alerts.bicep reads back.

Every event is also logged as one line: a fixed prefix, then a JSON object with the fixed fields below. On
Azure the line is the `message` of an Application Insights trace, and the rule's KQL takes the JSON after the
prefix apart with `parse_json`. The fields travel inside the message, not as `logging` extras: the Python
worker sends the host only the formatted message, level, logger name and invocation id of a record
(azure-functions-python-worker, `Dispatcher.on_logging`), and the host logs that message with its own
dimensions (Category, LogLevel, InvocationId, HostInstanceId, ProcessId; azure-functions-host,
`GrpcWorkerChannel.Log`), so extras never reach customDimensions unless the app exports its own logs
through OpenTelemetry, which this app does not. The host keeps a worker's line only while its invocation
runs: log it from the function's own thread or task, before the function returns.

Only identifiers, states and times are in it: never a message of the identity platform, never a secret.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

# The rule matches this exact, case-sensitive prefix (KQL `startswith_cs`); the JSON object follows it.
EVENT_LOG_PREFIX = "STATUS_EVENT "
CONNECTION_LOST = "connectionLost"  # the event type the alert rule counts
# `expiry` ({"what", "source", "at"}) and `withinDays` (30, 14, 7 or 1) name a connectionExpiring event's expiry and
# band, as GET /api/events does; null for every other type.
FIELDS = ("type", "eventId", "customerId", "tenantId", "fromStatus", "fromReason", "toStatus", "toReason",
          "at", "runId", "expiry", "withinDays")
_OPTIONAL = frozenset({"fromReason", "toReason", "runId"})


def event_log_line(*, event_type: str, event_id: str, customer_id: str, tenant_id: str, from_status: str,
                   from_reason: str | None, to_status: str, to_reason: str | None, at: datetime,
                   run_id: str | None, expiry_what: str | None = None, expiry_source: str | None = None,
                   expiry_at: datetime | None = None, within_days: int | None = None) -> str:
    """The one line to log for an event. Log it as an argument (`logger.info("%s", line)`), never as the format.

    Plain values in (enum members are strings and go in as their value); `at` and `expiry_at` must carry their
    time zone; the expiry's three values come together or not at all.
    The JSON is ASCII on one line: a value holding a line break or the prefix cannot start another record.
    """
    values: dict[str, Any] = {
        "type": event_type, "eventId": event_id, "customerId": customer_id, "tenantId": tenant_id,
        "fromStatus": from_status, "fromReason": from_reason, "toStatus": to_status, "toReason": to_reason,
        "at": _utc_text(at, "at"), "runId": run_id,
        "expiry": _expiry(expiry_what, expiry_source, expiry_at), "withinDays": within_days,
    }
    for name in FIELDS[:-2]:
        value = values[name]
        if value is None and name in _OPTIONAL:
            continue
        if not isinstance(value, str) or not value:
            raise ValueError(f"{name} must be a non-empty string")
        values[name] = str(value)  # a StrEnum member becomes its plain value
    if within_days is not None and (type(within_days) is not int or within_days <= 0):
        raise ValueError("withinDays must be a positive whole number")
    return EVENT_LOG_PREFIX + json.dumps({name: values[name] for name in FIELDS}, ensure_ascii=True,
                                         separators=(",", ":"))


def _utc_text(moment: datetime, name: str) -> str:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be an aware datetime")
    return moment.astimezone(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _expiry(what: str | None, source: str | None, at: datetime | None) -> dict[str, str] | None:
    if what is None and source is None and at is None:
        return None
    if not (isinstance(what, str) and what and isinstance(source, str) and source and at is not None):
        raise ValueError("expiry needs a what, a source and an at")
    return {"what": str(what), "source": str(source), "at": _utc_text(at, "expiry at")}


def parse_event_log_line(line: str) -> dict[str, Any] | None:
    """The fields of an event line, read as the alert rule reads them; None for any other line."""
    if not line.startswith(EVENT_LOG_PREFIX):
        return None
    try:
        record = json.loads(line[len(EVENT_LOG_PREFIX):])
    except ValueError:
        return None
    return record if isinstance(record, dict) else None
