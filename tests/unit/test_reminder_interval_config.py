"""REMINDER_INTERVAL: a TimeSpan (hh:mm:ss or d.hh:mm:ss), default 24:00:00, 0 for no reminders; a bad value is a
configuration error that says what to write."""
from __future__ import annotations

from datetime import timedelta

import pytest

from shared.config import load_config, parse_timespan
from shared.domain.errors import ConfigurationError

STORAGE = {"AzureWebJobsStorage": "UseDevelopmentStorage=true"}


def test_the_default_is_a_day():
    assert load_config(STORAGE).reminder_interval == timedelta(hours=24)
    assert load_config({**STORAGE, "REMINDER_INTERVAL": " "}).reminder_interval == timedelta(hours=24)


@pytest.mark.parametrize(("value", "interval"), [
    ("24:00:00", timedelta(hours=24)), ("1.00:00:00", timedelta(days=1)),
    ("06:30:15", timedelta(hours=6, minutes=30, seconds=15)),
    ("2.12:00:00", timedelta(days=2, hours=12)), ("168:00:00", timedelta(days=7)), ("0:05:00", timedelta(minutes=5)),
    ("0", timedelta(0)), (" 0 ", timedelta(0)), ("00:00:00", timedelta(0)),
])
def test_timespans(value, interval):
    assert load_config({**STORAGE, "REMINDER_INTERVAL": value}).reminder_interval == interval


@pytest.mark.parametrize("value", ["24h", "1d", "24", "-1", "-01:00:00", "01:60:00", "01:00:60", "1.24:00:00",
                                   "1:2:3", "01:00", "1.5:00:00", "abc", "00:00:00.5", "1.01:00", "٠١:٠٠:٠٠"])
def test_a_bad_value_is_a_clear_configuration_error(value):
    with pytest.raises(ConfigurationError) as error:
        load_config({**STORAGE, "REMINDER_INTERVAL": value})
    message = str(error.value)
    assert message.startswith("REMINDER_INTERVAL must be a duration as hh:mm:ss or d.hh:mm:ss")
    assert repr(value) in message


def test_the_parser_names_the_setting():
    with pytest.raises(ConfigurationError, match="^OTHER must"):
        parse_timespan("OTHER", "x")
