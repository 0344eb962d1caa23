"""Fixtures shared by every test layer."""
from __future__ import annotations

import pytest

from tests.support.fakes import fake_services, serving
from tools.azurite import Azurite, start_azurite


@pytest.fixture
def services():
    """Services over fakes (tests/support/fakes.py), installed as the ones the handlers use for this test; then
    removed and closed."""
    with fake_services() as built, serving(built):
        yield built


@pytest.fixture(scope="session")
def azurite() -> Azurite:
    """One real Azurite for the whole run; tests isolate themselves with unique table/queue names."""
    instance = start_azurite()
    try:
        yield instance
    finally:
        instance.stop()


@pytest.fixture
def tables(azurite):
    """A Table service client on the run's Azurite, without retries: a failure shows at once."""
    from shared.adapters.storage_clients import table_service_from_config
    from shared.config import StorageConfig

    return table_service_from_config(StorageConfig(connection_string=azurite.connection_string), retry_total=0)


@pytest.fixture
def unreachable_storage(azurite):
    """The run's Azurite account with its table and queue endpoints on a port nothing listens on."""
    import socket

    from shared.config import StorageConfig

    with socket.socket() as probe:  # a port that was free a moment ago and that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    connection_string = azurite.connection_string
    for used in (azurite.table_port, azurite.queue_port):
        connection_string = connection_string.replace(f":{used}/", f":{port}/")
    assert connection_string.count(f":{port}/") >= 2
    return StorageConfig(connection_string=connection_string)
