"""IdentityPlatform on MSAL: a fresh ConfidentialClientApplication (and token cache) per attempt, so no cached
token or replayed answer hides the platform's own, over one shared HTTP session and one discovery cache, with
the retry policy of the design.
"""
from __future__ import annotations

import base64
import json
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit

import msal
import requests
from msal.exceptions import MsalServiceError

from ..domain.reasons import Reason
from ..domain.verification import AppCredential, TokenAnswer
from .http_sessions import pooled_session, use_environment_proxies
from .retries import DEFAULT_POLICY, Retrying, RetryPolicy, retry_after

logger = logging.getLogger(__name__)

DISCOVERY_TTL = 3600.0
DISCOVERY_ENTRIES = 4096  # documents kept: memory stays bounded
_DISCOVERY_PATHS = ("/.well-known/openid-configuration", "/common/userrealm/")


class MsalIdentityPlatform:
    """Implements ports.IdentityPlatform."""

    def __init__(
        self,
        authority_host: str,
        *,
        delegated_scopes: tuple[str, ...],
        application_scope: str,
        pool_size: int,
        policy: RetryPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._host = authority_host.rstrip("/")
        self._delegated = list(delegated_scopes)
        self._application = [application_scope]
        self._policy = policy
        self._retrying = Retrying(policy, sleep=sleep)
        self._session = pooled_session(max(pool_size, 4))
        use_environment_proxies(self._session, self._host)
        self._discovery = _DiscoveryCache()

    def close(self) -> None:
        """Close the shared session's pooled connections."""
        self._session.close()

    def with_password(
        self, *, tenant: str, app: AppCredential, username: str, password: str, deadline: float
    ) -> TokenAnswer:
        return self._claim(tenant, app, deadline, lambda client: client.acquire_token_by_username_password(
            username, password, scopes=self._delegated))

    def with_refresh_token(
        self, *, tenant: str, app: AppCredential, refresh_token: str, deadline: float
    ) -> TokenAnswer:
        return self._claim(tenant, app, deadline, lambda client: client.acquire_token_by_refresh_token(
            refresh_token, scopes=self._delegated))

    def with_client_credentials(self, *, tenant: str, app: AppCredential, deadline: float) -> TokenAnswer:
        return self._claim(tenant, app, deadline, lambda client: client.acquire_token_for_client(
            scopes=self._application))

    @property
    def authority_host(self) -> str:
        return self._host

    def application(self, tenant: str, app: AppCredential, *, timeout: float | None = None) -> Any:
        """A fresh MSAL application (and token cache) for one tenant, over the shared session."""
        http = _AttemptClient(self._session, self._discovery, self._host,
                              timeout=timeout or self._policy.request_timeout)
        return self._new_client(tenant, app, http)

    def openid_configuration(self, tenant: str, *, deadline: float) -> dict[str, Any] | None:
        """The tenant's v2.0 OpenID configuration, by the URL MSAL asks and through the same discovery cache; None
        when the platform does not know the tenant (it answers 4xx). A 429, 5xx or network failure is tried again
        by the retry policy; raises requests.RequestException when no usable answer came."""
        url = f"{self._host}/{quote(tenant, safe='')}/v2.0/.well-known/openid-configuration"
        for attempt, http in self._attempts(deadline):
            try:
                response: _Response | None = http.get(url)
            except requests.RequestException:
                response = None
            status = response.status_code if response is not None else None
            if response is not None and status == 200:
                document = _json_object(response.text)
                if "issuer" in document:
                    return document
            elif status is not None and 400 <= status < 500 and status != 429:
                return None
            if not self._wait(http.retry_after, deadline, attempt, throttled=status == 429):
                break
        raise requests.ConnectionError("No usable OpenID configuration came from the identity platform.")

    def claim_once(self, tenant: str, app: AppCredential, deadline: float, grant: Callable[[Any], dict]) -> TokenAnswer:
        """One attempt, no retry: for requests that must not be sent twice (an authorization code is single-use)."""
        return self._claim(tenant, app, deadline, grant, attempts=1)

    def _new_client(self, tenant: str, app: AppCredential, http: _AttemptClient) -> Any:
        return msal.ConfidentialClientApplication(
            app.client_id, client_credential=app.secret, authority=f"{self._host}/{tenant}",
            instance_discovery=False, http_client=http, http_cache={}, token_cache=msal.TokenCache(),
        )

    def _claim(self, tenant: str, app: AppCredential, deadline: float, grant: Callable[[Any], dict], *,
               attempts: int | None = None) -> TokenAnswer:
        throttled, problem = 0, "no attempt was made before the deadline"
        for attempt, http in self._attempts(deadline, attempts):
            try:
                result = grant(self._new_client(tenant, app, http))
            except (requests.RequestException, MsalServiceError, ValueError, RuntimeError) as err:
                result, problem = None, _describe(err, http)
            answered = http.last_status
            if answered == 429:
                throttled += 1
                problem = "The identity platform throttled the request (HTTP 429)."
                if not self._wait(http.retry_after, deadline, attempt, throttled=True):
                    break
                continue
            if result is None or (answered is not None and answered >= 500):
                if http.discovery_refusal is not None:  # an unknown tenant, answered at discovery
                    return _error_answer(http.discovery_refusal, throttled)
                if answered is not None and answered >= 500:
                    problem = f"The identity platform answered HTTP {answered}."
                if not self._wait(None, deadline, attempt, throttled=False):
                    break
                continue
            if "access_token" in result:
                return TokenAnswer(claims=_claims(result["access_token"]), identity=result.get("id_token_claims"),
                                   refresh_token=result.get("refresh_token"), throttled=throttled,
                                   access_token=result["access_token"])
            return _error_answer(result, throttled)
        reason = Reason.THROTTLED if throttled and "429" in problem else Reason.UNREACHABLE
        return TokenAnswer(transport=reason, description=problem, throttled=throttled)

    def _attempts(self, deadline: float, attempts: int | None = None) -> Iterator[tuple[int, _AttemptClient]]:
        """Each attempt's number and HTTP client (its time-out bounded by what is left), while attempts and time
        remain."""
        for attempt, timeout in self._retrying.attempts(deadline, attempts):
            yield attempt, _AttemptClient(self._session, self._discovery, self._host, timeout=timeout)

    def _wait(self, retry_after: float | None, deadline: float, attempt: int, *, throttled: bool) -> bool:
        """Sleep before the next attempt; False when there is no next attempt (or no time for it)."""
        return self._retrying.wait(retry_after, deadline, attempt, throttled=throttled)


def _error_answer(body: Mapping[str, Any], throttled: int) -> TokenAnswer:
    codes = tuple(c for c in body.get("error_codes") or () if isinstance(c, int) and not isinstance(c, bool))
    return TokenAnswer(error=str(body.get("error") or "unknown_error"), error_codes=codes,
                       description=str(body.get("error_description") or "") or None, throttled=throttled)


def _claims(access_token: str) -> dict[str, Any]:
    """The access token's claims, read without checking its signature: it came straight from the token
    endpoint over TLS, and only its tid and roles are looked at."""
    try:
        payload = access_token.split(".")[1]
        claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (IndexError, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


def _describe(err: Exception, http: _AttemptClient) -> str:
    if isinstance(err, requests.Timeout):
        return "The identity platform did not answer in time."
    if isinstance(err, requests.ConnectionError):
        return "The identity platform could not be reached (connection failed or reset)."
    if http.last_status is not None:
        return f"The identity platform answered HTTP {http.last_status}."
    return f"The identity platform's answer could not be used ({type(err).__name__})."


class _Response:
    """What MSAL reads of a response: status, text, headers (the discovery cache keeps these)."""

    def __init__(self, status_code: int, text: str, headers: Mapping[str, str]) -> None:
        self.status_code, self.text, self.headers = status_code, text, dict(headers)

    def raise_for_status(self) -> None:
        if self.status_code >= 400:
            raise requests.HTTPError(f"HTTP {self.status_code}")


class _DiscoveryCache:
    """The newest DISCOVERY_ENTRIES documents, each for DISCOVERY_TTL: memory stays bounded however many tenants
    a process verifies."""

    def __init__(self) -> None:
        self._entries: OrderedDict[str, tuple[float, _Response]] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, url: str) -> _Response | None:
        with self._lock:
            entry = self._entries.get(url)
            if entry is None:
                return None
            if entry[0] <= time.monotonic():
                del self._entries[url]
                return None
            self._entries.move_to_end(url)
            return entry[1]

    def put(self, url: str, response: _Response) -> None:
        with self._lock:
            self._entries[url] = (time.monotonic() + DISCOVERY_TTL, response)
            self._entries.move_to_end(url)
            while len(self._entries) > DISCOVERY_ENTRIES:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)


class _AttemptClient:
    """The http_client MSAL uses for one attempt: the shared session, the discovery cache, a time-out bounded
    by the deadline, and a record of how the token endpoint answered."""

    def __init__(self, session: requests.Session, discovery: _DiscoveryCache, authority_host: str, *,
                 timeout: float) -> None:
        self._session, self._discovery, self._timeout = session, discovery, timeout
        self._authority = urlsplit(authority_host)
        self.last_status: int | None = None
        self.retry_after: float | None = None
        self.discovery_refusal: dict[str, Any] | None = None

    def get(self, url: str, params: Any = None, headers: Any = None, **kwargs: Any) -> _Response:
        url = self._same_port(url)
        cached = self._discovery.get(url) if params is None else None
        if cached is not None:
            return cached
        raw = self._session.get(url, params=params, headers=headers, timeout=self._timeout)
        response = _Response(raw.status_code, raw.text, raw.headers)
        if raw.status_code == 200 and params is None and any(p in url for p in _DISCOVERY_PATHS):
            self._discovery.put(url, response)
        elif 400 <= raw.status_code < 500 and url.endswith("openid-configuration"):
            self.discovery_refusal = _json_object(raw.text)
        elif raw.status_code == 429 or raw.status_code >= 500:
            self._note(raw)
        return response

    def post(self, url: str, params: Any = None, data: Any = None, headers: Any = None, **kwargs: Any) -> _Response:
        raw = self._session.post(self._same_port(url), params=params, data=data, headers=headers,
                                 timeout=self._timeout)
        self._note(raw)
        return _Response(raw.status_code, raw.text, raw.headers)

    def close(self) -> None:
        """The session is shared: nothing to close per attempt."""

    def _note(self, raw: requests.Response) -> None:
        self.last_status = raw.status_code
        self.retry_after = retry_after(raw.headers)

    def _same_port(self, url: str) -> str:
        """MSAL builds the user-realm URL from the authority's host without its port; send it to that port."""
        parts = urlsplit(url)
        if parts.hostname == self._authority.hostname and parts.port is None and self._authority.port:
            return urlunsplit(parts._replace(netloc=self._authority.netloc))
        return url


def _json_object(text: str) -> dict[str, Any]:
    try:
        body = json.loads(text)
    except ValueError:
        return {"error": "invalid_tenant", "error_description": None}
    return body if isinstance(body, dict) else {}

