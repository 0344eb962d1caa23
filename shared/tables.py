"""TenantStore and SettingsStore on Azure Table Storage (azure-data-tables).

Tenants table: PartitionKey "tenant", RowKey = customerId, one camelCase column per tenant field.
VerificationHistory table: PartitionKey = customerId, RowKey = inverted timestamp, so newest sorts first.
Settings table: one entity (PartitionKey "provider", RowKey "consent") with the provider's consent settings.
Every filter goes through the SDK's `parameters` (it quotes and escapes values); none is built from input.
"""
from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import threading
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from itertools import islice
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

from .errors import Conflict, DependencyUnavailable, InputError
from .models import (
    AuthMethod,
    ProviderSettings,
    Reason,
    SecretName,
    Status,
    Tenant,
    TenantFilter,
    TenantPage,
    VerificationResult,
)
from .storage_clients import table_service_from_settings

__all__ = [
    "MAX_PAGE_SIZE", "TENANT_PARTITION", "TableSettingsStore", "TableTenantStore", "table_service_from_settings",
]

_log = logging.getLogger(__name__)

TENANT_PARTITION = "tenant"
MAX_PAGE_SIZE = 1000  # the most entities Table Storage returns for one request
_TRANSACTION_LIMIT = 100  # operations per transaction (the service's limit; Azurite enforces it)
# Azure may answer a filtered query with empty pages that still carry a continuation token; follow a few
# before handing an empty page plus token back to the caller.
_MAX_ROUND_TRIPS = 5

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INVERT_FROM = 10**20 - 1  # 20 digits: history RowKeys sort newest first as plain strings

_TOKEN_PREFIX = "v1."
_TOKEN_MAX_CHARS = 2048
_TOKEN_BODY = re.compile(r"[A-Za-z0-9_-]+")

_SECRET_NAMES = frozenset(name.value for name in SecretName)
_UNAVAILABLE = "Table Storage cannot be reached right now; try again in a moment."

# Tables created (or found) by this process, keyed by (account URL, table name).
_ready_tables: set[tuple[str, str]] = set()
_ready_lock = threading.Lock()

E = TypeVar("E", Status, Reason)


class TableTenantStore:
    """Implements ports.TenantStore. Creates its tables on first use, once per process."""

    def __init__(
        self,
        service: TableServiceClient,
        *,
        tenants_table: str = "Tenants",
        history_table: str = "VerificationHistory",
    ) -> None:
        self._service = service
        self._tenants_name = tenants_table
        self._history_name = history_table
        self._clients = {name: service.get_table_client(name) for name in (tenants_table, history_table)}

    # --- tenants ---------------------------------------------------------------------------------

    def get(self, customer_id: str) -> Tenant | None:
        with _storage_call("read a tenant"):
            try:
                entity = self._table(self._tenants_name).get_entity(TENANT_PARTITION, customer_id)
            except ResourceNotFoundError:
                return None
        return _tenant_from_entity(entity)

    def add(self, tenant: Tenant) -> Tenant:
        with _storage_call("add a tenant"):
            try:
                metadata = self._table(self._tenants_name).create_entity(_tenant_to_entity(tenant))
            except ResourceExistsError:
                raise Conflict(
                    "alreadyExists", f"A customer with the id {tenant.customer_id!r} already exists."
                ) from None
        return replace(tenant, etag=metadata["etag"])

    def update(self, tenant: Tenant) -> Tenant:
        if tenant.etag is None:
            raise ValueError("update() needs a tenant read from the store: its etag guards the replace.")
        with _storage_call("update a tenant"):
            try:
                metadata = self._table(self._tenants_name).update_entity(
                    _tenant_to_entity(tenant),
                    mode=UpdateMode.REPLACE,
                    etag=tenant.etag,
                    match_condition=MatchConditions.IfNotModified,
                )
            except (ResourceModifiedError, ResourceNotFoundError):
                # 412 (someone else wrote first) or 404 (deleted meanwhile): either way, read again.
                raise Conflict(
                    "modifiedConcurrently",
                    f"The customer {tenant.customer_id!r} was changed or deleted by another request; "
                    "read it again and retry.",
                ) from None
        return replace(tenant, etag=metadata["etag"])

    def delete(self, customer_id: str) -> bool:
        with _storage_call("delete a tenant"):
            tenants = self._table(self._tenants_name)
            try:
                tenants.get_entity(TENANT_PARTITION, customer_id, select=["RowKey"])
                existed = True
            except ResourceNotFoundError:
                existed = False
            # History first: if this fails part-way the tenant still exists and the delete can be retried.
            # Orphaned rows of an already-missing tenant are swept too.
            self._delete_history(customer_id)
            if existed:
                tenants.delete_entity(TENANT_PARTITION, customer_id)  # a 404 here is not an error
        return existed

    def list(self, flt: TenantFilter, *, top: int, continuation_token: str | None) -> TenantPage:
        """One page in customerId order.

        Table Storage may return fewer than `top` tenants together with a token (it stops at partition
        and time boundaries); the caller just follows the token.
        """
        _check_page_size(top, "top")
        start = _decode_token(continuation_token, flt) if continuation_token is not None else None
        query_filter, parameters = _tenant_query(flt)
        with _storage_call("list tenants"):
            pages = self._table(self._tenants_name).query_entities(
                query_filter, parameters=parameters, results_per_page=top
            ).by_page(continuation_token=start)
            try:
                entities, next_token = _first_non_empty_page(pages)
            except HttpResponseError as error:
                if start is not None and error.status_code == 400:
                    # Well-formed, but the service rejected the keys inside it: still the client's token.
                    raise _invalid_token() from None
                raise
        token = _encode_token(next_token, flt) if next_token else None
        return TenantPage([_tenant_from_entity(entity) for entity in entities], token)

    def count_by_status(self) -> dict[Status, int]:
        counts = dict.fromkeys(Status, 0)
        with _storage_call("count tenants"):
            entities = self._table(self._tenants_name).query_entities(
                "PartitionKey eq @pk",
                parameters={"pk": TENANT_PARTITION},
                select=["lastVerificationStatus"],  # projection: a few bytes per tenant
                results_per_page=MAX_PAGE_SIZE,
            )
            for entity in entities:  # iterates every page
                counts[_status(entity.get("lastVerificationStatus"))] += 1
        return counts

    # --- verification history ------------------------------------------------------------------------

    def add_result(self, result: VerificationResult) -> None:
        entity = _without_none(
            {
                "PartitionKey": result.customer_id,
                "RowKey": _history_row_key(result.verified_at),
                "status": result.status.value,
                "verifiedAt": _utc(result.verified_at),
                "method": result.method.value,
                "reason": result.reason.value if result.reason else None,
                "message": result.message,
                "aadstsCode": result.aadsts_code,
                "hint": result.hint,
            }
        )
        with _storage_call("record a verification result"):
            self._table(self._history_name).create_entity(entity)

    def latest_results(self, customer_id: str, *, limit: int) -> list[VerificationResult]:
        _check_page_size(limit, "limit")
        found: list[Any] = []
        with _storage_call("read verification history"):
            pages = self._table(self._history_name).query_entities(
                "PartitionKey eq @pk", parameters={"pk": customer_id}, results_per_page=limit
            ).by_page()
            for page in islice(pages, _MAX_ROUND_TRIPS):
                found.extend(page)
                if len(found) >= limit:
                    break
        return [_result_from_entity(entity) for entity in found[:limit]]

    # --- internals ---------------------------------------------------------------------------------

    def _table(self, name: str) -> TableClient:
        _ensure_table(self._service, name)
        return self._clients[name]

    def _delete_history(self, customer_id: str) -> None:
        history = self._table(self._history_name)
        rows = history.query_entities(
            "PartitionKey eq @pk",
            parameters={"pk": customer_id},
            select=["PartitionKey", "RowKey"],
            results_per_page=MAX_PAGE_SIZE,
        )
        batch: list[tuple[str, dict[str, str]]] = []
        for row in rows:
            batch.append(("delete", {"PartitionKey": row["PartitionKey"], "RowKey": row["RowKey"]}))
            if len(batch) == _TRANSACTION_LIMIT:
                _delete_batch(history, batch)
                batch = []
        if batch:
            _delete_batch(history, batch)


class TableSettingsStore:
    """Implements ports.SettingsStore: one entity holding the provider's consent settings (no secret)."""

    _PARTITION, _ROW = "provider", "consent"

    def __init__(self, service: TableServiceClient, *, table: str = "Settings") -> None:
        self._service = service
        self._name = table
        self._client = service.get_table_client(table)

    def get(self) -> ProviderSettings | None:
        with _storage_call("read the settings"):
            _ensure_table(self._service, self._name)
            try:
                entity = self._client.get_entity(self._PARTITION, self._ROW)
            except ResourceNotFoundError:
                return None
        return ProviderSettings(
            client_id=entity.get("clientId"),
            redirect_url=entity.get("redirectUrl"),
            client_secret_configured=bool(entity.get("clientSecretConfigured", False)),
            updated_at=_plain_datetime(entity.get("updatedAt")),
            etag=entity.metadata["etag"],
        )

    def save(self, settings: ProviderSettings) -> ProviderSettings:
        entity = _without_none({
            "PartitionKey": self._PARTITION,
            "RowKey": self._ROW,
            "clientId": settings.client_id,
            "redirectUrl": settings.redirect_url,
            "clientSecretConfigured": settings.client_secret_configured,
            "updatedAt": _utc(settings.updated_at),
        })
        with _storage_call("save the settings"):
            _ensure_table(self._service, self._name)
            try:
                if settings.etag is None:
                    metadata = self._client.create_entity(entity)
                else:
                    metadata = self._client.update_entity(
                        entity, mode=UpdateMode.REPLACE, etag=settings.etag,
                        match_condition=MatchConditions.IfNotModified,
                    )
            except (ResourceExistsError, ResourceModifiedError, ResourceNotFoundError):
                raise Conflict(
                    "modifiedConcurrently", "The settings were changed by another request; read them again and retry."
                ) from None
        return replace(settings, etag=metadata["etag"])


def _ensure_table(service: TableServiceClient, name: str) -> None:
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


def _delete_batch(table: TableClient, batch: list[tuple[str, dict[str, str]]]) -> None:
    try:
        table.submit_transaction(batch)
    except TableTransactionError:
        # One row went missing meanwhile (a concurrent delete) and that fails the whole transaction;
        # delete_entity ignores a 404, so finish this batch one row at a time.
        for _, row in batch:
            table.delete_entity(row["PartitionKey"], row["RowKey"])


@contextmanager
def _storage_call(action: str) -> Iterator[None]:
    """Turns every SDK failure not handled inside the block into DependencyUnavailable (a 503)."""
    try:
        yield
    except AzureError as error:
        # The SDK's text can hold URLs and request ids; the log gets the kind and status, not the text.
        _log.warning(
            "Table Storage failed to %s: %s (status %s).",
            action,
            type(error).__name__,
            getattr(error, "status_code", None),
        )
        raise DependencyUnavailable("storageUnavailable", _UNAVAILABLE) from error


def _check_page_size(value: int, name: str) -> None:
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise ValueError(f"{name} must be between 1 and {MAX_PAGE_SIZE}, not {value}.")


def _first_non_empty_page(pages: PageIterator) -> tuple[list[Any], dict[str, Any] | None]:
    """The entities of the first page that has any, and the SDK's token after it (None at the end)."""
    for _ in range(_MAX_ROUND_TRIPS):
        page = next(pages, None)
        if page is None:
            return [], None
        entities = list(page)
        if entities or not pages.continuation_token:
            return entities, pages.continuation_token or None
    return [], pages.continuation_token or None


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


# --- continuation tokens ---------------------------------------------------------------------------
# Opaque to clients: "v1." + base64url (no padding) of compact JSON {"m","pk","rk","s"}: the SDK's next
# partition/row key plus the filter the token was issued for. A token is accepted only if re-encoding
# what it decodes to gives back the very same string, and only for the same filter.


def _encode_token(sdk_token: Mapping[str, Any], flt: TenantFilter) -> str:
    body = {
        "pk": sdk_token.get("PartitionKey"),
        "rk": sdk_token.get("RowKey"),
        "s": flt.status.value if flt.status is not None else None,
        "m": flt.method.value if flt.method is not None else None,
    }
    compact = json.dumps(body, separators=(",", ":"), sort_keys=True, ensure_ascii=True)
    return _TOKEN_PREFIX + base64.urlsafe_b64encode(compact.encode("ascii")).rstrip(b"=").decode("ascii")


def _decode_token(token: str, flt: TenantFilter) -> dict[str, str | None]:
    payload = token[len(_TOKEN_PREFIX):]
    well_formed = token.startswith(_TOKEN_PREFIX) and _TOKEN_BODY.fullmatch(payload)
    if len(token) > _TOKEN_MAX_CHARS or not well_formed:
        raise _invalid_token()
    try:
        body = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    except (binascii.Error, ValueError):  # bad base64, bad UTF-8, bad JSON
        raise _invalid_token() from None
    if not isinstance(body, dict) or set(body) != {"pk", "rk", "s", "m"}:
        raise _invalid_token()
    pk, rk = body["pk"], body["rk"]
    if not isinstance(pk, str) or not pk or not (rk is None or isinstance(rk, str)):
        raise _invalid_token()
    sdk_token = {"PartitionKey": pk, "RowKey": rk}
    if _encode_token(sdk_token, flt) != token:  # not canonical, or issued for another filter
        raise _invalid_token()
    return sdk_token


def _invalid_token() -> InputError:
    return InputError(
        "invalidContinuationToken",
        "The continuation token is not one this service issued for this query; start again without it.",
        status=400,
    )


# --- entity mapping --------------------------------------------------------------------------------


def _tenant_to_entity(tenant: Tenant) -> dict[str, Any]:
    return _without_none(
        {
            "PartitionKey": TENANT_PARTITION,
            "RowKey": tenant.customer_id,
            "customerId": tenant.customer_id,
            "tenantId": tenant.tenant_id,
            "m365Email": tenant.m365_email,
            "authenticationMethod": AuthMethod(tenant.authentication_method).value,
            "applicationId": tenant.application_id,
            "lastVerificationStatus": Status(tenant.last_verification_status).value,
            "whenLastVerified": _utc(tenant.when_last_verified),
            "lastVerificationReason": (
                Reason(tenant.last_verification_reason).value if tenant.last_verification_reason else None
            ),
            "lastVerificationMessage": tenant.last_verification_message,
            "aadstsCode": tenant.aadsts_code,
            "hint": tenant.hint,
            # Names only, never values; a JSON string because Table Storage has no list type.
            "secretsConfigured": json.dumps(sorted(SecretName(n).value for n in tenant.secrets_configured)),
            "createdAt": _utc(tenant.created_at),
            "updatedAt": _utc(tenant.updated_at),
        }
    )


def _tenant_from_entity(entity: Any) -> Tenant:
    customer_id = entity["RowKey"]
    return Tenant(
        customer_id=customer_id,
        tenant_id=entity["tenantId"],
        authentication_method=AuthMethod(entity["authenticationMethod"]),
        m365_email=entity.get("m365Email"),
        application_id=entity.get("applicationId"),
        secrets_configured=_secret_names(entity.get("secretsConfigured"), customer_id),
        last_verification_status=_status(entity.get("lastVerificationStatus")),
        when_last_verified=_plain_datetime(entity.get("whenLastVerified")),
        last_verification_reason=_reason(entity.get("lastVerificationReason")),
        last_verification_message=entity.get("lastVerificationMessage"),
        aadsts_code=_int(entity.get("aadstsCode")),
        hint=entity.get("hint"),
        created_at=_plain_datetime(entity.get("createdAt")),
        updated_at=_plain_datetime(entity.get("updatedAt")),
        etag=entity.metadata.get("etag"),
    )


def _result_from_entity(entity: Any) -> VerificationResult:
    verified_at = _plain_datetime(entity.get("verifiedAt"))
    if verified_at is None:
        raise ValueError("A verification history row has no verifiedAt.")
    return VerificationResult(
        customer_id=entity["PartitionKey"],
        status=_status(entity.get("status")),
        verified_at=verified_at,
        method=AuthMethod(entity["method"]),
        reason=_reason(entity.get("reason")),
        message=entity.get("message"),
        aadsts_code=_int(entity.get("aadstsCode")),
        hint=entity.get("hint"),
    )


def _without_none(entity: dict[str, Any]) -> dict[str, Any]:
    # A missing column is how Table Storage says null; REPLACE then also clears a column set before.
    return {name: value for name, value in entity.items() if value is not None}


def _history_row_key(verified_at: datetime) -> str:
    micros = (_utc(verified_at) - _EPOCH) // timedelta(microseconds=1)
    # The suffix keeps two results of the same microsecond apart.
    return f"{_INVERT_FROM - micros:020d}-{uuid.uuid4().hex[:8]}"


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    # Naive values are taken as UTC: the SDK would otherwise read them as the machine's local time.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _plain_datetime(value: Any) -> datetime | None:
    """The SDK's TablesEntityDatetime (which remembers the service's text) as a plain aware datetime."""
    if value is None:
        return None
    utc = _utc(value)
    assert utc is not None
    return datetime(
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=UTC
    )


def _int(value: Any) -> int | None:
    if value is None:
        return None
    return int(getattr(value, "value", value))  # an Edm.Int64 column arrives as an EntityProperty


def _status(value: Any) -> Status:
    return _known(Status, value, default=Status.NOT_VERIFIED) or Status.NOT_VERIFIED


def _reason(value: Any) -> Reason | None:
    return _known(Reason, value, default=Reason.UNKNOWN_ERROR)


def _known(kind: type[E], value: Any, *, default: E) -> E | None:
    """Tolerates values a newer or older version wrote, so one odd row cannot break a whole list."""
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        _log.warning("Unknown %s %r in Table Storage; read as %s.", kind.__name__, value, default.value)
        return default


def _secret_names(value: Any, customer_id: str) -> frozenset[SecretName]:
    try:
        names = json.loads(value) if value else []
    except ValueError:
        names = None
    if not isinstance(names, list):
        _log.warning("secretsConfigured of customer %r is not a JSON list; read as empty.", customer_id)
        return frozenset()
    return frozenset(SecretName(name) for name in names if name in _SECRET_NAMES)
