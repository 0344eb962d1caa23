"""TableCustomerStore (the customers, their counts and their histories) against a real Azurite; each test gets
tables of its own."""
from __future__ import annotations

import base64
import json
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from azure.core.paging import ItemPaged
from azure.data.tables import TableServiceClient

from shared.adapters.storage_clients import table_service_from_config
from shared.adapters.table_common import first_non_empty_page
from shared.adapters.table_counter import COUNT_PREFIX, ShardedCounts
from shared.adapters.table_customers import CUSTOMER_PARTITION, TableCustomerStore, customer_to_entity
from shared.adapters.table_history import HISTORY_PREFIX
from shared.domain.errors import Conflict, DependencyUnavailable, InputError
from shared.domain.inputs import StatusQuery
from shared.domain.models import AuthMethod, Customer, CustomerFilter, Status
from shared.domain.reasons import Reason
from shared.domain.rules import HISTORY_KEPT, MAX_BATCH
from shared.domain.secrets import SecretKind
from shared.domain.verification import VerificationResult
from shared.usecases.status import list_status
from shared.usecases.token_key import TokenKey
from tests.support.fakes import InMemorySecretStore
from tests.support.history import into_history

pytestmark = pytest.mark.integration

T0 = datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)


@pytest.fixture
def store(tables) -> TableCustomerStore:
    return TableCustomerStore(tables, table=f"Tenants{uuid.uuid4().hex[:16]}")


@pytest.fixture
def history(store) -> TableCustomerStore:
    """The customers' store is the history store: the histories are rows of its table."""
    return store


def _append(store: TableCustomerStore, result: VerificationResult) -> None:
    """`result` into its customer's history (the customer made first if need be), by the write verification uses."""
    if store.get(result.customer_id) is None:
        store.create(_customer(result.customer_id))
    into_history(store, result)


def _history_rows(tables: TableServiceClient, store: TableCustomerStore, customer_id: str) -> list[dict]:
    client = tables.get_table_client(store._name)
    start = f"{HISTORY_PREFIX}{customer_id}~"
    return list(client.query_entities("PartitionKey eq 'tenant' and RowKey gt @start and RowKey lt @end",
                                      parameters={"start": start, "end": start + "~"}))


def _customer(customer_id: str, **fields) -> Customer:
    fields.setdefault("tenant_id", "contoso.onmicrosoft.com")
    fields.setdefault("authentication_method", AuthMethod.PASSWORD)
    return Customer(customer_id=customer_id, **fields)


def _result(customer_id: str, at: datetime, **fields) -> VerificationResult:
    fields.setdefault("status", Status.SUCCEEDED)
    fields.setdefault("method", AuthMethod.PASSWORD)
    return VerificationResult(customer_id=customer_id, verified_at=at, **fields)


def _raw(tables: TableServiceClient, table: str, partition: str) -> list[dict]:
    client = tables.get_table_client(table)
    rows = client.query_entities("PartitionKey eq @pk", parameters={"pk": partition})
    return [row for row in rows if not row["RowKey"].startswith(COUNT_PREFIX)]  # the kept counts are no customer


def _all_listings(store: TableCustomerStore, flt: CustomerFilter, *, top: int) -> Iterator[list[Customer]]:
    cursor = None
    for _ in range(100):  # bounded: a cursor that never ends fails the test instead of hanging it
        listing = store.list(flt, top=top, after=cursor)
        assert len(listing.customers) <= top
        yield listing.customers
        cursor = listing.next
        if cursor is None:
            return
    pytest.fail("paging did not end")


def _ids(customers: list[Customer]) -> list[str]:
    return [customer.customer_id for customer in customers]


# --- customers -----------------------------------------------------------------------------------


def test_every_field_round_trips(store, tables):
    customer = _customer(
        "Contoso.EU_01-x",
        tenant_id="8f0c5e4e-7c2a-4e0b-9a6f-0d2b1e3c4a5b",
        authentication_method=AuthMethod.APPLICATION,
        m365_email="admin@contoso.onmicrosoft.com",
        application_id="11111111-2222-3333-4444-555555555555",
        secret_versions={SecretKind.REFRESH_TOKEN: "v-rt", SecretKind.APPLICATION_SECRET: "v-app"},
        last_verification_status=Status.FAILED,
        # Given in another zone: the store keeps the instant, in UTC.
        when_last_verified=T0.astimezone(timezone(timedelta(hours=2))),
        last_verification_reason=Reason.CLIENT_SECRET_EXPIRED,
        last_verification_message="AADSTS7000222: The provided client secret keys are expired.",
        aadsts_code=7000222,
        hint="Create a new client secret and store it.",
        created_at=T0 - timedelta(days=3),
        updated_at=T0 + timedelta(seconds=1),
        results_recorded=7,
    )
    added = store.create(customer)
    assert added.etag

    got = store.get("Contoso.EU_01-x")
    assert got == customer
    assert got.etag == added.etag
    for value in (got.when_last_verified, got.created_at, got.updated_at):
        assert type(value) is datetime and value.tzinfo is UTC
    assert got.when_last_verified.microsecond == 123456

    (row,) = _raw(tables, store._name, CUSTOMER_PARTITION)
    assert row["RowKey"] == "Contoso.EU_01-x"
    assert row["secretVersions"] == '{"applicationSecret": "v-app", "refreshToken": "v-rt"}'
    assert row["lastVerificationStatus"] == "failed"
    assert row["authenticationMethod"] == "application"
    assert set(row) == {
        "PartitionKey", "RowKey", "customerId", "tenantId", "m365Email", "authenticationMethod",
        "applicationId", "lastVerificationStatus", "whenLastVerified", "lastVerificationReason",
        "lastVerificationMessage", "aadstsCode", "hint", "secretVersions", "createdAt", "updatedAt",
        "resultsRecorded",
    }


def test_unset_fields_round_trip_as_none(store, tables):
    customer = _customer("minimal")
    store.create(customer)
    got = store.get("minimal")
    assert got == customer
    assert got.m365_email is None and got.when_last_verified is None and got.aadsts_code is None
    assert got.secrets_configured == frozenset()
    assert got.last_verification_status is Status.NOT_VERIFIED
    (row,) = _raw(tables, store._name, CUSTOMER_PARTITION)
    assert "m365Email" not in row and "lastVerificationReason" not in row


def test_the_state_a_reset_remembers_round_trips(store, tables):
    failing = _customer("reset", last_verification_status=Status.FAILED, last_verification_reason=Reason.MFA_REQUIRED,
                        when_last_verified=T0)
    store.create(failing.not_verified())
    got = store.get("reset")
    assert (got.last_verification_status, got.status_before_reset, got.reason_before_reset) == (
        Status.NOT_VERIFIED, Status.FAILED, Reason.MFA_REQUIRED)
    (row,) = _raw(tables, store._name, CUSTOMER_PARTITION)
    assert (row["statusBeforeReset"], row["reasonBeforeReset"]) == ("failed", "mfaRequired")


def test_get_of_an_unknown_customer_is_none(store):
    store.create(_customer("known"))
    assert store.get("unknown") is None
    assert store.get("KNOWN") is None  # customerId is case-sensitive


def test_adding_the_same_customer_twice_conflicts_and_keeps_the_first(store):
    store.create(_customer("dup", tenant_id="first.example"))
    with pytest.raises(Conflict) as err:
        store.create(_customer("dup", tenant_id="second.example"))
    assert err.value.code == "alreadyExists"
    assert store.get("dup").tenant_id == "first.example"


def test_update_replaces_every_column_and_returns_the_new_etag(store):
    added = store.create(_customer("upd", m365_email="old@example.com", hint="old hint", aadsts_code=50126))
    changed = Customer(
        customer_id="upd",
        tenant_id="new.example",
        authentication_method=AuthMethod.TOKEN,
        secret_versions={SecretKind.REFRESH_TOKEN: "v-rt2"},
        etag=added.etag,
    )
    updated = store.replace(added, changed)
    assert updated.etag and updated.etag != added.etag
    got = store.get("upd")
    assert got == changed  # REPLACE: columns now None are gone, not merged from before
    assert got.m365_email is None and got.hint is None and got.aadsts_code is None
    assert got.etag == updated.etag


def test_update_with_a_stale_etag_conflicts(store):
    added = store.create(_customer("race"))
    store.replace(added, _customer("race", tenant_id="winner.example"))
    with pytest.raises(Conflict) as err:
        store.replace(added, _customer("race", tenant_id="loser.example"))
    assert err.value.code == "modifiedConcurrently"
    assert store.get("race").tenant_id == "winner.example"


def test_update_of_a_deleted_customer_conflicts(store):
    added = store.create(_customer("gone"))
    store.delete(added)
    with pytest.raises(Conflict) as err:
        store.replace(added, _customer("gone"))
    assert err.value.code == "modifiedConcurrently"
    assert store.get("gone") is None  # the failed update did not recreate it


def test_get_many_reads_the_customers_asked_for_and_only_them(store):
    for cid in ("m1", "m2", "m3", "m4"):
        store.create(_customer(cid))
    got = store.get_many(["m1", "m3", "m9", "../x", ""])  # m2 lies in the range read, m9 does not exist
    assert sorted(got) == ["m1", "m3"]
    assert got["m3"] == store.get("m3")  # with its etag
    assert store.get_many([]) == {} and store.get_many(["~count-00"]) == {}


def test_update_many_writes_every_record_and_the_sum_of_their_count_changes(store):
    a = store.create(_customer("a"))
    b = store.create(_customer("b", last_verification_status=Status.FAILED))
    c = store.create(_customer("c"))
    saved = store.replace_many([
        (a, _customer("a", last_verification_status=Status.SUCCEEDED)),
        (b, _customer("b", last_verification_status=Status.SUCCEEDED, hint="fixed")),
        (c, _customer("c", hint="same status")),
    ])
    assert [t.customer_id for t in saved] == ["a", "b", "c"]
    assert saved == [store.get("a"), store.get("b"), store.get("c")]  # each with its new etag
    assert store.get_status_counts() == {Status.NOT_VERIFIED: 1, Status.SUCCEEDED: 2, Status.FAILED: 0}
    assert store.recount_status_counts() == store.get_status_counts()


def test_update_many_with_one_stale_record_writes_none_of_them(store):
    a = store.create(_customer("a"))
    b = store.create(_customer("b"))
    store.replace(b, _customer("b", tenant_id="winner.example"))
    with pytest.raises(Conflict) as err:
        store.replace_many([(a, _customer("a", last_verification_status=Status.SUCCEEDED)),
                            (b, _customer("b", last_verification_status=Status.SUCCEEDED))])
    assert err.value.code == "modifiedConcurrently" and "'b'" in err.value.message
    assert store.get("a") == a and store.get("b").tenant_id == "winner.example"
    assert store.get_status_counts() == {Status.NOT_VERIFIED: 2, Status.SUCCEEDED: 0, Status.FAILED: 0}
    store.delete(store.get("b"))
    with pytest.raises(Conflict):  # deleted since it was read
        store.replace_many([(a, _customer("a", hint="x")), (b, _customer("b", hint="y"))])
    assert store.get("b") is None and store.get("a") == a


def test_update_many_refuses_more_than_a_transaction_holds_and_a_record_twice(store):
    a = store.create(_customer("a"))
    with pytest.raises(ValueError):
        store.replace_many([(a, _customer("a"))] * 2)
    with pytest.raises(ValueError):
        store.replace_many([(a, _customer(f"n{n}")) for n in range(MAX_BATCH + 1)])
    assert store.replace_many([]) == [] and store.get("a") == a


def test_delete_removes_the_customer_read_and_only_it(store):
    doomed = store.create(_customer("doomed"))
    store.create(_customer("kept"))
    store.delete(doomed)
    assert store.get("doomed") is None
    assert store.get("kept") is not None
    store.delete(doomed)  # already gone: nothing to do


def test_delete_of_a_customer_changed_since_it_was_read_conflicts_and_keeps_it(store):
    read = store.create(_customer("busy"))
    store.replace(read, _customer("busy", tenant_id="newer.example"))
    with pytest.raises(Conflict) as err:
        store.delete(read)
    assert err.value.code == "modifiedConcurrently"
    assert store.get("busy").tenant_id == "newer.example"


def test_delete_all_removes_a_customers_whole_history_and_nothing_else(history, tables):
    for n in range(HISTORY_KEPT + 5):  # the ring turned over: every slot written
        _append(history, _result("doomed", T0 + timedelta(seconds=n)))
    _append(history, _result("kept", T0))
    _append(history, _result("doomed-too", T0))  # its id starts with the other's: its rows are not in its range
    assert len(_history_rows(tables, history, "doomed")) == HISTORY_KEPT

    history.delete_all("doomed")
    assert _history_rows(tables, history, "doomed") == []
    assert history.list_latest("doomed", limit=20) == []
    assert len(history.list_latest("kept", limit=20)) == 1  # nothing else went with it
    assert len(history.list_latest("doomed-too", limit=20)) == 1
    history.delete_all("doomed")  # nothing left to remove is not an error


# --- list ----------------------------------------------------------------------------------------

MIX = {
    "p-ok": (AuthMethod.PASSWORD, Status.SUCCEEDED),
    "p-bad": (AuthMethod.PASSWORD, Status.FAILED),
    "p-new": (AuthMethod.PASSWORD, Status.NOT_VERIFIED),
    "t-ok": (AuthMethod.TOKEN, Status.SUCCEEDED),
    "t-bad": (AuthMethod.TOKEN, Status.FAILED),
    "t-bad2": (AuthMethod.TOKEN, Status.FAILED),
    "a-ok": (AuthMethod.APPLICATION, Status.SUCCEEDED),
}


@pytest.fixture
def mixed(store) -> TableCustomerStore:
    for customer_id, (method, status) in MIX.items():
        store.create(_customer(customer_id, authentication_method=method, last_verification_status=status))
    return store


@pytest.mark.parametrize(
    "flt",
    [
        CustomerFilter(),
        CustomerFilter(status=Status.FAILED),
        CustomerFilter(status=Status.NOT_VERIFIED),
        CustomerFilter(method=AuthMethod.TOKEN),
        CustomerFilter(method=AuthMethod.APPLICATION),
        CustomerFilter(status=Status.FAILED, method=AuthMethod.TOKEN),
        CustomerFilter(status=Status.FAILED, method=AuthMethod.APPLICATION),  # matches nothing
    ],
)
def test_list_filters_by_status_and_method(mixed, flt):
    expected = sorted(
        customer_id
        for customer_id, (method, status) in MIX.items()
        if flt.status in (None, status) and flt.method in (None, method)
    )
    listing = mixed.list(flt, top=1000, after=None)
    assert _ids(listing.customers) == expected
    assert listing.next is None
    assert all(customer.etag for customer in listing.customers)


@pytest.mark.parametrize("top", [1, 2, 3])
def test_listings_return_every_customer_once_in_customer_id_order(store, top):
    ids = ["b", "A", "a", "Z", "_x", "-y", ".z", "0", "a.b", "aa", "zz-9"]
    for customer_id in random.sample(ids, len(ids)):
        store.create(_customer(customer_id))
    listings = list(_all_listings(store, CustomerFilter(), top=top))
    collected = [customer_id for listing in listings for customer_id in _ids(listing)]
    assert collected == sorted(ids)  # ordinal order, each exactly once
    assert len(listings) >= len(ids) // top


def test_paging_a_filtered_list(mixed):
    listings = list(_all_listings(mixed, CustomerFilter(status=Status.SUCCEEDED), top=2))
    assert [customer_id for listing in listings for customer_id in _ids(listing)] == ["a-ok", "p-ok", "t-ok"]


def test_an_empty_table_lists_one_empty_last_page(store):
    listing = store.list(CustomerFilter(), top=10, after=None)
    assert listing.customers == [] and listing.next is None


def test_listings_that_end_exactly_at_the_last_customer(store):
    for customer_id in ("c1", "c2", "c3", "c4"):
        store.create(_customer(customer_id))
    listings = list(_all_listings(store, CustomerFilter(), top=2))
    assert [_ids(listing) for listing in listings if listing] == [["c1", "c2"], ["c3", "c4"]]
    assert all(listings[:-1])  # only the last listing may be empty


def test_empty_pages_that_carry_a_token_are_followed_a_bounded_number_of_times():
    # Azure (not Azurite) may answer a filtered query with empty pages plus a token; simulate that.
    def pages(script: list[tuple[list[str], str | None]]):
        def get_next(token):
            return script[0 if token is None else int(token)]

        def extract_data(response):
            entities, token = response
            return token, iter(entities)

        return ItemPaged(get_next, extract_data).by_page()

    script = [([], "1"), ([], "2"), (["c9"], "3"), (["never"], None)]
    assert first_non_empty_page(pages(script)) == (["c9"], "3")
    assert first_non_empty_page(pages([([], None)])) == ([], None)
    endless = [([], str(n + 1)) for n in range(50)]
    entities, token = first_non_empty_page(pages(endless))
    assert entities == [] and token is not None and int(token) < 50  # handed back, not looped forever


# --- continuation tokens through the status use case and the real store -----------------------------


KEYS = TokenKey(InMemorySecretStore())


def _a_token(store: TableCustomerStore, flt: CustomerFilter | None = None) -> str:
    flt = flt or CustomerFilter()
    token = list_status(store, StatusQuery(flt.status, flt.method, 1, None), keys=KEYS).continuation_token
    assert token is not None
    return token


def _list(store: TableCustomerStore, flt: CustomerFilter, token: str) -> list[str]:
    return _ids(list_status(store, StatusQuery(flt.status, flt.method, 1, token), keys=KEYS).customers)


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).rstrip(b"=").decode()


def _garbled(valid: str) -> list[str]:
    head, signature = valid.rsplit(".", 1)
    body = json.loads(base64.urlsafe_b64decode(head[3:] + "=" * (-len(head[3:]) % 4)))

    def resigned(new_body: object, *, compact: bool = True) -> str:
        text = json.dumps(new_body, separators=(",", ":") if compact else None, sort_keys=True)
        return "c3." + _b64(text) + "." + signature  # the old signature: the forger has no key

    return [
        "garbage",
        "c3.",
        "c3.!!!",
        "c1." + valid[3:],
        "c2." + valid[3:],
        valid[3:],  # no version marker
        valid + "=",
        valid[:-1],
        valid + "A",
        head,  # no signature
        valid.replace("c3.", "c3.\u00e9", 1),
        resigned("not json"),
        resigned([1, 2]),
        resigned({**body, "extra": 1}),
        resigned({**body, "c": 7}),
        resigned({**body, "c": '["tenant","p-ok"]'}),
        resigned(body, compact=False),
        "c3." + "A" * 5000,
        base64.urlsafe_b64encode(b"\xff\xfe\x00").decode(),
    ]


def test_garbled_continuation_tokens_are_input_errors(mixed):
    valid = _a_token(mixed)
    assert _list(mixed, CustomerFilter(), valid)  # the real one works
    for token in _garbled(valid):
        with pytest.raises(InputError) as err:
            _list(mixed, CustomerFilter(), token)
        assert (type(err.value), err.value.code, err.value.target) == (
            InputError, "invalidContinuationToken", "continuationToken"), token


def test_a_token_is_only_good_for_the_filter_it_was_issued_for(mixed):
    token = _a_token(mixed, CustomerFilter(status=Status.FAILED))
    assert _list(mixed, CustomerFilter(status=Status.FAILED), token)
    others = (CustomerFilter(), CustomerFilter(status=Status.SUCCEEDED), CustomerFilter(method=AuthMethod.TOKEN))
    for other in others:
        with pytest.raises(InputError) as err:
            _list(mixed, other, token)
        assert err.value.code == "invalidContinuationToken"


def test_a_forged_cursor_never_becomes_a_server_error(mixed):
    keys = [[partition, row] for partition in (CUSTOMER_PARTITION, "dGVuYW50")
            for row in ("zzz", "a' or 'x' eq 'x", "%00", "", "\u00e9", "\ud800", None)]
    others = ["", "garbage", "[]", "[1,2]", '["tenant"]', '["",null]', '{"p":"tenant"}', "[" * 5000 + "]" * 5000]
    for cursor in [json.dumps(pair) for pair in keys] + others:
        try:
            listing = mixed.list(CustomerFilter(), top=2, after=cursor)
        except InputError as err:
            assert err.code == "invalidContinuationToken"
        else:
            assert set(_ids(listing.customers)) <= set(MIX)


# --- injection-shaped input ----------------------------------------------------------------------


def test_quote_characters_in_keys_match_nothing_else(store, history):
    store.create(_customer("a"))
    store.create(_customer("x"))
    _append(history, _result("a", T0))
    _append(history, _result("x", T0))
    for hostile in ("a' or 'x' eq 'x", "a' or PartitionKey ne '", "x' or RowKey ne '"):
        assert store.get(hostile) is None
        assert history.list_latest(hostile, limit=10) == []
        history.delete_all(hostile)
    # ...and nothing was deleted by those deletes.
    assert store.get("a") is not None and store.get("x") is not None
    assert len(history.list_latest("a", limit=10)) == 1 and len(history.list_latest("x", limit=10)) == 1


# --- counts --------------------------------------------------------------------------------------


def test_count_by_status_lists_every_status_even_at_zero(store):
    assert store.get_status_counts() == {Status.NOT_VERIFIED: 0, Status.SUCCEEDED: 0, Status.FAILED: 0}
    store.create(_customer("one", last_verification_status=Status.FAILED))
    assert store.get_status_counts() == {Status.NOT_VERIFIED: 0, Status.SUCCEEDED: 0, Status.FAILED: 1}


def test_a_recount_counts_beyond_one_page_and_corrects_the_kept_counts(store, tables):
    # 1,000 is the most the service returns per request; written in transactions to keep the test fast,
    # and behind the store's back, so the kept counts are wrong until the recount corrects them.
    statuses = [Status.SUCCEEDED] * 700 + [Status.FAILED] * 250 + [Status.NOT_VERIFIED] * 57
    client = tables.get_table_client(store._name)
    assert sum(store.get_status_counts().values()) == 0  # creates the table and starts keeping counts
    operations = [
        ("create", customer_to_entity(_customer(f"c{n:05d}", last_verification_status=status)))
        for n, status in enumerate(statuses)
    ]
    for start in range(0, len(operations), 100):
        client.submit_transaction(operations[start:start + 100])
    assert sum(store.get_status_counts().values()) == 0  # kept, not scanned
    expected = {Status.SUCCEEDED: 700, Status.FAILED: 250, Status.NOT_VERIFIED: 57}
    assert store.recount_status_counts() == expected
    assert store.get_status_counts() == expected


def test_counts_follow_every_write_and_stay_out_of_listings(store):
    a = store.create(_customer("a"))
    b = store.create(_customer("b", last_verification_status=Status.FAILED))
    a = store.replace(a, _customer("a", last_verification_status=Status.SUCCEEDED))
    store.replace(a, _customer("a", last_verification_status=Status.SUCCEEDED, hint="same status"))
    store.delete(b)
    assert store.get_status_counts() == {Status.NOT_VERIFIED: 0, Status.SUCCEEDED: 1, Status.FAILED: 0}
    assert _ids(store.list(CustomerFilter(), top=1000, after=None).customers) == ["a"]
    assert store.recount_status_counts() == store.get_status_counts()


def test_a_failed_write_changes_no_count(store):
    read = store.create(_customer("x"))
    store.replace(read, _customer("x", last_verification_status=Status.FAILED))
    with pytest.raises(Conflict):
        store.replace(read, _customer("x", last_verification_status=Status.SUCCEEDED))  # stale etag
    with pytest.raises(Conflict):
        store.create(_customer("x"))
    assert store.get_status_counts() == {Status.NOT_VERIFIED: 0, Status.SUCCEEDED: 0, Status.FAILED: 1}


class CountingReads:
    """A real TableClient, counting the shard reads made through it."""

    def __init__(self, table) -> None:
        self.table, self.reads = table, 0

    def __getattr__(self, name):
        return getattr(self.table, name)

    def get_entity(self, *args, **kwargs):
        self.reads += 1
        return self.table.get_entity(*args, **kwargs)


def test_a_process_writes_the_counts_from_the_state_it_knows_without_reading_them_again(tables):
    counts = ShardedCounts(("a", "b"))
    table = CountingReads(tables.create_table(f"Counts{uuid.uuid4().hex[:16]}"))
    for n in range(20):
        counts.write(table, "p", [("create", {"PartitionKey": "p", "RowKey": f"r{n:02d}"})], {"a": 1})
    assert table.reads == 1  # the first write read its shard; the others wrote from what that write left
    assert counts.sums(counts.rows(table.table, "p").values()) == {"a": 20, "b": 0}


def test_counts_another_process_changed_meanwhile_are_read_again_and_stay_exact(tables):
    ours, theirs = ShardedCounts(("a",), shards=2), ShardedCounts(("a",), shards=2)  # two processes
    table = tables.create_table(f"Counts{uuid.uuid4().hex[:16]}")
    for n in range(30):
        writer = ours if n % 3 else theirs
        writer.write(table, "p", [("create", {"PartitionKey": "p", "RowKey": f"r{n:02d}"})], {"a": 1})
    assert ours.sums(ours.rows(table, "p").values()) == {"a": 30}
    for row in ours.rows(table, "p").values():  # the shards vanish, as when storage is recreated empty
        table.delete_entity("p", row["RowKey"])
    ours.write(table, "p", [("create", {"PartitionKey": "p", "RowKey": "late"})], {"a": 1})
    assert ours.sums(ours.rows(table, "p").values()) == {"a": 1}


def test_counts_stay_exact_under_concurrent_writers(store):
    import threading

    def writer(worker: int) -> None:
        for n in range(15):
            customer = store.create(_customer(f"w{worker}-{n}"))
            if n % 3 == 0:
                store.replace(customer, _customer(f"w{worker}-{n}", last_verification_status=Status.FAILED))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    expected = {Status.NOT_VERIFIED: 8 * 10, Status.SUCCEEDED: 0, Status.FAILED: 8 * 5}
    assert store.get_status_counts() == expected
    assert store.recount_status_counts() == expected


# --- history -------------------------------------------------------------------------------------


def test_history_is_newest_first_and_limited(history):
    offsets = list(range(12))
    random.shuffle(offsets)  # written out of order: the RowKey, not insertion order, sorts them
    for n in offsets:
        _append(history, _result("cust", T0 + timedelta(minutes=n), message=f"run {n}"))
    _append(history, _result("other", T0 + timedelta(days=1)))

    latest = history.list_latest("cust", limit=5)
    assert [result.message for result in latest] == [f"run {n}" for n in (11, 10, 9, 8, 7)]
    assert [result.verified_at for result in latest] == [T0 + timedelta(minutes=n) for n in (11, 10, 9, 8, 7)]
    assert len(history.list_latest("cust", limit=1000)) == 12


def test_history_rows_keep_every_field(history):
    failed = _result(
        "cust",
        T0,
        status=Status.FAILED,
        method=AuthMethod.TOKEN,
        reason=Reason.TOKEN_EXPIRED,
        message="AADSTS700082: The refresh token has expired due to inactivity.",
        aadsts_code=700082,
        hint="Ask the customer's admin to grant consent again.",
    )
    bare = _result("cust", T0 - timedelta(hours=1))
    _append(history, bare)
    _append(history, failed)
    got = history.list_latest("cust", limit=20)
    assert got == [failed, bare]
    assert type(got[0].verified_at) is datetime and got[0].verified_at.tzinfo is UTC


def test_results_of_the_same_instant_are_all_kept(history):
    for _ in range(3):
        _append(history, _result("same", T0))
    assert len(history.list_latest("same", limit=20)) == 3


def test_the_history_keeps_the_latest_results_in_a_bounded_ring(history, tables):
    for n in range(HISTORY_KEPT * 2 + 3):
        _append(history, _result("busy", T0 + timedelta(minutes=n), message=f"run {n}"))
    latest = history.list_latest("busy", limit=HISTORY_KEPT)
    newest = HISTORY_KEPT * 2 + 2
    assert [r.message for r in latest] == [f"run {n}" for n in range(newest, newest - HISTORY_KEPT, -1)]
    assert len(_history_rows(tables, history, "busy")) == HISTORY_KEPT  # never more rows than it keeps
    assert history.get("busy").results_recorded == HISTORY_KEPT * 2 + 3


def test_a_result_and_its_record_are_one_write(store, tables):
    read = store.create(_customer("one"))
    result = _result("one", T0, status=Status.FAILED, reason=Reason.INVALID_CREDENTIALS)
    store.replace(read, read.with_result(result), result=result)
    with pytest.raises(Conflict):  # the record changed since `read`: neither it nor the history row is written
        store.replace(read, read.with_result(_result("one", T0 + timedelta(hours=1))),
                      result=_result("one", T0 + timedelta(hours=1)))
    assert store.list_latest("one", limit=20) == [result]
    assert store.get("one").last_verification_status is Status.FAILED


# --- storage unreachable -------------------------------------------------------------------------


@pytest.fixture
def unreachable_store(unreachable_storage) -> tuple[TableCustomerStore, TableCustomerStore]:
    service = table_service_from_config(unreachable_storage, retry_total=0, connection_timeout=5)
    store = TableCustomerStore(service, table="Unreachable1")
    return store, store


@pytest.mark.parametrize(
    "call",
    [
        lambda store, _: store.get("a"),
        lambda store, _: store.create(_customer("a")),
        lambda store, _: store.list(CustomerFilter(), top=10, after=None),
        lambda store, _: store.get_status_counts(),
        lambda store, _: store.delete(_customer("a", etag="W/\"x\"")),
        lambda store, _: store.replace(_customer("a", etag="W/\"x\""), _customer("a", results_recorded=1),
                                       result=_result("a", T0)),
        lambda _, history: history.list_latest("a", limit=5),
        lambda _, history: history.delete_all("a"),
    ],
)
def test_an_unreachable_endpoint_is_dependency_unavailable(unreachable_store, call):
    with pytest.raises(DependencyUnavailable) as err:
        call(*unreachable_store)
    assert err.value.code == "storageUnavailable"
    assert err.value.message.endswith(".")
