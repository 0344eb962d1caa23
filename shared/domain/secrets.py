"""The kinds of secret (a customer's, the provider's, a channel's), and what the secret store holds of them. Only
names and version ids live in tables; values live in the SecretStore."""
from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class StoredSecret:
    """One secret as the store holds it: whose (customer_id None: the provider's), which, and its readable
    versions. What the sweep compares with the versions the records name."""

    customer_id: str | None
    kind: str  # an AnySecret's value
    versions: tuple[SecretVersion, ...]


@dataclass(frozen=True, slots=True)
class SecretVersion:
    """One version of a secret: its id (what records name) and when it was written (the sweep's grace)."""

    version: str
    created_at: datetime


class SecretKind(enum.StrEnum):
    """The kinds of secret a customer can hold; the values are what `secretsConfigured` lists."""

    PASSWORD = "password"
    REFRESH_TOKEN = "refreshToken"
    APPLICATION_SECRET = "applicationSecret"
    CONSENT_FLOW = "consentFlow"  # the MSAL flow (PKCE verifier, nonce) of a pending consent; never listed


class ProviderSecret(enum.StrEnum):
    """Secrets of the service provider itself (not of a customer); their values live in the SecretStore."""

    CLIENT_SECRET = "clientSecret"
    TOKEN_KEY = "tokenKey"  # signs continuation tokens; no record names it


class ChannelSecret(enum.StrEnum):
    """The secrets a channel holds in the secret store; its record names their versions."""

    URL = "url"
    SIGNING_SECRET = "signingSecret"


# What the secret store holds: a customer's secrets, the provider's, a channel's (whose it is tells which).
AnySecret = SecretKind | ProviderSecret | ChannelSecret


def newest_first(versions: Iterable[SecretVersion]) -> list[SecretVersion]:
    """Versions from the newest written to the oldest: a record that names a version the store no longer
    holds reads the first."""
    return sorted(versions, key=lambda v: v.created_at, reverse=True)
