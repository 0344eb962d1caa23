"""POST /api/consent over fakes: links for the customers named or for every password customer, as JSON or as CSV
that a spreadsheet cannot run, bounded, and clear 4xx errors that change nothing."""
import csv
import io
import json

import azure.functions as func
import pytest

from functions import consent_bulk
from shared.domain.inputs import CustomerInput, ProviderSettingsInput
from shared.domain.models import AuthMethod
from shared.usecases.consent_bulk import MAX_BULK
from shared.usecases.customers import put_customer
from shared.usecases.provider_settings import put_settings

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
PROVIDER = "11111111-2222-4333-8444-555555555555"
CALLBACK = "https://tas.example.com/authenticate/OAuth2Callback"


def add(services, cid, method=AuthMethod.PASSWORD, email="admin@contoso.com"):
    put_customer(services.customers, services.secrets, cid, CustomerInput(
        tenant_id=TENANT, authentication_method=method, m365_email=email,
        password="pw" if method is AuthMethod.PASSWORD else None))


@pytest.fixture
def world(services):
    put_settings(services.provider_settings, services.secrets,
                 ProviderSettingsInput(client_id=PROVIDER, redirect_url=CALLBACK, client_secret="provider-secret"))
    add(services, "p1")
    add(services, "p2", email="=HYPERLINK(\"http://evil.example\")@contoso.com")
    add(services, "t1", method=AuthMethod.TOKEN)
    return services


def post(body, *, accept=None):
    headers = {"content-type": "application/json", **({"accept": accept} if accept else {})}
    response = consent_bulk.consent_bulk(func.HttpRequest(
        "POST", "/api/consent", body=json.dumps(body).encode() if not isinstance(body, bytes) else body,
        headers=headers))
    return response


def test_links_for_the_customers_named_in_order_with_unknown_ones_answered_beside_them(world):
    response = post({"customerIds": ["t1", "nobody", "p1", "t1"]})
    assert response.status_code == 200
    links = json.loads(response.get_body())["links"]
    assert [(item["customerId"], item["error"] and item["error"]["code"]) for item in links] == [
        ("t1", None), ("nobody", "notFound"), ("p1", None)]
    assert links[2]["authorizationUrl"].startswith(f"https://login.example/{TENANT}/authorize?state=")
    assert links[2]["m365Email"] == "admin@contoso.com" and links[2]["expiresAt"].endswith("Z")
    assert world.customers.get("p1").pending_consent is not None


def test_all_password_customers(world):
    links = json.loads(post({"allPasswordCustomers": True}).get_body())["links"]
    assert [item["customerId"] for item in links] == ["p1", "p2"]


def test_csv_with_a_header_and_no_cell_a_spreadsheet_would_run(world):
    response = post({"allPasswordCustomers": True}, accept="text/html, text/csv;q=0.9")
    assert response.status_code == 200
    assert response.mimetype == "text/csv"
    assert response.headers["Content-Disposition"] == 'attachment; filename="consent-links.csv"'
    rows = list(csv.reader(io.StringIO(response.get_body().decode("utf-8"))))
    assert rows[0] == ["customerId", "tenantId", "m365Email", "authorizationUrl", "expiresAt", "error"]
    assert [row[0] for row in rows[1:]] == ["p1", "p2"]
    assert rows[2][2] == "'=HYPERLINK(\"http://evil.example\")@contoso.com"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


@pytest.mark.parametrize("body, code, target", [
    ({}, "invalidField", "customerIds"),
    ({"customerIds": ["p1"], "allPasswordCustomers": True}, "invalidField", "customerIds"),
    ({"customerIds": []}, "invalidField", "customerIds"),
    ({"customerIds": "p1"}, "invalidField", "customerIds"),
    ({"customerIds": ["p 1"]}, "invalidCustomerId", "customerIds"),
    ({"customerIds": [5]}, "invalidCustomerId", "customerIds"),
    ({"customerIds": [f"c{n}" for n in range(MAX_BULK + 1)]}, "tooManyCustomers", "customerIds"),
    ({"allPasswordCustomers": False}, "invalidField", "allPasswordCustomers"),
    ({"allPasswordCustomers": True, "method": "token"}, "unknownField", "method"),
])
def test_bad_bodies_are_refused_and_no_link_is_made(world, body, code, target):
    response = post(body)
    error = json.loads(response.get_body())["error"]
    assert (response.status_code, error["code"], error.get("target")) == (400, code, target)
    assert all(customer.pending_consent is None for customer in world.customers.customers.values())


def test_not_json_is_refused(world):
    assert post(b"customerIds=p1").status_code == 400


def test_missing_settings_fail_the_whole_request(services):
    add(services, "p1")
    response = post({"customerIds": ["p1"]})
    assert (response.status_code, json.loads(response.get_body())["error"]["code"]) == (409, "clientIdNotConfigured")


def test_more_password_customers_than_the_bound_are_refused(world):
    for n in range(MAX_BULK):
        add(world, f"x{n:03d}")
    response = post({"allPasswordCustomers": True})
    assert (response.status_code, json.loads(response.get_body())["error"]["code"]) == (400, "tooManyCustomers")
