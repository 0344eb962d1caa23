"""The list's summary: counted once per walk through the pages, recounted when the token is old."""
from datetime import UTC, datetime, timedelta

import pytest

from shared.errors import InputError
from shared.models import AuthMethod, Status, Tenant
from shared.status import SUMMARY_REUSE, list_status
from shared.validation import ListQuery
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
        body = list_status(store, ListQuery(None, None, 2, token), now=when)
        pages.append(body)
        token = body["continuationToken"]
        if token is None:
            return pages
        when += step


def test_a_walk_counts_once_and_every_page_carries_the_same_summary(store):
    pages = walk(store)
    assert len(pages) == 4 and store.counts == 1
    assert {p["summary"]["total"] for p in pages} == {7}
    assert pages[0]["summary"]["byStatus"] == {"notVerified": 0, "succeeded": 4, "failed": 3}
    assert [t["customerId"] for p in pages for t in p["tenants"]] == [f"c{i}" for i in range(7)]


def test_an_old_token_gets_a_fresh_count(store):
    first = list_status(store, ListQuery(None, None, 2, None), now=NOW)
    store.add(Tenant(customer_id="c9", tenant_id="contoso.com", authentication_method=AuthMethod.TOKEN))
    later = NOW + SUMMARY_REUSE + timedelta(seconds=1)
    second = list_status(store, ListQuery(None, None, 2, first["continuationToken"]), now=later)
    assert store.counts == 2
    assert second["summary"]["total"] == 8


def test_a_token_from_the_future_is_not_trusted_for_counts(store):
    first = list_status(store, ListQuery(None, None, 2, None), now=NOW + timedelta(hours=1))
    list_status(store, ListQuery(None, None, 2, first["continuationToken"]), now=NOW)
    assert store.counts == 2


@pytest.mark.parametrize("token", ["garbage", "s1.", "s1.!!!", "s1.eyJ0IjoxfQ", "x" * 5000,
                                   "s1.eyJ0IjoiYSIsImMiOnsibm90VmVyaWZpZWQiOi0xfSwiYXQiOjB9"])
def test_tokens_we_did_not_issue_are_refused(store, token):
    with pytest.raises(InputError) as err:
        list_status(store, ListQuery(None, None, 2, token), now=NOW)
    assert err.value.code == "invalidContinuationToken"
