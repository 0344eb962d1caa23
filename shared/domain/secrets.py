"""The kinds of secret a customer can hold. Only names live here and in tables; values live in the SecretStore."""
from __future__ import annotations

import enum


class SecretName(enum.StrEnum):
    """The kinds of secret a customer can hold; the values are what `secretsConfigured` lists."""

    PASSWORD = "password"
    REFRESH_TOKEN = "refreshToken"
    APPLICATION_SECRET = "applicationSecret"

