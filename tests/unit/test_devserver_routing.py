"""Route templates and matching of the local host (tools/routing.py), against ASP.NET Core's rules."""
from __future__ import annotations

import pytest

from tools.routing import Matched, MethodNotAllowed, Route, RouteTable, RouteTemplateError, split_path

CONTRACT_ROUTES = [
    ("api/health", ["GET"], "health"),
    ("api/tenants/{customerId}", ["GET", "PUT", "DELETE"], "tenant"),
    ("api/status", ["GET"], "list"),
    ("api/status/{customerId}", ["GET"], "status_one"),
    ("api/status/{customerId}/verify", ["POST"], "verify_one"),
    ("api/status/verify", ["POST"], "verify_all"),
    ("api/status/runs/{runId}", ["GET"], "run"),
    ("authenticate/OAuth2Callback", ["GET", "POST"], "callback"),
]


def table(routes=CONTRACT_ROUTES) -> RouteTable[str]:
    return RouteTable([Route.build(template, methods, target) for template, methods, target in routes])


def resolve(routes, method: str, path: str):
    return table(routes).resolve(method, path)


def target(method: str, path: str, routes=CONTRACT_ROUTES) -> tuple[str, dict[str, str]] | None:
    found = resolve(routes, method, path)
    assert not isinstance(found, MethodNotAllowed), f"{method} {path} answered 405 ({found})"
    return None if found is None else (found.route.target, dict(found.values))


@pytest.mark.parametrize(("method", "path", "expected"), [
    ("POST", "/api/status/verify", ("verify_all", {})),
    ("GET", "/api/status/cust-1", ("status_one", {"customerId": "cust-1"})),
    ("POST", "/api/status/cust-1/verify", ("verify_one", {"customerId": "cust-1"})),
    ("GET", "/api/status/runs/r1", ("run", {"runId": "r1"})),
    ("GET", "/api/status", ("list", {})),
    ("PUT", "/api/tenants/a.b_c-d", ("tenant", {"customerId": "a.b_c-d"})),
    ("GET", "/authenticate/OAuth2Callback", ("callback", {})),
])
def test_contract_routes_reach_their_functions(method, path, expected):
    assert target(method, path) == expected


def test_literal_segment_wins_over_a_parameter_whatever_the_order_of_declaration():
    routes = [("api/status/{customerId}", ["POST"], "param"), ("api/status/verify", ["POST"], "literal")]
    assert target("POST", "/api/status/verify", routes) == ("literal", {})
    assert target("POST", "/api/status/verify", list(reversed(routes))) == ("literal", {})
    assert target("POST", "/api/status/other", routes) == ("param", {"customerId": "other"})


def test_a_literal_route_that_refuses_the_method_leaves_the_parameter_route_to_answer():
    # As in ASP.NET endpoint routing: the method filter runs over every route that matched the path.
    assert target("GET", "/api/status/verify") == ("status_one", {"customerId": "verify"})


def test_precedence_constrained_parameter_then_parameter_then_catch_all():
    routes = [
        ("api/x/{*rest}", None, "catch_all"),
        ("api/x/{value}", None, "param"),
        ("api/x/{value:int}", None, "int"),
        ("api/x/fixed", None, "literal"),
    ]
    assert target("GET", "/api/x/fixed", routes)[0] == "literal"
    assert target("GET", "/api/x/42", routes) == ("int", {"value": "42"})
    assert target("GET", "/api/x/abc", routes) == ("param", {"value": "abc"})
    assert target("GET", "/api/x/a/b", routes) == ("catch_all", {"rest": "a/b"})


def test_literals_are_case_insensitive_and_values_keep_their_case():
    assert target("get", "/API/Status/CustOne") == ("status_one", {"customerId": "CustOne"})
    assert target("GET", "/AUTHENTICATE/oauth2callback") == ("callback", {})


def test_a_trailing_slash_is_ignored_and_extra_segments_do_not_match():
    assert target("GET", "/api/health/") == ("health", {})
    assert target("GET", "/api/health/more") is None
    assert target("GET", "/api") is None
    assert target("GET", "/") is None


def test_route_values_are_percent_decoded_per_segment():
    assert target("GET", "/api/status/caf%C3%A9") == ("status_one", {"customerId": "caf\u00e9"})
    # An encoded slash stays inside its segment, as Kestrel leaves %2F undecoded.
    assert target("GET", "/api/status/a%2Fb") == ("status_one", {"customerId": "a%2Fb"})
    assert split_path("/a//b/") == ["a", "", "b"]


def test_known_path_with_a_wrong_method_reports_every_allowed_method():
    found = resolve(CONTRACT_ROUTES, "PATCH", "/api/tenants/x")
    assert found == MethodNotAllowed(("DELETE", "GET", "PUT"))
    found = resolve(CONTRACT_ROUTES, "DELETE", "/api/status/verify")
    assert isinstance(found, MethodNotAllowed)
    assert set(found.allowed) == {"GET", "POST"}  # the literal route and the parameter route


def test_unknown_path_is_none_and_a_route_without_methods_takes_any():
    assert resolve(CONTRACT_ROUTES, "GET", "/api/nothing") is None
    routes = [("api/any", None, "any")]
    for method in ("GET", "POST", "DELETE", "OPTIONS"):
        assert target(method, "/api/any", routes) == ("any", {})


@pytest.mark.parametrize(("template", "good", "bad"), [
    ("{v:int}", ["0", "-12", "2147483647"], ["2147483648", "1.5", "x"]),
    ("{v:long}", ["9223372036854775807"], ["9223372036854775808"]),
    ("{v:bool}", ["true", "False"], ["yes", "1"]),
    ("{v:guid}", ["8f14e45f-ceea-467f-a0f6-7a4e3c1f2b9a", "{8f14e45f-ceea-467f-a0f6-7a4e3c1f2b9a}"],
     ["8f14e45f", "x"]),
    ("{v:alpha}", ["abcXYZ"], ["abc1"]),
    ("{v:minlength(3)}", ["abc"], ["ab"]),
    ("{v:maxlength(3)}", ["abc"], ["abcd"]),
    ("{v:length(2,3)}", ["ab", "abc"], ["a", "abcd"]),
    ("{v:range(1,10)}", ["1", "10"], ["0", "11", "x"]),
    ("{v:min(5)}", ["5"], ["4"]),
    ("{v:max(5)}", ["5"], ["6"]),
    ("{v:double}", ["1.5", "-2"], ["abc"]),
    ("{v:regex(^[a-z]{{2}}\\d$)}", ["ab1", "AB1"], ["abc1", "ab"]),
    ("{v:int:min(10)}", ["10"], ["9", "x"]),
    ("{v:datetime}", ["2024-05-01", "2024-05-01T10:00:00"], ["yesterday"]),
])
def test_inline_constraints(template, good, bad):
    routes = [(f"api/{template}", None, "t")]
    for value in good:
        assert target("GET", f"/api/{value}", routes) == ("t", {"v": value}), value
    for value in bad:
        assert target("GET", f"/api/{value}", routes) is None, value


def test_optional_default_and_catch_all_parameters():
    routes = [("api/opt/{v?}", None, "opt"), ("api/def/{v=first}", None, "def"),
              ("api/all/{**rest}", None, "all")]
    assert target("GET", "/api/opt", routes) == ("opt", {})
    assert target("GET", "/api/opt/x", routes) == ("opt", {"v": "x"})
    assert target("GET", "/api/def", routes) == ("def", {"v": "first"})
    assert target("GET", "/api/def/second", routes) == ("def", {"v": "second"})
    assert target("GET", "/api/all", routes) == ("all", {})
    assert target("GET", "/api/all/a/b/c", routes) == ("all", {"rest": "a/b/c"})


def test_complex_segments_split_right_to_left_like_aspnet():
    routes = [("api/files/{name}.{ext}", None, "file")]
    expected = ("file", {"name": "report.final", "ext": "pdf"})
    assert target("GET", "/api/files/report.final.pdf", routes) == expected
    assert target("GET", "/api/files/noextension", routes) is None


def test_route_prefix_joined_template_and_leading_slash_or_tilde_are_equivalent():
    for template in ("/api/health", "~/api/health", "api/health/"):
        assert target("GET", "/api/health", [(template, None, "h")]) == ("h", {})


@pytest.mark.parametrize("template", [
    "api/{a}/{a}",            # duplicate name
    "api/{*rest}/more",       # catch-all not last
    "api/{v?}/more",          # optional not last
    "api/{v:unknown}",        # unknown constraint
    "api/{v:minlength(x)}",   # bad constraint argument
    "api/{v",                 # unclosed brace
    "api/v}",                 # stray brace
    "api//x",                 # empty segment
    "api/{a}{b}",             # adjacent parameters
    "api/{v:regex(()}",       # bad regex
])
def test_invalid_templates_are_refused_at_start(template):
    with pytest.raises(RouteTemplateError):
        Route.build(template, None, "t")


def test_escaped_braces_are_literals():
    assert target("GET", "/api/{x}", [("api/{{x}}", None, "literal")]) == ("literal", {})


def test_matched_carries_the_route():
    found = resolve(CONTRACT_ROUTES, "GET", "/api/health")
    assert isinstance(found, Matched) and found.route.template == "api/health"
