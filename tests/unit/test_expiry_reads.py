"""How often foresight asks Graph (shared/domain/expiry_reads.py): one read per credential a day, a new secret at
once, a transient failure sooner, and forced reads."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.expiry import ExpiryKind, ExpiryUnknown, UnknownReason
from shared.domain.expiry_reads import (
    READ_INTERVAL,
    TRANSIENT_RETRY,
    KeptRead,
    ReadUnknown,
    application_read_key,
    needs_read,
    provider_read_key,
    relationships_read_key,
)

NOW = datetime(2026, 3, 1, 6, tzinfo=UTC)
TENANT, APP = "20000000-0000-4000-8000-00000000000A", "BBBBBBBB-0000-4000-8000-00000000000B"
KEY = application_read_key(TENANT, APP, "v1")


def test_keys_name_the_credential_and_its_version_in_any_letter_case():
    assert KEY == application_read_key(TENANT.lower(), APP.lower(), "v1")
    assert KEY != application_read_key(TENANT, APP, "v2")
    assert provider_read_key(APP, "v1") != provider_read_key(APP, "v2")
    assert relationships_read_key(TENANT) == relationships_read_key(TENANT.lower())
    assert len({KEY, provider_read_key(APP, "v1"), relationships_read_key(TENANT)}) == 3


def test_nothing_kept_is_read():
    assert needs_read(None, KEY, now=NOW)


def test_a_read_is_fresh_for_a_day():
    kept = KeptRead(KEY, NOW)

    assert not needs_read(kept, KEY, now=NOW + READ_INTERVAL - timedelta(seconds=1))
    assert needs_read(kept, KEY, now=NOW + READ_INTERVAL)


def test_four_runs_a_day_make_one_read_per_credential():
    kept, reads, now = None, 0, NOW
    for _ in range(4 * 7):  # every 6 hours for a week
        if needs_read(kept, KEY, now=now):
            kept, reads = KeptRead(KEY, now), reads + 1
        now += timedelta(hours=6)

    assert reads == 7


def test_a_new_secret_version_is_read_at_once():
    assert needs_read(KeptRead(KEY, NOW), application_read_key(TENANT, APP, "v2"), now=NOW)


@pytest.mark.parametrize("reason", [UnknownReason.THROTTLED, UnknownReason.UNREACHABLE])
def test_a_transient_failure_is_tried_again_sooner(reason):
    kept = KeptRead(KEY, NOW, failed=reason)

    assert not needs_read(kept, KEY, now=NOW + TRANSIENT_RETRY - timedelta(seconds=1))
    assert needs_read(kept, KEY, now=NOW + TRANSIENT_RETRY)


@pytest.mark.parametrize("reason", [UnknownReason.PERMISSION_MISSING, UnknownReason.NOT_FOUND])
def test_a_refusal_waits_the_day_like_an_answer(reason):
    assert not needs_read(KeptRead(KEY, NOW, failed=reason), KEY, now=NOW + TRANSIENT_RETRY)


def test_force_reads_and_a_clock_set_back_reads():
    assert needs_read(KeptRead(KEY, NOW), KEY, now=NOW, force=True)
    assert needs_read(KeptRead(KEY, NOW), KEY, now=NOW - timedelta(minutes=1))


def test_a_failed_read_becomes_the_unknown_expiry_of_what_it_was_about():
    read = ReadUnknown(UnknownReason.THROTTLED, "429")

    assert read.about(ExpiryKind.PROVIDER_CLIENT_SECRET) == ExpiryUnknown(
        ExpiryKind.PROVIDER_CLIENT_SECRET, UnknownReason.THROTTLED, "429")
