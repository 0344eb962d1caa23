"""table_service_from_config builds the right client for each storage form, without any network call."""
from __future__ import annotations

import subprocess
import sys

import azure.identity
import pytest
from azure.core.credentials import AzureNamedKeyCredential
from azure.data.tables import TableServiceClient

from shared.adapters.storage_clients import default_credential, table_service_from_config
from shared.config import AZURITE_CONNECTION_STRING, AZURITE_KEY, StorageConfig
from shared.domain.errors import ConfigurationError
from tools.azurite import REPO

TABLE_URI = "https://acct.table.core.windows.net"
CLIENT_ID = "00000000-0000-0000-0000-000000000001"


def _retry_total(client: TableServiceClient) -> int | None:
    (retry,) = (policy for policy in client._policies if type(policy).__name__ == "TablesRetryPolicy")
    return retry.total_retries


def test_identity_form_uses_default_azure_credential_for_the_uri():
    client = table_service_from_config(
        StorageConfig(table_service_uri=TABLE_URI, credential="managedidentity", client_id=CLIENT_ID)
    )
    assert isinstance(client, TableServiceClient)
    assert isinstance(client.credential, azure.identity.DefaultAzureCredential)
    assert client.url.rstrip("/") == TABLE_URI
    assert client.account_name == "acct"


class _RecordingCredential:
    def __init__(self, **kwargs):
        self.kwargs = kwargs

    def get_token(self, *scopes, **kwargs):  # never called: building a client makes no request
        raise AssertionError("no token should be requested")


@pytest.mark.parametrize(
    ("storage", "expected"),
    [
        (StorageConfig(table_service_uri=TABLE_URI, credential="managedidentity", client_id=CLIENT_ID),
         {"managed_identity_client_id": CLIENT_ID}),
        (StorageConfig(table_service_uri=TABLE_URI, credential="managedidentity"), {}),
        (StorageConfig(table_service_uri=TABLE_URI), {}),
        # A client id without credential=managedidentity is not an instruction to use that identity.
        (StorageConfig(table_service_uri=TABLE_URI, client_id=CLIENT_ID), {}),
    ],
)
def test_user_assigned_identity_is_chosen_only_when_the_settings_say_so(monkeypatch, storage, expected):
    monkeypatch.setattr(azure.identity, "DefaultAzureCredential", _RecordingCredential)
    credential = default_credential(storage)
    assert isinstance(credential, _RecordingCredential)
    assert credential.kwargs == expected


def test_a_custom_credential_factory_is_given_the_settings():
    seen: list[StorageConfig] = []
    storage = StorageConfig(table_service_uri=TABLE_URI)
    sentinel = _RecordingCredential()

    def factory(settings: StorageConfig):
        seen.append(settings)
        return sentinel

    client = table_service_from_config(storage, credential_factory=factory)
    assert seen == [storage]
    assert client.credential is sentinel


def test_connection_string_form_uses_the_account_key_and_table_endpoint():
    client = table_service_from_config(StorageConfig(connection_string=AZURITE_CONNECTION_STRING))
    assert isinstance(client.credential, AzureNamedKeyCredential)
    assert client.credential.named_key.name == "devstoreaccount1"
    assert client.url.rstrip("/") == "http://127.0.0.1:10002/devstoreaccount1"


def test_retry_option_reaches_the_pipeline():
    storage = StorageConfig(connection_string=AZURITE_CONNECTION_STRING)
    assert _retry_total(table_service_from_config(storage, retry_total=0)) == 0
    assert _retry_total(table_service_from_config(storage)) != 0  # the SDK's default is kept


@pytest.mark.parametrize(
    "storage",
    [
        StorageConfig(),
        StorageConfig(table_service_uri="http://acct.table.core.windows.net"),  # a bearer token over http
        StorageConfig(connection_string=f"AccountKey={AZURITE_KEY};nonsense"),
    ],
)
def test_unusable_settings_raise_configuration_error_without_the_key(storage):
    with pytest.raises(ConfigurationError) as err:
        table_service_from_config(storage)
    assert AZURITE_KEY not in str(err.value)
    assert err.value.__cause__ is None or AZURITE_KEY not in str(err.value.__cause__)


def test_importing_the_storage_modules_does_not_import_azure_identity():
    # A fresh interpreter: this test process has already imported azure.identity.
    code = ("import sys, shared.adapters.storage_clients, shared.adapters.table_customers; "
            "print('azure.identity' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "False"


def test_a_pool_size_gives_the_client_a_session_that_keeps_that_many_connections():
    client = table_service_from_config(StorageConfig(connection_string=AZURITE_CONNECTION_STRING), pool_size=40)
    transport = client._client._client._pipeline._transport
    assert transport.session.get_adapter("http://127.0.0.1:10002/")._pool_maxsize == 40
