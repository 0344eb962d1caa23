import logging

import pytest

from shared import bootstrap
from shared.errors import ConfigurationError

AZURE_STORAGE = {"AzureWebJobsStorage__tableServiceUri": "https://acct.table.core.windows.net"}


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
