"""FunctionKeyCheck by asking the Functions host: a GET, with the key, of one of the app's own routes of auth level
FUNCTION (functions/key_check.py), which the host answers 401 for a wrong key before the app runs.

With operators' sign-in configured the API's routes are ANONYMOUS (the host would not let a signed-in principal
through a FUNCTION route), so the app checks a presented key itself; it never holds the keys, the host does.
Answers are kept for a while under a hash of the key (never the key), so a script's calls cost one probe each
TTL; a key revoked in the portal may therefore still work for up to TTL.
"""
from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

import requests

from ..domain.errors import DependencyUnavailable
from .http_sessions import pooled_session, use_environment_proxies

logger = logging.getLogger(__name__)

PATH = "/api/keycheck"
TTL = 300.0  # seconds an answer is kept
_MAX_KEYS = 1024  # answers kept at most (the oldest go first)
_MAX_KEY_CHARS = 512
_LOOPBACK = ("localhost", "127.0.0.1", "[::1]")


def probe_url(hostname: str | None) -> str | None:
    """The key-check route on this app's own host name (WEBSITE_HOSTNAME, "host[:port]"): https, plain http only
    on loopback (the local host). None without a host name: no key can be checked."""
    host = (hostname or "").strip().lower()
    if not host or any(c in host for c in "/?#@\\ "):
        return None
    scheme = "http" if host.rsplit(":", 1)[0] in _LOOPBACK or host.startswith("[::1]") else "https"
    return f"{scheme}://{host}{PATH}"


class FunctionKeyProbe:
    """Implements ports.FunctionKeyCheck."""

    def __init__(self, url: str | None, *, session: requests.Session | None = None, ttl: float = TTL,
                 timeout: float = 5.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._url, self._ttl, self._timeout, self._clock = url, ttl, timeout, clock
        self._session = session or pooled_session(4)
        if session is None and url:
            use_environment_proxies(self._session, url)
        self._answers: OrderedDict[bytes, tuple[bool, float]] = OrderedDict()
        self._lock = threading.Lock()

    def close(self) -> None:
        self._session.close()

    def is_valid(self, key: str) -> bool:
        if not key or len(key) > _MAX_KEY_CHARS or not key.isascii() or not key.isprintable():
            return False
        if self._url is None:
            logger.warning("A function key was sent, but WEBSITE_HOSTNAME is not set: it cannot be checked.")
            return False
        digest = hashlib.sha256(key.encode("ascii")).digest()
        with self._lock:
            kept = self._answers.get(digest)
            if kept is not None and kept[1] > self._clock():
                return kept[0]
        valid = self._ask(key)
        with self._lock:
            self._answers[digest] = (valid, self._clock() + self._ttl)
            self._answers.move_to_end(digest)
            while len(self._answers) > _MAX_KEYS:
                self._answers.popitem(last=False)
        return valid

    def _ask(self, key: str) -> bool:
        try:
            response = self._session.get(self._url, headers={"x-functions-key": key}, timeout=self._timeout,
                                         allow_redirects=False)
        except requests.RequestException as error:
            logger.warning("The function key check could not reach the host: %s.", type(error).__name__)
            raise DependencyUnavailable("hostUnavailable", "The function key could not be checked; try again.") \
                from None
        with response:
            if response.status_code in (401, 403):
                return False
            if 200 <= response.status_code < 300:
                return True
        logger.warning("The function key check answered %d.", response.status_code)
        raise DependencyUnavailable("hostUnavailable", "The function key could not be checked; try again.")
