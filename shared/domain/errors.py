"""Every error the app answers with the contract's error JSON: one base class, `AppError`, whose subclass is the
kind of failure; functions/http.py maps each kind to its status code, in one place.

Messages are sentences for a person and never carry a secret value.
"""
from __future__ import annotations


class AppError(Exception):
    """A failure the API answers as `{"error": {"code", "message", "target"?}}`: `code` is machine-readable
    (camelCase), `target` the field or parameter at fault when one is (as in the Microsoft REST API guidelines)."""

    def __init__(self, code: str, message: str, *, target: str | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.target = target


class InputError(AppError, ValueError):
    """The client sent something the contract does not accept."""


class PayloadTooLarge(InputError):
    """A request body over the contract's limit."""


class UnsupportedMediaType(InputError):
    """A request body that is not said to be JSON."""


class NotFound(AppError, LookupError):
    def __init__(self, message: str) -> None:
        super().__init__("notFound", message)


class Conflict(AppError, RuntimeError):
    """The request does not fit the stored state: a record changed underneath it (retryable), or what it needs is
    not set up."""


# The codes of DependencyUnavailable, one per dependency.
STORAGE_UNAVAILABLE = "storageUnavailable"
SECRET_STORE_UNAVAILABLE = "secretStoreUnavailable"


class DependencyUnavailable(AppError, RuntimeError):
    """Table Storage, Key Vault or the identity platform could not be reached or refused us (retryable)."""


class Unauthenticated(AppError, PermissionError):
    """Operators' sign-in is configured and the request carries neither a signed-in principal nor a valid key."""

    def __init__(self, message: str) -> None:
        super().__init__("unauthenticated", message)


class Forbidden(AppError, PermissionError):
    """The signed-in principal's role is short of the one the route needs (the message names it), or the request
    could have come from another site (crossSiteRequest)."""

    def __init__(self, message: str, *, code: str = "forbidden") -> None:
        super().__init__(code, message)


class ConfigurationError(AppError, RuntimeError):
    """The app's settings cannot work (e.g. no Key Vault outside local development)."""

    def __init__(self, message: str) -> None:
        super().__init__("serviceMisconfigured", message)


def invalid_continuation_token() -> InputError:
    """A continuation token this API did not issue for this query (forged, altered, or for another filter)."""
    return InputError(
        "invalidContinuationToken",
        "continuationToken is not one this API returned for this query; start again without it.",
        target="continuationToken",
    )


def invalid_customer_id() -> InputError:
    return InputError(
        "invalidCustomerId",
        "customerId must be 1 to 64 characters of letters, digits, '.', '_' or '-', and not only dots.",
        target="customerId",
    )
