"""Table Storage that loses its tables under a running app (Azurite wiped or restarted empty) is recovered
without restarting the app: at worst one 503 storageUnavailable, never a 409, never stuck."""
from __future__ import annotations

import uuid

import pytest
import requests
from azure.data.tables import TableServiceClient

from tests.e2e.conftest import start_app
from tools.azurite import start_azurite
from tools.processes import stop_process

pytestmark = pytest.mark.e2e

GUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
TENANT = {"tenantId": GUID, "authenticationMethod": "token"}
SETTINGS = {"clientId": GUID, "redirectUrl": "http://localhost:7071/authenticate/OAuth2Callback"}


@pytest.fixture(scope="module")
def own_app(tmp_path_factory):
    """An app on an Azurite of its own: wiping the shared one would pull the tables from under other tests."""
    azurite = start_azurite()
    try:
        running = start_app(tmp_path_factory.mktemp("wiped"), azurite.connection_string)
        try:
            yield running
        finally:
            stop_process(running.process)
    finally:
        azurite.stop()


def wipe_tables(connection_string: str) -> list[str]:
    service = TableServiceClient.from_connection_string(connection_string)
    names = [table.name for table in service.list_tables()]
    for name in names:
        service.delete_table(name)
    assert not list(service.list_tables())
    return names


def at_most_one_503(method: str, url: str, **kwargs) -> requests.Response:
    """The first request after the wipe may answer 503 storageUnavailable (the app then forgets its tables);
    the next one must be served."""
    response = requests.request(method, url, timeout=30, **kwargs)
    if response.status_code == 503:
        assert response.json()["error"]["code"] == "storageUnavailable", response.text
        response = requests.request(method, url, timeout=30, **kwargs)
    return response


def test_writes_work_again_after_the_tables_are_deleted(own_app):
    first, second = (f"wiped-{uuid.uuid4().hex[:8]}" for _ in range(2))
    assert requests.put(own_app.url(f"/api/tenants/{first}"), json=TENANT, timeout=30).status_code == 201
    assert requests.put(own_app.url("/api/settings"), json=SETTINGS, timeout=30).status_code == 200
    assert {"Tenants", "Settings"} <= set(wipe_tables(own_app.connection_string))

    tenant = at_most_one_503("PUT", own_app.url(f"/api/tenants/{second}"), json=TENANT)
    assert tenant.status_code == 201, tenant.text
    settings = at_most_one_503("PUT", own_app.url("/api/settings"), json=SETTINGS)
    assert settings.status_code == 200, settings.text  # not 409: a missing table is no conflict
    assert settings.json()["clientId"] == GUID

    listing = requests.get(own_app.url("/api/status"), timeout=30)
    assert listing.status_code == 200
    assert [view["customerId"] for view in listing.json()["tenants"]] == [second]
    assert requests.get(own_app.url(f"/api/tenants/{first}"), timeout=30).status_code == 404
