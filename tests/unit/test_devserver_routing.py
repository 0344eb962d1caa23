"""Route templates and matching of the local host (tools/routing.py), as the Functions host matches routes:
in registration order, and refusing at start-up what it refuses."""
from __future__ import annotations

from pathlib import Path

import pytest

from tests.support.registry import registered_functions
from tools.devserver import plan_functions
from tools.hostconfig import load_host_config
from tools.routing import RouteError, RouteTable, split_path

REPO = Path(__file__).resolve().parents[2]


def table(*routes: tuple[str, list[str] | None], prefix: str = "api") -> RouteTable:
    routes_table = RouteTable(prefix)
    for index, (route, methods) in enumerate(routes):
        routes_table.add(f"f{index}", route, methods, f"target{index}")
    return routes_table


def target(routes: RouteTable, method: str, path: str) -> tuple[str, dict[str, str]] | None:
    found = routes.resolve(method, path)
    return None if found is None else (found.route.target, dict(found.values))


@pytest.mark.parametrize(("method", "path", "function"), [
    ("GET", "/", "page"), ("GET", "", "page"), ("GET", "/page/app.js", "page_file"),
    ("GET", "/api/health", "health"), ("PUT", "/api/tenants/c-1", "tenants_put"),
    ("GET", "/api/tenants/c-1", "tenants_get"), ("DELETE", "/api/tenants/c-1", "tenants_delete"),
    ("GET", "/api/status", "status_list"), ("GET", "/api/status/c-1", "status_get"),
    ("POST", "/api/status/c-1/verify", "status_verify"), ("POST", "/api/runs", "runs_start"),
    ("GET", "/api/runs", "runs_list"), ("GET", "/api/runs/r-1", "runs_get"), ("PUT", "/api/settings", "settings_put"),
    ("POST", "/api/consent/c-1", "consent_start"), ("POST", "/authenticate/OAuth2Callback", "consent_callback"),
    ("POST", "/", None), ("GET", "/api", None), ("GET", "/dashboard", None), ("PATCH", "/api/status", None),
    ("GET", "/api/status/c-1/verify", None), ("GET", "/page", None),
])
def test_the_apps_routes_reach_their_functions_under_the_apps_host_json(method, path, function):
    routes = plan_functions(registered_functions(), load_host_config(REPO / "host.json")).routes
    found = routes.resolve(method, path)
    assert (found.route.name if found else None) == function


def test_routes_match_in_registration_order_not_by_specificity():
    parameter_first = table(("status/{customerId}", ["POST"]), ("status/verify", ["POST"]))
    assert target(parameter_first, "POST", "/api/status/verify") == ("target0", {"customerId": "verify"})
    literal_first = table(("status/verify", ["POST"]), ("status/{customerId}", ["POST"]))
    assert target(literal_first, "POST", "/api/status/verify") == ("target0", {})
    assert target(literal_first, "POST", "/api/status/other") == ("target1", {"customerId": "other"})


def test_a_route_that_refuses_the_method_leaves_the_next_route_to_answer():
    routes = table(("status/verify", ["POST"]), ("status/{customerId}", ["GET"]), ("any/{thing}", None))
    assert target(routes, "GET", "/api/status/verify") == ("target1", {"customerId": "verify"})
    assert target(routes, "PATCH", "/api/status/verify") is None
    assert target(routes, "m-search", "/api/any/x") == ("target2", {"thing": "x"})  # no methods: every method


def test_literals_ignore_case_values_keep_it_and_one_trailing_slash_is_ignored():
    routes = table(("Tenants/{customerId}", ["get"]))
    assert target(routes, "GET", "/API/tenants/MiXeD/") == ("target0", {"customerId": "MiXeD"})
    assert target(routes, "GET", "/api/tenants/a/b") is None
    assert target(routes, "GET", "/api/tenants//") is None


def test_values_are_percent_decoded_per_segment_but_an_encoded_slash_stays_as_sent():
    assert split_path("/api/tenants/caf%C3%A9%20x/") == ["api", "tenants", "caf\u00e9 x"]
    assert split_path("/api/tenants/a%2Fb%2fc") == ["api", "tenants", "a%2Fb%2fc"]
    assert split_path("/api/status?x=%2F") == ["api", "status"]


def test_an_optional_last_parameter_with_length_bounds():
    routes = table(("{root:maxlength(0)?}", ["GET"]), ("code/{code:minlength(2):maxlength(3)}", None), prefix="")
    assert target(routes, "GET", "/") == ("target0", {})
    assert target(routes, "GET", "/x") is None  # longer than 0 characters
    assert target(routes, "GET", "/code/ab") == ("target1", {"code": "ab"})
    assert target(routes, "GET", "/code/a") is None and target(routes, "GET", "/code/abcd") is None


@pytest.mark.parametrize("route", ["admin", "admin/keys", "Administration/x", "runtime/webhooks", "/RUNTIME"])
def test_routes_under_the_hosts_own_admin_and_runtime_space_are_refused(route):
    with pytest.raises(RouteError, match="conflicts with the host's built-in routes"):
        table((route, ["GET"]))


@pytest.mark.parametrize(("first", "second"), [
    (["GET"], ["get", "POST"]), (None, ["DELETE"]), (["PUT"], None), (None, None)])
def test_the_same_template_with_a_method_in_common_is_refused(first, second):
    with pytest.raises(RouteError, match="conflicts with the route of function 'f0'"):
        table(("tenants/{customerId}", first), ("/Tenants/{customerId}/", second))


def test_the_same_template_with_other_methods_is_another_function():
    routes = table(("tenants/{customerId}", ["GET"]), ("tenants/{customerId}", ["PUT", "DELETE"]))
    assert target(routes, "DELETE", "/api/tenants/c") == ("target1", {"customerId": "c"})


@pytest.mark.parametrize("route", ["files/{*path}", "items/{id:int}", "a/{x}.{y}", "{a?}/b", "x/{b=1}", "x/{"])
def test_templates_beyond_what_the_app_uses_are_refused_with_their_reason(route):
    with pytest.raises(RouteError):
        table((route, ["GET"]))
