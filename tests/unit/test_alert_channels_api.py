"""Alert channels and acknowledge over the handlers, with in-memory fakes: what is stored where, what a view shows,
what bad input answers."""
import json
from datetime import UTC, datetime

import azure.functions as func
import pytest

from functions import alerts
from shared.domain.alerts.delivery_retry import OutcomeKind, SendOutcome
from shared.domain.alerts.signing import DELIVERY_ID_HEADER, SignatureProblem, check_signature
from shared.domain.models import AuthMethod, Customer, Status
from shared.domain.reasons import Reason
from shared.domain.secrets import ChannelSecret

URL = "https://hooks.example.com/alerts/abc?sig=TOPSECRET"


def call(handler, method, path, body=None, **route):
    data = b"" if body is None else json.dumps(body).encode()
    response = handler(func.HttpRequest(method, path, body=data, route_params=route,
                                        headers={"Content-Type": "application/json"} if data else {}))
    raw = response.get_body()
    return response.status_code, (json.loads(raw) if raw else None), raw


def put(body, channel_id="ops"):
    return call(alerts.alert_channel_put, "PUT", f"/api/alerts/channels/{channel_id}", body, channelId=channel_id)


def test_a_new_webhook_channel_keeps_its_url_and_signing_secret_in_the_secret_store_only(services):
    status, view, raw = put({"kind": "webhook", "url": URL, "events": ["connectionLost"]})
    assert status == 201
    assert view["urlHost"] == "hooks.example.com" and view["urlConfigured"] is True
    assert view["signingSecret"].startswith("whsec_") and view["signingSecretConfigured"] is True
    assert b"TOPSECRET" not in raw and "url" not in view
    assert services.secrets.values[("ops", ChannelSecret.URL)] == URL
    assert services.secrets.values[("ops", ChannelSecret.SIGNING_SECRET)] == view["signingSecret"]
    stored = services.channels.get("ops")
    assert stored.url_host == "hooks.example.com" and URL not in repr(stored)
    listed = call(alerts.alert_channels_list, "GET", "/api/alerts/channels")[1]["channels"]
    assert [c["channelId"] for c in listed] == ["ops"] and "signingSecret" not in listed[0]
    assert listed[0]["events"] == ["connectionLost"] and listed[0]["lastDelivery"] is None


def test_an_update_without_url_keeps_the_url_and_the_signing_secret_until_rotated(services):
    first = put({"kind": "webhook", "url": URL})[1]
    status, view, _ = put({"kind": "webhook", "events": ["connectionRestored"], "enabled": False})
    assert status == 200 and "signingSecret" not in view
    assert (view["enabled"], view["events"], view["urlHost"]) == (False, ["connectionRestored"], "hooks.example.com")
    assert services.secrets.values[("ops", ChannelSecret.SIGNING_SECRET)] == first["signingSecret"]
    rotated = put({"kind": "webhook", "rotateSigningSecret": True})[1]
    assert rotated["signingSecret"] not in (None, first["signingSecret"])
    named = services.channels.get("ops").secret_versions[ChannelSecret.SIGNING_SECRET]
    assert services.secrets.get("ops", ChannelSecret.SIGNING_SECRET, named) == rotated["signingSecret"]


def test_a_teams_channel_has_no_signing_secret(services):
    status, view, _ = put({"kind": "teams", "url": URL})
    assert status == 201 and "signingSecret" not in view and view["signingSecretConfigured"] is False
    status, body, _ = put({"kind": "teams", "rotateSigningSecret": True})
    assert (status, body["error"]["target"]) == (400, "rotateSigningSecret")


@pytest.mark.parametrize("body, code, target", [
    ({"kind": "webhook"}, "missingField", "url"),
    ({"url": URL}, "missingField", "kind"),
    ({"kind": "email", "url": URL}, "invalidChannelKind", "kind"),
    ({"kind": "webhook", "url": URL, "events": []}, "invalidEvents", "events"),
    ({"kind": "webhook", "url": URL, "events": ["everything"]}, "invalidEvents", "events"),
    ({"kind": "webhook", "url": URL, "enabled": "yes"}, "invalidField", "enabled"),
    ({"kind": "webhook", "url": URL, "secret": "x"}, "unknownField", "secret"),
    ({"kind": "webhook", "url": ""}, "invalidChannelUrl", "url"),
    ({"kind": "webhook", "url": 5}, "invalidChannelUrl", "url"),
    ({"kind": "webhook", "url": "http://hooks.example.com/x"}, "invalidChannelUrl", "url"),
    ({"kind": "webhook", "url": "https://169.254.169.254/latest/meta-data"}, "channelUrlNotAllowed", "url"),
    ({"kind": "webhook", "url": "https://10.1.2.3/hook"}, "channelUrlNotAllowed", "url"),
    ({"kind": "webhook", "url": "https://[fd00::1]/hook"}, "channelUrlNotAllowed", "url"),
    ({"kind": "webhook", "url": "https://hooks.internal/hook"}, "channelUrlNotAllowed", "url"),
])
def test_bad_channels_answer_400_with_a_code_and_target_and_store_nothing(services, body, code, target):
    status, answer, raw = put(body)
    assert status == 400
    assert (answer["error"]["code"], answer["error"]["target"]) == (code, target)
    assert services.channels.channels == {} and services.secrets.values == {}


def test_a_bad_channel_id_answers_400(services):
    status, answer, _ = put({"kind": "webhook", "url": URL}, channel_id="..")
    assert (status, answer["error"]["code"], answer["error"]["target"]) == (400, "invalidChannelId", "channelId")


def test_delete_removes_the_record_and_its_secrets_and_an_unknown_channel_is_404(services):
    put({"kind": "webhook", "url": URL})
    status, _, raw = call(alerts.alert_channel_delete, "DELETE", "/api/alerts/channels/ops", channelId="ops")
    assert (status, raw) == (204, b"")
    assert services.channels.channels == {} and services.secrets.values == {}
    status, answer, _ = call(alerts.alert_channel_delete, "DELETE", "/api/alerts/channels/ops", channelId="ops")
    assert (status, answer["error"]["code"]) == (404, "notFound")


def test_the_test_message_is_signed_and_says_what_came_of_it(services):
    secret = put({"kind": "webhook", "url": URL})[1]["signingSecret"]
    status, answer, _ = call(alerts.alert_channel_test, "POST", "/api/alerts/channels/ops/test", channelId="ops")
    assert status == 200 and answer["delivered"] is True and answer["outcome"] == "sent"
    (sent,) = services.alert_transport.sent
    assert sent.url == URL and sent.headers[DELIVERY_ID_HEADER] == answer["deliveryId"]
    assert json.loads(sent.body)["test"] is True
    assert check_signature(sent.body, signature_header=sent.headers["X-Signature"],
                           timestamp_header=sent.headers["X-Signature-Timestamp"], signing_secrets=[secret],
                           now=datetime.now(UTC)) is None
    assert check_signature(sent.body, signature_header=sent.headers["X-Signature"],
                           timestamp_header=sent.headers["X-Signature-Timestamp"], signing_secrets=["whsec_other"],
                           now=datetime.now(UTC)) is SignatureProblem.MISMATCH
    services.alert_transport.outcomes.append(SendOutcome(OutcomeKind.SERVER_ERROR, "HTTP 503 from the receiver", 503))
    answer = call(alerts.alert_channel_test, "POST", "/api/alerts/channels/ops/test", channelId="ops")[1]
    assert (answer["delivered"], answer["outcome"], answer["detail"]) == (False, "serverError",
                                                                         "HTTP 503 from the receiver")
    status, answer, _ = call(alerts.alert_channel_test, "POST", "/api/alerts/channels/x/test", channelId="x")
    assert status == 404


def _failing(services, customer_id="contoso", reason=Reason.INVALID_CREDENTIALS):
    services.customers.create(Customer(customer_id=customer_id, tenant_id="contoso.onmicrosoft.com",
                                       authentication_method=AuthMethod.PASSWORD,
                                       last_verification_status=Status.FAILED, last_verification_reason=reason))


def test_acknowledge_keeps_the_failure_acknowledged(services):
    _failing(services)
    status, answer, _ = call(alerts.status_acknowledge, "POST", "/api/status/contoso/acknowledge",
                             customerId="contoso")
    assert status == 200
    assert (answer["customerId"], answer["status"], answer["reason"]) == ("contoso", "failed", "invalidCredentials")
    assert answer["acknowledgedAt"].endswith("Z")
    ack = services.alert_follower.acks["contoso"]
    assert (ack.state.status, ack.state.reason) == (Status.FAILED, Reason.INVALID_CREDENTIALS)


def test_acknowledge_of_an_unknown_customer_is_404_and_of_one_not_failing_409(services):
    status, answer, _ = call(alerts.status_acknowledge, "POST", "/api/status/nobody/acknowledge", customerId="nobody")
    assert (status, answer["error"]["code"]) == (404, "notFound")
    services.customers.create(Customer(customer_id="fine", tenant_id="fine.onmicrosoft.com",
                                       authentication_method=AuthMethod.PASSWORD,
                                       last_verification_status=Status.SUCCEEDED))
    status, answer, _ = call(alerts.status_acknowledge, "POST", "/api/status/fine/acknowledge", customerId="fine")
    assert (status, answer["error"]["code"]) == (409, "notFailing")
    status, answer, _ = call(alerts.status_acknowledge, "POST", "/api/status/a b/acknowledge", customerId="a b")
    assert status == 400
    assert services.alert_follower.acks == {}


def test_the_openapi_channel_body_lists_exactly_the_fields_the_server_takes(services):
    from shared.domain.alerts.channels import CHANNEL_FIELDS, READ_ONLY_FIELDS
    from tests.unit.test_openapi import SPEC

    schema = SPEC["components"]["schemas"]["AlertChannelBody"]
    assert schema["additionalProperties"] is False
    assert set(schema["properties"]) == CHANNEL_FIELDS | READ_ONLY_FIELDS
    assert {f for f, value in schema["properties"].items() if value.get("readOnly")} == READ_ONLY_FIELDS
    view = put({"kind": "webhook", "url": URL})[1]  # a view sent back is a body the server takes
    assert set(view) <= CHANNEL_FIELDS | READ_ONLY_FIELDS
