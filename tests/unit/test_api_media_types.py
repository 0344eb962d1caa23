"""Every /api/* route reads JSON bodies only (415 unsupportedMediaType otherwise, before anything is read or
stored), and every API answer, errors included, carries X-Content-Type-Options: nosniff. The routes are read
from what the app registers, so a route added later is covered too."""
from __future__ import annotations

import copy
import json

import azure.functions as func
import pytest

from functions import parsing
from functions.http import error_status
from shared.domain.errors import InputError
from tests.support.registry import registered_functions

BODY_METHODS = {"POST", "PUT", "PATCH"}
ROUTE_VALUES = {"customerId": "c1", "runId": "r1", "channelId": "ch1"}
# What a page on another site can send without the browser asking first, and other types that are not JSON.
NOT_JSON = ["text/plain", "text/plain; charset=utf-8", "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x", "application/json; charset=latin-1", "application/jsonp", "text/json"]


def api_operations() -> list[tuple[str, str, object]]:
    found = []
    for function in registered_functions():
        trigger = function.get_trigger()
        if trigger.get_binding_name() == "httpTrigger" and trigger.route.startswith("api/"):
            found += [(trigger.route, method.value, function.get_user_function()) for method in trigger.methods]
    return sorted(found, key=lambda op: op[:2])


def request(route: str, method: str, *, body: bytes = b"", content_type: str | None = None) -> func.HttpRequest:
    params = {name: value for name, value in ROUTE_VALUES.items() if "{" + name + "}" in route}
    url = "/" + route.format(**params)
    return func.HttpRequest(method, url, body=body, route_params=params,
                            headers={"Content-Type": content_type} if content_type else {})


def stored(services) -> tuple:
    return (copy.deepcopy(services.customers.customers), copy.deepcopy(services.secrets.stored),
            services.provider_settings.get(), dict(services.runs.runs), list(services.work.messages))


BODY_OPERATIONS = [op for op in api_operations() if op[1] in BODY_METHODS]


def test_the_routes_that_take_a_body_are_all_found():
    assert {(route, method) for route, method, _ in BODY_OPERATIONS} >= {
        ("api/tenants/{customerId}", "PUT"), ("api/settings", "PUT"), ("api/consent/{customerId}", "POST"),
        ("api/runs", "POST"), ("api/status/{customerId}/verify", "POST")}


@pytest.mark.parametrize("route, method, handler", BODY_OPERATIONS, ids=[f"{m} {r}" for r, m, _ in BODY_OPERATIONS])
@pytest.mark.parametrize("content_type", [*NOT_JSON, None])
def test_a_body_that_is_not_said_to_be_json_is_refused_with_415_and_changes_nothing(
        services, route, method, handler, content_type):
    body = json.dumps({"tenantId": "72f988bf-86f1-41af-91ab-2d7cd011db47", "authenticationMethod": "token"}).encode()
    before = stored(services)
    response = handler(request(route, method, body=body, content_type=content_type))
    assert response.status_code == 415, (content_type, response.get_body())
    error = json.loads(response.get_body())["error"]
    assert error["code"] == "unsupportedMediaType" and "application/json" in error["message"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert stored(services) == before


@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded"])
def test_a_form_type_is_refused_even_without_a_body(services, content_type):
    """A cross-site form posts an empty body with its form type: Verify All and verify one refuse it too."""
    for route, method, handler in BODY_OPERATIONS:
        response = handler(request(route, method, content_type=content_type))
        assert response.status_code == 415, (route, method)


def test_a_route_without_a_body_still_answers_without_a_content_type(services):
    (start,) = [handler for route, method, handler in BODY_OPERATIONS if (route, method) == ("api/runs", "POST")]
    assert start(request("api/runs", "POST")).status_code == 202


@pytest.mark.parametrize("route, method, handler", api_operations(), ids=[f"{m} {r}" for r, m, _ in api_operations()])
def test_every_api_answer_carries_nosniff(services, route, method, handler):
    for content_type in (None, "application/json", "text/plain"):  # answers, errors and refusals alike
        response = handler(request(route, method, content_type=content_type))
        assert response.headers.get("X-Content-Type-Options") == "nosniff", (route, method, response.status_code)


@pytest.mark.parametrize("content_type, has_body", [
    ("application/json", True), ("application/json; charset=utf-8", True), ('Application/JSON;Charset="UTF-8"', True),
    ("application/json ; charset=utf-8 ; q=1", True), ("application/json", False), (None, False), ("", False),
])
def test_json_is_accepted_with_its_parameters(content_type, has_body):
    parsing.json_content_type(content_type, has_body=has_body)


@pytest.mark.parametrize("content_type, has_body", [
    *[(value, True) for value in NOT_JSON], (None, True), ("", True), ("application/json; charset", True),
    ("application/json, text/plain", True), ("text/plain", False),
])
def test_anything_else_is_unsupported(content_type, has_body):
    with pytest.raises(InputError) as refused:
        parsing.json_content_type(content_type, has_body=has_body)
    assert (refused.value.code, error_status(refused.value)) == ("unsupportedMediaType", 415)


def test_openapi_documents_the_415_of_every_route_that_takes_a_body():
    from tests.unit.test_openapi import SPEC

    for route, method, _ in BODY_OPERATIONS:
        assert "415" in SPEC["paths"]["/" + route][method.lower()]["responses"], (route, method)
