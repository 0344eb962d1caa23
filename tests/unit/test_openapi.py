"""openapi.yaml and the registered functions describe the same routes, so neither can drift."""
from pathlib import Path

import yaml

import function_app
from functions.page import ROOT_ROUTE
from tests.support.registry import http_operations

SPEC = yaml.safe_load((Path(function_app.__file__).parent / "openapi.yaml").read_text())
HTTP_METHODS = {"get", "put", "post", "delete", "patch"}
ANONYMOUS = {"/api/health", "/authenticate/OAuth2Callback", "/", "/page/{file}"}


def registered_operations():
    # The page's root route is a template only the empty path matches: the spec calls it "/".
    return {("/" + ("" if route == ROOT_ROUTE else route), method.lower()) for route, method in http_operations()}


def documented_operations():
    return {(path, method) for path, item in SPEC["paths"].items() for method in item if method in HTTP_METHODS}


def test_spec_is_openapi_3_1():
    assert SPEC["openapi"].startswith("3.1")


def test_documented_paths_and_methods_are_exactly_the_registered_ones():
    assert documented_operations() == registered_operations()


def test_every_operation_documents_its_errors_and_security():
    for path, item in SPEC["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            codes = set(operation["responses"])
            assert any(code.startswith("2") for code in codes), (path, method)
            if path in ANONYMOUS:
                assert operation["security"] == [], (path, method)
                if path == "/authenticate/OAuth2Callback":
                    assert "400" in codes
            elif path == "/api/keycheck":  # the host answers it, 204 or 401; nothing there to send wrong
                assert codes == {"204", "401"} and "security" not in operation
            elif path == "/api/me":  # no input, and open to any caller the edge lets in
                assert codes == {"200", "401", "503"} and "security" not in operation
            else:
                assert {"400", "401", "403"} <= codes and "security" not in operation, (path, method)


def test_every_reference_resolves():
    def refs(node):
        if isinstance(node, dict):
            for key, value in node.items():
                if key == "$ref":
                    yield value
                else:
                    yield from refs(value)
        elif isinstance(node, list):
            for value in node:
                yield from refs(value)

    for ref in refs(SPEC):
        target = SPEC
        for part in ref.removeprefix("#/").split("/"):
            target = target[part]
        assert target, ref
