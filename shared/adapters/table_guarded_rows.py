"""A store of records kept one a row, each write guarded by the ETag of the record it replaces (the settings, the
alert channels): a create fails where the row exists, a replace or a delete where the row changed or went since
it was read, and each of those is a Conflict (modifiedConcurrently) in the store's own words."""
from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any, Generic, TypeVar

from azure.data.tables import TableServiceClient

from .table_common import TableAccess, conflict_if_changed, if_unchanged, storage_call

R = TypeVar("R")  # a frozen dataclass with an `etag` field


class GuardedRows(Generic[R]):
    """Creates its table on first use, once per process. `what` names a record in the log lines of storage failures
    ("an alert channel"); `changed` is the Conflict's message."""

    def __init__(self, service: TableServiceClient, table: str, *, to_entity: Callable[[R], dict[str, Any]],
                 from_entity: Callable[[Any], R], what: str, changed: str) -> None:
        self._on_table = TableAccess(service, table)
        self._to_entity, self._from_entity = to_entity, from_entity
        self._what, self._changed = what, changed

    def _get(self, partition: str, row: str) -> R | None:
        with storage_call(f"read {self._what}"):
            entity = self._on_table.get_row(partition, row)
        return None if entity is None else self._from_entity(entity)

    def create(self, record: R) -> R:
        entity = self._to_entity(record)
        with storage_call(f"save {self._what}"), conflict_if_changed(self._changed):
            metadata = self._on_table(lambda table: table.create_entity(entity))
        return dataclasses.replace(record, etag=metadata["etag"])  # type: ignore[type-var]

    def replace(self, previous: R, record: R) -> R:
        etag = self._etag_of(previous)
        entity = self._to_entity(record)
        with storage_call(f"save {self._what}"), conflict_if_changed(self._changed):
            metadata = self._on_table(lambda table: table.update_entity(entity, **if_unchanged(etag)))
        return dataclasses.replace(record, etag=metadata["etag"])  # type: ignore[type-var]

    def _delete(self, record: R, partition: str, row: str) -> None:
        etag = self._etag_of(record)
        with storage_call(f"delete {self._what}"), conflict_if_changed(self._changed):
            self._on_table(lambda table: table.delete_entity(partition, row, **if_unchanged(etag, mode=None)))

    def _etag_of(self, record: R) -> str:
        etag = getattr(record, "etag", None)
        if etag is None:
            raise ValueError(f"Read {self._what} from the store before writing it: its ETag guards the write.")
        return etag
