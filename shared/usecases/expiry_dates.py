"""The expiry date an operator gives with a secret (applicationSecretExpiresAt, clientSecretExpiresAt)."""
from __future__ import annotations

from datetime import datetime


def kept_expiry(existing: datetime | None, *, given: bool, value: datetime | None,
                secret_changed: bool) -> datetime | None:
    """The date to keep: the one given; without one, the stored date while the secret stays, and none for a new
    secret (the stored date was the old secret's)."""
    if given:
        return value
    return None if secret_changed else existing
