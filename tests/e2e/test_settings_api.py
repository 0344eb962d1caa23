"""GET/PUT /api/settings over HTTP: the client secret goes to the secret store and nowhere else."""
import json
import uuid

import pytest
import requests
from azure.data.tables import TableServiceClient

pytestmark = pytest.mark.e2e


def test_apply_changes_then_read_back_without_the_secret(app):
    secret = f"Provider~{uuid.uuid4().hex}.Secret"
    client_id = str(uuid.uuid4())
    redirect = "https://tas.example.com/authenticate/OAuth2Callback"
    refused = requests.put(app.url("/api/settings"), timeout=30,
                           json={"clientId": client_id, "redirectUrl": redirect + "/x", "clientSecret": secret})
    assert (refused.status_code, refused.json()["error"]["code"]) == (400, "invalidRedirectUrl")
    assert secret not in (app.secrets_file.read_text() if app.secrets_file.exists() else "")

    applied = requests.put(app.url("/api/settings"), timeout=30,
                           json={"clientId": client_id, "redirectUrl": redirect, "clientSecret": secret})
    assert applied.status_code == 200, applied.text
    view = applied.json()
    assert (view["clientId"], view["redirectUrl"], view["clientSecretConfigured"]) == (client_id, redirect, True)
    read = requests.get(app.url("/api/settings"), timeout=30)
    assert read.json() == view

    kept = requests.put(app.url("/api/settings"), timeout=30, json={"clientId": client_id, "redirectUrl": redirect})
    assert kept.json()["clientSecretConfigured"] is True

    service = TableServiceClient.from_connection_string(app.connection_string)
    tables = "".join(json.dumps(dict(e), default=str) for t in service.list_tables()
                     for e in service.get_table_client(t.name).list_entities())
    assert client_id in tables, "the search must see the stored settings"
    assert secret in app.secrets_file.read_text()
    for text in (tables, refused.text, applied.text, read.text, kept.text, app.log_text()):
        assert secret not in text
