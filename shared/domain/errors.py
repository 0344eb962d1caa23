"""Exceptions the use cases and adapters raise; functions/http.py turns each into the contract's error JSON.

Messages are sentences for a person and never carry a secret value.
"""
from __future__ import annotations


class InputError(ValueError):
    """The client sent something the contract does not accept (4xx)."""

    def __init__(self, code: str, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


class NotFound(LookupError):
    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class Conflict(RuntimeError):
    """The stored record changed underneath the request (retryable 409)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


# The codes of DependencyUnavailable, one per dependency.
STORAGE_UNAVAILABLE = "storageUnavailable"
SECRET_STORE_UNAVAILABLE = "secretStoreUnavailable"


class DependencyUnavailable(RuntimeError):
    """Table Storage or Key Vault could not be reached or refused us (503, retryable)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ConfigurationError(RuntimeError):
    """The app's settings cannot work (e.g. no Key Vault outside local development)."""


def invalid_continuation_token() -> InputError:
    """A continuation token this API did not issue for this query (forged, altered, or for another filter)."""
    return InputError(
        "invalidContinuationToken",
        "continuationToken is not one this API returned for this query; start again without it.",
    )


def invalid_customer_id() -> InputError:
    return InputError(
        "invalidCustomerId",
        "customerId must be 1 to 64 characters of letters, digits, '.', '_' or '-', and not only dots.",
    )
