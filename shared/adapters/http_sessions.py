"""Pooled HTTP sessions that read the environment once.

A requests session that trusts the environment reads it again on every request (proxies and NO_PROXY,
REQUESTS_CA_BUNDLE / CURL_CA_BUNDLE, ~/.netrc), and several requests go out per customer verified. Each session
here talks to one service, so the same settings are read once, when it is made.
"""
from __future__ import annotations

import http.cookiejar
import os
from urllib.parse import urlsplit

import requests
import urllib3
from azure.core.pipeline.transport import RequestsTransport
from requests.adapters import HTTPAdapter
from requests.structures import CaseInsensitiveDict
from requests.utils import DEFAULT_CA_BUNDLE_PATH, get_environ_proxies
from urllib3.util import create_urllib3_context

_NO_COOKIES = http.cookiejar.DefaultCookiePolicy(allowed_domains=[])  # a service's cookies are not kept


class ServiceSession(requests.Session):
    """A session for one service's API, which sets no cookie and needs no session-wide auth or query: a request is
    prepared with the session's headers alone, without requests' merging of cookie jars, auth and hooks (which
    costs about as much CPU again as the preparing itself). Cookies a service sets are neither kept nor sent."""

    def prepare_request(self, request: requests.Request) -> requests.PreparedRequest:
        headers = CaseInsensitiveDict(self.headers)
        for name, value in (request.headers or {}).items():
            if value is None:  # as requests does: None removes a session header
                headers.pop(name, None)
            else:
                headers[name] = value
        prepared = requests.PreparedRequest()
        prepared.prepare(method=request.method, url=request.url, headers=headers, files=request.files,
                         data=request.data, json=request.json, params=request.params, auth=request.auth,
                         hooks=request.hooks)
        return prepared


def pooled_session(pool_size: int) -> requests.Session:
    """A session keeping up to `pool_size` connections per host, with the CA bundle the environment names.
    Call `use_environment_proxies` once its service's URL is known."""
    session = ServiceSession()
    session.cookies.set_policy(_NO_COOKIES)
    adapter = HTTPAdapter(pool_connections=4, pool_maxsize=max(pool_size, 1), max_retries=0)
    session.mount("https://", adapter)
    session.mount("http://", adapter)
    session.trust_env = False
    session.verify = ca_bundle()
    return session


def pooled_transport(pool_size: int, *, verify: bool | str | None = None, **timeouts: float) -> RequestsTransport:
    """An Azure SDK transport over a pooled session (the SDK's own keeps 10 connections per host): certificates
    checked against `verify`, else the environment's CA bundle; `timeouts` (connection_timeout, read_timeout) as
    the SDK's transport takes them. Call `use_environment_proxies` on its session once the service's URL is known."""
    session = pooled_session(pool_size)
    return RequestsTransport(session=session, session_owner=False,
                             connection_verify=verify if verify is not None else session.verify, **timeouts)


def pool_manager(url: str, pool_size: int) -> urllib3.PoolManager:
    """urllib3 connections to the service at `url`, without the requests layer (hooks, cookies and adapters a client
    that needs none of them would pay for on every request): up to `pool_size` kept, certificates and host names
    checked against the CA bundle requests would use, through the proxy the environment gives `url`.

    One TLS context, its CA bundle loaded once: given a bundle's path instead, urllib3 makes a context and loads the
    bundle for every new connection, which OpenSSL 3 is slow to do (README, "Verify All throughput")."""
    verify = ca_bundle()
    bundle = verify if isinstance(verify, str) else DEFAULT_CA_BUNDLE_PATH
    context = create_urllib3_context()  # TLS 1.2 or later, certificate and host name required
    context.load_verify_locations(**({"capath": bundle} if os.path.isdir(bundle) else {"cafile": bundle}))
    options = {"maxsize": max(pool_size, 1), "block": False, "ssl_context": context}
    proxy = get_environ_proxies(url).get(urlsplit(url).scheme.lower())
    return urllib3.ProxyManager(proxy, **options) if proxy else urllib3.PoolManager(**options)


def use_environment_proxies(session: requests.Session, url: str) -> None:
    """The proxies the environment gives `url` (HTTPS_PROXY, HTTP_PROXY, NO_PROXY), as requests would find them."""
    session.proxies = get_environ_proxies(url)


def ca_bundle() -> str | bool:
    """The CA bundle requests itself takes from the environment (REQUESTS_CA_BUNDLE, CURL_CA_BUNDLE); True, its
    own, when none is named. Asked of requests, so its rules apply, not a copy of them."""
    with requests.Session() as probe:
        return probe.merge_environment_settings("https://ca-bundle.invalid/", {}, None, None, None)["verify"]
