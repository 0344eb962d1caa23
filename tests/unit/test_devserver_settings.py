"""What the local host reads before it runs anything: schedules, queue connections and message text, and
local.settings.json, each as the Functions host reads it."""
from __future__ import annotations

import base64
import json
from datetime import UTC, datetime

import pytest

from tools.hostconfig import HostConfigError, load_local_settings
from tools.queues import decode_body, queue_client
from tools.scheduling import next_after, parse_schedule

START = datetime(2024, 1, 1, tzinfo=UTC)


def test_ncrontab_has_seconds_first_and_needs_day_and_weekday_to_match():
    assert next_after(parse_schedule("30 15 10 * * *"), START) == datetime(2024, 1, 1, 10, 15, 30, tzinfo=UTC)
    # "Friday the 13th": NCrontab ANDs the two day fields, unlike Vixie cron's OR.
    assert next_after(parse_schedule("0 0 0 13 * 5"), START) == datetime(2024, 9, 13, tzinfo=UTC)


def test_a_schedule_from_a_setting_is_resolved_and_a_missing_setting_refused(monkeypatch):
    monkeypatch.setenv("EVERY_MINUTE", "0 * * * * *")
    assert parse_schedule("%EVERY_MINUTE%") == "0 * * * * *"
    with pytest.raises(HostConfigError, match="The app setting 'NOT_SET_ANYWHERE' .* is not set"):
        parse_schedule("%NOT_SET_ANYWHERE%")


@pytest.mark.parametrize(("schedule", "reason"), [
    ("00:05:00", "is a TimeSpan, which Azure Functions runs on App Service plans only"),
    ("1.00:00:00", "is a TimeSpan"),
    ("*/5 * * * *", "is not NCRONTAB: it needs 6 fields"),
    ("0 */5 * * * * *", "is not NCRONTAB"),
    ("0 61 * * * *", "is not NCRONTAB"),
])
def test_schedules_flex_consumption_does_not_take_are_refused(schedule, reason):
    with pytest.raises(HostConfigError, match=reason):
        parse_schedule(schedule)


def test_message_text_is_base64_unless_host_json_says_none():
    assert decode_body(base64.b64encode(b"\x00\xffbin").decode(), "base64") == b"\x00\xffbin"
    assert decode_body("aGVs\nbG8=", "base64") == b"hello"  # whitespace ignored, as .NET does
    with pytest.raises(ValueError, match="not valid base64"):
        decode_body("hello!", "base64")
    assert decode_body("hello!", "none") == b"hello!"


def test_a_queue_connection_is_a_connection_string_and_the_development_shorthand_is_azurite():
    client = queue_client("AzureWebJobsStorage", "jobs", {"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert client.url == "http://127.0.0.1:10001/devstoreaccount1/jobs"
    named = queue_client("Jobs", "jobs", {"AzureWebJobsJobs": "UseDevelopmentStorage=true"})
    assert named.account_name == "devstoreaccount1"
    transport = client._client._client._pipeline._transport._transport  # the service's, behind the queue's wrapper
    # A poll neither reads the environment again (proxies are read once) nor waits long on a storage that is down.
    assert transport.session.trust_env is False and transport.connection_config.timeout == 5
    with pytest.raises(HostConfigError, match="connection string only, not AzureWebJobsStorage__queueServiceUri"):
        queue_client("AzureWebJobsStorage", "jobs",
                     {"AzureWebJobsStorage__queueServiceUri": "https://account.queue.core.windows.net"})


def test_local_settings_fill_only_what_the_environment_leaves_unset(tmp_path):
    path = tmp_path / "local.settings.json"
    path.write_text(json.dumps({"IsEncrypted": False, "Values": {"A": "from-file", "B": "from-file", "C": None}}))
    environ = {"A": "from-env"}
    assert load_local_settings(path, environ) == ["B"]
    assert environ == {"A": "from-env", "B": "from-file"}
    assert load_local_settings(tmp_path / "absent.json", environ) == []
