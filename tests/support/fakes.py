"""In-memory fakes of the ports, for unit tests of use cases and handlers (never of the adapters)."""
from __future__ import annotations

import contextlib
import dataclasses
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

from shared import bootstrap
from shared.bootstrap import Services
from shared.config import AppConfig, load_config
from shared.domain.alerts.events import EventFilter, EventListing, LoggedEvent, StatusEvent
from shared.domain.alerts.reminders import FailureRecord
from shared.domain.errors import Conflict
from shared.domain.expiry import UnknownReason
from shared.domain.expiry_credentials import AppCredentials
from shared.domain.expiry_gdap import DelegatedAdminRelationship
from shared.domain.expiry_reads import ReadUnknown
from shared.domain.expiry_record import record_outlook
from shared.domain.models import Cursor, Customer, CustomerFilter, CustomerListing, ProviderSettings, Status
from shared.domain.secrets import SecretVersion, StoredSecret
from shared.domain.verification import VerificationResult


class InMemoryHistoryStore:
    """ports.HistoryStore; the customers' fake below is one too, as the Table Storage store is."""

    def __init__(self) -> None:
        self.results: dict[str, list[VerificationResult]] = {}

    def append(self, result: VerificationResult) -> None:
        """A result in the history (tests fill a history with it; the customers' fake, as it records one)."""
        self.results.setdefault(result.customer_id, []).append(result)

    def list_latest(self, customer_id: str, *, limit: int) -> list[VerificationResult]:
        rows = sorted(self.results.get(customer_id, []), key=lambda r: r.verified_at, reverse=True)
        return rows[:limit]

    def delete_all(self, customer_id: str) -> None:
        self.results.pop(customer_id, None)


class InMemoryCustomerStore(InMemoryHistoryStore):
    def __init__(self) -> None:
        super().__init__()
        self.customers: dict[str, Customer] = {}
        self.outbox: dict[str, tuple[tuple[StatusEvent, ...], datetime]] = {}
        self._etags = itertools.count(1)

    def _stamp(self, customer: Customer) -> Customer:
        customer = dataclasses.replace(customer, etag=f"W/{next(self._etags)}")
        self.customers[customer.customer_id] = customer
        return customer

    def get(self, customer_id: str) -> Customer | None:
        return self.customers.get(customer_id)

    def get_many(self, customer_ids) -> dict[str, Customer]:
        return {c: self.customers[c] for c in customer_ids if c in self.customers}

    def create(self, customer: Customer) -> Customer:
        if customer.customer_id in self.customers:
            raise Conflict("alreadyExists", "exists")
        return self._stamp(customer)

    def replace(self, previous: Customer, customer: Customer, *, events=(), result=None) -> Customer:
        current = self.customers.get(customer.customer_id)
        if current is None or current.etag != previous.etag:
            raise Conflict("modifiedConcurrently", "changed")
        self._outbox(events)
        if result is not None:
            self.append(result)
        return self._stamp(customer)

    def replace_many(self, changes, *, events=(), results=()) -> list[Customer]:
        for previous, customer in changes:  # all or none, as the transaction
            current = self.customers.get(customer.customer_id)
            if current is None or current.etag != previous.etag:
                raise Conflict("modifiedConcurrently", "changed")
        self._outbox(events)
        for result in results:
            self.append(result)
        return [self._stamp(customer) for _, customer in changes]

    # The outbox (ports.EventOutbox): each write's events as one group, until relayed.
    def _outbox(self, events) -> None:
        if events:
            self.outbox[events[0].event_id] = (tuple(events), datetime.now(UTC))

    def claim_unrelayed(self, *, written_before: datetime, top: int) -> list[tuple]:
        groups = [(key, events) for key, (events, at) in self.outbox.items() if at < written_before][:top]
        for key, events in groups:
            self.outbox[key] = (events, datetime.now(UTC))
        return [events for _, events in groups]

    def forget_relayed(self, writes) -> None:
        for events in writes:
            if events:
                self.outbox.pop(events[0].event_id, None)

    def delete(self, customer: Customer) -> None:
        current = self.customers.get(customer.customer_id)
        if current is not None and current.etag != customer.etag:
            raise Conflict("modifiedConcurrently", "changed")
        self.customers.pop(customer.customer_id, None)

    def list(self, flt: CustomerFilter, *, top: int, after: Cursor | None) -> CustomerListing:
        start = after or ""
        rows = [
            t for key, t in sorted(self.customers.items())
            if key >= start
            and (flt.status is None or t.last_verification_status == flt.status)
            and (flt.method is None or t.authentication_method == flt.method)
            and (flt.expires_before is None or _expires_by(t, flt.expires_before))
        ]
        # The cursor of this fake: the customerId the next listing starts at.
        return CustomerListing(rows[:top], rows[top].customer_id if len(rows) > top else None)

    def list_shown(self, flt: CustomerFilter, *, top: int, after: Cursor | None) -> CustomerListing:
        listing = self.list(flt, top=top, after=after)
        return CustomerListing([dataclasses.replace(c, etag=None) for c in listing.customers], listing.next)

    def list_ids(self, *, top: int, after: Cursor | None) -> tuple[list[str], Cursor | None]:
        listing = self.list(CustomerFilter(), top=top, after=after)
        return [t.customer_id for t in listing.customers], listing.next

    def list_failures(self) -> list[FailureRecord]:
        return [FailureRecord(c.customer_id, c.tenant_id, c.last_verification_reason, c.hint,
                              c.last_verification_message)
                for _, c in sorted(self.customers.items()) if c.last_verification_status is Status.FAILED]

    def get_status_counts(self) -> dict[Status, int]:
        counts = {s: 0 for s in Status}
        for t in self.customers.values():
            counts[t.last_verification_status] += 1
        return counts

    recount_status_counts = get_status_counts

    def expiring_by(self, moment: datetime) -> list[datetime]:
        return sorted(at for t in self.customers.values() if (at := record_outlook(t).expires_at) and at <= moment)


def _expires_by(customer: Customer, moment: datetime) -> bool:
    at = record_outlook(customer).expires_at
    return at is not None and at <= moment


class ScriptedGraphReader:
    """Answers what it is told (by default: unknown, permission missing); records each read (never the token)."""

    def __init__(self) -> None:
        self.credentials: AppCredentials | ReadUnknown = ReadUnknown(UnknownReason.PERMISSION_MISSING, "403")
        self.relationships: tuple[DelegatedAdminRelationship, ...] | ReadUnknown = ()
        self.reads: list[str] = []

    def application_credentials(self, *, access_token, application_id, deadline):
        self.reads.append(f"application:{application_id}")
        return self.credentials

    def delegated_admin_relationships(self, *, access_token, deadline):
        self.reads.append("relationships")
        return self.relationships


class InMemoryEventLog:
    """Events in the order appended, once each."""

    def __init__(self) -> None:
        self.appended: list[StatusEvent] = []

    def append_many(self, events) -> None:
        known = {event.event_id for event in self.appended}
        self.appended += [event for event in events if event.event_id not in known]

    def list_events(self, flt: EventFilter, *, top: int, after: Cursor | None) -> EventListing:
        rows = sorted((e for e in self.appended if (flt.type is None or e.type == flt.type)
                       and (flt.customer_id is None or e.customer_id == flt.customer_id)),
                      key=lambda e: (e.at, e.event_id), reverse=True)
        start = int(after) if after else 0
        return EventListing(rows[start:start + top], str(start + top) if len(rows) > start + top else None)

    def read_since(self, mark: str | None, *, top: int) -> tuple[list[StatusEvent], str | None]:
        start = int(mark) if mark else 0
        rows = self.appended[start:start + top]
        return rows, str(start + len(rows)) if rows else mark

    def changed_since(self, moment: datetime, types) -> dict[str, datetime]:
        changed: dict[str, datetime] = {}
        for event in sorted(self.appended, key=lambda e: (e.at, e.event_id), reverse=True):
            if event.at > moment and event.type in types:
                changed.setdefault(event.customer_id, event.at)
        return changed

    def read_after(self, position: int, *, top: int) -> list[LoggedEvent]:
        return [LoggedEvent(position + 1 + i, event) for i, event in enumerate(self.appended[position:position + top])]


class InMemoryProviderSettingsStore:
    def __init__(self) -> None:
        self.settings: ProviderSettings | None = None
        self._etags = itertools.count(1)

    def get(self) -> ProviderSettings | None:
        return self.settings

    def create(self, settings: ProviderSettings) -> ProviderSettings:
        if self.settings is not None:
            raise Conflict("modifiedConcurrently", "changed")
        return self._stamp(settings)

    def replace(self, previous: ProviderSettings, settings: ProviderSettings) -> ProviderSettings:
        if self.settings is None or previous.etag != self.settings.etag:
            raise Conflict("modifiedConcurrently", "changed")
        return self._stamp(settings)

    def _stamp(self, settings: ProviderSettings) -> ProviderSettings:
        self.settings = dataclasses.replace(settings, etag=f"W/{next(self._etags)}")
        return self.settings


class InMemorySecretStore:
    """Versions kept in order of writing; `values` shows what a record's version resolves to."""

    def __init__(self) -> None:
        self.stored: dict[tuple[str | None, str], dict[str, tuple[str, datetime]]] = {}
        self.fail_with: Exception | None = None
        self._ids = itertools.count(1)

    @property
    def values(self) -> dict[tuple[str | None, str], str]:
        """The newest readable value of each secret."""
        return {key: list(found.values())[-1][0] for key, found in self.stored.items() if found}

    def create_version(self, customer_id: str | None, name: str, value: str) -> str:
        if self.fail_with:
            raise self.fail_with
        version = f"v{next(self._ids)}"
        self.stored.setdefault((customer_id, name), {})[version] = (value, datetime.now(UTC))
        return version

    def get(self, customer_id: str | None, name: str, version: str) -> str | None:
        found = self.stored.get((customer_id, name), {})
        return found[version][0] if version in found else None

    def retire_version(self, customer_id: str | None, name: str, version: str) -> None:
        if self.fail_with:
            raise self.fail_with
        self.stored.get((customer_id, name), {}).pop(version, None)

    def delete(self, customer_id: str | None, name: str) -> None:
        if self.fail_with:
            raise self.fail_with
        self.stored.pop((customer_id, name), None)

    def list_versions(self, customer_id: str | None, name: str) -> tuple[SecretVersion, ...]:
        return tuple(SecretVersion(v, at) for v, (_, at) in self.stored.get((customer_id, name), {}).items())

    def list_secrets(self) -> Iterator[StoredSecret]:
        for (customer_id, name), found in list(self.stored.items()):
            yield StoredSecret(customer_id, str(name), tuple(SecretVersion(v, at) for v, (_, at) in found.items()))


# The configuration of services over fakes: local Azurite storage (never reached: every port has a fake) and the
# defaults, with four verifications in flight.
FAKE_CONFIG = load_config({"AzureWebJobsStorage": "UseDevelopmentStorage=true", "VERIFY_CONCURRENCY": "4"})


def fake_services(*, config: AppConfig = FAKE_CONFIG, **given: Any) -> Services:
    """bootstrap.build() over fresh fakes behind every port, or what `given` names instead (real adapters in
    integration tests). Close what it answers (`with`); the `services` fixture does."""
    from tests.support.access_fakes import FakeFunctionKeys, InMemoryAuditLog
    from tests.support.alert_fakes import (
        InMemoryAlertFollower,
        InMemoryChannelStore,
        InMemoryDeliveryStore,
        ScriptedTransport,
    )
    from tests.support.verification_fakes import (
        InMemoryConsentStates,
        InMemoryRunStore,
        InMemoryWorkQueue,
        ScriptedConsentPlatform,
        ScriptedPlatform,
    )

    fakes = {
        "customers": InMemoryCustomerStore, "secrets": InMemorySecretStore,
        "provider_settings": InMemoryProviderSettingsStore, "runs": InMemoryRunStore, "work": InMemoryWorkQueue,
        "platform": ScriptedPlatform, "consent_states": InMemoryConsentStates,
        "consent_platform": ScriptedConsentPlatform, "event_log": InMemoryEventLog, "graph": ScriptedGraphReader,
        "audit": InMemoryAuditLog, "function_keys": FakeFunctionKeys,
        "channels": InMemoryChannelStore, "deliveries": InMemoryDeliveryStore, "alert_follower": InMemoryAlertFollower,
        "alert_transport": ScriptedTransport,
    }
    return bootstrap.build(config, **{name: fake() for name, fake in fakes.items() if name not in given}, **given)


@contextlib.contextmanager
def serving(built: Services) -> Iterator[Services]:
    """`built` as the services the handlers use (bootstrap.services()) until the block ends: the `services` fixture
    for fakes over FAKE_CONFIG, `with fake_services(config=...) as built, serving(built):` for another config."""
    bootstrap.use(built)
    try:
        yield built
    finally:
        bootstrap.use(None)
