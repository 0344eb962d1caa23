"""Storage that restarts empty (Azurite wiped, tables deleted): the adapters recover without a process restart.

The tables are deleted behind the adapters' back with tables.delete_table, after the process has created
(and cached) them once.
"""
from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceNotFoundError
from azure.data.tables import UpdateMode

from shared.adapters.table_common import ensure_table, on_table, storage_call, table_missing
from shared.adapters.table_customers import TableCustomerStore
from shared.adapters.table_settings import TableProviderSettingsStore
from shared.domain.errors import Conflict, DependencyUnavailable
from shared.domain.models import AuthMethod, Customer, CustomerFilter, ProviderSettings, Status
from shared.domain.verification import VerificationResult

pytestmark = pytest.mark.integration

CLIENT_ID = "0f6a5d1c-3b7e-4f7a-9a51-6c1c2d3e4f50"


@pytest.fixture
def table_name() -> str:
    return f"Wiped{uuid.uuid4().hex[:16]}"


def _customer(customer_id: str) -> Customer:
    return Customer(customer_id=customer_id, tenant_id="contoso.onmicrosoft.com",
                    authentication_method=AuthMethod.TOKEN)


def _settings(**fields) -> ProviderSettings:
    # Only fields every version of the model has: no secret (its field is being renamed on main).
    return ProviderSettings(client_id=CLIENT_ID, redirect_url="https://x.example/authenticate/OAuth2Callback",
                            updated_at=datetime(2026, 1, 1, tzinfo=UTC), **fields)


def _error_of(operation) -> HttpResponseError:
    with pytest.raises(HttpResponseError) as err:
        operation()
    return err.value


def _at_most_twice(operation):
    """Today's guarantee without the adapters' help: the first call after the wipe may answer 503 (and makes
    the process forget the table); the next one works. Never a Conflict, never stuck until a restart."""
    try:
        return operation()
    except DependencyUnavailable:
        return operation()


# --- what the service answers for a missing table ------------------------------------------------


def test_every_kind_of_call_on_a_missing_table_is_recognised(tables, table_name):
    client = tables.get_table_client(table_name)
    entity = {"PartitionKey": "p", "RowKey": "r"}
    calls = {
        "create_entity": lambda: client.create_entity(entity),  # raises it with error_code None
        "update_entity": lambda: client.update_entity(entity, mode=UpdateMode.REPLACE, etag='W/"x"',
                                                      match_condition=MatchConditions.IfNotModified),
        "upsert_entity": lambda: client.upsert_entity(entity),
        "get_entity": lambda: client.get_entity("p", "r"),
        "query_entities": lambda: list(client.query_entities("PartitionKey eq @pk", parameters={"pk": "p"})),
        "submit_transaction": lambda: client.submit_transaction([("upsert", entity)]),
    }
    missing = {name: table_missing(_error_of(call)) for name, call in calls.items()}
    assert missing == dict.fromkeys(calls, True)


def test_other_not_found_and_conflict_answers_are_not_a_missing_table(tables, table_name):
    tables.create_table(table_name)
    client = tables.get_table_client(table_name)
    client.create_entity({"PartitionKey": "p", "RowKey": "r"})
    entity_missing = _error_of(lambda: client.get_entity("p", "absent"))
    assert isinstance(entity_missing, ResourceNotFoundError) and not table_missing(entity_missing)
    assert not table_missing(_error_of(lambda: client.create_entity({"PartitionKey": "p", "RowKey": "r"})))
    assert not table_missing(ValueError("TableNotFound"))


# --- on_table: the one retry ---------------------------------------------------------------------


def test_on_table_creates_the_table_again_and_retries_once(tables, table_name):
    client = tables.get_table_client(table_name)
    on_table(tables, table_name, client, lambda t: t.create_entity({"PartitionKey": "p", "RowKey": "1"}))
    tables.delete_table(table_name)

    on_table(tables, table_name, client, lambda t: t.create_entity({"PartitionKey": "p", "RowKey": "2"}))
    assert [row["RowKey"] for row in client.list_entities()] == ["2"]

    tables.delete_table(table_name)
    assert on_table(tables, table_name, client, lambda t: list(t.list_entities())) == []
    tables.delete_table(table_name)
    with pytest.raises(ResourceNotFoundError):  # the table is back; the entity is not, and that still says so
        on_table(tables, table_name, client, lambda t: t.get_entity("p", "2"))


def test_on_table_retries_only_once_and_only_for_a_missing_table(tables, table_name):
    client = tables.get_table_client(table_name)
    calls = []

    def lost_every_time(table):
        calls.append(1)
        tables.delete_table(table_name)  # gone again before each write: a retry loop would never end
        return table.create_entity({"PartitionKey": "p", "RowKey": "r"})

    with pytest.raises(HttpResponseError) as err:
        on_table(tables, table_name, client, lost_every_time)
    assert table_missing(err.value) and len(calls) == 2

    calls.clear()
    tables.create_table(table_name)
    with pytest.raises(ResourceNotFoundError):
        on_table(tables, table_name, client, lambda t: calls.append(1) or t.get_entity("p", "absent"))
    assert len(calls) == 1  # an entity that is not there is an answer, not a reason to retry


def test_storage_call_forgets_the_tables_when_one_is_missing(tables, table_name):
    client = tables.get_table_client(table_name)
    ensure_table(tables, table_name)
    tables.delete_table(table_name)
    with pytest.raises(DependencyUnavailable), storage_call("write"):
        client.create_entity({"PartitionKey": "p", "RowKey": "r"})
    ensure_table(tables, table_name)  # not cached any more: this creates it again
    client.create_entity({"PartitionKey": "p", "RowKey": "r"})


# --- the adapters --------------------------------------------------------------------------------


def test_customers_are_written_again_after_the_table_is_deleted(tables, table_name):
    store = TableCustomerStore(tables, table=table_name)
    store.create(_customer("before"))
    tables.delete_table(table_name)

    assert store.get("before") is None  # the data is gone with the table; reading it is not an error
    _at_most_twice(lambda: store.create(_customer("after")))
    assert store.get("after") is not None
    assert [t.customer_id for t in store.list(CustomerFilter(), top=10, after=None).customers] == ["after"]


def test_a_listing_of_a_deleted_table_recovers(tables, table_name):
    store = TableCustomerStore(tables, table=table_name)
    store.create(_customer("before"))
    tables.delete_table(table_name)
    assert _at_most_twice(lambda: store.list(CustomerFilter(), top=10, after=None)).customers == []
    assert _at_most_twice(store.get_status_counts) == dict.fromkeys(Status, 0)


def test_history_is_read_again_after_the_table_is_deleted(tables, table_name):
    store = TableCustomerStore(tables, table=table_name)
    result = VerificationResult("c", Status.SUCCEEDED, datetime(2026, 1, 1, tzinfo=UTC), AuthMethod.TOKEN)
    read = store.create(_customer("c"))
    store.replace(read, read.with_result(result), result=result)
    tables.delete_table(table_name)
    assert _at_most_twice(lambda: store.list_latest("c", limit=5)) == []  # gone with the table, and no error
    read = _at_most_twice(lambda: store.create(_customer("c")))
    store.replace(read, read.with_result(result), result=result)
    assert store.list_latest("c", limit=5) == [result]


def test_a_settings_save_into_a_deleted_table_is_not_a_conflict(tables, table_name):
    store = TableProviderSettingsStore(tables, table=table_name)
    store.create(_settings())
    tables.delete_table(table_name)

    assert store.get() is None
    try:
        saved = _at_most_twice(lambda: store.create(_settings()))
    except Conflict:
        pytest.fail("a missing table was reported as a 409 conflict")
    assert store.get() == saved


def test_the_first_write_after_the_tables_are_deleted_already_works(tables, table_name):
    store = TableCustomerStore(tables, table=table_name)
    settings = TableProviderSettingsStore(tables, table=table_name + "s")
    store.create(_customer("before"))
    settings.create(_settings())
    tables.delete_table(table_name)
    tables.delete_table(table_name + "s")
    store.create(_customer("after"))
    settings.create(_settings())
    assert store.get("after") is not None and settings.get() is not None
