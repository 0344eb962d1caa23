"""CustomerStore (and HistoryStore, EventOutbox) on Azure Table Storage: the Tenants table, its entities, and the
status counts, histories and outbox kept in it.

Partition "tenant": one entity per customer (RowKey = customerId, one camelCase column per field), and the count
shards of the customers' statuses ("~count-NN", table_counter.py: they sort after every customerId), changed in
the same entity-group transaction as the customer whose status changes; each customer's latest results
("~history-<customerId>~NN", table_history.py), written with the record that counts them; and the outbox
("~outbox-<eventId>", after the histories), the status events written in the same transaction as the results
that made them (at most OUTBOX_ROW_EVENTS a row, as JSON), until the relay has copied them to the Events table.
Every filter goes through the SDK's `parameters` (it quotes and escapes values); none is built from input.
"""
from __future__ import annotations

import json
import logging
import re
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from itertools import islice
from typing import Any, TypeVar

from azure.core import MatchConditions
from azure.core.exceptions import HttpResponseError, ResourceModifiedError, ResourceNotFoundError
from azure.data.tables import TableClient, TableServiceClient, TableTransactionError, UpdateMode

from ..domain.alerts.events import StatusEvent
from ..domain.alerts.reminders import FailureRecord
from ..domain.errors import Conflict, invalid_continuation_token
from ..domain.expiry_record import record_outlook
from ..domain.models import (
    AuthMethod,
    ConsentResult,
    Cursor,
    Customer,
    CustomerFilter,
    CustomerListing,
    LastConsent,
    PendingConsent,
    Status,
)
from ..domain.reasons import Reason
from ..domain.rules import RESULTS_PER_WRITE, is_customer_id
from ..domain.secrets import SecretKind
from ..domain.verification import VerificationResult
from .table_columns import int_or_none, plain_datetime, reason_of, status_of, utc, without_none
from .table_common import (
    TRANSACTION_LIMIT,
    TableAccess,
    check_page_size,
    first_non_empty_page,
    if_unchanged,
    storage_call,
)
from .table_counter import ATTEMPTS, COUNT_PREFIX, ShardedCounts
from .table_events import event_from_record, event_to_record
from .table_foresight import foresight_of, foresight_to_json
from .table_history import history_key, result_from_entity, result_to_entity, slots_of

logger = logging.getLogger(__name__)

T = TypeVar("T")

CUSTOMER_PARTITION = "tenant"
_SECRET_NAMES = frozenset(name.value for name in SecretKind)
_SURROGATE = re.compile("[\ud800-\udfff]")
# Outbox rows sort after the count shards ("~o" > "~count-~"), so no listing, count or recount reads them.
OUTBOX_PREFIX = "~outbox-"
# Events per outbox row: a group of 50 customers' events takes 2 rows (50 + 2 + a count shard in one transaction),
# and 25 events of the longest ids stay far below a string column's 64 KiB.
OUTBOX_ROW_EVENTS = 25
# What GET /api/status shows of a customer (views.tenant_view, with its foresight fields): its record's times, the
# state before a reset and the derived expiresAt stay in the service.
SHOWN_COLUMNS = ["RowKey", "tenantId", "m365Email", "authenticationMethod", "applicationSecretExpiresAt",
                 "whenLastVerified", "lastVerificationStatus", "lastVerificationReason", "lastVerificationMessage",
                 "aadstsCode", "hint", "secretVersions", "pendingConsent", "lastConsent", "foresight"]
# The $format the generated query operation takes (Query Entities' `$format` option): no odata.type or etag a row,
# so Edm.DateTime columns arrive as text, read by _with_shown_times.
_NO_METADATA = "application/json;odata=nometadata"
_SHOWN_TIMES = ("applicationSecretExpiresAt", "whenLastVerified")


class TableCustomerStore:
    """Implements ports.CustomerStore, ports.HistoryStore and ports.EventOutbox. Creates its table on first use, once
    per process."""

    def __init__(self, service: TableServiceClient, *, table: str = "Tenants") -> None:
        self._name = table
        self._on_table = TableAccess(service, table)

    def get(self, customer_id: str) -> Customer | None:
        with storage_call("read a customer"):
            entity = self._on_table.get_row(CUSTOMER_PARTITION, customer_id)
        return None if entity is None else customer_from_entity(entity)

    def get_many(self, customer_ids: Sequence[str]) -> dict[str, Customer]:
        """One range query from the first id to the last: a run's chunk is a run of adjacent ids."""
        wanted = {c for c in customer_ids if is_customer_id(c)}
        if not wanted:
            return {}
        bounds = {"pk": CUSTOMER_PARTITION, "first": min(wanted), "last": max(wanted)}
        with storage_call("read customers"):
            entities = self._on_table(lambda table: list(table.query_entities(
                "PartitionKey eq @pk and RowKey ge @first and RowKey le @last", parameters=bounds)))
        return {e["RowKey"]: customer_from_entity(e) for e in entities if e["RowKey"] in wanted}

    def create(self, customer: Customer) -> Customer:
        with storage_call("add a customer"):
            try:
                metadata = self._on_table(lambda table: counted_write(
                    table, ("create", customer_to_entity(customer)), {customer.last_verification_status: 1}
                ))
            except TableTransactionError as err:
                if err.error_code != "EntityAlreadyExists":
                    raise
                raise Conflict(
                    "alreadyExists", f"A customer with the id {customer.customer_id!r} already exists."
                ) from None
        return replace(customer, etag=metadata["etag"])

    def replace(self, previous: Customer, customer: Customer, *, events: Sequence[StatusEvent] = (),
                result: VerificationResult | None = None) -> Customer:
        operations = [_replace_operation(previous, customer),
                      *_history_operations([customer], [result] if result is not None else []),
                      *_outbox_operations(events)]
        delta = {s.value: n for s, n in _change(previous.last_verification_status,
                                                customer.last_verification_status).items()}
        with storage_call("update a customer"), _conflict_if_changed(previous):
            metadata = self._on_table(
                lambda table: STATUS_COUNTS.write(table, CUSTOMER_PARTITION, operations, delta))[0]
        return replace(customer, etag=metadata["etag"])

    def replace_many(self, changes: Sequence[tuple[Customer, Customer]], *, events: Sequence[StatusEvent] = (),
                     results: Sequence[VerificationResult] = ()) -> list[Customer]:
        """One entity-group transaction: every customer under its ETag, its result's history row, the outbox rows of
        `events`, and one count shard for all of them."""
        if len(changes) > RESULTS_PER_WRITE:
            raise ValueError(f"At most {RESULTS_PER_WRITE} customers are updated at once.")
        if len({customer.customer_id for _, customer in changes}) != len(changes):
            raise ValueError("A customer appears twice among the changes.")
        if not changes:
            return []
        operations = [*(_replace_operation(previous, customer) for previous, customer in changes),
                      *_history_operations([customer for _, customer in changes], results),
                      *_outbox_operations(events)]
        delta = Counter[str]()
        for previous, customer in changes:
            delta.update({status.value: n for status, n in _change(previous.last_verification_status,
                                                                   customer.last_verification_status).items()})
        with storage_call("update customers"):
            try:
                metadata = self._on_table(
                    lambda table: STATUS_COUNTS.write(table, CUSTOMER_PARTITION, operations, delta))
            except TableTransactionError as err:
                if err.status_code in (404, 412) and 0 <= err.index < len(changes):
                    raise _modified(changes[err.index][0].customer_id) from None
                raise
        return [replace(customer, etag=meta["etag"]) for (_, customer), meta in zip(changes, metadata[:len(changes)],
                                                                                      strict=True)]

    def delete(self, customer: Customer) -> None:
        guard = _etag_guard(customer, "delete")
        operation = ("delete", {"PartitionKey": CUSTOMER_PARTITION, "RowKey": customer.customer_id}, guard)
        with storage_call("delete a customer"):
            try:
                self._on_table(lambda table: counted_write(table, operation, {customer.last_verification_status: -1}))
            except TableTransactionError as err:
                if err.status_code == 404:
                    return  # deleted meanwhile, and counted then: the record is gone either way
                if err.status_code == 412:
                    raise _modified(customer.customer_id) from None
                raise

    def list_latest(self, customer_id: str, *, limit: int) -> list[VerificationResult]:
        """Implements ports.HistoryStore: one range query of the customer's ring, sorted here."""
        check_page_size(limit, "limit")
        with storage_call("read verification history"):
            rows = self._on_table(lambda table: _history_rows(table, customer_id))
        return sorted((result_from_entity(row) for row in rows), key=lambda r: r.verified_at, reverse=True)[:limit]

    def delete_all(self, customer_id: str) -> None:
        """Implements ports.HistoryStore: after the record is deleted, its ring (at most HISTORY_KEPT rows, one
        transaction)."""
        with storage_call("delete verification history"):
            self._on_table(lambda table: _delete_rows(
                table, [row["RowKey"] for row in _history_rows(table, customer_id, select=["RowKey"])]))

    def list(self, flt: CustomerFilter, *, top: int, after: Cursor | None) -> CustomerListing:
        """One listing in customerId order.

        Table Storage may return fewer than `top` customers together with a cursor (it stops at partition
        and time boundaries); the caller just follows it.
        """
        entities, following = self._page(flt, top, after, select=None)
        return CustomerListing([customer_from_entity(entity) for entity in entities], following)

    def list_shown(self, flt: CustomerFilter, *, top: int, after: Cursor | None) -> CustomerListing:
        """`list` with only the columns GET /api/status shows (SHOWN_COLUMNS), without type annotations or etags:
        the service sends about half the bytes and the SDK parses no time. Its customers carry no etag, so none can
        be written back."""
        entities, following = self._page(flt, top, after, select=SHOWN_COLUMNS, format=_NO_METADATA)
        return CustomerListing([customer_from_entity(_with_shown_times(entity)) for entity in entities], following)

    def list_ids(self, *, top: int, after: Cursor | None) -> tuple[list[str], Cursor | None]:
        """`list` of every customer, ids only: the service sends a few bytes per customer instead of the record."""
        entities, following = self._page(CustomerFilter(), top, after, select=["RowKey"])
        return [entity["RowKey"] for entity in entities], following

    def _page(self, flt: CustomerFilter, top: int, after: Cursor | None,
              select: list[str] | None, **options: str) -> tuple[list[Any], Cursor | None]:
        check_page_size(top, "top")
        start = _start_of(after) if after is not None else None
        query_filter, parameters = _customer_query(flt)
        with storage_call("list customers"):
            try:
                entities, next_token = self._on_table(lambda table: first_non_empty_page(table.query_entities(
                    query_filter, parameters=parameters, results_per_page=top, select=select, **options
                ).by_page(continuation_token=start)))
            except HttpResponseError as error:
                if start is not None and error.status_code == 400:
                    # The service rejected the keys the client's token carried: still the client's token.
                    raise invalid_continuation_token() from None
                raise
        return entities, _cursor_of(next_token)

    def claim_unrelayed(self, *, written_before: datetime, top: int) -> list[tuple[StatusEvent, ...]]:
        """Implements ports.EventOutbox: each row found is claimed by writing its `writtenAt` anew under its ETag;
        a row another caller claimed or removed meanwhile is left out."""
        check_page_size(top, "top")
        parameters = {"pk": CUSTOMER_PARTITION, "first": OUTBOX_PREFIX, "end": OUTBOX_PREFIX + "~",
                      "before": utc(written_before)}
        with storage_call("read the outbox"):
            rows = self._on_table(lambda table: list(islice(table.query_entities(
                "PartitionKey eq @pk and RowKey ge @first and RowKey lt @end and writtenAt lt @before",
                parameters=parameters, results_per_page=top), top)))
            rows.sort(key=lambda row: row["writtenAt"])
            return [events for row in rows if (events := self._claim(row)) is not None]

    def _claim(self, row: Any) -> tuple[StatusEvent, ...] | None:
        claimed = {**row, "writtenAt": datetime.now(UTC)}
        try:
            self._on_table(lambda table: table.update_entity(
                claimed, mode=UpdateMode.REPLACE, etag=row.metadata["etag"],
                match_condition=MatchConditions.IfNotModified))
        except (ResourceNotFoundError, ResourceModifiedError):
            return None  # relayed, or claimed, by another caller since it was listed
        try:
            return tuple(event_from_record(record) for record in json.loads(row["events"]))
        except (ValueError, KeyError, TypeError):
            logger.error("Outbox row %s cannot be read; it is left in place.", row["RowKey"])
            return None

    def forget_relayed(self, writes: Sequence[Sequence[StatusEvent]]) -> None:
        """Implements ports.EventOutbox: a write's rows are named by their first events, so its events name them."""
        keys = [key for events in writes for key in _outbox_keys(events)]
        with storage_call("clear the outbox"):
            for start in range(0, len(keys), TRANSACTION_LIMIT):
                self._on_table(lambda table, start=start: _delete_rows(table, keys[start:start + TRANSACTION_LIMIT]))

    def get_status_counts(self) -> dict[Status, int]:
        with storage_call("count customers"):
            return self._on_table(read_counts)

    def expiring_by(self, moment: datetime) -> list[datetime]:
        """The known times to failure at or before `moment` (a projection of one column, of those customers only)."""
        with storage_call("count the expiring customers"):
            rows = self._on_table(lambda table: list(table.query_entities(
                "PartitionKey eq @pk and RowKey lt @counts and expiresAt le @moment",
                parameters={"pk": CUSTOMER_PARTITION, "counts": COUNT_PREFIX, "moment": utc(moment)},
                select=["expiresAt"])))
        return sorted(at for row in rows if (at := plain_datetime(row.get("expiresAt"))) is not None)

    def list_failures(self) -> list[FailureRecord]:
        """A projection of the five columns a reminder shows, of the failing customers only: a few hundred bytes
        per customer rather than its whole entity."""
        with storage_call("list the failing customers"):
            rows = self._on_table(lambda table: list(table.query_entities(
                "PartitionKey eq @pk and RowKey lt @counts and lastVerificationStatus eq @failed",
                parameters={"pk": CUSTOMER_PARTITION, "counts": COUNT_PREFIX, "failed": Status.FAILED.value},
                select=["RowKey", "tenantId", "lastVerificationReason", "hint", "lastVerificationMessage"])))
        return [FailureRecord(row["RowKey"], row["tenantId"], reason_of(row.get("lastVerificationReason")),
                              row.get("hint"), row.get("lastVerificationMessage")) for row in rows]

    def recount_status_counts(self) -> dict[Status, int]:
        with storage_call("count customers"):
            return self._on_table(recount)


def _cursor_of(next_token: dict[str, Any] | None) -> Cursor | None:
    """The SDK's continuation (the next partition and row key) as the cursor this store hands out: compact JSON,
    ASCII only."""
    if not next_token or not next_token.get("PartitionKey"):
        return None
    return json.dumps([next_token["PartitionKey"], next_token.get("RowKey")], separators=(",", ":"))


def _start_of(cursor: Cursor) -> dict[str, Any]:
    """The SDK's continuation a cursor of this store names; a cursor it did not make is the client's bad token."""
    try:
        keys: Any = json.loads(cursor)
    except (ValueError, RecursionError):
        raise invalid_continuation_token() from None
    if not (isinstance(keys, list) and len(keys) == 2 and isinstance(keys[0], str) and keys[0]
            and (keys[1] is None or isinstance(keys[1], str))):
        raise invalid_continuation_token()
    if any(key and _SURROGATE.search(key) for key in keys):
        raise invalid_continuation_token()  # no key holds one; the SDK could not even put it in a URL
    return {"PartitionKey": keys[0], "RowKey": keys[1]}


def _customer_query(flt: CustomerFilter) -> tuple[str, dict[str, str]]:
    clauses = ["PartitionKey eq @pk", "RowKey lt @counts"]  # the count shards sort after every customerId
    parameters = {"pk": CUSTOMER_PARTITION, "counts": COUNT_PREFIX}
    if flt.status is not None:
        clauses.append("lastVerificationStatus eq @status")
        parameters["status"] = Status(flt.status).value
    if flt.method is not None:
        clauses.append("authenticationMethod eq @method")
        parameters["method"] = AuthMethod(flt.method).value
    if flt.expires_before is not None:
        clauses.append("expiresAt le @expiresBefore")
        parameters["expiresBefore"] = utc(flt.expires_before)
    return " and ".join(clauses), parameters


def _outbox_rows(events: Sequence[StatusEvent]) -> list[list[StatusEvent]]:
    return [list(events[i:i + OUTBOX_ROW_EVENTS]) for i in range(0, len(events), OUTBOX_ROW_EVENTS)]


def _outbox_keys(events: Sequence[StatusEvent]) -> list[str]:
    return [OUTBOX_PREFIX + row[0].event_id for row in _outbox_rows(events)]


def _delete_rows(table: TableClient, keys: list[str]) -> None:
    """Delete these rows of the customers' partition (at most TRANSACTION_LIMIT), in one transaction when none
    went already."""
    if not keys:
        return
    try:
        table.submit_transaction([("delete", {"PartitionKey": CUSTOMER_PARTITION, "RowKey": key}) for key in keys])
    except TableTransactionError:
        # One row went already (a relay run again, a delete repeated): that fails the whole transaction;
        # delete_entity ignores a 404.
        for key in keys:
            table.delete_entity(CUSTOMER_PARTITION, key)


def _outbox_operations(events: Sequence[StatusEvent]) -> list[tuple[Any, ...]]:
    written = datetime.now(UTC)
    return [("create", {"PartitionKey": CUSTOMER_PARTITION, "RowKey": key, "writtenAt": written,
                        "events": json.dumps([event_to_record(e) for e in row], separators=(",", ":"))})
            for key, row in zip(_outbox_keys(events), _outbox_rows(events), strict=True)]


def _history_rows(table: TableClient, customer_id: str, *, select: list[str] | None = None) -> list[Any]:
    """The rows of a customer's history ring: one range query."""
    start, end = slots_of(customer_id)
    return list(table.query_entities("PartitionKey eq @pk and RowKey gt @start and RowKey lt @end",
                                     parameters={"pk": CUSTOMER_PARTITION, "start": start, "end": end},
                                     select=select))


def _history_operations(customers: Sequence[Customer], results: Sequence[VerificationResult]) -> list[tuple[Any, ...]]:
    """Each result into the ring slot of the record (among `customers`) that counts it."""
    by_id = {customer.customer_id: customer for customer in customers}
    operations = []
    for result in results:
        customer = by_id.get(result.customer_id)
        if customer is None:
            raise ValueError(f"The result of {result.customer_id!r} comes without its record.")
        entity = {"PartitionKey": CUSTOMER_PARTITION, "RowKey": history_key(customer.customer_id,
                                                                            customer.results_recorded),
                  **result_to_entity(result)}
        operations.append(("upsert", entity, {"mode": UpdateMode.REPLACE}))
    return operations


def _replace_operation(previous: Customer, customer: Customer) -> tuple[Any, ...]:
    return ("update", customer_to_entity(customer), {"mode": UpdateMode.REPLACE, **_etag_guard(previous, "update")})


def _etag_guard(customer: Customer, action: str) -> dict[str, object]:
    if customer.etag is None:
        raise ValueError(f"To {action} a customer, read it from the store first: its etag guards the write.")
    return if_unchanged(customer.etag, mode=None)


def _change(before: Status, after: Status) -> dict[Status, int]:
    return {} if before == after else {before: -1, after: 1}


@contextmanager
def _conflict_if_changed(previous: Customer) -> Iterator[None]:
    """412 (changed since it was read) or 404 (deleted since) on the customer itself: read again and retry."""
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


# --- the customers' status counts (one column per Status) ----------------------------------------

STATUS_COUNTS = ShardedCounts(tuple(status.value for status in Status))


def counted_write(table: TableClient, operation: tuple[Any, ...], delta: Mapping[Status, int]) -> Mapping[str, Any]:
    """Submit one customer operation together with the change it makes to the counts; returns the customer
    operation's metadata. The customer's own failure (TableTransactionError with index 0) is raised as is."""
    values = {Status(status).value: change for status, change in delta.items()}
    return STATUS_COUNTS.write(table, CUSTOMER_PARTITION, [operation], values)[0]


def read_counts(table: TableClient) -> dict[Status, int]:
    """The kept counts (all zero before any customer was written)."""
    return _by_status(STATUS_COUNTS.sums(STATUS_COUNTS.rows(table, CUSTOMER_PARTITION).values()))


def recount(table: TableClient) -> dict[Status, int]:
    """Count every customer and correct the kept counts to match. Exact despite concurrent writers: the scan
    counts only if no shard changed while it ran (every status change changes a shard)."""
    for _ in range(ATTEMPTS):
        before = STATUS_COUNTS.rows(table, CUSTOMER_PARTITION)
        counted = dict.fromkeys(Status, 0)
        rows = table.query_entities(
            "PartitionKey eq @pk and RowKey lt @end",
            parameters={"pk": CUSTOMER_PARTITION, "end": "~"},
            select=["lastVerificationStatus"],  # projection: a few bytes per customer
        )
        for row in rows:
            counted[status_of(row.get("lastVerificationStatus"))] += 1
        after = STATUS_COUNTS.rows(table, CUSTOMER_PARTITION)
        if {k: v.metadata["etag"] for k, v in after.items()} != {k: v.metadata["etag"] for k, v in before.items()}:
            continue
        kept = _by_status(STATUS_COUNTS.sums(before.values()))
        correction = {status.value: counted[status] - kept[status] for status in Status}
        if not any(correction.values()) and before:
            return counted
        if STATUS_COUNTS.correct(table, CUSTOMER_PARTITION, before, correction):
            return counted
        # a writer came in between: count again
    raise Conflict("modifiedConcurrently", "Customers kept changing while they were counted; retry later.")


def _by_status(sums: Mapping[str, int]) -> dict[Status, int]:
    return {status: sums[status.value] for status in Status}


# --- entities ------------------------------------------------------------------------------------------


def customer_to_entity(customer: Customer) -> dict[str, Any]:
    return without_none(
        {
            "PartitionKey": CUSTOMER_PARTITION,
            "RowKey": customer.customer_id,
            "customerId": customer.customer_id,
            "tenantId": customer.tenant_id,
            "m365Email": customer.m365_email,
            "authenticationMethod": AuthMethod(customer.authentication_method).value,
            "applicationId": customer.application_id,
            "lastVerificationStatus": Status(customer.last_verification_status).value,
            "whenLastVerified": utc(customer.when_last_verified),
            "lastVerificationReason": (
                Reason(customer.last_verification_reason).value if customer.last_verification_reason else None
            ),
            "lastVerificationMessage": customer.last_verification_message,
            "aadstsCode": customer.aadsts_code,
            "hint": customer.hint,
            # Kinds and version ids only, never values; JSON because Table Storage has no map type.
            "secretVersions": json.dumps(
                {SecretKind(name).value: version for name, version in customer.secret_versions.items()}, sort_keys=True
            ),
            "createdAt": utc(customer.created_at),
            "updatedAt": utc(customer.updated_at),
            "pendingConsent": _pending_to_json(customer.pending_consent),
            "lastConsent": _last_consent_to_json(customer.last_consent),
            "applicationSecretExpiresAt": utc(customer.application_secret_expires_at),
            "foresight": foresight_to_json(customer.foresight),
            # The state an edit or a consent reset the record from, for the event of its next result.
            "statusBeforeReset": Status(customer.status_before_reset).value if customer.status_before_reset else None,
            "reasonBeforeReset": Reason(customer.reason_before_reset).value if customer.reason_before_reset else None,
            # Worked out from the two above on every write, so the expiringWithinDays filter can read it.
            "expiresAt": utc(record_outlook(customer).expires_at),
            "resultsRecorded": customer.results_recorded or None,  # none yet: no column
        }
    )


def _with_shown_times(entity: Any) -> Any:
    """A row read without metadata, its time columns (ISO 8601 text in UTC) as the aware datetimes the SDK makes."""
    for column in _SHOWN_TIMES:
        if isinstance(text := entity.get(column), str):
            entity[column] = datetime.fromisoformat(text)
    return entity


def customer_from_entity(entity: Any) -> Customer:
    customer_id = entity["RowKey"]
    return Customer(
        customer_id=customer_id,
        tenant_id=entity["tenantId"],
        authentication_method=AuthMethod(entity["authenticationMethod"]),
        m365_email=entity.get("m365Email"),
        application_id=entity.get("applicationId"),
        secret_versions=_secret_versions(entity, customer_id),
        last_verification_status=status_of(entity.get("lastVerificationStatus")),
        when_last_verified=plain_datetime(entity.get("whenLastVerified")),
        last_verification_reason=reason_of(entity.get("lastVerificationReason")),
        last_verification_message=entity.get("lastVerificationMessage"),
        aadsts_code=int_or_none(entity.get("aadstsCode")),
        hint=entity.get("hint"),
        created_at=plain_datetime(entity.get("createdAt")),
        updated_at=plain_datetime(entity.get("updatedAt")),
        pending_consent=_json_column(entity, "pendingConsent", _pending_of),
        last_consent=_json_column(entity, "lastConsent", _last_consent_of),
        application_secret_expires_at=plain_datetime(entity.get("applicationSecretExpiresAt")),
        foresight=_json_column(entity, "foresight", foresight_of),
        results_recorded=int_or_none(entity.get("resultsRecorded")) or 0,
        status_before_reset=status_of(entity["statusBeforeReset"]) if entity.get("statusBeforeReset") else None,
        reason_before_reset=reason_of(entity.get("reasonBeforeReset")),
        etag=entity.metadata.get("etag"),
    )


def _pending_to_json(pending: PendingConsent | None) -> str | None:
    if pending is None:
        return None
    return json.dumps({"method": pending.method.value, "createdAt": pending.created_at.isoformat(),
                       "expiresAt": pending.expires_at.isoformat(), "stateHash": pending.state_hash,
                       "flowVersion": pending.flow_version}, sort_keys=True)


def _pending_of(data: Any) -> PendingConsent:
    return PendingConsent(method=AuthMethod(data["method"]), created_at=datetime.fromisoformat(data["createdAt"]),
                          expires_at=datetime.fromisoformat(data["expiresAt"]), state_hash=str(data["stateHash"]),
                          flow_version=data.get("flowVersion"))


def _last_consent_to_json(last: LastConsent | None) -> str | None:
    if last is None:
        return None
    return json.dumps({"outcome": last.outcome.value, "method": last.method.value, "at": last.at.isoformat(),
                       "message": last.message}, sort_keys=True)


def _last_consent_of(data: Any) -> LastConsent:
    message = data.get("message")
    return LastConsent(outcome=ConsentResult(data["outcome"]), method=AuthMethod(data["method"]),
                       at=datetime.fromisoformat(data["at"]), message=message if isinstance(message, str) else None)


def _json_column(entity: Any, column: str, read: Callable[[Any], T]) -> T | None:
    """A JSON column read by `read`; a column that cannot be read is logged and read as none."""
    raw = entity.get(column)
    if not raw:
        return None
    try:
        return read(json.loads(raw))
    except (ValueError, KeyError, TypeError, AttributeError):
        logger.warning("%s of customer %r cannot be read; read as none.", column, entity["RowKey"])
        return None


def _secret_versions(entity: Any, customer_id: str) -> dict[SecretKind, str]:
    try:
        versions = json.loads(entity.get("secretVersions") or "{}")
    except ValueError:
        versions = None
    if not isinstance(versions, dict):
        logger.warning("secretVersions of customer %r is not a JSON object; read as empty.", customer_id)
        return {}
    return {
        SecretKind(name): version
        for name, version in versions.items()
        if name in _SECRET_NAMES and isinstance(version, str)
    }
