"""TenantStore on Azure Table Storage: the Tenants table (one entity per customer).

Every filter goes through the SDK's `parameters` (it quotes and escapes values); none is built from input.
"""
from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceNotFoundError,
)
from azure.data.tables import TableServiceClient, TableTransactionError, UpdateMode

from ..domain.errors import Conflict, invalid_continuation_token
from ..domain.models import AuthMethod, Cursor, Status, Tenant, TenantFilter, TenantPage
from ..domain.rules import MAX_BATCH, is_customer_id
from .table_common import TableAccess, check_page_size, first_non_empty_page, storage_call
from .table_counts import COUNT_PREFIX, STATUS_COUNTS, counted_write, read_counts, recount
from .table_entities import TENANT_PARTITION, tenant_from_entity, tenant_to_entity


class TableTenantStore:
    """Implements ports.TenantStore. Creates its table on first use, once per process."""

    def __init__(self, service: TableServiceClient, *, table: str = "Tenants") -> None:
        self._name = table
        self._on_table = TableAccess(service, table)

    def get(self, customer_id: str) -> Tenant | None:
        with storage_call("read a tenant"):
            try:
                entity = self._on_table(lambda table: table.get_entity(TENANT_PARTITION, customer_id))
            except ResourceNotFoundError:
                return None
        return tenant_from_entity(entity)

    def get_many(self, customer_ids: Sequence[str]) -> dict[str, Tenant]:
        """One range query from the first id to the last: a run's chunk is a run of adjacent ids."""
        wanted = {c for c in customer_ids if is_customer_id(c)}
        if not wanted:
            return {}
        bounds = {"pk": TENANT_PARTITION, "first": min(wanted), "last": max(wanted)}
        with storage_call("read tenants"):
            entities = self._on_table(lambda table: list(table.query_entities(
                "PartitionKey eq @pk and RowKey ge @first and RowKey le @last", parameters=bounds)))
        return {e["RowKey"]: tenant_from_entity(e) for e in entities if e["RowKey"] in wanted}

    def add(self, tenant: Tenant) -> Tenant:
        with storage_call("add a tenant"):
            try:
                metadata = self._on_table(lambda table: counted_write(
                    table, ("create", tenant_to_entity(tenant)), {tenant.last_verification_status: 1}
                ))
            except TableTransactionError as err:
                if err.error_code != "EntityAlreadyExists":
                    raise
                raise Conflict(
                    "alreadyExists", f"A customer with the id {tenant.customer_id!r} already exists."
                ) from None
        return replace(tenant, etag=metadata["etag"])

    def update(self, previous: Tenant, tenant: Tenant) -> Tenant:
        operation = _replace_operation(previous, tenant)
        delta = _change(previous.last_verification_status, tenant.last_verification_status)
        with storage_call("update a tenant"), _conflict_if_changed(previous):
            metadata = self._on_table(lambda table: counted_write(table, operation, delta))
        return replace(tenant, etag=metadata["etag"])

    def update_many(self, changes: Sequence[tuple[Tenant, Tenant]]) -> list[Tenant]:
        """One entity-group transaction: every tenant under its ETag, and one count shard for all of them."""
        if len(changes) > MAX_BATCH:
            raise ValueError(f"At most {MAX_BATCH} tenants are updated at once.")
        if len({tenant.customer_id for _, tenant in changes}) != len(changes):
            raise ValueError("A tenant appears twice among the changes.")
        if not changes:
            return []
        operations = [_replace_operation(previous, tenant) for previous, tenant in changes]
        delta = Counter[str]()
        for previous, tenant in changes:
            delta.update({status.value: n for status, n in _change(previous.last_verification_status,
                                                                   tenant.last_verification_status).items()})
        with storage_call("update tenants"):
            try:
                metadata = self._on_table(lambda table: STATUS_COUNTS.write(table, TENANT_PARTITION, operations, delta))
            except TableTransactionError as err:
                if err.status_code in (404, 412) and 0 <= err.index < len(changes):
                    raise _modified(changes[err.index][0].customer_id) from None
                raise
        return [replace(tenant, etag=meta["etag"]) for (_, tenant), meta in zip(changes, metadata, strict=True)]

    def delete(self, tenant: Tenant) -> None:
        guard = _etag_guard(tenant, "delete")
        operation = ("delete", {"PartitionKey": TENANT_PARTITION, "RowKey": tenant.customer_id}, guard)
        with storage_call("delete a tenant"):
            try:
                self._on_table(lambda table: counted_write(table, operation, {tenant.last_verification_status: -1}))
            except TableTransactionError as err:
                if err.status_code == 404:
                    return  # deleted meanwhile, and counted then: the record is gone either way
                if err.status_code == 412:
                    raise _modified(tenant.customer_id) from None
                raise

    def list(self, flt: TenantFilter, *, top: int, after: Cursor | None) -> TenantPage:
        """One page in customerId order.

        Table Storage may return fewer than `top` tenants together with a cursor (it stops at partition
        and time boundaries); the caller just follows it.
        """
        entities, following = self._page(flt, top, after, select=None)
        return TenantPage([tenant_from_entity(entity) for entity in entities], following)

    def list_ids(self, *, top: int, after: Cursor | None) -> tuple[list[str], Cursor | None]:
        """`list` of every tenant, ids only: the service sends a few bytes per tenant instead of the record."""
        entities, following = self._page(TenantFilter(), top, after, select=["RowKey"])
        return [entity["RowKey"] for entity in entities], following

    def _page(self, flt: TenantFilter, top: int, after: Cursor | None,
              select: list[str] | None) -> tuple[list[Any], Cursor | None]:
        check_page_size(top, "top")
        start = {"PartitionKey": after.partition, "RowKey": after.row} if after is not None else None
        query_filter, parameters = _tenant_query(flt)
        with storage_call("list tenants"):
            try:
                entities, next_token = self._on_table(lambda table: first_non_empty_page(table.query_entities(
                    query_filter, parameters=parameters, results_per_page=top, select=select
                ).by_page(continuation_token=start)))
            except HttpResponseError as error:
                if start is not None and error.status_code == 400:
                    # The service rejected the keys the client's token carried: still the client's token.
                    raise invalid_continuation_token() from None
                raise
        following = None
        if next_token and next_token.get("PartitionKey"):
            following = Cursor(next_token["PartitionKey"], next_token.get("RowKey"))
        return entities, following

    def count_by_status(self) -> dict[Status, int]:
        with storage_call("count tenants"):
            counts = self._on_table(read_counts)
            # A table from before the counts were kept: count once, which starts keeping them.
            return counts if counts is not None else self._on_table(recount)

    def recount_by_status(self) -> dict[Status, int]:
        with storage_call("count tenants"):
            return self._on_table(recount)




def _tenant_query(flt: TenantFilter) -> tuple[str, dict[str, str]]:
    clauses = ["PartitionKey eq @pk", "RowKey lt @counts"]  # the count shards sort after every customerId
    parameters = {"pk": TENANT_PARTITION, "counts": COUNT_PREFIX}
    if flt.status is not None:
        clauses.append("lastVerificationStatus eq @status")
        parameters["status"] = Status(flt.status).value
    if flt.method is not None:
        clauses.append("authenticationMethod eq @method")
        parameters["method"] = AuthMethod(flt.method).value
    return " and ".join(clauses), parameters


def _replace_operation(previous: Tenant, tenant: Tenant) -> tuple[Any, ...]:
    return ("update", tenant_to_entity(tenant), {"mode": UpdateMode.REPLACE, **_etag_guard(previous, "update")})


def _etag_guard(tenant: Tenant, action: str) -> dict[str, object]:
    if tenant.etag is None:
        raise ValueError(f"To {action} a tenant, read it from the store first: its etag guards the write.")
    return {"etag": tenant.etag, "match_condition": MatchConditions.IfNotModified}


def _change(before: Status, after: Status) -> dict[Status, int]:
    return {} if before == after else {before: -1, after: 1}


@contextmanager
def _conflict_if_changed(previous: Tenant) -> Iterator[None]:
    """412 (changed since it was read) or 404 (deleted since) on the tenant itself: read again and retry."""
    try:
        yield
    except TableTransactionError as err:
        if err.status_code in (404, 412):
            raise _modified(previous.customer_id) from None
        raise


def _modified(customer_id: str) -> Conflict:
    return Conflict(
        "modifiedConcurrently",
        f"The customer {customer_id!r} was changed or deleted by another request; read it again and retry.",
    )
