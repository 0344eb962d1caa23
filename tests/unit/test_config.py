import pytest

from shared.config import AZURITE_CONNECTION_STRING, load_config
from shared.domain.errors import ConfigurationError


def test_development_storage_shorthand_is_expanded_for_azure_data_tables():
    config = load_config({"AzureWebJobsStorage": "UseDevelopmentStorage=true"})
    assert config.storage.connection_string == AZURITE_CONNECTION_STRING
    assert config.storage.is_local_emulator
    assert config.verify_concurrency == 16
    assert config.required_application_roles == ("User.Read.All",)


def test_identity_form_is_read_when_no_connection_string():
    config = load_config({
        "AzureWebJobsStorage__tableServiceUri": "https://acct.table.core.windows.net",
        "AzureWebJobsStorage__queueServiceUri": "https://acct.queue.core.windows.net",
        "AzureWebJobsStorage__credential": "managedidentity",
        "AzureWebJobsStorage__clientId": "00000000-0000-0000-0000-000000000001",
        "KEY_VAULT_URL": "https://kv.vault.azure.net/",
    })
    assert config.storage.connection_string is None
    assert config.storage.table_service_uri == "https://acct.table.core.windows.net"
    assert config.storage.credential == "managedidentity"
    assert not config.storage.is_local_emulator


@pytest.mark.parametrize("env", [
    {},
    {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "VERIFY_CONCURRENCY": "many"},
    {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "VERIFY_CONCURRENCY": "0"},
    {"AzureWebJobsStorage": "UseDevelopmentStorage=true", "KEY_VAULT_URL": "http://kv.local"},
])
def test_unworkable_config_fail_with_a_clear_message(env):
    with pytest.raises(ConfigurationError) as err:
        load_config(env)
    assert str(err.value).endswith(".")
