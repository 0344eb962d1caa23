import logging

import pytest

from shared import bootstrap
from shared.domain.errors import ConfigurationError

AZURE_STORAGE = {"AzureWebJobsStorage__tableServiceUri": "https://acct.table.core.windows.net",
                 "AzureWebJobsStorage__queueServiceUri": "https://acct.queue.core.windows.net"}


def test_without_key_vault_outside_azurite_start_up_fails_clearly(monkeypatch):
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    monkeypatch.delenv("KEY_VAULT_URL", raising=False)
    for name, value in AZURE_STORAGE.items():
        monkeypatch.setenv(name, value)
    with pytest.raises(ConfigurationError) as err:
        bootstrap.startup_check()
    assert "KEY_VAULT_URL" in str(err.value)


def test_without_key_vault_next_to_azurite_start_up_warns(monkeypatch, caplog):
    monkeypatch.setenv("AzureWebJobsStorage", "UseDevelopmentStorage=true")
    monkeypatch.setenv("KEY_VAULT_URL", "")
    with caplog.at_level(logging.WARNING, logger="shared.bootstrap"):
        bootstrap.startup_check()
    assert any("LOCAL DEVELOPMENT" in r.getMessage() for r in caplog.records)


def test_with_key_vault_start_up_is_quiet(monkeypatch, caplog):
    monkeypatch.delenv("AzureWebJobsStorage", raising=False)
    for name, value in AZURE_STORAGE.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("KEY_VAULT_URL", "https://kv.vault.azure.net/")
    with caplog.at_level(logging.WARNING, logger="shared.bootstrap"):
        bootstrap.startup_check()
    assert caplog.records == []


def test_build_next_to_azurite_uses_tables_and_the_local_store(tmp_path):
    from shared.adapters.local_secrets import LocalFileSecretStore
    from shared.adapters.table_customers import TableCustomerStore
    from shared.adapters.table_settings import TableProviderSettingsStore
    from shared.config import load_config

    config = load_config({"AzureWebJobsStorage": "UseDevelopmentStorage=true",
                          "LOCAL_SECRETS_FILE": str(tmp_path / "s.json")})
    with bootstrap.build(config) as services:
        assert isinstance(services.customers, TableCustomerStore)
        assert services.history is services.customers  # the histories are rows of the customers' table
        assert isinstance(services.provider_settings, TableProviderSettingsStore)
        assert isinstance(services.secrets, LocalFileSecretStore)


def test_build_in_azure_uses_one_identity_for_tables_and_key_vault():
    from azure.identity import DefaultAzureCredential

    from shared.adapters.keyvault import KeyVaultSecretStore
    from shared.config import load_config

    config = load_config({**AZURE_STORAGE, "AzureWebJobsStorage__credential": "managedidentity",
                          "AzureWebJobsStorage__clientId": "00000000-0000-0000-0000-0000000000aa",
                          "KEY_VAULT_URL": "https://kv.vault.azure.net/"})
    with bootstrap.build(config) as services:
        assert isinstance(services.secrets, KeyVaultSecretStore)
        vault_credential = services.secrets._client._client._config.credential
        table_credential = services.customers._on_table._service.credential
        assert isinstance(vault_credential, DefaultAzureCredential)
        assert vault_credential is table_credential
        assert services.work._client.credential is table_credential  # the queue too: one identity


def test_build_uses_each_dependency_given_and_builds_the_others(tmp_path):
    from shared.adapters.table_settings import TableProviderSettingsStore
    from shared.config import load_config
    from tests.support.fakes import InMemoryCustomerStore
    from tests.support.verification_fakes import ScriptedPlatform

    config = load_config({"AzureWebJobsStorage": "UseDevelopmentStorage=true",
                          "LOCAL_SECRETS_FILE": str(tmp_path / "s.json")})
    customers, platform = InMemoryCustomerStore(), ScriptedPlatform()
    with bootstrap.build(config, customers=customers, platform=platform) as services:
        assert services.customers is customers and services.verification.customers is customers
        assert services.verification.platform is platform and services.consent.verification is services.verification
        assert isinstance(services.provider_settings, TableProviderSettingsStore)  # not given: the production one
        assert services.history is customers  # not given: the customers' store, whose table holds the histories


class Closable:
    def __init__(self) -> None:
        self.closed = False

    def close(self) -> None:
        self.closed = True


def test_closing_the_services_ends_their_threads_and_clients_but_not_what_was_given(monkeypatch):
    from shared.adapters.keyvault import KeyVaultSecretStore
    from shared.adapters.msal_platform import MsalIdentityPlatform
    from shared.config import load_config
    from tests.support.fakes import fake_services

    closed = []
    for adapter in (KeyVaultSecretStore, MsalIdentityPlatform):
        monkeypatch.setattr(adapter, "close", lambda self, name=adapter.__name__: closed.append(name))
    config = load_config({"AzureWebJobsStorage": "UseDevelopmentStorage=true", "VERIFY_CONCURRENCY": "3",
                          "KEY_VAULT_URL": "https://kv.vault.azure.net/"})
    given = Closable()
    services = bootstrap.build(config, customers=given)
    pool = services.verification.pool
    assert pool.submit(lambda: "ran").result() == "ran" and pool._max_workers == 3
    with services:
        assert closed == []
    with pytest.raises(RuntimeError):  # shut down: it takes no more work
        pool.submit(lambda: None)
    assert sorted(closed) == ["KeyVaultSecretStore", "MsalIdentityPlatform"]  # each client built, once
    assert not given.closed  # what the caller gave stays the caller's to close
    with fake_services() as fakes:
        fakes.verification.pool.submit(lambda: None).result()
    with pytest.raises(RuntimeError):
        fakes.verification.pool.submit(lambda: None)


def test_a_build_that_fails_leaves_nothing_open(monkeypatch):
    from shared.config import load_config

    opened = []
    real = bootstrap.ThreadPoolExecutor

    def pool(*args, **kwargs):
        opened.append(real(*args, **kwargs))
        return opened[-1]

    monkeypatch.setattr(bootstrap, "ThreadPoolExecutor", pool)
    config = load_config({"AzureWebJobsStorage__tableServiceUri": "https://acct.table.core.windows.net"})
    with pytest.raises(ConfigurationError):  # no Key Vault outside Azurite: refused before anything is made
        bootstrap.build(config)
    assert opened == []
