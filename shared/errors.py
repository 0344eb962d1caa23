"""Exceptions the use cases raise; functions/ turns each into the contract's error JSON.

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


class DependencyUnavailable(RuntimeError):
    """Table Storage or Key Vault could not be reached or refused us (503, retryable)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class ConfigurationError(RuntimeError):
    """The app's settings cannot work (e.g. no Key Vault outside local development)."""
