"""TenantStore on Azure Table Storage: the Tenants table (one entity per customer).

Every filter goes through the SDK's `parameters` (it quotes and escapes values); none is built from input.
"""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from typing import Any

from azure.core import MatchConditions
from azure.core.exceptions import (
    HttpResponseError,
    ResourceExistsError,
    ResourceModifiedError,
    ResourceNotFoundError,
)
from azure.data.tables import TableClient, TableServiceClient, UpdateMode

from ..domain.errors import Conflict, invalid_continuation_token
from ..domain.models import AuthMethod, Cursor, Status, Tenant, TenantFilter, TenantPage
from ..domain.rules import MAX_PAGE_SIZE
from .table_common import check_page_size, ensure_table, first_non_empty_page, storage_call
from .table_entities import TENANT_PARTITION, status_of, tenant_from_entity, tenant_to_entity


class TableTenantStore:
    """Implements ports.TenantStore. Creates its table on first use, once per process."""

    def __init__(self, service: TableServiceClient, *, table: str = "Tenants") -> None:
        self._service = service
        self._name = table
        self._client = service.get_table_client(table)

    def get(self, customer_id: str) -> Tenant | None:
        with storage_call("read a tenant"):
            try:
                entity = self._table().get_entity(TENANT_PARTITION, customer_id)
            except ResourceNotFoundError:
                return None
        return tenant_from_entity(entity)

    def add(self, tenant: Tenant) -> Tenant:
        with storage_call("add a tenant"):
            try:
                metadata = self._table().create_entity(tenant_to_entity(tenant))
            except ResourceExistsError:
                raise Conflict(
                    "alreadyExists", f"A customer with the id {tenant.customer_id!r} already exists."
                ) from None
        return replace(tenant, etag=metadata["etag"])

    def update(self, tenant: Tenant) -> Tenant:
        with self._guarded_by_etag(tenant, "update a tenant") as guard:
            metadata = self._table().update_entity(tenant_to_entity(tenant), mode=UpdateMode.REPLACE, **guard)
        return replace(tenant, etag=metadata["etag"])

    def delete(self, tenant: Tenant) -> None:
        with self._guarded_by_etag(tenant, "delete a tenant") as guard:
            # A 404 (deleted meanwhile) the SDK does not raise: the record is gone either way.
            self._table().delete_entity(TENANT_PARTITION, tenant.customer_id, **guard)

    @contextmanager
    def _guarded_by_etag(self, tenant: Tenant, action: str) -> Iterator[dict[str, Any]]:
        """A write that only lands on the record as it was read: changed (412) or deleted (404) since is a
        Conflict for the caller to read again and retry."""
        if tenant.etag is None:
            raise ValueError(f"To {action}, read it from the store first: its etag guards the write.")
        with storage_call(action):
            try:
                yield {"etag": tenant.etag, "match_condition": MatchConditions.IfNotModified}
            except (ResourceModifiedError, ResourceNotFoundError):
                raise Conflict(
                    "modifiedConcurrently",
                    f"The customer {tenant.customer_id!r} was changed or deleted by another request; "
                    "read it again and retry.",
                ) from None

    def list(self, flt: TenantFilter, *, top: int, after: Cursor | None) -> TenantPage:
        """One page in customerId order.

        Table Storage may return fewer than `top` tenants together with a cursor (it stops at partition
        and time boundaries); the caller just follows it.
        """
        check_page_size(top, "top")
        start = {"PartitionKey": after.partition, "RowKey": after.row} if after is not None else None
        query_filter, parameters = _tenant_query(flt)
        with storage_call("list tenants"):
            pages = self._table().query_entities(
                query_filter, parameters=parameters, results_per_page=top
            ).by_page(continuation_token=start)
            try:
                entities, next_token = first_non_empty_page(pages)
            except HttpResponseError as error:
                if start is not None and error.status_code == 400:
                    # The service rejected the keys the client's token carried: still the client's token.
                    raise invalid_continuation_token() from None
                raise
        following = None
        if next_token and next_token.get("PartitionKey"):
            following = Cursor(next_token["PartitionKey"], next_token.get("RowKey"))
        return TenantPage([tenant_from_entity(entity) for entity in entities], following)

    def count_by_status(self) -> dict[Status, int]:
        counts = dict.fromkeys(Status, 0)
        with storage_call("count tenants"):
            entities = self._table().query_entities(
                "PartitionKey eq @pk",
                parameters={"pk": TENANT_PARTITION},
                select=["lastVerificationStatus"],  # projection: a few bytes per tenant
                results_per_page=MAX_PAGE_SIZE,
            )
            for entity in entities:  # iterates every page
                counts[status_of(entity.get("lastVerificationStatus"))] += 1
        return counts

    def _table(self) -> TableClient:
        ensure_table(self._service, self._name)
        return self._client


def _tenant_query(flt: TenantFilter) -> tuple[str, dict[str, str]]:
    clauses = ["PartitionKey eq @pk"]
    parameters = {"pk": TENANT_PARTITION}
    if flt.status is not None:
        clauses.append("lastVerificationStatus eq @status")
        parameters["status"] = Status(flt.status).value
    if flt.method is not None:
        clauses.append("authenticationMethod eq @method")
        parameters["method"] = AuthMethod(flt.method).value
    return " and ".join(clauses), parameters
