"""connectionExpiring decided in the domain (expiry_events.with_warnings) under an injected clock: each band of 30,
14, 7 and 1 days crossed exactly once per credential, again for a renewed one, and none for an unknown expiry."""
import dataclasses
import itertools
from datetime import UTC, datetime, timedelta

from shared.domain.alerts.events import EventType
from shared.domain.expiry import Expiry, ExpiryKind, ExpirySource
from shared.domain.expiry_events import warning_text, with_warnings
from shared.domain.models import AuthMethod, Customer, Status
from shared.domain.secrets import SecretKind

T0 = datetime(2026, 1, 1, 9, 0, tzinfo=UTC)


def customer(expires_at, version="v1"):
    return Customer(customer_id="c1", tenant_id="contoso.onmicrosoft.com", authentication_method=AuthMethod.APPLICATION,
                    application_id="a", secret_versions={SecretKind.APPLICATION_SECRET: version},
                    last_verification_status=Status.SUCCEEDED, application_secret_expires_at=expires_at)


def walk(record, start, hours, step=timedelta(hours=6)):
    ids = (f"e{n}" for n in itertools.count())
    bands = []
    for n in range(hours // 6):
        record, warnings = with_warnings(record, now=start + n * step, run_id=None, new_id=lambda: next(ids))
        bands += [warning.band for warning in warnings]
        assert all(w.event.type is EventType.CONNECTION_EXPIRING and w.event.after == w.event.before
                   for w in warnings)
    return record, bands


def test_each_band_is_crossed_exactly_once_as_the_clock_moves_to_the_expiry_and_past_it():
    _, bands = walk(customer(T0 + timedelta(days=40)), T0, 24 * 45)
    assert bands == [30, 14, 7, 1]


def test_a_renewed_secret_starts_the_bands_again_and_the_old_one_is_forgotten():
    record, first = walk(customer(T0 + timedelta(days=10)), T0, 24 * 3)
    assert first == [14]
    renewed = dataclasses.replace(record, secret_versions={SecretKind.APPLICATION_SECRET: "v2"},
                                  application_secret_expires_at=T0 + timedelta(days=10))
    record, second = walk(renewed, T0 + timedelta(days=4), 24)
    assert second == [7]
    assert len(record.foresight.warned) == 1


def test_first_look_inside_a_band_warns_once_for_that_band_only():
    _, bands = walk(customer(T0 + timedelta(days=3)), T0, 24)
    assert bands == [7]


def test_an_unknown_expiry_warns_nothing():
    record, bands = walk(customer(None), T0, 24 * 3)
    assert bands == [] and record.foresight is None


def test_each_warning_event_names_its_expiry_and_band_without_the_credential_id():
    ends = T0 + timedelta(days=40)
    record = customer(ends, version="secret-version-7")
    ids = (f"e{n}" for n in itertools.count())
    events = []
    for day in (10, 26, 33, 39):
        record, warnings = with_warnings(record, now=T0 + timedelta(days=day), run_id="run-1", new_id=lambda: next(ids))
        events += [warning.event for warning in warnings]
    assert [event.within_days for event in events] == [30, 14, 7, 1]
    assert {event.expiry for event in events} == {Expiry(ExpiryKind.CLIENT_SECRET, ExpirySource.OPERATOR, ends)}


def test_a_warning_in_words_says_what_expires_within_which_band_and_when():
    secret = Expiry(ExpiryKind.CLIENT_SECRET, ExpirySource.GRAPH, datetime(2026, 12, 2, 23, 30, tzinfo=UTC))
    assert warning_text(secret, 7) == "client secret expires within 7 days, on 2026-12-02 (from Microsoft Graph)"
    gdap = Expiry(ExpiryKind.GDAP_RELATIONSHIP, ExpirySource.GRAPH, datetime(2027, 1, 9, tzinfo=UTC))
    assert warning_text(gdap, 1) == ("delegated admin relationship expires within 1 day, on 2027-01-09 "
                                     "(from Microsoft Graph)")
