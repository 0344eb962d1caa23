"""What every Table Storage adapter shares: error mapping, table creation, paging and batch deletes."""
from __future__ import annotations

import base64
import binascii
import json
import logging
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import (
    AzureError,
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.core.paging import PageIterator
from azure.data.tables import TableClient, TableServiceClient, TableTransactionError, UpdateMode

from ..domain.errors import STORAGE_UNAVAILABLE, Conflict, DependencyUnavailable, invalid_continuation_token
from ..domain.rules import MAX_TOP
from .table_transactions import lean_table_client

logger = logging.getLogger(__name__)

TRANSACTION_LIMIT = 100  # operations per transaction (the service's limit; Azurite enforces it)
PRUNE_LIMIT = 50_000  # rows a maintenance prune deletes per call (delete_rows' limit)
PROGRESS_EVERY = 5_000  # rows between the progress lines of a long delete
# Azure may answer a filtered query with empty pages that still carry a continuation token; follow a few
# before handing an empty page plus token back to the caller.
MAX_ROUND_TRIPS = 5
_UNAVAILABLE = "Table Storage cannot be reached right now; try again in a moment."
_TABLE_NOT_FOUND = "TableNotFound"

T = TypeVar("T")

# Tables created (or found) by this process, keyed by (account URL, table name). An entry is dropped when the
# service says the table is gone (storage wiped or restarted empty), so the next use creates it again.
_ready_tables: set[tuple[str, str]] = set()
_ready_lock = threading.Lock()


def ensure_table(service: TableServiceClient, name: str) -> None:
    """Create a table on first use, once per process per (account, table); an existing table is fine."""
    key = (service.url, name)
    if key not in _ready_tables:
        with _ready_lock:
            if key not in _ready_tables:
                try:
                    service.create_table(name)
                except ResourceExistsError:
                    pass
                _ready_tables.add(key)


def table_missing(error: BaseException) -> bool:
    """Whether the service answered 404 TableNotFound (not an entity's 404). create_entity raises it with
    error_code unset, so the x-ms-error-code header and then the body's odata.error code are read too."""
    if not isinstance(error, HttpResponseError) or error.status_code != 404:
        return False
    code = getattr(error, "error_code", None)
    response = error.response
    if code is None and response is not None:
        code = response.headers.get("x-ms-error-code") or _odata_error_code(response)
    return code == _TABLE_NOT_FOUND


def _odata_error_code(response: Any) -> str | None:
    try:
        return json.loads(response.text())["odata.error"]["code"]
    except (ValueError, TypeError, KeyError, AttributeError):
        return None


def on_table(service: TableServiceClient, name: str, client: TableClient, operation: Callable[[TableClient], T]) -> T:
    """`operation(client)` on a table created on first use. If the service says the table is gone, forget it,
    create it again and run the operation once more: a missing table held nothing, so a retry is safe.

    A lazy query fails only when iterated: the operation must read what it needs inside.
    """
    ensure_table(service, name)
    try:
        return operation(client)
    except HttpResponseError as error:
        if not table_missing(error):
            raise
    logger.warning("Table %s is missing (storage restarted empty?): creating it again.", name)
    _forget(service, name)
    ensure_table(service, name)
    return operation(client)


def _forget(service: TableServiceClient, name: str) -> None:
    with _ready_lock:
        _ready_tables.discard((service.url, name))


def _forget_all() -> None:
    with _ready_lock:
        _ready_tables.clear()


def _caused_by_missing_table(error: BaseException) -> bool:
    """Whether this error or one it was raised from (an adapter's Conflict, say) is a missing table."""
    seen: BaseException | None = error
    for _ in range(5):  # a short chain; bounded in case of a cycle
        if seen is None:
            return False
        if table_missing(seen):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


@contextmanager
def storage_call(action: str) -> Iterator[None]:
    """Turns every SDK failure not handled inside the block into DependencyUnavailable (a 503).

    A missing table also makes this process forget the tables it created, so the next call creates them
    again; and whatever an adapter made of that answer inside the block (a 409 Conflict for a create whose
    404 it read as "deleted meanwhile", say), it is storage that is not ready: a 503 too.
    """
    try:
        yield
    except Exception as error:
        missing = _caused_by_missing_table(error)
        if not missing and not isinstance(error, AzureError):
            raise
        if missing:
            _forget_all()
        # The SDK's text can hold URLs and request ids; the log gets the kind and status, not the text.
        logger.warning(
            "Table Storage failed to %s: %s (status %s)%s.",
            action,
            type(error).__name__,
            getattr(error, "status_code", None),
            "; a table is missing and is created again on next use" if missing else "",
        )
        raise DependencyUnavailable(STORAGE_UNAVAILABLE, _UNAVAILABLE) from error


def check_page_size(value: int, name: str) -> None:
    if not 1 <= value <= MAX_TOP:
        raise ValueError(f"{name} must be between 1 and {MAX_TOP}, not {value}.")


def first_non_empty_page(pages: PageIterator) -> tuple[list[Any], dict[str, Any] | None]:
    """The entities of the first page that has any, and the SDK's token after it (None at the end)."""
    for _ in range(MAX_ROUND_TRIPS):
        page = next(pages, None)
        if page is None:
            return [], None
        entities = list(page)
        if entities or not pages.continuation_token:
            return entities, pages.continuation_token or None
    return [], pages.continuation_token or None


def delete_partition(table: TableClient, partition: str, *, between: tuple[str, str] | None = None) -> int:
    """Delete every row of one partition, or only those whose RowKey lies strictly `between` two keys; how many
    rows were deleted."""
    query, parameters = "PartitionKey eq @pk", {"pk": partition}
    if between is not None:
        query += " and RowKey gt @after and RowKey lt @before"
        parameters.update(after=between[0], before=between[1])
    return delete_rows(table, query, parameters)


def delete_rows(table: TableClient, query: str, parameters: dict[str, Any], *, limit: int | None = None) -> int:
    """Delete the rows the query finds, in transactions of at most TRANSACTION_LIMIT rows of one partition (a query
    across partitions yields each partition's rows together), and at most `limit` rows when given: a prune works a
    backlog off over its next calls instead of running past the function's time-out. Logs its progress every
    PROGRESS_EVERY rows; how many rows were deleted."""
    rows = table.query_entities(query, parameters=parameters, select=["PartitionKey", "RowKey"],
                                results_per_page=MAX_TOP)
    batch: list[tuple[str, dict[str, str]]] = []
    deleted = 0
    for row in rows:
        if batch and (len(batch) == TRANSACTION_LIMIT or batch[0][1]["PartitionKey"] != row["PartitionKey"]):
            deleted, batch = _delete_batch(table, batch, deleted), []
        if limit is not None and deleted + len(batch) >= limit:
            logger.info("Table %s: %d rows deleted, the limit of one call; the rest is left for the next.",
                        table.table_name, limit)
            break
        batch.append(("delete", {"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"]}))
    return _delete_batch(table, batch, deleted) if batch else deleted


def _delete_batch(table: TableClient, batch: list[tuple[str, dict[str, str]]], deleted: int) -> int:
    """Delete one transaction's rows, after `deleted` rows before them; the rows deleted so far."""
    try:
        table.submit_transaction(batch)
    except TableTransactionError:
        # One row went missing meanwhile (a concurrent delete) and that fails the whole transaction;
        # delete_entity ignores a 404, so finish this batch one row at a time.
        for _, row in batch:
            table.delete_entity(row["PartitionKey"], row["RowKey"])
    if (deleted + len(batch)) // PROGRESS_EVERY > deleted // PROGRESS_EVERY:
        logger.info("Table %s: %d rows deleted so far.", table.table_name, deleted + len(batch))
    return deleted + len(batch)


# --- one row, read and written under its ETag -----------------------------------------------------------------------

def get_row(table: TableClient, partition: str, row: str) -> Any | None:
    """The row with these keys, or None where there is none."""
    try:
        return table.get_entity(partition, row)
    except ResourceNotFoundError:
        return None


def if_unchanged(etag: str, mode: UpdateMode | None = UpdateMode.REPLACE) -> dict[str, Any]:
    """The keyword arguments of a write (an update in `mode`; a delete with mode None) that fails with 412 when the
    row changed since it was read with `etag`."""
    guard: dict[str, Any] = {"etag": etag, "match_condition": MatchConditions.IfNotModified}
    return guard if mode is None else {"mode": mode, **guard}


@contextmanager
def conflict_if_changed(message: str) -> Iterator[None]:
    """A row created (409), changed (412) or deleted (404) by another request since it was read: Conflict
    `modifiedConcurrently` with `message`, which tells the caller what to read again."""
    try:
        yield
    except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
        raise Conflict("modifiedConcurrently", message) from None


class TableAccess:
    """How an adapter reaches its table: `access(operation)` runs the operation through on_table."""

    def __init__(self, service: TableServiceClient, name: str) -> None:
        self._service, self._name, self._client = service, name, lean_table_client(service, name)

    def __call__(self, operation: Callable[[TableClient], T]) -> T:
        return on_table(self._service, self._name, self._client, operation)

    def get_row(self, partition: str, row: str) -> Any | None:
        return self(lambda table: get_row(table, partition, row))


# --- a cursor: the service's continuation keys as they are, opaque to the caller --------------------------------
# Hand a client only a signed token that wraps one (usecases/continuation.py), for the filter it was made for.
MAX_CURSOR = 1024


def keys_cursor(token: dict[str, Any] | None, prefix: str) -> str | None:
    """The SDK's continuation (the next partition and row key) as a cursor: `prefix` + base64url of JSON."""
    if not token or not token.get("PartitionKey"):
        return None
    raw = json.dumps([token["PartitionKey"], token.get("RowKey")], separators=(",", ":"), ensure_ascii=True)
    return prefix + base64.urlsafe_b64encode(raw.encode("ascii")).decode("ascii").rstrip("=")


def keys_of_cursor(cursor: str, prefix: str) -> dict[str, Any]:
    """The SDK's continuation a keys_cursor of this prefix names; anything else is the client's bad token."""
    payload = cursor[len(prefix):]
    if len(cursor) > MAX_CURSOR or not cursor.startswith(prefix) or not payload.isascii():
        raise invalid_continuation_token()
    try:
        keys = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError, RecursionError):
        raise invalid_continuation_token() from None
    # The service's own encoding of where it stopped: readable text, nothing more to check here.
    if (not isinstance(keys, list) or len(keys) != 2 or not _printable(keys[0])
            or not (keys[1] is None or _printable(keys[1]))
            or keys_cursor({"PartitionKey": keys[0], "RowKey": keys[1]}, prefix) != cursor):
        raise invalid_continuation_token()
    return {"PartitionKey": keys[0], "RowKey": keys[1]}


def _printable(key: Any) -> bool:
    return isinstance(key, str) and key.isascii() and key.isprintable()
