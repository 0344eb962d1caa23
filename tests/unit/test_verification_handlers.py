"""The verification triggers called directly (HTTP requests, the timer, a queue message) over fakes."""
import json

import azure.functions as func
import pytest
from azure.functions.timer import TimerRequest

from functions import verification
from shared.domain.inputs import CustomerInput
from shared.domain.models import AuthMethod
from shared.domain.verification import TokenAnswer
from shared.domain.work import FanOut, encode
from shared.usecases.customers import put_customer

GUID = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


@pytest.fixture
def services(services):
    services.verification.platform.script(GUID, TokenAnswer(claims={"tid": GUID, "roles": ["User.Read.All"]}))
    for n in range(3):
        put_customer(services.customers, services.secrets, f"c{n}", CustomerInput(
            tenant_id=GUID, authentication_method=AuthMethod.APPLICATION, m365_email=None,
            application_id=APP, application_secret="s"))
    return services


def call(handler, method, url, *, route_params=None, params=None):
    response = handler(func.HttpRequest(method, url, body=b"", route_params=route_params or {}, params=params or {}))
    return response, json.loads(response.get_body())


def work_off(services):
    while services.work.messages:
        text = encode(services.work.messages.pop(0))
        verification.verify_worker(func.QueueMessage(body=text.encode()))


def test_verify_all_answers_202_with_the_run_then_the_workers_finish_it(services):
    response, run = call(verification.runs_start, "POST", "/api/runs")
    assert response.status_code == 202 and response.headers["Location"] == f"/api/runs/{run['runId']}"
    assert run["trigger"] == "http" and run["finishedAt"] is None and run["running"] is True
    again, same = call(verification.runs_start, "POST", "/api/runs")
    assert again.status_code == 202 and same["runId"] == run["runId"]
    work_off(services)
    _, done = call(verification.runs_get, "GET", "/", route_params={"runId": run["runId"]})
    assert (done["total"], done["completed"], done["byStatus"]["succeeded"]) == (3, 3, 3) and done["finishedAt"]
    assert done["running"] is False
    _, recent = call(verification.runs_list, "GET", "/api/runs", params={"top": "5"})
    assert [(r["runId"], r["running"]) for r in recent["runs"]] == [(run["runId"], False)]


def test_the_timer_starts_a_run_with_trigger_timer(services):
    verification.verify_schedule(TimerRequest())
    (fan_out,) = services.work.messages
    assert isinstance(fan_out, FanOut)
    assert services.runs.get(fan_out.run_id).trigger.value == "timer"


def test_verify_one_answers_the_new_view(services):
    response, view = call(verification.status_verify, "POST", "/", route_params={"customerId": "c1"})
    assert response.status_code == 200 and view["lastVerificationStatus"] == "succeeded"
    missing, error = call(verification.status_verify, "POST", "/", route_params={"customerId": "nobody"})
    assert missing.status_code == 404 and error["error"]["code"] == "notFound"


@pytest.mark.parametrize("route_params, params, code", [
    ({"runId": "x/y"}, {}, "invalidRunId"),
    ({"runId": "nope"}, {}, "notFound"),
])
def test_bad_run_requests_are_4xx(services, route_params, params, code):
    response, body = call(verification.runs_get, "GET", "/", route_params=route_params, params=params)
    assert 400 <= response.status_code < 500 and body["error"]["code"] == code


@pytest.mark.parametrize("top", ["0", "101", "abc", "1" * 5000, "-1"])
def test_bad_top_of_runs_is_400(services, top):
    response, body = call(verification.runs_list, "GET", "/api/runs", params={"top": top})
    assert response.status_code == 400 and body["error"]["code"] == "invalidQueryParameter"
