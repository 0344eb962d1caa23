"""PortPreservingSession: the HTTP client to give MSAL when the authority is not on port 443.

MSAL's username/password flow first asks `https://<authority hostname>/common/userrealm/<user>` and builds that
URL from the hostname alone, dropping the port (msal/authority.py, `user_realm_discovery`). Against a simulator
on https://127.0.0.1:PORT that request would go to port 443 and fail. This session sends any request for the
authority's scheme and hostname that carries NO port to the authority's port; every other URL is left alone.

    session = PortPreservingSession("https://127.0.0.1:8443", verify=ca_bundle, timeout=10)
    app = msal.ConfidentialClientApplication(client_id, client_credential=secret,
                                             authority="https://127.0.0.1:8443/contoso.onmicrosoft.com",
                                             instance_discovery=False, http_client=session)

MSAL applies no timeout to an `http_client` it is given, so the session carries one (`timeout`, default 30 s).
`verify` (a CA bundle path) is honoured even when REQUESTS_CA_BUNDLE is set; left None, the environment decides.
Against login.microsoftonline.com (port 443) nothing is rewritten.
"""
from __future__ import annotations

import logging
import os
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import requests
from requests.adapters import HTTPAdapter

logger = logging.getLogger(__name__)

Timeout = float | tuple[float, float] | None


class PortPreservingSession(requests.Session):
    def __init__(
        self, authority_host: str, *, timeout: Timeout = 30.0, verify: str | os.PathLike[str] | bool | None = None,
        pool_maxsize: int = 10,
    ) -> None:
        super().__init__()
        parts = urlsplit(authority_host)
        if parts.scheme != "https" or not parts.hostname:
            raise ValueError(f"authority_host must be an https URL, got {authority_host!r}")
        self._scheme, self._hostname, self._port = parts.scheme, parts.hostname.casefold(), parts.port
        self._timeout = timeout
        if verify is not None:
            self.verify = os.fspath(verify) if not isinstance(verify, bool) else verify
        # A pool as large as the concurrency the caller plans, so parallel token requests reuse connections.
        self.mount("https://", HTTPAdapter(pool_connections=4, pool_maxsize=pool_maxsize))

    def rewrite(self, url: str) -> str:
        """`url` with the authority's port added when it names the authority's host without a port."""
        parts = urlsplit(url)
        if (self._port is None or parts.scheme != self._scheme or parts.port is not None
                or (parts.hostname or "").casefold() != self._hostname):
            return url
        return urlunsplit(parts._replace(netloc=f"{parts.netloc}:{self._port}"))

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self._timeout
        if kwargs.get("verify") is None:
            # requests lets REQUESTS_CA_BUNDLE override Session.verify (psf/requests#3829); a per-request
            # verify wins over the environment, so the session's own trust holds.
            kwargs["verify"] = self.verify
        target = self.rewrite(url.decode() if isinstance(url, bytes) else url)
        return super().request(method, target, *args, **kwargs)
