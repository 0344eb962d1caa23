"""The key that signs continuation tokens, so a client can hand back only a token this app issued.

It lives in the secret store as the provider's `tokenKey` secret, made on first use. Instances that make it
at the same moment each add a version; all of them use the oldest, so they agree. Cached per process.
"""
from __future__ import annotations

import secrets as random_source
import threading
import time

from ..domain.ports import SecretStore
from ..domain.secrets import ProviderSecret

# A token that fails the check may be signed with a key another instance made; reading the key again is
# worth it at most this often, so forged tokens cannot turn into a stream of secret-store reads.
RELOAD_INTERVAL = 60.0


class TokenKey:
    def __init__(self, secrets: SecretStore) -> None:
        self._secrets = secrets
        self._key: bytes | None = None
        self._loaded_at = float("-inf")
        self._lock = threading.Lock()

    def __repr__(self) -> str:
        return "TokenKey(<not shown>)"

    def current(self) -> bytes:
        """The key to sign with; made on first use."""
        with self._lock:
            if self._key is None:
                self._key = self._load(create=True)
                self._loaded_at = time.monotonic()
            return self._key

    def to_check(self, *, again: bool = False) -> bytes | None:
        """The key to check a token with, None when none was ever made (so no token can be valid): checking
        never writes. With `again`, read it again (at most every RELOAD_INTERVAL seconds): another instance
        may have made the one everybody agrees on meanwhile."""
        with self._lock:
            stale = time.monotonic() - self._loaded_at >= RELOAD_INTERVAL
            if self._key is None or (again and stale):
                self._key = self._load(create=False) or self._key
                self._loaded_at = time.monotonic()
            return self._key

    def _load(self, *, create: bool) -> bytes | None:
        versions = self._secrets.list_versions(None, ProviderSecret.TOKEN_KEY)
        if not versions and create:
            self._secrets.create_version(None, ProviderSecret.TOKEN_KEY, random_source.token_urlsafe(32))
            versions = self._secrets.list_versions(None, ProviderSecret.TOKEN_KEY)
        for version in sorted(versions, key=lambda v: (v.created_at, v.version)):  # the oldest readable one
            value = self._secrets.get(None, ProviderSecret.TOKEN_KEY, version.version)
            if value is not None:
                return value.encode("utf-8")
        return None
