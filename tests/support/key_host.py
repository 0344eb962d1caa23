"""A stand-in for the Functions host's key check on loopback: GET /api/keycheck answers 204 to the one key it
holds (header x-functions-key or query `code`), 401 to any other, as the host answers a FUNCTION-level route."""
from __future__ import annotations

import socketserver
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

from tests.support.serving import ServedInThread


class KeyHost(ServedInThread):
    thread_name = "key-host"

    def __init__(self, key: str) -> None:
        self.key = key
        self.asked: list[str] = []  # every key asked about, in order

    @property
    def hostname(self) -> str:
        """As WEBSITE_HOSTNAME names a host: host:port."""
        return f"127.0.0.1:{self.port}"

    def _make_server(self) -> socketserver.BaseServer:
        host = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 (http.server's name)
                target = urlsplit(self.path)
                key = self.headers.get("x-functions-key") or parse_qs(target.query).get("code", [""])[0]
                host.asked.append(key)
                status = 204 if target.path == "/api/keycheck" and key == host.key else 401
                self.send_response(status)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        return ThreadingHTTPServer(("127.0.0.1", 0), Handler)
