"""A customer's time to failure (shared/domain/expiry.py): which credentials count for which method, the earliest
known one, and unknown expiries that are never taken for "no expiry"."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.expiry import (
    Expiry,
    ExpiryKind,
    ExpirySource,
    ExpiryUnknown,
    UnknownReason,
    customer_outlook,
    earliest,
    outlook,
    refresh_token_expiry,
    uses_provider_app,
)
from shared.domain.models import AuthMethod

NOW = datetime(2026, 3, 1, tzinfo=UTC)
PROVIDER = "aaaaaaaa-0000-4000-8000-00000000000a"
OWN_APP = "bbbbbbbb-0000-4000-8000-00000000000b"


def known(what: ExpiryKind, days: float, source: ExpirySource = ExpirySource.GRAPH) -> Expiry:
    return Expiry(what, source, NOW + timedelta(days=days), credential_id=f"{what}-id")


def unknown(what: ExpiryKind, reason: UnknownReason = UnknownReason.PERMISSION_MISSING) -> ExpiryUnknown:
    return ExpiryUnknown(what, reason, "why")


CLIENT = known(ExpiryKind.CLIENT_SECRET, 40)
PROVIDER_SECRET = known(ExpiryKind.PROVIDER_CLIENT_SECRET, 20, ExpirySource.OPERATOR)
REFRESH = known(ExpiryKind.REFRESH_TOKEN_INACTIVITY, 10, ExpirySource.COMPUTED)
GDAP = known(ExpiryKind.GDAP_RELATIONSHIP, 30)


def test_earliest_is_the_first_to_come_and_ties_go_by_kind():
    tie = known(ExpiryKind.CLIENT_SECRET, 20)

    assert earliest([CLIENT, PROVIDER_SECRET, GDAP]) == PROVIDER_SECRET
    assert earliest([PROVIDER_SECRET, tie]) == tie
    assert earliest([]) is None


def test_an_outlook_keeps_every_unknown_beside_the_earliest_known():
    missing = unknown(ExpiryKind.GDAP_RELATIONSHIP, UnknownReason.THROTTLED)

    seen = outlook([CLIENT, None, missing, PROVIDER_SECRET])

    assert seen.expiry == PROVIDER_SECRET and seen.expires_at == PROVIDER_SECRET.at
    assert seen.unknown == (missing,)
    assert seen.known == (PROVIDER_SECRET, CLIENT)


def test_an_outlook_of_only_unknowns_has_no_date_but_is_not_no_expiry():
    failed = unknown(ExpiryKind.CLIENT_SECRET, UnknownReason.UNREACHABLE)

    seen = outlook([failed])

    assert seen.expires_at is None and seen.unknown == (failed,)
    assert outlook([None]) == outlook([])  # only "never expires" and "does not apply" are nothing


@pytest.mark.parametrize("method, application_id, expected", [
    (AuthMethod.PASSWORD, None, True),
    (AuthMethod.TOKEN, None, True),
    (AuthMethod.APPLICATION, OWN_APP, False),
    (AuthMethod.APPLICATION, PROVIDER.upper(), True),  # after admin consent: the provider's app
    (AuthMethod.APPLICATION, None, False),
])
def test_who_depends_on_the_providers_app(method, application_id, expected):
    assert uses_provider_app(method, application_id=application_id, provider_client_id=PROVIDER) is expected


def parts(method: AuthMethod, application_id: str | None = None) -> Expiry | None:
    return customer_outlook(method, application_id=application_id, provider_client_id=PROVIDER,
                            client_secret=CLIENT, provider_secret=PROVIDER_SECRET, refresh_token=REFRESH,
                            gdap=GDAP).known


def test_a_password_customer_counts_the_providers_secret_and_gdap():
    assert parts(AuthMethod.PASSWORD) == (PROVIDER_SECRET, GDAP)


def test_a_token_customer_counts_its_refresh_token_too():
    assert parts(AuthMethod.TOKEN) == (REFRESH, PROVIDER_SECRET, GDAP)


def test_an_application_customer_counts_its_own_secret_not_the_providers():
    assert parts(AuthMethod.APPLICATION, OWN_APP) == (GDAP, CLIENT)


def test_an_application_customer_through_the_providers_app_counts_the_providers_secret():
    assert parts(AuthMethod.APPLICATION, PROVIDER) == (PROVIDER_SECRET, GDAP)


def test_the_providers_secret_is_the_earliest_of_a_password_customer():
    seen = customer_outlook(AuthMethod.PASSWORD, application_id=None, provider_client_id=PROVIDER,
                            provider_secret=known(ExpiryKind.PROVIDER_CLIENT_SECRET, 5), gdap=GDAP)

    assert seen.expiry.what is ExpiryKind.PROVIDER_CLIENT_SECRET


def test_an_unknown_provider_secret_shows_for_a_token_customer_with_a_known_refresh_token():
    failed = unknown(ExpiryKind.PROVIDER_CLIENT_SECRET)

    seen = customer_outlook(AuthMethod.TOKEN, application_id=None, provider_client_id=PROVIDER,
                            provider_secret=failed, refresh_token=REFRESH)

    assert seen.expiry == REFRESH and seen.unknown == (failed,)


def test_a_refresh_token_dies_ninety_days_after_its_last_redemption():
    redeemed = NOW - timedelta(days=3)

    assert refresh_token_expiry(redeemed, credential_id="v7") == Expiry(
        ExpiryKind.REFRESH_TOKEN_INACTIVITY, ExpirySource.COMPUTED, redeemed + timedelta(days=90), "v7")


def test_a_refresh_token_never_redeemed_is_unknown_not_no_expiry():
    found = refresh_token_expiry(None)

    assert isinstance(found, ExpiryUnknown) and found.reason is UnknownReason.NO_REDEMPTION_RECORDED
