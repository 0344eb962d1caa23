"""LeanTransactionClient over Azurite: the same answers, errors and stored entities as the SDK's own transactions.

Each case runs the same operations through the SDK's TableClient and through the lean client, on two twin tables,
and compares what comes back and what is stored.
"""
from __future__ import annotations

import base64
import uuid
from datetime import UTC, datetime

import pytest
from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError
from azure.data.tables import EdmType, EntityProperty, TableClient, TableTransactionError, UpdateMode

from shared.adapters import table_transactions
from shared.adapters.storage_clients import table_service_from_config
from shared.adapters.table_common import table_missing
from shared.adapters.table_transactions import LeanTransactionClient, lean_table_client
from shared.config import StorageConfig
from tools.azurite import AZURITE_KEY

pytestmark = pytest.mark.integration

SEED = [
    {"PartitionKey": "p", "RowKey": "a", "n": 1},
    {"PartitionKey": "p", "RowKey": "b", "text": "before"},
    {"PartitionKey": "p", "RowKey": "c", "gone": True},
]


@pytest.fixture
def twins(tables) -> tuple[TableClient, TableClient]:
    """The SDK's client and the lean one, each on its own table seeded alike."""
    made = []
    for lean in (False, True):
        name = f"Txn{uuid.uuid4().hex[:16]}"
        tables.create_table(name)
        client = lean_table_client(tables, name) if lean else tables.get_table_client(name)
        for entity in SEED:
            client.create_entity(entity)
        made.append(client)
    return made[0], made[1]


def _operations(table: TableClient) -> list[tuple]:
    etag = table.get_entity("p", "a").metadata["etag"]
    return [
        ("create", {"PartitionKey": "p", "RowKey": "new", "when": datetime(2026, 12, 3, 18, 0, tzinfo=UTC),
                    "big": EntityProperty(2**40, EdmType.INT64), "ratio": 0.25, "flag": False, "text": "h\u00e9 \u2713",
                    "raw": b"\x00\xff", "id": uuid.UUID("0f6a5d1c-3b7e-4f7a-9a51-6c1c2d3e4f50")}),
        ("update", {"PartitionKey": "p", "RowKey": "a", "n": 2},
         {"mode": UpdateMode.MERGE, "etag": etag, "match_condition": MatchConditions.IfNotModified}),
        ("update", {"PartitionKey": "p", "RowKey": "b", "text": "after"}, {"mode": UpdateMode.REPLACE}),
        ("upsert", {"PartitionKey": "p", "RowKey": "up", "line": "one\r\nHTTP/1.1 500 Oops\r\n"}),
        ("delete", {"PartitionKey": "p", "RowKey": "c"}),
    ]


def _stored(table: TableClient) -> list[dict]:
    return [dict(entity) for entity in table.list_entities()]


def test_a_transaction_is_answered_and_stored_as_the_sdks_own(twins, monkeypatch):
    sdk, lean = twins
    written = []
    body = table_transactions.transaction_body
    monkeypatch.setattr(table_transactions, "transaction_body", lambda *a, **k: written.append(1) or body(*a, **k))

    sdk_answer = sdk.submit_transaction(_operations(sdk))
    lean_answer = lean.submit_transaction(_operations(lean))

    assert written == [1]  # the lean path wrote the body: the override is in use
    # A delete is answered without an ETag.
    assert [sorted(a) for a in lean_answer] == [sorted(a) for a in sdk_answer] == [["etag"]] * 4 + [[]]
    stored = _stored(lean)
    assert stored == _stored(sdk)
    assert {e["RowKey"] for e in stored} == {"a", "b", "new", "up"}
    # The ETags answered are those of the entities now stored.
    etags = {e["RowKey"]: lean.get_entity("p", e["RowKey"]).metadata["etag"] for e in stored}
    assert [a["etag"] for a in lean_answer[:4]] == [etags["new"], etags["a"], etags["b"], etags["up"]]


@pytest.mark.parametrize("case", ["exists", "modified", "missing"])
def test_an_operation_refused_raises_as_the_sdk_does_and_changes_nothing(twins, case):
    raised = []
    for table in twins:
        etag = table.get_entity("p", "a").metadata["etag"]
        table.update_entity({"PartitionKey": "p", "RowKey": "a", "n": 5})  # the ETag above is now stale
        refused = {
            "exists": ("create", {"PartitionKey": "p", "RowKey": "b"}),
            "modified": ("update", {"PartitionKey": "p", "RowKey": "a", "n": 9},
                         {"mode": UpdateMode.MERGE, "etag": etag, "match_condition": MatchConditions.IfNotModified}),
            "missing": ("update", {"PartitionKey": "p", "RowKey": "nobody", "n": 1}, {"mode": UpdateMode.MERGE}),
        }[case]
        before = _stored(table)
        with pytest.raises(TableTransactionError) as caught:
            table.submit_transaction([("create", {"PartitionKey": "p", "RowKey": "first"}), refused,
                                      ("upsert", {"PartitionKey": "p", "RowKey": "last"})])
        assert _stored(table) == before
        raised.append((type(caught.value), caught.value.status_code, caught.value.index, caught.value.error_code))
    assert raised[0] == raised[1]
    assert raised[1][1:3] == ({"exists": 409, "modified": 412, "missing": 404}[case], 1)


def test_a_transaction_refused_whole_raises_as_the_sdk_does(tables):
    name = f"Never{uuid.uuid4().hex[:16]}"  # a missing table: the error on which the adapters create it again
    raised = []
    for table in (tables.get_table_client(name), lean_table_client(tables, name)):
        with pytest.raises(HttpResponseError) as caught:
            table.submit_transaction([("upsert", {"PartitionKey": "p", "RowKey": "x"})])
        raised.append((type(caught.value), caught.value.status_code, caught.value.error_code))
    assert raised[0] == raised[1]
    assert table_missing(caught.value)


def test_a_transaction_refused_before_any_operation_raises_as_the_sdk_does(azurite, tables):
    name = f"Txn{uuid.uuid4().hex[:16]}"
    tables.create_table(name)
    wrong_key = base64.b64encode(b"not the account key").decode()
    forged = azurite.connection_string.replace(f"AccountKey={AZURITE_KEY}", f"AccountKey={wrong_key}")
    assert forged != azurite.connection_string
    service = table_service_from_config(StorageConfig(connection_string=forged), retry_total=0)
    raised = []
    for table in (service.get_table_client(name), lean_table_client(service, name)):
        with pytest.raises(HttpResponseError) as caught:  # 403: the signature does not match
            table.submit_transaction([("upsert", {"PartitionKey": "p", "RowKey": "x"})])
        raised.append((type(caught.value), caught.value.status_code, caught.value.error_code))
    assert raised[0] == raised[1] and raised[0][1] == 403
    assert list(tables.get_table_client(name).list_entities()) == []


def test_the_lean_client_is_the_sdks_client_with_transactions_only_overridden(tables):
    client = lean_table_client(tables, "AnyTable")
    assert isinstance(client, LeanTransactionClient) and isinstance(client, TableClient)
    assert {name for name in vars(LeanTransactionClient) if not name.startswith("__")} == {"_batch_send"}
    # The SDK method this overrides is still there, with the signature the override assumes.
    assert TableClient._batch_send.__code__.co_varnames[:2] == ("self", "table_name")
