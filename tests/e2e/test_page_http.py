"""The page over plain HTTP from the local host: its types and headers, every file it refers to served, nothing
else served, no data in it, and the API's JSON 404 kept for unknown /api/* paths."""
from __future__ import annotations

import re
import uuid

import pytest
import requests

pytestmark = pytest.mark.e2e

CSP = ("default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; "
       "base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
TYPES = {".css": "text/css; charset=utf-8", ".js": "application/javascript", ".svg": "image/svg+xml"}


def check_headers(response: requests.Response) -> None:
    headers = response.headers
    assert headers["Content-Security-Policy"] == CSP
    assert headers["X-Content-Type-Options"] == "nosniff"
    assert headers["Referrer-Policy"] == "no-referrer"
    assert headers["Cache-Control"] == "no-cache"


def referenced_files(app) -> set[str]:
    """Every /page/ file the page loads: from the HTML, the scripts' imports and the stylesheet's url()s."""
    html = requests.get(app.url("/"), timeout=30).text
    found = set(re.findall(r'(?:src|href)="page/([^"]+)"', html))
    pending = list(found)
    while pending:
        name = pending.pop()
        text = requests.get(app.url(f"/page/{name}"), timeout=30).text
        more = set(re.findall(r'from "\./([^"]+)"', text)) | set(re.findall(r'url\("([^"]+)"\)', text))
        pending += sorted(more - found)
        found |= more
    return found


def test_the_page_is_html_with_strict_headers_and_holds_no_data(app):
    customer = f"pagehttp-{uuid.uuid4().hex[:8]}"
    body = {"tenantId": "pagehttp.onmicrosoft.com", "authenticationMethod": "token"}
    assert requests.put(app.url(f"/api/tenants/{customer}"), json=body, timeout=30).status_code == 201
    response = requests.get(app.url("/"), timeout=30)
    assert response.status_code == 200
    assert response.headers["Content-Type"] == "text/html; charset=utf-8"
    check_headers(response)
    assert "<title>Authentication Status" in response.text and customer not in response.text
    assert requests.get(app.url("/"), headers={"If-None-Match": response.headers["ETag"]},
                        timeout=30).status_code == 304
    assert requests.post(app.url("/"), timeout=30).status_code == 404  # as the Functions host: no route takes it


def test_every_file_the_page_loads_is_served_with_its_type(app):
    files = referenced_files(app)
    assert {"app.js", "app.css", "api.js", "favicon.svg", "icon-failed.svg"} <= files
    for name in sorted(files):
        response = requests.get(app.url(f"/page/{name}"), timeout=30)
        assert response.status_code == 200, name
        assert response.headers["Content-Type"] == TYPES["." + name.rsplit(".", 1)[1]], name
        check_headers(response)


@pytest.mark.parametrize("path", ["/page/nope.js", "/page/index.html", "/page/..%2Ffunction_app.py",
                                  "/page/%2e%2e%2fhost.json", "/page/local.settings.json"])
def test_nothing_else_is_served_from_the_folder(app, path):
    response = requests.get(app.url(path), timeout=30)
    assert response.status_code == 404 and response.headers["Content-Type"].startswith("application/json")
    assert response.json()["error"]["code"] == "notFound"


@pytest.mark.parametrize("path", ["/api/nope", "/api/", "/api/status/a/b/c", "/dashboard", "/index.html"])
def test_unknown_paths_answer_the_hosts_empty_404(app, path):
    response = requests.get(app.url(path), timeout=30)
    assert response.status_code == 404 and response.content == b""  # no function runs: the host answers
