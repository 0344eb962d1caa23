"""The function key, as in Azure: the API answers 401 without one. The page asks once (whatever number of calls
met the 401), asks again when the key is refused, keeps it in session storage only, and sends x-functions-key.

The local host does not check keys (neither does `func start`), so this stands in for the Functions host: the
page's own handlers serve the page, and /api/* answers 401 unless the key is right."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import SimpleNamespace
from urllib.parse import urlsplit

import azure.functions as func
import pytest

from functions import page as page_functions
from tools.httpserver import reply_from

KEY = "a-function-key-0123456789"
VIEW = {"customerId": "zulu", "tenantId": "zulu.onmicrosoft.com", "m365Email": None,
        "authenticationMethod": "token", "whenLastVerified": None, "lastVerificationStatus": "notVerified",
        "lastVerificationReason": None, "lastVerificationMessage": None, "aadstsCode": None, "hint": None,
        "secretsConfigured": [], "pendingConsent": None}
ANSWERS = {
    "/api/status": {"generatedAt": "2026-01-01T00:00:00Z", "continuationToken": None, "tenants": [VIEW],
                    "summary": {"total": 1, "byStatus": {"notVerified": 1, "succeeded": 0, "failed": 0}}},
    "/api/runs": {"runs": []},
    "/api/settings": {"clientId": "6d6d6d6d-2222-4333-8444-a55555555555", "redirectUrl": None,
                      "clientSecretConfigured": True, "updatedAt": None},
}
# Counts the key prompts the page opens, in every document, before the page's own script runs.
COUNT_PROMPTS = ("window.__keyPrompts = 0; const show = HTMLDialogElement.prototype.showModal;"
                 "HTMLDialogElement.prototype.showModal = function () {"
                 "  if (this.id === 'key-dialog') window.__keyPrompts += 1; return show.call(this); };")


class KeyedHost(BaseHTTPRequestHandler):
    keys_seen: list[str | None] = []

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        path = urlsplit(self.path).path
        if path.startswith("/api/"):
            key = self.headers.get("x-functions-key")
            self.keys_seen.append(key)
            if key != KEY:
                return self._send(401, [], b"")
            body = json.dumps(ANSWERS[path]).encode()
            return self._send(200, [("Content-Type", "application/json")], body)
        request = func.HttpRequest("GET", self.path, headers=dict(self.headers), body=b"",
                                   route_params={"file": path.removeprefix("/page/")})
        reply = reply_from(page_functions.page(request) if path == "/" else page_functions.page_file(request))
        self._send(reply.status, reply.headers, reply.body)

    def _send(self, status: int, headers, body: bytes) -> None:
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def keyed_host():
    server = ThreadingHTTPServer(("127.0.0.1", 0), KeyedHost)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    KeyedHost.keys_seen = []
    yield SimpleNamespace(base_url=f"http://127.0.0.1:{server.server_address[1]}")
    server.shutdown()
    server.server_close()


def test_the_key_is_asked_once_kept_for_the_tab_and_sent(keyed_host, open_page):
    page = open_page(keyed_host, before_load=COUNT_PROMPTS, ready=False)
    page.wait_visible("key-dialog")
    assert page.by_id("key-title").text == "Function key needed"
    assert page.driver.switch_to.active_element.get_attribute("id") == "key-input"
    page.type_into("key-input", "a-wrong-key")
    page.by_id("key-form").submit()
    page.wait_text("key-title", "That function key was refused")
    page.wait_visible("key-dialog")
    page.type_into("key-input", KEY)
    page.by_id("key-form").submit()
    page.wait_rows({"zulu"}, "the customers, read with the key")
    page.wait_hidden("key-dialog")
    assert page.by_id("clientSecret-state").text.startswith("A client secret is set")
    # Three calls met each 401 at once, yet the person was asked once per key.
    assert page.driver.execute_script("return window.__keyPrompts") == 2
    assert page.driver.execute_script("return sessionStorage.getItem('tas.functionKey')") == KEY
    assert page.driver.execute_script("return localStorage.length + document.cookie.length") == 0
    assert KeyedHost.keys_seen[-3:] == [KEY] * 3
    # A reload in the same tab uses the kept key without asking.
    page.driver.refresh()
    page.wait_rows({"zulu"}, "the customers after a reload")
    assert page.driver.execute_script("return window.__keyPrompts") == 0
    assert page.console_errors(expected_api_errors=("/api/",)) == []  # the 401s are how Azure asks
