"""GET /api/status as a use case: counts from the store's kept counts on every listing, and signed tokens."""
import base64
import hashlib
import hmac
import json
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime

import pytest

from shared.domain.errors import DependencyUnavailable, InputError
from shared.domain.inputs import StatusQuery
from shared.domain.models import AuthMethod, Customer, Status
from shared.domain.secrets import ProviderSecret
from shared.usecases.status import list_status
from shared.usecases.token_key import TokenKey
from tests.support.fakes import InMemoryCustomerStore, InMemoryProviderSettingsStore, InMemorySecretStore

NOW = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)


class CountingStore(InMemoryCustomerStore):
    def __init__(self):
        super().__init__()
        self.counts = 0

    def get_status_counts(self):
        self.counts += 1
        return super().get_status_counts()


@pytest.fixture
def store():
    store = CountingStore()
    for i in range(7):
        store.create(Customer(customer_id=f"c{i}", tenant_id="contoso.com", authentication_method=AuthMethod.TOKEN,
                              last_verification_status=[Status.SUCCEEDED, Status.FAILED][i % 2]))
    return store


@pytest.fixture
def keys():
    return TokenKey(InMemorySecretStore())


def walk(store, keys):
    token, listings = None, []
    while True:
        listing = list_status(store, StatusQuery(None, None, 2, token), keys=keys, now=NOW)
        listings.append(listing)
        token = listing.continuation_token
        if token is None:
            return listings


def test_every_listing_carries_the_kept_counts_and_the_walk_sees_every_customer_once(store, keys):
    listings = walk(store, keys)
    assert len(listings) == 4 and store.counts == 4  # one cheap read of the kept counts per listing
    assert {sum(p.counts.values()) for p in listings} == {7}
    assert listings[0].counts == {Status.NOT_VERIFIED: 0, Status.SUCCEEDED: 4, Status.FAILED: 3}
    assert [t.customer_id for p in listings for t in p.customers] == [f"c{i}" for i in range(7)]


def test_counts_reflect_a_change_made_during_the_walk(store, keys):
    first = list_status(store, StatusQuery(None, None, 2, None), keys=keys)
    store.create(Customer(customer_id="c9", tenant_id="contoso.com", authentication_method=AuthMethod.TOKEN))
    second = list_status(store, StatusQuery(None, None, 2, first.continuation_token), keys=keys)
    assert sum(second.counts.values()) == 8


def signed(body: dict, key: bytes) -> str:
    raw = json.dumps(body, separators=(",", ":"), sort_keys=True).encode()
    head = "c3." + base64.urlsafe_b64encode(raw).decode().rstrip("=")
    mac = hmac.new(key, head.encode(), hashlib.sha256).digest()
    return head + "." + base64.urlsafe_b64encode(mac).decode().rstrip("=")


GOOD = {"c": "c2", "s": None, "m": None}  # the fake store's cursor: the next customerId


def test_the_forging_helper_makes_tokens_the_api_accepts_with_the_right_key(store, keys):
    listing = list_status(store, StatusQuery(None, None, 2, signed(GOOD, keys.current())), keys=keys)
    assert [t.customer_id for t in listing.customers] == ["c2", "c3"]


@pytest.mark.parametrize("make", [
    lambda key: "garbage",
    lambda key: "c3.",
    lambda key: "c3.!!!.x",
    lambda key: "x" * 5000,
    lambda key: signed(GOOD, b"not-the-key"),                                 # forged: another key
    lambda key: signed(GOOD, key)[:-2] + "AA",                               # signature altered
    lambda key: signed({**GOOD, "c": "c5"}, key).split(".")[0] + "." + signed(GOOD, key).split(".")[-1],
    lambda key: signed({**GOOD, "s": "failed"}, key),                        # issued for another filter
    lambda key: signed({**GOOD, "c": ""}, key),
    lambda key: signed({**GOOD, "c": "c\ud800"}, key),                       # no cursor a store makes
    lambda key: signed({**GOOD, "n": {"succeeded": 1424248}}, key),         # a carried summary: not ours
    lambda key: signed([[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]], key),
    lambda key: "c3." + base64.urlsafe_b64encode(b"[" * 1400 + b"]" * 1400).decode() + ".AAAA",
])
def test_tokens_we_did_not_issue_are_refused(store, keys, make):
    token = make(keys.current())
    with pytest.raises(InputError) as err:
        list_status(store, StatusQuery(None, None, 2, token), keys=keys)
    assert err.value.code == "invalidContinuationToken"


def test_instances_that_make_the_key_at_once_agree_on_the_oldest(store):
    secrets = InMemorySecretStore()
    first = TokenKey(secrets)
    first.current()
    # A second instance made its own version at the same moment: both settle on the oldest.
    secrets.create_version(None, ProviderSecret.TOKEN_KEY, "made-by-another-instance")
    second = TokenKey(secrets)
    assert second.current() == first.current()
    token = list_status(store, StatusQuery(None, None, 2, None), keys=first).continuation_token
    assert list_status(store, StatusQuery(None, None, 2, token), keys=second).customers


class SummaryAfterPageStore(CountingStore):
    """A listing that cannot finish before the summary's reads have begun (as while the service reads the page)."""

    def __init__(self):
        super().__init__()
        self.summary_begun = threading.Event()

    def expiring_by(self, moment):
        self.summary_begun.set()
        return super().expiring_by(moment)

    def list_shown(self, flt, *, top, after):
        if not self.summary_begun.wait(timeout=10):
            raise AssertionError("the page was read before the summary's reads began")
        return super().list_shown(flt, top=top, after=after)


def test_the_summary_is_read_while_the_page_is(keys):
    store = SummaryAfterPageStore()
    store.create(Customer(customer_id="c0", tenant_id="contoso.com", authentication_method=AuthMethod.TOKEN))
    with ThreadPoolExecutor(max_workers=1) as reads:
        listing = list_status(store, StatusQuery(None, None, 2, None), keys=keys, now=NOW,
                              settings=InMemoryProviderSettingsStore(), reads=reads)
    assert [c.customer_id for c in listing.customers] == ["c0"]
    assert listing.counts[Status.NOT_VERIFIED] == 1 and listing.expiring == {7: 0, 30: 0}


class SummaryUnavailableStore(CountingStore):
    def get_status_counts(self):
        raise DependencyUnavailable("storageUnavailable", "Table Storage cannot be reached.")


def test_a_summary_read_that_fails_fails_the_listing(keys):
    store = SummaryUnavailableStore()
    store.create(Customer(customer_id="c0", tenant_id="contoso.com", authentication_method=AuthMethod.TOKEN))
    with pytest.raises(DependencyUnavailable):
        list_status(store, StatusQuery(None, None, 2, None), keys=keys, settings=InMemoryProviderSettingsStore())
