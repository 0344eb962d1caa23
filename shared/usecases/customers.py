"""Use cases for customer records: create or update, read, delete. Secrets go to the SecretStore only."""
from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime

from ..domain.errors import Conflict, InputError, NotFound
from ..domain.expiry_record import kept_through_edit
from ..domain.inputs import CustomerInput
from ..domain.models import AuthMethod, Customer, Status
from ..domain.ports import CustomerStore, HistoryStore, SecretStore
from ..domain.secrets import SecretKind
from ..domain.verification import same_verification_inputs
from .expiry_dates import kept_expiry
from .secret_writes import new_versions, retire_quietly

logger = logging.getLogger(__name__)

_DELETE_ATTEMPTS = 3  # deletes tried while only verification results change the record


def get_customer(store: CustomerStore, customer_id: str) -> Customer:
    customer = store.get(customer_id)
    if customer is None:
        raise NotFound(f"No customer with customerId {customer_id}.")
    return customer


def _require(condition: bool, field: str, method: AuthMethod) -> None:
    if not condition:
        raise InputError("missingField", f"{field} is required for authenticationMethod {method.value}.",
                         target=field)


def put_customer(
    store: CustomerStore,
    secrets: SecretStore,
    customer_id: str,
    data: CustomerInput,
    *,
    now: datetime | None = None,
) -> tuple[Customer, bool]:
    """Create or replace a customer; returns (customer, created). Validates fully before writing anything;
    new secrets become new versions that the record then points at (usecases/secret_writes.py); the versions
    they replace are left to the sweep."""
    now = now or datetime.now(UTC)
    existing = store.get(customer_id)
    kept = dict(existing.secret_versions) if existing else {}
    application_id = data.application_id or (existing.application_id if existing else None)

    method = data.authentication_method
    if method is AuthMethod.PASSWORD:
        _require(data.password is not None or SecretKind.PASSWORD in kept, "password", method)
    elif method is AuthMethod.APPLICATION:
        _require(application_id is not None, "applicationId", method)
        _require(
            data.application_secret is not None or SecretKind.APPLICATION_SECRET in kept,
            "applicationSecret",
            method,
        )

    values = {SecretKind.PASSWORD: data.password, SecretKind.APPLICATION_SECRET: data.application_secret}
    with new_versions(secrets, customer_id, values) as written:
        customer = Customer(
            customer_id=customer_id,
            tenant_id=data.tenant_id,
            authentication_method=method,
            m365_email=data.m365_email,
            application_id=application_id,
            secret_versions={**kept, **written},
            created_at=existing.created_at if existing else now,
            updated_at=now,
            pending_consent=existing.pending_consent if existing else None,
            last_consent=existing.last_consent if existing else None,
            results_recorded=existing.results_recorded if existing else 0,  # its history stays (a method change too)
            application_secret_expires_at=kept_expiry(
                existing.application_secret_expires_at if existing else None, given=data.expiry_given,
                value=data.application_secret_expires_at, secret_changed=data.application_secret is not None),
        )
        customer = dataclasses.replace(customer, foresight=kept_through_edit(existing, customer))
        return _save(store, existing, customer)


def _save(store: CustomerStore, existing: Customer | None, customer: Customer) -> tuple[Customer, bool]:
    if existing is None:
        try:
            return store.create(customer), True
        except Conflict:
            # Another request created it between our read and write: the caller may retry as an update.
            raise Conflict("modifiedConcurrently", "The customer was created by another request; retry.") from None

    if same_verification_inputs(existing, customer):
        # The last verification still describes this configuration (a new secret is a new version): keep it.
        customer = customer.with_outcome_of(existing)
    else:
        # Reset, remembering the state its latest result left: a failure restored after the edit is still news.
        customer = customer.with_outcome_of(existing).not_verified()
        logger.info(
            "customer %s changed how it is reached; its status is back to %s", customer.customer_id, Status.NOT_VERIFIED
        )
    return store.replace(existing, customer), False


def delete_customer(store: CustomerStore, history: HistoryStore, secrets: SecretStore, customer_id: str) -> None:
    """The record goes first, under its ETag, so no write that read it can bring its secrets back; then its
    history and the secret versions it named. What a failure leaves behind, the sweep removes.

    A verification result recorded between the read and the delete is no reason to refuse it (the operator is
    not told to retry because a run happened to reach the customer): the record is read again and deleted, as
    long as nobody edited it meanwhile (an edit or a granted consent sets `updatedAt`; a result does not).
    An edit is a conflict: the operator deleting sees it first."""
    customer = get_customer(store, customer_id)
    for _ in range(_DELETE_ATTEMPTS):
        try:
            store.delete(customer)
            break
        except Conflict:
            fresh = get_customer(store, customer_id)
            if fresh.updated_at != customer.updated_at:
                raise
            customer = fresh
    else:
        raise Conflict("modifiedConcurrently", f"The customer {customer_id!r} kept changing; try again.")
    history.delete_all(customer_id)
    retire_quietly(secrets, customer.customer_id, customer.secret_versions)
