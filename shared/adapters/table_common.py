"""What every Table Storage adapter shares: error mapping, table creation, paging and batch deletes."""
from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from azure.core.exceptions import AzureError, ResourceExistsError
from azure.core.paging import PageIterator
from azure.data.tables import TableClient, TableServiceClient, TableTransactionError

from ..domain.errors import STORAGE_UNAVAILABLE, DependencyUnavailable
from ..domain.rules import MAX_PAGE_SIZE

logger = logging.getLogger(__name__)

TRANSACTION_LIMIT = 100  # operations per transaction (the service's limit; Azurite enforces it)
# Azure may answer a filtered query with empty pages that still carry a continuation token; follow a few
# before handing an empty page plus token back to the caller.
MAX_ROUND_TRIPS = 5
_UNAVAILABLE = "Table Storage cannot be reached right now; try again in a moment."

# Tables created (or found) by this process, keyed by (account URL, table name).
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


@contextmanager
def storage_call(action: str) -> Iterator[None]:
    """Turns every SDK failure not handled inside the block into DependencyUnavailable (a 503)."""
    try:
        yield
    except AzureError as error:
        # The SDK's text can hold URLs and request ids; the log gets the kind and status, not the text.
        logger.warning(
            "Table Storage failed to %s: %s (status %s).",
            action,
            type(error).__name__,
            getattr(error, "status_code", None),
        )
        raise DependencyUnavailable(STORAGE_UNAVAILABLE, _UNAVAILABLE) from error


def check_page_size(value: int, name: str) -> None:
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise ValueError(f"{name} must be between 1 and {MAX_PAGE_SIZE}, not {value}.")


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


def delete_partition(table: TableClient, partition: str) -> None:
    """Delete every row of one partition, in transactions of at most TRANSACTION_LIMIT rows."""
    rows = table.query_entities(
        "PartitionKey eq @pk",
        parameters={"pk": partition},
        select=["PartitionKey", "RowKey"],
        results_per_page=MAX_PAGE_SIZE,
    )
    batch: list[tuple[str, dict[str, str]]] = []
    for row in rows:
        batch.append(("delete", {"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"]}))
        if len(batch) == TRANSACTION_LIMIT:
            _delete_batch(table, batch)
            batch = []
    if batch:
        _delete_batch(table, batch)


def _delete_batch(table: TableClient, batch: list[tuple[str, dict[str, str]]]) -> None:
    try:
        table.submit_transaction(batch)
    except TableTransactionError:
        # One row went missing meanwhile (a concurrent delete) and that fails the whole transaction;
        # delete_entity ignores a 404, so finish this batch one row at a time.
        for _, row in batch:
            table.delete_entity(row["PartitionKey"], row["RowKey"])
