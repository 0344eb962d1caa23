"""Credentials for tests that talk to simulators (never a real identity)."""
from __future__ import annotations

import time

from azure.core.credentials import AccessToken

from tests.support.keyvault_sim import DEFAULT_TOKEN


class FixedTokenCredential:
    """A stand-in for azure.identity: hands out one fixed token and remembers what it was asked for."""

    def __init__(self, token: str = DEFAULT_TOKEN, *, error: Exception | None = None) -> None:
        self.token = token
        self.error = error
        self.calls: list[tuple[tuple[str, ...], str | None]] = []

    def get_token(self, *scopes: str, tenant_id: str | None = None, **kwargs: object) -> AccessToken:
        self.calls.append((scopes, tenant_id))
        if self.error is not None:
            raise self.error
        return AccessToken(self.token, int(time.time()) + 3600)
