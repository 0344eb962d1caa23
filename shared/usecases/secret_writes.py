"""The one rule for writing a secret that a record uses, shared by every use case that writes one.

1. Add the new value as a new version (the record still names the old one, so nothing changes yet).
2. Move the record's pointer to the new version under the record's ETag.
3. If that write lost (Conflict) or failed, retire the version just added: no record names it.
   If it won, retire the version it replaced.

A crash between the steps leaves a version no record names; the sweep (usecases/secret_sweep.py)
retires it. So a record never points at a secret it did not write, and a loser's secret is never used.
"""
from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from contextlib import contextmanager

from ..domain.errors import DependencyUnavailable
from ..domain.models import ProviderSecret
from ..domain.ports import SecretStore
from ..domain.secrets import CURRENT_VERSION, SecretName

logger = logging.getLogger(__name__)

Kind = SecretName | ProviderSecret


@contextmanager
def new_versions(
    secrets: SecretStore, customer_id: str | None, values: Mapping[Kind, str | None]
) -> Iterator[dict[Kind, str]]:
    """Writes each value that is not None as a new version and yields {kind: version}. If the block raises,
    the versions it wrote are retired before the exception goes on."""
    written: dict[Kind, str] = {}
    try:
        for name, value in values.items():
            if value is not None:
                written[name] = secrets.put(customer_id, name, value)
        yield written
    except BaseException:
        retire_quietly(secrets, customer_id, written)
        raise


def retire_quietly(secrets: SecretStore, customer_id: str | None, versions: Mapping[Kind, str]) -> None:
    """Retire versions no record names any more; a failure is left to the sweep, not to the caller."""
    for name, version in versions.items():
        if version == CURRENT_VERSION:
            continue  # a record from before versioning: its version is whatever is newest, keep it
        try:
            secrets.retire(customer_id, name, version)
        except DependencyUnavailable as err:
            owner = "the provider" if customer_id is None else f"customer {customer_id}"
            logger.warning("Could not retire a %s version of %s (%s); the sweep will.", name, owner, err.code)


def replaced(old: Mapping[Kind, str], new: Mapping[Kind, str]) -> dict[Kind, str]:
    """The versions of `old` that `new` no longer names."""
    return {name: version for name, version in old.items() if new.get(name) != version}
