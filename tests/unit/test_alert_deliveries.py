"""Deliveries and their retries: 429 honours Retry-After, 5xx and time-outs back off with jitter for up to 24 hours,
then failed; a redirect, another 4xx or a refused destination fail at once; ids are the same on every instance."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.alerts.deliveries import (
    Delivery,
    DeliveryState,
    after_attempt,
    delivery_id_for,
    is_due,
    new_delivery,
)
from shared.domain.alerts.delivery_retry import (
    FIRST_BACKOFF,
    MAX_BACKOFF,
    MAX_DELIVERY_AGE,
    OutcomeKind,
    SendOutcome,
    backoff,
    next_attempt,
    outcome_of_answer,
    retry_after_delay,
)
from shared.domain.alerts.digests import channel_test_digest

T0 = datetime(2025, 3, 1, 6, 0, tzinfo=UTC)
LOW, HIGH = (lambda: 0.0), (lambda: 0.999999)
DOWN = SendOutcome(OutcomeKind.UNREACHABLE, "could not connect to hooks.example.com")


def _delivery() -> Delivery:
    return new_delivery(channel_test_digest("ops", test_id="1", created_at=T0), now=T0)


@pytest.mark.parametrize(("status", "kind"), [
    (200, OutcomeKind.SENT), (202, OutcomeKind.SENT), (204, OutcomeKind.SENT),
    (429, OutcomeKind.THROTTLED), (500, OutcomeKind.SERVER_ERROR), (503, OutcomeKind.SERVER_ERROR),
    (408, OutcomeKind.SERVER_ERROR), (301, OutcomeKind.REDIRECTED), (302, OutcomeKind.REDIRECTED),
    (307, OutcomeKind.REDIRECTED), (308, OutcomeKind.REDIRECTED), (400, OutcomeKind.REJECTED),
    (401, OutcomeKind.REJECTED), (404, OutcomeKind.REJECTED), (410, OutcomeKind.REJECTED),
])
def test_answers_are_classified(status, kind):
    outcome = outcome_of_answer(status, retry_after="5")
    assert (outcome.kind, outcome.status) == (kind, status)
    assert str(status) in outcome.detail
    assert outcome.retry_after == ("5" if status == 429 else None)


def test_a_redirect_says_it_was_not_followed():
    assert "not followed" in outcome_of_answer(302).detail


@pytest.mark.parametrize(("value", "delay"), [
    ("120", timedelta(seconds=120)), (" 7 ", timedelta(seconds=7)), ("0", timedelta(seconds=1)),
    ("Sat, 01 Mar 2025 06:05:00 GMT", timedelta(minutes=5)), ("Sat, 01 Mar 2025 05:00:00 GMT", timedelta(seconds=1)),
    (None, None), ("", None), ("soon", None), ("-5", None), ("1.5", None), ("Sat, 01 Mar 2025 06:05:00 -0000", None),
])
def test_retry_after_in_seconds_or_as_an_http_date(value, delay):
    assert retry_after_delay(value, now=T0) == delay


def test_a_429_waits_exactly_its_retry_after():
    throttled = outcome_of_answer(429, retry_after="90")
    assert next_attempt(throttled, attempts=1, created_at=T0, now=T0, random=HIGH) == T0 + timedelta(seconds=90)
    later = T0 + timedelta(hours=3)
    assert next_attempt(throttled, attempts=9, created_at=T0, now=later, random=LOW) == later + timedelta(seconds=90)


def test_a_429_without_a_readable_retry_after_backs_off():
    throttled = outcome_of_answer(429, retry_after="whenever")
    assert next_attempt(throttled, attempts=1, created_at=T0, now=T0, random=LOW) == T0 + FIRST_BACKOFF / 2


def test_backoff_doubles_with_jitter_up_to_a_cap():
    for attempts in range(1, 12):
        ceiling = min(FIRST_BACKOFF * 2 ** (attempts - 1), MAX_BACKOFF)
        assert backoff(attempts, random=LOW) == ceiling / 2
        assert ceiling / 2 < backoff(attempts, random=HIGH) < ceiling
    assert backoff(10_000, random=HIGH) < MAX_BACKOFF


@pytest.mark.parametrize("outcome", [outcome_of_answer(500), outcome_of_answer(503), DOWN,
                                     SendOutcome(OutcomeKind.UNREACHABLE, "hooks.example.com did not answer")])
def test_server_errors_and_time_outs_are_retried(outcome):
    delivery = after_attempt(_delivery(), outcome, now=T0, random=LOW)
    assert delivery.state is DeliveryState.PENDING
    assert (delivery.attempts, delivery.next_attempt_at, delivery.last_error) == (1, T0 + FIRST_BACKOFF / 2,
                                                                                  outcome.detail)
    assert not is_due(delivery, now=T0 + FIRST_BACKOFF / 2 - timedelta(microseconds=1))
    assert is_due(delivery, now=T0 + FIRST_BACKOFF / 2)


@pytest.mark.parametrize("outcome", [outcome_of_answer(302), outcome_of_answer(400), outcome_of_answer(404),
                                     SendOutcome(OutcomeKind.NOT_ALLOWED, "10.0.0.1 is a private address")])
def test_what_sending_again_would_not_change_fails_at_once(outcome):
    delivery = after_attempt(_delivery(), outcome, now=T0, random=LOW)
    assert (delivery.state, delivery.attempts, delivery.next_attempt_at, delivery.last_error) == (
        DeliveryState.FAILED, 1, None, outcome.detail)
    assert not is_due(delivery, now=T0 + MAX_DELIVERY_AGE)


def test_a_receiver_down_is_retried_for_up_to_24_hours_then_failed():
    delivery, now = _delivery(), T0
    while delivery.state is DeliveryState.PENDING:
        assert is_due(delivery, now=now)
        delivery = after_attempt(delivery, DOWN, now=now, random=HIGH)
        if delivery.next_attempt_at is not None:
            assert delivery.next_attempt_at <= T0 + MAX_DELIVERY_AGE
            now = delivery.next_attempt_at
    assert delivery.state is DeliveryState.FAILED
    assert T0 + MAX_DELIVERY_AGE - MAX_BACKOFF <= now <= T0 + MAX_DELIVERY_AGE
    assert delivery.attempts > 90  # every 15 minutes at most, once the back-off reached its cap
    assert delivery.last_error.startswith(DOWN.detail) and "given up" in delivery.last_error


def test_a_receiver_down_for_an_hour_loses_nothing():
    delivery, now = _delivery(), T0
    while now < T0 + timedelta(hours=1):
        delivery = after_attempt(delivery, DOWN, now=now, random=HIGH)
        now = delivery.next_attempt_at
    delivery = after_attempt(delivery, outcome_of_answer(200), now=now, random=HIGH)
    assert (delivery.state, delivery.sent_at, delivery.next_attempt_at) == (DeliveryState.SENT, now, None)
    assert now - (T0 + timedelta(hours=1)) <= MAX_BACKOFF


def test_a_retry_after_past_the_24_hours_fails_the_delivery():
    delivery = after_attempt(_delivery(), outcome_of_answer(429, retry_after=str(25 * 3600)), now=T0, random=LOW)
    assert delivery.state is DeliveryState.FAILED and delivery.next_attempt_at is None


def test_delivery_ids_are_the_same_wherever_they_are_made_and_differ_between_channels_and_batches():
    assert delivery_id_for("ops", "run:r1") == delivery_id_for("ops", "run:r1")
    assert len({delivery_id_for("ops", "run:r1"), delivery_id_for("ops", "run:r2"), delivery_id_for("noc", "run:r1"),
                delivery_id_for("ops\nrun:r1", "")}) == 4
    assert _delivery().delivery_id == delivery_id_for("ops", "test:1")
