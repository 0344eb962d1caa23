"""The list's summary: counted once per walk through the pages, recounted when the token is old."""
import base64
import json
from datetime import UTC, datetime, timedelta

import pytest

from shared.domain.errors import InputError
from shared.domain.inputs import StatusQuery
from shared.domain.models import AuthMethod, Status, Tenant
from shared.usecases.status import SUMMARY_REUSE, list_status
from tests.support.fakes import InMemoryTenantStore

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class CountingStore(InMemoryTenantStore):
    def __init__(self):
        super().__init__()
        self.counts = 0

    def count_by_status(self):
        self.counts += 1
        return super().count_by_status()


@pytest.fixture
def store():
    store = CountingStore()
    for i in range(7):
        store.add(Tenant(customer_id=f"c{i}", tenant_id="contoso.com", authentication_method=AuthMethod.TOKEN,
                         last_verification_status=[Status.SUCCEEDED, Status.FAILED][i % 2]))
    return store


def walk(store, *, start=NOW, step=timedelta(seconds=1)):
    token, pages, when = None, [], start
    while True:
        page = list_status(store, StatusQuery(None, None, 2, token), now=when)
        pages.append(page)
        token = page.continuation_token
        if token is None:
            return pages
        when += step


def test_a_walk_counts_once_and_every_page_carries_the_same_summary(store):
    pages = walk(store)
    assert len(pages) == 4 and store.counts == 1
    assert {sum(p.counts.values()) for p in pages} == {7}
    assert pages[0].counts == {Status.NOT_VERIFIED: 0, Status.SUCCEEDED: 4, Status.FAILED: 3}
    assert [t.customer_id for p in pages for t in p.tenants] == [f"c{i}" for i in range(7)]


def test_an_old_token_gets_a_fresh_count(store):
    first = list_status(store, StatusQuery(None, None, 2, None), now=NOW)
    store.add(Tenant(customer_id="c9", tenant_id="contoso.com", authentication_method=AuthMethod.TOKEN))
    later = NOW + SUMMARY_REUSE + timedelta(seconds=1)
    second = list_status(store, StatusQuery(None, None, 2, first.continuation_token), now=later)
    assert store.counts == 2
    assert sum(second.counts.values()) == 8


def test_a_token_from_the_future_is_not_trusted_for_counts(store):
    first = list_status(store, StatusQuery(None, None, 2, None), now=NOW + timedelta(hours=1))
    list_status(store, StatusQuery(None, None, 2, first.continuation_token), now=NOW)
    assert store.counts == 2


def token_of(body) -> str:
    """A token in the API's format, holding whatever body the test wants."""
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    return "c1." + base64.urlsafe_b64encode(raw).decode().rstrip("=")


GOOD = {"p": "tenant", "r": "c2", "s": None, "m": None, "at": int(NOW.timestamp()),
        "c": {"notVerified": 0, "succeeded": 4, "failed": 3}}


def test_the_forged_token_helper_makes_tokens_the_api_accepts(store):
    page = list_status(store, StatusQuery(None, None, 2, token_of(GOOD)), now=NOW)
    assert [t.customer_id for t in page.tenants] == ["c2", "c3"] and store.counts == 0


@pytest.mark.parametrize("token", [
    "garbage", "c1.", "c1.!!!", "c1.eyJ0IjoxfQ", "x" * 5000,
    token_of({**GOOD, "c": {"notVerified": -1, "succeeded": 4, "failed": 3}}),
    token_of({**GOOD, "c": {"succeeded": 4}}),
    token_of({**GOOD, "s": "failed"}),                       # issued for another filter
    token_of({**GOOD, "p": ""}),
    token_of({**GOOD, "at": "yesterday"}),
    token_of({**GOOD, "extra": 1}),
    token_of(GOOD) + "A",                                    # not canonical
    "c1." + base64.urlsafe_b64encode(b"[" * 1400 + b"]" * 1400).decode(),  # nested past the parser's depth
])
def test_tokens_we_did_not_issue_are_refused(store, token):
    with pytest.raises(InputError) as err:
        list_status(store, StatusQuery(None, None, 2, token), now=NOW)
    assert err.value.code == "invalidContinuationToken"
