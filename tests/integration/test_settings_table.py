"""TableProviderSettingsStore against real Azurite."""
import uuid
from datetime import UTC, datetime

import pytest
from azure.data.tables import TableServiceClient

from shared.adapters.table_settings import TableProviderSettingsStore
from shared.domain.errors import Conflict
from shared.domain.models import ProviderSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def store(azurite):
    service = TableServiceClient.from_connection_string(azurite.connection_string)
    return TableProviderSettingsStore(service, table=f"Settings{uuid.uuid4().hex[:10]}")


def test_nothing_stored_reads_as_none(store):
    assert store.get() is None


def test_create_then_replace_round_trips_and_guards_with_the_etag(store):
    when = datetime(2026, 11, 26, 12, 0, 0, tzinfo=UTC)
    first = store.create(ProviderSettings(client_id="a" * 8 + "-0000-0000-0000-" + "0" * 12,
                                          redirect_url="https://x.example/authenticate/OAuth2Callback",
                                          client_secret_version="v-1", updated_at=when))
    read = store.get()
    assert read == first and read.etag == first.etag
    second = store.replace(read, ProviderSettings(client_id=read.client_id,
                                                 redirect_url="http://localhost/authenticate/OAuth2Callback",
                                                 client_secret_version="v-2", updated_at=when))
    assert store.get().redirect_url == "http://localhost/authenticate/OAuth2Callback"
    with pytest.raises(Conflict):
        store.replace(read, ProviderSettings(client_id=read.client_id))  # stale etag
    with pytest.raises(Conflict):
        store.create(ProviderSettings(client_id=read.client_id))  # a second "first" save
    assert store.get() == second
