"""Foresight's columns on a real Azurite: a customer's foresight and operator date round-trip, the `expiresAt`
column the filter and the summary read, the settings' client secret expiry, and a damaged column read as unknown."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest

from shared.adapters.table_customers import CUSTOMER_PARTITION, TableCustomerStore
from shared.adapters.table_settings import TableProviderSettingsStore
from shared.domain.expiry import Expiry, ExpiryKind, ExpirySource, ExpiryUnknown, UnknownReason
from shared.domain.expiry_reads import KeptRead
from shared.domain.expiry_record import Foresight, record_outlook
from shared.domain.models import AuthMethod, Customer, CustomerFilter, ProviderSettings
from shared.domain.secrets import SecretKind

pytestmark = pytest.mark.integration

NOW = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def store(tables) -> TableCustomerStore:
    return TableCustomerStore(tables, table=f"Tenants{uuid.uuid4().hex[:16]}")


def _app(customer_id: str, *, at: datetime | None = None, foresight: Foresight | None = None) -> Customer:
    return Customer(customer_id=customer_id, tenant_id="contoso.onmicrosoft.com",
                    authentication_method=AuthMethod.APPLICATION,
                    application_id="a" * 8 + "-1111-2222-3333-" + "4" * 12,
                    secret_versions={SecretKind.APPLICATION_SECRET: "v1"}, application_secret_expires_at=at,
                    foresight=foresight)


def test_foresight_round_trips_with_every_part(store):
    kept = Foresight(
        client_secret=Expiry(ExpiryKind.CLIENT_SECRET, ExpirySource.GRAPH, NOW + timedelta(days=3), "key-1"),
        client_secret_read=KeptRead("graph-app|t|a|v1", NOW, None),
        gdap=ExpiryUnknown(ExpiryKind.GDAP_RELATIONSHIP, UnknownReason.THROTTLED, "Graph throttled."),
        gdap_reason="autoExtendOff", warned={"clientSecret:abc": 7, "clientSecret:def": None},
        refresh_token_redeemed_at=NOW)
    store.create(_app("a", at=NOW + timedelta(days=9), foresight=kept))
    read = store.get("a")
    assert read.foresight == kept
    assert read.application_secret_expires_at == NOW + timedelta(days=9)
    assert record_outlook(read).expires_at == NOW + timedelta(days=3)  # Graph's date wins over the operator's


def test_the_expires_at_column_filters_and_counts(store):
    store.create(_app("soon", at=NOW + timedelta(days=2)))
    store.create(_app("later", at=NOW + timedelta(days=25)))
    store.create(_app("far", at=NOW + timedelta(days=300)))
    store.create(_app("unknown"))
    listing = store.list(CustomerFilter(expires_before=NOW + timedelta(days=7)), top=10, after=None)
    assert [customer.customer_id for customer in listing.customers] == ["soon"]
    assert store.expiring_by(NOW + timedelta(days=30)) == [NOW + timedelta(days=2), NOW + timedelta(days=25)]


def test_a_damaged_foresight_column_is_read_as_unknown_never_as_no_expiry(store, tables):
    store.create(_app("a"))
    table = tables.get_table_client(store._name)
    entity = table.get_entity(CUSTOMER_PARTITION, "a")
    entity["foresight"] = '{"clientSecret": {"what": "clientSecret", "source": "graph", "at": "not a date"}, ' \
                          '"clientSecretRead": {"key": "k", "readAt": "2026-12-01T12:00:00+00:00"}}'
    table.upsert_entity(entity)
    outlook = record_outlook(store.get("a"))
    assert outlook.expiry is None
    assert [item.reason for item in outlook.unknown] == [UnknownReason.UNEXPECTED_ANSWER]


def test_settings_keep_the_client_secret_date_and_graphs_answer(tables):
    store = TableProviderSettingsStore(tables, table=f"Settings{uuid.uuid4().hex[:10]}")
    graph = Expiry(ExpiryKind.PROVIDER_CLIENT_SECRET, ExpirySource.GRAPH, NOW + timedelta(days=50), "key-9")
    store.create(ProviderSettings(client_id="c" * 8 + "-0000-0000-0000-" + "0" * 12, client_secret_version="v-1",
                                  client_secret_expires_at=NOW, client_secret_graph=graph,
                                  client_secret_read=KeptRead("graph-provider|c|v-1", NOW)))
    read = store.get()
    assert (read.client_secret_expires_at, read.client_secret_graph, read.client_secret_read) == (
        NOW, graph, KeptRead("graph-provider|c|v-1", NOW))
