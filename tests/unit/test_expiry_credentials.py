"""Which Graph passwordCredential is the stored secret, by hint or key id, and the expiry that follows
(shared/domain/expiry_credentials.py): Graph first, then the operator's date, else unknown and why."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.expiry import Expiry, ExpiryKind, ExpirySource, ExpiryUnknown, UnknownReason
from shared.domain.expiry_credentials import (
    AppCredentials,
    PasswordCredential,
    client_secret_expiry,
    match_secret,
    secret_hint,
)
from shared.domain.expiry_reads import ReadUnknown

NOW = datetime(2026, 3, 1, tzinfo=UTC)
SECRET = "Abc~long-secret-value"
KEY = "c0000000-0000-4000-8000-00000000000c"


def credential(key_id: str, hint: str | None, days: float | None) -> PasswordCredential:
    return PasswordCredential(key_id=key_id, hint=hint, ends_at=None if days is None else NOW + timedelta(days=days))


OURS = credential(KEY, "Abc", 20)
OTHER = credential("e0000000-0000-4000-8000-00000000000e", "Xyz", 5)


def test_the_hint_is_the_first_three_characters_as_graph_gives_it():
    assert secret_hint(SECRET) == "Abc" and secret_hint("ab") == "ab"


def test_one_credential_with_the_hint_is_the_stored_secret():
    assert match_secret([OTHER, OURS], hint="Abc", key_id=None, now=NOW).credential == OURS


def test_the_hint_counts_letter_case():
    assert match_secret([OURS], hint="abc", key_id=None, now=NOW).credential is None


def test_a_known_key_id_wins_over_the_hint_in_any_letter_case():
    same_hint = credential("f0000000-0000-4000-8000-00000000000f", "Abc", 2)

    match = match_secret([same_hint, OURS], hint="Abc", key_id=KEY.upper(), now=NOW)

    assert match.credential == OURS and match.candidates == 1


def test_a_key_id_no_longer_on_the_app_matches_nothing_even_when_a_hint_would():
    assert match_secret([OURS], hint="Abc", key_id="99999999-0000-4000-8000-000000000009", now=NOW).credential is None


def test_of_several_with_the_hint_the_first_to_end_among_those_not_ended_is_taken():
    ended = credential("10000000-0000-4000-8000-000000000001", "Abc", -1)
    later = credential("20000000-0000-4000-8000-000000000002", "Abc", 90)
    never = credential("30000000-0000-4000-8000-000000000003", "Abc", None)

    match = match_secret([later, ended, never, OURS], hint="Abc", key_id=None, now=NOW)

    assert match.credential == OURS and match.candidates == 4


def test_when_every_one_with_the_hint_has_ended_the_first_to_end_is_taken():
    first = credential("10000000-0000-4000-8000-000000000001", "Abc", -9)
    second = credential("20000000-0000-4000-8000-000000000002", "Abc", -1)

    assert match_secret([second, first], hint="Abc", key_id=None, now=NOW).credential == first


def test_no_hint_and_no_key_id_match_nothing():
    assert match_secret([OURS], hint=None, key_id=None, now=NOW) == match_secret([], hint="Abc", key_id=None, now=NOW)


def expiry(read, **options):
    return client_secret_expiry(read, what=ExpiryKind.CLIENT_SECRET, hint=secret_hint(SECRET), now=NOW, **options)


def test_graphs_date_wins_over_the_operators():
    found = expiry(AppCredentials(passwords=(OURS,)), operator_at=NOW + timedelta(days=1), credential_id="v3")

    assert found == Expiry(ExpiryKind.CLIENT_SECRET, ExpirySource.GRAPH, OURS.ends_at, "v3")


def test_the_matched_key_id_names_the_credential_when_the_caller_names_none():
    assert expiry(AppCredentials(passwords=(OURS,))).credential_id == KEY


def test_a_matched_secret_without_an_end_never_expires():
    assert expiry(AppCredentials(passwords=(credential(KEY, "Abc", None),))) is None


@pytest.mark.parametrize("reason", list(UnknownReason)[:6])
def test_a_failed_read_is_unknown_with_its_reason(reason):
    found = expiry(ReadUnknown(reason, "Graph said no."))

    assert found == ExpiryUnknown(ExpiryKind.CLIENT_SECRET, reason, "Graph said no.")


def test_a_failed_read_falls_back_to_the_operators_date():
    at = NOW + timedelta(days=12)

    found = expiry(ReadUnknown(UnknownReason.PERMISSION_MISSING, "403"), operator_at=at)

    assert found == Expiry(ExpiryKind.CLIENT_SECRET, ExpirySource.OPERATOR, at)


def test_no_matching_credential_is_unknown_unless_the_operator_gave_a_date():
    read = AppCredentials(passwords=(OTHER,))

    found = expiry(read)

    assert isinstance(found, ExpiryUnknown) and found.reason is UnknownReason.NO_MATCHING_CREDENTIAL
    assert expiry(read, operator_at=NOW).source is ExpirySource.OPERATOR


def test_an_app_with_no_secrets_at_all_is_unknown_not_no_expiry():
    found = expiry(AppCredentials())

    assert isinstance(found, ExpiryUnknown) and found.reason is UnknownReason.NO_MATCHING_CREDENTIAL


def test_not_read_yet_is_unknown_unless_the_operator_gave_a_date():
    found = expiry(None)

    assert isinstance(found, ExpiryUnknown) and found.reason is UnknownReason.NOT_READ_YET
    assert expiry(None, operator_at=NOW).source is ExpirySource.OPERATOR


def test_the_providers_secret_is_told_apart_by_what():
    found = client_secret_expiry(AppCredentials(passwords=(OURS,)), what=ExpiryKind.PROVIDER_CLIENT_SECRET,
                                 hint="Abc", now=NOW)

    assert found.what is ExpiryKind.PROVIDER_CLIENT_SECRET
