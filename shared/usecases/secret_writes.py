"""The one rule for writing a secret that a record uses, and the one way of reading it back: a new value
becomes a new version, the record's pointer moves to it under the record's ETag, and a version no record
names is retired (README, "Records and secrets that cannot disagree").
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field

from ..domain.errors import DependencyUnavailable
from ..domain.ports import SecretStore
from ..domain.secrets import AnySecret, newest_first

logger = logging.getLogger(__name__)


@contextmanager
def new_versions(
    secrets: SecretStore, customer_id: str | None, values: Mapping[AnySecret, str | None]
) -> Iterator[dict[AnySecret, str]]:
    """Writes each value that is not None as a new version and yields {kind: version}. If the block raises,
    the versions it wrote are retired before the exception goes on."""
    written: dict[AnySecret, str] = {}
    try:
        for kind, value in values.items():
            if value is not None:
                written[kind] = secrets.create_version(customer_id, kind, value)
        yield written
    except BaseException:
        retire_quietly(secrets, customer_id, written)
        raise


def retire_quietly(secrets: SecretStore, customer_id: str | None, versions: Mapping[AnySecret, str]) -> None:
    """Retire versions no record names any more; a failure is left to the sweep, not to the caller."""
    for kind, version in versions.items():
        try:
            secrets.retire_version(customer_id, kind, version)
        except DependencyUnavailable as err:
            logger.warning("Could not retire a %s version of %s (%s); the sweep will.", kind, _owner(customer_id),
                           err.code)


@dataclass(frozen=True, slots=True)
class Read:
    """A secret as a record reads it: its value, and the version that holds it (None with the value when the
    store holds no version of it at all)."""

    value: str | None = field(repr=False)
    version: str | None


def read_named(secrets: SecretStore, customer_id: str | None, kind: AnySecret, version: str) -> Read:
    """The version a record names; if the store no longer holds it (storage lost the write that moved the
    record on, and the version was retired meanwhile), the newest version still stored, which is the latest
    one this owner wrote. The caller moves the record to the version read."""
    value = secrets.get(customer_id, kind, version)
    if value is not None:
        return Read(value, version)
    for candidate in newest_first(secrets.list_versions(customer_id, kind)):
        if candidate.version != version and (value := secrets.get(customer_id, kind, candidate.version)) is not None:
            logger.warning("The %s version the record of %s names is not in the secret store; the newest version "
                           "still stored is used instead.", kind, _owner(customer_id))
            return Read(value, candidate.version)
    logger.warning("The %s version the record of %s names is not in the secret store, nor is any other version.",
                   kind, _owner(customer_id))
    return Read(None, None)


def _owner(customer_id: str | None) -> str:
    return "the provider" if customer_id is None else f"customer {customer_id}"
