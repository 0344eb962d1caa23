"""The pooled sessions read proxies and the CA bundle from the environment once, as requests would per request."""
from __future__ import annotations

import http.server
import ssl
import threading

import pytest
import requests
import trustme
import urllib3

from shared.adapters.graph_reader import HttpGraphReader
from shared.adapters.http_sessions import pool_manager, pooled_session, use_environment_proxies
from shared.adapters.msal_platform import MsalIdentityPlatform
from shared.adapters.storage_clients import table_service_from_config
from shared.config import StorageConfig

ACCOUNT = ("DefaultEndpointsProtocol=https;AccountName=acct;AccountKey=a2V5;"
           "TableEndpoint=https://acct.table.core.windows.net;")


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch):
    for name in ("HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy", "NO_PROXY", "no_proxy",
                 "ALL_PROXY", "all_proxy", "REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
        monkeypatch.delenv(name, raising=False)


def test_the_environment_is_read_once_when_the_session_is_made(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/etc/ssl/corporate.pem")
    session = pooled_session(8)
    use_environment_proxies(session, "https://login.microsoftonline.com")
    assert session.trust_env is False  # requests no longer reads the environment per request
    assert session.verify == "/etc/ssl/corporate.pem"
    assert session.proxies == requests.utils.get_environ_proxies("https://login.microsoftonline.com")
    assert session.proxies["https"] == "http://proxy.example:3128"
    assert session.get_adapter("https://login.microsoftonline.com/")._pool_maxsize == 8


def test_no_proxy_and_no_bundle_are_honoured(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,.table.core.windows.net")
    session = pooled_session(2)
    use_environment_proxies(session, "https://acct.table.core.windows.net")
    assert "https" not in session.proxies and session.verify is True


def test_the_storage_and_identity_clients_take_these_settings(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("CURL_CA_BUNDLE", "/etc/ssl/corporate.pem")
    client = table_service_from_config(StorageConfig(connection_string=ACCOUNT), pool_size=4)
    transport = client._client._client._pipeline._transport
    assert transport.session.trust_env is False
    assert transport.session.proxies["https"] == "http://proxy.example:3128"
    assert transport.connection_config.verify == "/etc/ssl/corporate.pem"
    platform = MsalIdentityPlatform("https://login.microsoftonline.com", delegated_scopes=("s",),
                                    application_scope="s", pool_size=4)
    assert platform._session.proxies["https"] == "http://proxy.example:3128"
    assert platform._session.verify == "/etc/ssl/corporate.pem"


def test_graphs_connections_take_the_proxy_and_the_bundle_the_environment_gives_once(monkeypatch, tmp_path):
    authority = trustme.CA()
    bundle = tmp_path / "corporate.pem"
    authority.cert_pem.write_to_path(str(bundle))
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(bundle))
    reader = HttpGraphReader("https://graph.microsoft.com", pool_size=8)
    monkeypatch.setenv("HTTPS_PROXY", "http://another.example:3128")  # read when the reader was made, not later
    bundle.write_text("")  # and so is the bundle: one TLS context, loaded once, for every connection
    manager = reader._http
    assert isinstance(manager, urllib3.ProxyManager) and manager.proxy.url == "http://proxy.example:3128"
    options = manager.connection_pool_kw
    context = options["ssl_context"]
    assert "ca_certs" not in options and options["maxsize"] == 8
    expected = ssl.create_default_context(cadata=authority.cert_pem.bytes().decode()).get_ca_certs()
    assert context.get_ca_certs() == expected and expected
    assert (context.verify_mode, context.check_hostname) == (ssl.CERT_REQUIRED, True)


def test_graphs_connections_honour_no_proxy_and_default_to_the_bundle_requests_uses(monkeypatch):
    monkeypatch.setenv("HTTPS_PROXY", "http://proxy.example:3128")
    monkeypatch.setenv("NO_PROXY", "graph.microsoft.com")
    manager = pool_manager("https://graph.microsoft.com", 2)
    assert not isinstance(manager, urllib3.ProxyManager)
    expected = ssl.create_default_context(cafile=requests.utils.DEFAULT_CA_BUNDLE_PATH).get_ca_certs()
    assert manager.connection_pool_kw["ssl_context"].get_ca_certs() == expected


@pytest.mark.parametrize("request_", [
    requests.Request("POST", "https://login.example/tenant/oauth2/v2.0/token", data={"grant_type": "client_credentials",
                     "scope": "https://graph.microsoft.com/.default"}, headers={"Accept": "application/json"}),
    requests.Request("GET", "https://login.example/t/v2.0/.well-known/openid-configuration", params={"a": "b c"}),
    requests.Request("PATCH", "https://acct.table.example/T(PartitionKey='p',RowKey='a')", json={"n": 1},
                     headers={"If-Match": 'W/"x"', "User-Agent": "azsdk", "Accept-Encoding": None}),
    requests.Request("POST", "https://acct.table.example/$batch", data=b"--batch\r\n", headers={"x-ms-version": "1"}),
])
def test_a_service_session_prepares_a_request_as_requests_does(request_):
    ours, theirs = pooled_session(2), requests.Session()
    ours_prepared, theirs_prepared = ours.prepare_request(request_), theirs.prepare_request(request_)
    assert (ours_prepared.method, ours_prepared.url, ours_prepared.body) == (
        theirs_prepared.method, theirs_prepared.url, theirs_prepared.body)
    assert dict(ours_prepared.headers) == dict(theirs_prepared.headers)


def test_a_service_session_keeps_and_sends_no_cookie():
    seen = []

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - the standard library's name
            seen.append(self.headers.get("Cookie"))
            self.send_response(200)
            self.send_header("Set-Cookie", "affinity=server-7; Path=/")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        session, url = pooled_session(2), f"http://127.0.0.1:{server.server_address[1]}/"
        assert session.get(url, timeout=5).cookies.get("affinity") == "server-7"  # the service did set one
        session.get(url, timeout=5)
    finally:
        server.shutdown()
        server.server_close()
    assert seen == [None, None] and len(session.cookies) == 0


def test_a_pooled_client_keeps_the_time_outs_it_was_given():
    client = table_service_from_config(StorageConfig(connection_string=ACCOUNT), pool_size=4, connection_timeout=3,
                                       read_timeout=7)
    config = client._client._client._pipeline._transport.connection_config
    assert (config.timeout, config.read_timeout) == (3, 7)  # not the SDK's 300 s: a transport given keeps its own
