"""Secrets reach Key Vault (here the local store) only: never a table, a response body or a log line."""
from __future__ import annotations

import json
import uuid

import pytest
import requests
from azure.data.tables import TableServiceClient

pytestmark = pytest.mark.e2e


def test_secret_values_appear_in_no_table_response_or_log(app):
    marker = uuid.uuid4().hex
    secrets = {
        "password": f"Pw!{marker}-alpha",
        "applicationSecret": f"App~{marker}.bravo",
        "second password": f"Pw2!{marker}-charlie",
    }
    responses = []
    ids = [f"sec-{marker[:8]}-{i}" for i in range(3)]
    bodies = [
        {"tenantId": "contoso.com", "authenticationMethod": "password", "m365Email": "a@contoso.com",
         "password": secrets["password"]},
        {"tenantId": str(uuid.uuid4()), "authenticationMethod": "application", "applicationId": str(uuid.uuid4()),
         "applicationSecret": secrets["applicationSecret"]},
        {"tenantId": "fabrikam.com", "authenticationMethod": "password", "m365Email": "b@fabrikam.com",
         "password": secrets["second password"]},
    ]
    for customer_id, body in zip(ids, bodies, strict=True):
        responses.append(requests.put(app.url(f"/api/tenants/{customer_id}"), json=body, timeout=30))
        # A rejected update that carries the secret must not echo it either.
        responses.append(requests.put(app.url(f"/api/tenants/{customer_id}"), timeout=30,
                                      json={**body, "tenantId": "not valid"}))
        responses.append(requests.get(app.url(f"/api/tenants/{customer_id}"), timeout=30))
        responses.append(requests.get(app.url(f"/api/status/{customer_id}"), timeout=30))
    responses.append(requests.get(app.url("/api/status"), timeout=30))
    assert [r.status_code for r in responses[:4]] == [201, 400, 200, 200]

    service = TableServiceClient.from_connection_string(app.connection_string)
    table_text = ""
    for table in service.list_tables():
        entities = service.get_table_client(table.name).list_entities()
        table_text += "".join(json.dumps(dict(e), default=str) for e in entities)
    assert ids[0] in table_text, "the search must see the stored tenants"

    stored = app.secrets_file.read_text()
    for label, value in secrets.items():
        assert value in stored, f"{label} was not stored in the secret store"
        assert value not in table_text, f"{label} reached a table"
        for response in responses:
            assert value not in response.text, f"{label} reached a response"
            assert value not in json.dumps(dict(response.headers)), f"{label} reached a header"
        assert value not in app.log_text(), f"{label} reached the log"
    assert "PUT /api/tenants/" + ids[0] in app.log_text(), "the log being searched is the one with the requests"
