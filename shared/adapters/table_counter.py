"""A sharded counter kept beside the rows it counts, exact however many writers report at once.

The counts live in the counted rows' own partition as a few shard rows (RowKey "~count-NN": "~" sorts after
every customerId character, so listings stop before them). Every write that changes a count changes one shard
in the same entity-group transaction, guarded by the ETags of both: rows and counts can never disagree.
Shards spread concurrent writers; a writer that loses a shard's ETag race retries on another.

`ShardedCounts` does this for any partition and columns: the customers' status counts (table_customers) and
each verification run's total and outcomes (table_runs).
"""
from __future__ import annotations

import random
import threading
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from azure.data.tables import TableClient, TableTransactionError

from ..domain.errors import Conflict
from .table_common import TRANSACTION_LIMIT, get_row, if_unchanged

SHARDS = 16
COUNT_PREFIX = "~count-"  # every customerId character sorts before "~"
ATTEMPTS = 12  # writes tried before giving up with Conflict
# Another writer created (409) or changed (412) the shard first, or it is gone (404: the table was recreated).
_SHARD_RACE = (404, 409, 412)
KNOWN_FOR = 30.0  # seconds a shard's state this process wrote or read is used without reading it again
KNOWN_SHARDS = 4096  # shard states kept, the least recently used dropped first


@dataclass(frozen=True, slots=True)
class _Shard:
    values: dict[str, int]
    etag: str


class _KnownShards:
    """The state this process last wrote or read of each shard, and which shards its writers hold right now.

    A writer takes a shard that no other writer of this process holds, so they never race each other for one,
    and writes it from the state known here without reading it first. The ETag guards that write: if another
    process changed the shard meanwhile, the transaction fails (412) and the shard is read again."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._states: OrderedDict[tuple[str, ...], tuple[float, _Shard]] = OrderedDict()
        self._held: Counter[tuple[str, ...]] = Counter()

    def take(self, scope: tuple[str, str], shards: int) -> tuple[str, _Shard | None]:
        """A shard's RowKey (one no other writer holds, when there is one) and its known state (None: read it)."""
        with self._lock:
            now = time.monotonic()
            keys = [f"{COUNT_PREFIX}{n:02d}" for n in range(shards)]
            free = [k for k in keys if not self._held[(*scope, k)]] or keys
            fresh = {k: state for k in free if (state := self._fresh((*scope, k), now)) is not None}
            key = random.choice(list(fresh) or free)  # a shard whose state is known saves reading it
            self._held[(*scope, key)] += 1
            return key, fresh.get(key)

    def _fresh(self, key: tuple[str, ...], now: float) -> _Shard | None:
        known = self._states.get(key)
        return known[1] if known is not None and known[0] > now else None

    def give_back(self, scope: tuple[str, str], key: str, state: _Shard | None) -> None:
        """Release the shard, with its state after the write (None: unknown, read it next time)."""
        with self._lock:
            self._held[(*scope, key)] -= 1
            if self._held[(*scope, key)] <= 0:
                del self._held[(*scope, key)]
            self._states.pop((*scope, key), None)
            if state is not None:
                self._states[(*scope, key)] = (time.monotonic() + KNOWN_FOR, state)
                while len(self._states) > KNOWN_SHARDS:
                    self._states.popitem(last=False)


@dataclass(frozen=True, slots=True)
class ShardedCounts:
    """Counters named by `columns`, kept as shard rows in the partition whose rows they count."""

    columns: tuple[str, ...]
    shards: int = SHARDS
    known: _KnownShards = field(default_factory=_KnownShards, compare=False, repr=False)

    def write(
        self, table: TableClient, partition: str, operations: Sequence[tuple[Any, ...]], delta: Mapping[str, int]
    ) -> list[Mapping[str, Any]]:
        """Submit `operations` (rows of `partition`) with the change they make to the counts, in one transaction;
        returns their metadata. A failure of the operations themselves (TableTransactionError whose index is
        one of theirs) is raised as is, and changes nothing."""
        operations = list(operations)
        if unknown := set(delta) - set(self.columns):
            raise ValueError(f"Not a counted column: {sorted(unknown)}.")
        if not any(delta.values()):
            return list(table.submit_transaction(operations)) if operations else []
        if len(operations) >= TRANSACTION_LIMIT:
            raise ValueError(f"At most {TRANSACTION_LIMIT - 1} operations go with a count change.")
        shard_index = len(operations)
        scope = (table.url, f"{table.table_name}/{partition}")
        for _ in range(ATTEMPTS):
            key, shard = self.known.take(scope, self.shards)
            after: _Shard | None = None
            try:
                if shard is None:
                    shard = self._read(table, partition, key)
                values = self._plus(shard, delta)
                entity = {"PartitionKey": partition, "RowKey": key, **values}
                result = list(table.submit_transaction([*operations, self._shard_operation(entity, shard)]))
                after = _Shard(values, result[shard_index]["etag"])
            except TableTransactionError as err:
                if err.index != shard_index or err.status_code not in _SHARD_RACE:
                    raise
                continue  # try again, most likely on another shard; this one is read again next time
            finally:
                self.known.give_back(scope, key, after)
            return result[:shard_index]
        raise Conflict("modifiedConcurrently", "The counts are busy; retry in a moment.")

    def rows(self, table: TableClient, partition: str) -> dict[str, Any]:
        """The shard rows of a partition, by RowKey."""
        rows = table.query_entities(
            "PartitionKey eq @pk and RowKey ge @start and RowKey lt @end",
            parameters={"pk": partition, "start": COUNT_PREFIX, "end": COUNT_PREFIX + "~"},
        )
        return {row["RowKey"]: row for row in rows}

    def sums(self, shards: Iterable[Any]) -> dict[str, int]:
        shards = list(shards)
        return {column: sum(int(shard.get(column, 0)) for shard in shards) for column in self.columns}

    def correct(self, table: TableClient, partition: str, shards: Mapping[str, Any], delta: Mapping[str, int]) -> bool:
        """Add `delta` to shard 00, unless any shard changed since `shards` were read; False then."""
        key = f"{COUNT_PREFIX}00"
        shard = self._state_of(shards[key]) if key in shards else None
        entity = {"PartitionKey": partition, "RowKey": key, **self._plus(shard, delta)}
        try:
            table.submit_transaction([self._shard_operation(entity, shard)])
        except TableTransactionError as err:
            if err.status_code not in _SHARD_RACE:
                raise
            return False
        return True

    def _plus(self, shard: _Shard | None, delta: Mapping[str, int]) -> dict[str, int]:
        return {c: (shard.values.get(c, 0) if shard else 0) + delta.get(c, 0) for c in self.columns}

    def _read(self, table: TableClient, partition: str, key: str) -> _Shard | None:
        row = get_row(table, partition, key)
        return None if row is None else self._state_of(row)

    def _state_of(self, row: Any) -> _Shard:
        return _Shard({c: int(row.get(c, 0)) for c in self.columns}, row.metadata["etag"])

    @staticmethod
    def _shard_operation(entity: dict[str, Any], shard: _Shard | None) -> tuple[Any, ...]:
        if shard is None:
            return ("create", entity)
        return ("update", entity, if_unchanged(shard.etag))
