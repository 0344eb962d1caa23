"""queue_service_from_config builds the right client for each storage form, without any network call."""
from __future__ import annotations

import azure.identity
import pytest
from azure.storage.queue import QueueServiceClient

from shared.adapters.storage_clients import queue_service_from_config
from shared.config import AZURITE_CONNECTION_STRING, AZURITE_KEY, StorageConfig, load_config
from shared.domain.errors import ConfigurationError

TABLE_URI = "https://acct.table.core.windows.net"
QUEUE_URI = "https://acct.queue.core.windows.net"
CLIENT_ID = "00000000-0000-0000-0000-000000000001"


class _RecordingCredential:
    def get_token(self, *scopes, **kwargs):  # never called: building a client makes no request
        raise AssertionError("no token should be requested")


def _retry_total(client: QueueServiceClient) -> int:
    return client._config.retry_policy.total_retries


def test_identity_form_uses_default_azure_credential_for_the_queue_uri():
    storage = StorageConfig(table_service_uri=TABLE_URI, queue_service_uri=QUEUE_URI,
                            credential="managedidentity", client_id=CLIENT_ID)
    client = queue_service_from_config(storage)
    assert isinstance(client, QueueServiceClient)
    assert isinstance(client.credential, azure.identity.DefaultAzureCredential)
    assert client.url.rstrip("/") == QUEUE_URI
    assert client.account_name == "acct"


def test_a_custom_credential_factory_is_given_the_settings():
    seen: list[StorageConfig] = []
    storage = StorageConfig(table_service_uri=TABLE_URI, queue_service_uri=QUEUE_URI)
    sentinel = _RecordingCredential()

    def factory(settings: StorageConfig):
        seen.append(settings)
        return sentinel

    client = queue_service_from_config(storage, credential_factory=factory)
    assert seen == [storage]
    assert client.credential is sentinel


@pytest.mark.parametrize("setting", ["UseDevelopmentStorage=true", AZURITE_CONNECTION_STRING])
def test_connection_string_form_uses_the_account_key_and_queue_endpoint(setting):
    # The shorthand arrives expanded (config.py): the queue SDK would take it, azure-data-tables would not.
    client = queue_service_from_config(load_config({"AzureWebJobsStorage": setting}).storage)
    assert client.account_name == "devstoreaccount1"
    assert client.credential.account_key == AZURITE_KEY
    assert client.url.rstrip("/") == "http://127.0.0.1:10001/devstoreaccount1"


def test_retry_option_reaches_the_pipeline():
    storage = StorageConfig(connection_string=AZURITE_CONNECTION_STRING)
    assert _retry_total(queue_service_from_config(storage, retry_total=0)) == 0
    assert _retry_total(queue_service_from_config(storage)) != 0  # the SDK's default is kept


@pytest.mark.parametrize(
    "storage",
    [
        StorageConfig(),
        StorageConfig(table_service_uri=TABLE_URI),  # identity form without a queue URI
        StorageConfig(table_service_uri=TABLE_URI, queue_service_uri="http://acct.queue.core.windows.net"),
        StorageConfig(connection_string=f"AccountKey={AZURITE_KEY};nonsense"),
    ],
)
def test_unusable_settings_raise_configuration_error_without_the_key(storage):
    with pytest.raises(ConfigurationError) as err:
        queue_service_from_config(storage)
    assert AZURITE_KEY not in str(err.value)
    assert err.value.__cause__ is None or AZURITE_KEY not in str(err.value.__cause__)
