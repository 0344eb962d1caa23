"""Warning bands and `connectionExpiring` once per band per credential, with an injected clock
(shared/domain/expiry_bands.py); the expiringWithinDays filter and the summary counts."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.expiry import Expiry, ExpiryKind, ExpirySource
from shared.domain.expiry_bands import (
    EXPIRED,
    Warned,
    band,
    credential_identity,
    expiring_counts,
    expiring_within,
    next_warning,
    next_warnings,
)

START = datetime(2026, 3, 1, tzinfo=UTC)
AT = START + timedelta(days=45)
SECRET = Expiry(ExpiryKind.CLIENT_SECRET, ExpirySource.GRAPH, AT, "key-1")


@pytest.mark.parametrize("left, expected", [
    (timedelta(days=45), None), (timedelta(days=30, seconds=1), None), (timedelta(days=30), 30),
    (timedelta(days=14, seconds=1), 30), (timedelta(days=14), 14), (timedelta(days=7), 7), (timedelta(days=2), 7),
    (timedelta(days=1), 1), (timedelta(seconds=1), 1), (timedelta(0), EXPIRED), (timedelta(days=-3), EXPIRED),
])
def test_the_band_a_time_to_failure_is_in(left, expected):
    assert band(START + left, START) == expected


def walk(expiry: Expiry | None, *, start: datetime, until: datetime, step: timedelta,
         state: Warned | None = None) -> tuple[list[tuple[datetime, int]], Warned | None]:
    """Look at the credential every `step` from `start` to `until`, as scheduled runs would; what was emitted."""
    emitted, now = [], start
    while now <= until:
        decision = next_warning(state, expiry, now=now)
        if decision.emit is not None:
            emitted.append((now, decision.emit))
        state, now = decision.state, now + step
    return emitted, state


def test_every_band_is_crossed_exactly_once_per_credential():
    emitted, state = walk(SECRET, start=START, until=AT + timedelta(days=10), step=timedelta(hours=1))

    assert [emitted_band for _, emitted_band in emitted] == [30, 14, 7, 1]
    assert [when for when, _ in emitted] == [AT - timedelta(days=days) for days in (30, 14, 7, 1)]
    assert state == Warned(credential_identity(SECRET), EXPIRED)


def test_bands_skipped_between_two_looks_make_one_event_for_the_band_it_is_in():
    emitted, _ = walk(SECRET, start=AT - timedelta(days=40), until=AT, step=timedelta(days=19))

    # Looks at 40 days (no band), 21 (band 30) and 2 (band 7): band 14 was skipped, and 7 is warned once.
    assert emitted == [(AT - timedelta(days=21), 30), (AT - timedelta(days=2), 7)]


def test_a_first_look_inside_a_band_warns_for_that_band_only():
    decision = next_warning(None, SECRET, now=AT - timedelta(days=10))

    assert decision.emit == 14 and decision.state == Warned(credential_identity(SECRET), 14)


def test_a_changed_credential_starts_again():
    _, state = walk(SECRET, start=START, until=AT - timedelta(days=8), step=timedelta(hours=6))
    renewed = Expiry(ExpiryKind.CLIENT_SECRET, ExpirySource.GRAPH, AT, "key-2")

    decision = next_warning(state, renewed, now=AT - timedelta(days=8))

    assert state.band == 14 and decision.emit == 14
    assert decision.state.identity == credential_identity(renewed) != state.identity


def test_a_corrected_date_is_another_identity():
    moved = Expiry(ExpiryKind.CLIENT_SECRET, ExpirySource.OPERATOR, AT + timedelta(days=1), "key-1")

    assert credential_identity(moved) != credential_identity(SECRET)
    assert credential_identity(SECRET).startswith("clientSecret:")


def test_an_expiry_unknown_for_a_while_keeps_what_was_warned():
    _, state = walk(SECRET, start=START, until=AT - timedelta(days=20), step=timedelta(hours=6))

    during = next_warning(state, None, now=AT - timedelta(days=15))
    after = next_warning(during.state, SECRET, now=AT - timedelta(days=15))

    assert state.band == 30 and during == type(during)(None, state) and after.emit is None


def test_a_look_after_the_expiry_warns_no_more():
    decision = next_warning(None, SECRET, now=AT + timedelta(hours=1))

    assert decision.emit is None and decision.state.band == EXPIRED
    assert next_warning(decision.state, SECRET, now=AT + timedelta(days=1)).emit is None


def test_far_from_the_expiry_nothing_is_warned_and_the_credential_is_tracked():
    decision = next_warning(None, SECRET, now=START)

    assert decision.emit is None and decision.state == Warned(credential_identity(SECRET), None)


REFRESH = Expiry(ExpiryKind.REFRESH_TOKEN_INACTIVITY, ExpirySource.COMPUTED, AT - timedelta(days=20), "rt-1")


def test_several_credentials_each_cross_their_bands_once():
    warned: dict[str, int | None] = {}
    emitted: list[tuple[ExpiryKind, int]] = []
    now = START
    while now <= AT:
        pairs, warned = next_warnings(warned, [SECRET, REFRESH], now=now)
        emitted += [(expiry.what, emitted_band) for expiry, emitted_band in pairs]
        now += timedelta(hours=12)

    assert [b for what, b in emitted if what is ExpiryKind.CLIENT_SECRET] == [30, 14, 7, 1]
    assert [b for what, b in emitted if what is ExpiryKind.REFRESH_TOKEN_INACTIVITY] == [30, 14, 7, 1]
    assert emitted[0] == (ExpiryKind.REFRESH_TOKEN_INACTIVITY, 30)  # 25 days left at the first look


def test_a_renewed_credential_replaces_the_one_of_its_kind_and_an_unknown_kind_is_kept():
    warned = {credential_identity(SECRET): 14, credential_identity(REFRESH): 7}
    renewed = Expiry(ExpiryKind.CLIENT_SECRET, ExpirySource.GRAPH, AT + timedelta(days=365), "key-2")

    pairs, kept = next_warnings(warned, [renewed], now=AT - timedelta(days=10))

    assert pairs == []
    assert kept == {credential_identity(renewed): None, credential_identity(REFRESH): 7}


@pytest.mark.parametrize("left, days, expected", [
    (timedelta(days=7), 7, True), (timedelta(days=7, seconds=1), 7, False), (timedelta(days=-2), 7, True),
    (timedelta(days=29), 30, True), (timedelta(days=31), 30, False),
])
def test_expiring_within_days_includes_those_already_past(left, days, expected):
    assert expiring_within(START + left, days, now=START) is expected


def test_an_unknown_expiry_is_never_expiring_within():
    assert expiring_within(None, 365, now=START) is False


def test_the_summary_counts_within_7_and_within_30_days():
    times = [START + timedelta(days=days) for days in (-1, 3, 7, 8, 20, 30, 31)] + [None]

    assert expiring_counts(times, now=START) == {7: 3, 30: 6}
