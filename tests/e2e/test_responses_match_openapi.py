"""Every operation, in success and in error, answers what openapi.yaml describes (status, type and shape)."""
from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
import requests
from azure.data.tables import TableServiceClient

from shared.adapters.table_customers import TableCustomerStore
from shared.domain.models import AuthMethod, Status
from shared.domain.reasons import Reason
from shared.domain.verification import VerificationResult
from tests.support.history import into_history
from tests.support.openapi_check import check_response, spec

pytestmark = pytest.mark.e2e


def test_every_documented_operation_answers_as_documented(app):
    cid = f"spec-{uuid.uuid4().hex[:8]}"
    tenant = "/api/tenants/{customerId}"
    status_one = "/api/status/{customerId}"
    password_body = {"tenantId": "contoso.com", "authenticationMethod": "password", "m365Email": "a@contoso.com",
                     "password": "Spec-Pass-1"}
    exercised: set[tuple[str, str]] = set()

    def call(method, template, *, status, json_body=None, data=None, params=None, customer=cid, run="", file="",
             headers=None, channel=""):
        path = template.replace("{customerId}", customer).replace("{runId}", run).replace("{file}", file)
        path = path.replace("{channelId}", channel)
        response = requests.request(method, app.url(path), json=json_body, data=data, params=params, timeout=30,
                                    headers=headers)
        assert response.status_code == status, (method, path, response.status_code, response.text)
        check_response(template, method, response.status_code, response.content, response.headers.get("Content-Type"))
        exercised.add((template, method.lower()))
        return response

    call("GET", "/api/health", status=200)
    call("PUT", tenant, status=201, json_body=password_body)
    call("PUT", tenant, status=200, json_body={**password_body, "password": None})
    call("PUT", tenant, status=400, json_body={"tenantId": "x"})
    call("PUT", tenant, status=413, data=b"{" + b" " * 70000 + b"}", headers={"Content-Type": "application/json"})
    call("PUT", tenant, status=415, data=b"{}", headers={"Content-Type": "text/plain"})
    call("GET", tenant, status=200)
    call("GET", tenant, status=404, customer="nobody-" + cid)
    call("GET", tenant, status=400, customer="bad%20id")

    # One recorded result, so the history entries' shape is checked too.
    customers = TableCustomerStore(TableServiceClient.from_connection_string(app.connection_string))
    now = datetime.now(UTC)
    into_history(customers, VerificationResult(cid, Status.FAILED, now - timedelta(hours=1), AuthMethod.PASSWORD,
                                               reason=Reason.MFA_REQUIRED, message="AADSTS50076: MFA required.",
                                               aadsts_code=50076, hint="Switch this customer to token."))
    detail = call("GET", status_one, status=200).json()
    assert detail["history"][0]["reason"] == "mfaRequired"
    call("GET", status_one, status=404, customer="nobody-" + cid)
    call("GET", "/api/status", status=200, params={"top": "1"})
    call("GET", "/api/status", status=400, params={"status": "bogus"})

    call("GET", "/api/settings", status=200)
    call("PUT", "/api/settings", status=200,
         json_body={"clientId": str(uuid.uuid4()), "redirectUrl": "http://localhost:7071/authenticate/OAuth2Callback"})
    call("PUT", "/api/settings", status=400, json_body={"clientId": "x"})

    verified = call("POST", status_one + "/verify", status=200).json()
    # notConfigured without a client secret, tenantNotFound with one another test applied (contoso.com is unknown)
    assert verified["lastVerificationReason"] in {"notConfigured", "tenantNotFound"}
    call("POST", status_one + "/verify", status=404, customer="nobody-" + cid)
    # That result lost the connection (notVerified -> failed): its event's shape is checked too.
    (event,) = call("GET", "/api/events", status=200, params={"customerId": cid}).json()["events"]
    assert (event["type"], event["to"]["status"]) == ("connectionLost", "failed")
    call("GET", "/api/events", status=400, params={"type": "bogus"})
    started = call("POST", "/api/runs", status=202)
    assert started.headers["Location"] == "/api/runs/" + started.json()["runId"]
    call("GET", "/api/runs/{runId}", status=200, run=started.json()["runId"])
    call("GET", "/api/runs/{runId}", status=404, run="no-such-run")
    call("GET", "/api/runs/{runId}", status=400, run="bad_id")
    call("GET", "/api/runs", status=200, params={"top": "5"})
    call("GET", "/api/runs", status=400, params={"top": "0"})

    call("POST", "/api/consent/{customerId}", status=404, customer="nobody-" + cid)
    call("POST", "/api/consent/{customerId}", status=400, customer="bad%20id")
    refused = call("POST", "/api/consent/{customerId}", status=409)  # no client secret, or a tenant the platform
    assert refused.json()["error"]["code"] in {"clientSecretNotConfigured", "invalidTenantId"}  # does not know
    rows = call("POST", "/api/consent", status=200, json_body={"customerIds": ["nobody-" + cid]}).json()["links"]
    assert rows[0]["error"]["code"] == "notFound"
    call("POST", "/api/consent", status=400, json_body={"customerIds": []})
    call("GET", "/api/status", status=200, params={"expiringWithinDays": "30", "top": "1"})
    page = call("GET", "/authenticate/OAuth2Callback", status=400, params={"state": "forged"})
    assert page.headers["Content-Type"].startswith("text/html")
    call("POST", "/authenticate/OAuth2Callback", status=400, data={"state": "forged"})
    call("POST", "/authenticate/OAuth2Callback", status=413, data={"state": "x" * 70000})

    call("GET", "/", status=200)
    call("GET", "/page/{file}", status=200, file="app.js")
    call("GET", "/page/{file}", status=200, file="app.css")
    call("GET", "/page/{file}", status=200, file="favicon.svg")
    call("GET", "/page/{file}", status=404, file="nope.js")

    # Alerts: a channel to a port nothing answers on (loopback is allowed in local development).
    channel = "/api/alerts/channels/{channelId}"
    call("PUT", channel, status=201, channel=cid, json_body={"kind": "webhook", "url": "http://127.0.0.1:9/hook"})
    call("PUT", channel, status=200, channel=cid, json_body={"kind": "webhook", "enabled": False})
    call("PUT", channel, status=400, channel=cid, json_body={"kind": "webhook", "url": "https://10.0.0.1/x"})
    call("PUT", channel, status=415, channel=cid, data=b"{}", headers={"Content-Type": "text/plain"})
    call("PUT", channel, status=413, channel=cid, data=b"{" + b" " * 70000 + b"}",
         headers={"Content-Type": "application/json"})
    call("GET", "/api/alerts/channels", status=200)
    assert call("POST", channel + "/test", status=200, channel=cid).json()["delivered"] is False
    call("POST", channel + "/test", status=404, channel="nobody-" + cid)
    call("DELETE", channel, status=204, channel=cid)
    call("DELETE", channel, status=404, channel=cid)
    call("POST", status_one + "/acknowledge", status=200)  # failed above: notConfigured or tenantNotFound
    call("POST", status_one + "/acknowledge", status=404, customer="nobody-" + cid)

    call("DELETE", tenant, status=204)
    call("DELETE", tenant, status=404)
    call("GET", "/api/audit", status=200, params={"top": "2"})
    call("GET", "/api/audit", status=400, params={"actor": "someone"})
    call("GET", "/api/keycheck", status=204)
    call("GET", "/api/me", status=200)

    documented = {(p, m) for p, item in spec()["paths"].items() for m in item if m in {"get", "put", "post", "delete"}}
    assert documented <= exercised, f"not exercised: {sorted(documented - exercised)}"
