"""The ports the use cases depend on; shared/adapters implement them, unit tests pass fakes."""
from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Protocol

from .alerts.batches import BatchHead
from .alerts.channel_urls import ChannelUrl
from .alerts.channels import AlertChannel
from .alerts.deliveries import Delivery
from .alerts.delivery_retry import SendOutcome
from .alerts.events import EventFilter, EventListing, EventType, LoggedEvent, StatusEvent
from .alerts.reminders import Acknowledgement, FailureRecord
from .audit import AuditListing, AuditRecord
from .consent import AuthorizationRequest, ClaimedState
from .expiry_credentials import AppCredentials
from .expiry_gdap import DelegatedAdminRelationship
from .expiry_reads import ReadUnknown
from .models import Cursor, Customer, CustomerFilter, CustomerListing, ProviderSettings, Status
from .runs import RecoveryCause, Run
from .secrets import AnySecret, SecretVersion, StoredSecret
from .verification import AppCredential, TokenAnswer, VerificationResult
from .work import Work


class CustomerStore(Protocol):
    def get(self, customer_id: str) -> Customer | None: ...

    def get_many(self, customer_ids: Sequence[str]) -> dict[str, Customer]:
        """Those of `customer_ids` that exist, by customerId (one read for adjacent ids, as a run's chunk has)."""

    def create(self, customer: Customer) -> Customer:
        """Insert a new customer; raises errors.Conflict when the customerId exists."""

    def replace(self, previous: Customer, customer: Customer, *, events: Sequence[StatusEvent] = (),
                result: VerificationResult | None = None) -> Customer:
        """Replace `previous`, as it was read (its etag must still match), with `customer`; raises
        errors.Conflict otherwise. `events` (the change's, if any) go to the outbox in the same write (EventOutbox);
        `result`, the verification `customer` records (Customer.with_result), to its history (HistoryStore)."""

    def replace_many(self, changes: Sequence[tuple[Customer, Customer]], *, events: Sequence[StatusEvent] = (),
                     results: Sequence[VerificationResult] = ()) -> list[Customer]:
        """Each (previous, customer) as `replace` does, all in one write with `events` and `results` (at most one a
        customer): every one or none. Raises errors.Conflict (and writes nothing) when any previous changed since it
        was read. At most RESULTS_PER_WRITE changes."""

    def delete(self, customer: Customer) -> None:
        """Remove a customer read before (its etag must still match); raises errors.Conflict otherwise."""

    def list(self, flt: CustomerFilter, *, top: int, after: Cursor | None) -> CustomerListing:
        """One listing in customerId order, from `after` (a cursor a listing of this filter returned)."""

    def list_shown(self, flt: CustomerFilter, *, top: int, after: Cursor | None) -> CustomerListing:
        """`list` with only what GET /api/status shows of each customer (same cursors): no etag, so none of these
        customers can be written back, and no record times."""

    def list_ids(self, *, top: int, after: Cursor | None) -> tuple[list[str], Cursor | None]:
        """`list` of every customer, customerIds only; the cursor of the next listing (None at the end)."""

    def list_failures(self) -> list[FailureRecord]:
        """Every customer whose latest verification failed, in customerId order, with only the columns a reminder
        shows (id, tenant, reason, hint, message)."""

    def get_status_counts(self) -> dict[Status, int]:
        """Counts over every customer (not a listing), kept as customers change: no scan."""

    def recount_status_counts(self) -> dict[Status, int]:
        """Count every customer again and correct the kept counts (a safety net; they are exact by design)."""


class HistoryStore(Protocol):
    """The latest HISTORY_KEPT verification results of each customer, written with its record
    (CustomerStore.replace)."""

    def list_latest(self, customer_id: str, *, limit: int) -> list[VerificationResult]:
        """Newest first."""

    def delete_all(self, customer_id: str) -> None:
        """Remove a customer's history; nothing to remove is not an error."""


class ProviderSettingsStore(Protocol):
    def get(self) -> ProviderSettings | None: ...

    def create(self, settings: ProviderSettings) -> ProviderSettings:
        """Insert the record; raises errors.Conflict when there is one."""

    def replace(self, previous: ProviderSettings, settings: ProviderSettings) -> ProviderSettings:
        """Replace `previous`, as it was read (its etag must still match), with `settings`; raises
        errors.Conflict otherwise."""


class SecretStore(Protocol):
    """Versioned secrets. customer_id None addresses the provider's own secrets (ProviderSecret); with a
    ChannelSecret, customer_id is the alert channel's id.

    Records name the version they use: a write adds a version and then moves the record's pointer under
    its ETag, so concurrent writers never make a record point at a secret it did not write.
    """

    def create_version(self, customer_id: str | None, kind: AnySecret, value: str) -> str:
        """Store the value as a new version and return its id; every other version stays as it was."""

    def get(self, customer_id: str | None, kind: AnySecret, version: str) -> str | None:
        """That version's value; None when it is missing or retired."""

    def retire_version(self, customer_id: str | None, kind: AnySecret, version: str) -> None:
        """Make one version unreadable for good (Key Vault disables it; it cannot delete one version).
        Idempotent."""

    def delete(self, customer_id: str | None, kind: AnySecret) -> None:
        """Remove the secret with every version. Idempotent."""

    def list_versions(self, customer_id: str | None, kind: AnySecret) -> tuple[SecretVersion, ...]:
        """The readable versions of one secret."""

    def list_secrets(self) -> Iterator[StoredSecret]:
        """Every secret of this app with its readable versions, for the sweep."""


class IdentityPlatform(Protocol):
    """Claims tokens from the Microsoft identity platform; a fresh client per call, so no cached token hides
    a revoked credential. `deadline` is a time.monotonic() value the call must not run past."""

    def with_password(
        self, *, tenant: str, app: AppCredential, username: str, password: str, deadline: float
    ) -> TokenAnswer: ...

    def with_refresh_token(
        self, *, tenant: str, app: AppCredential, refresh_token: str, deadline: float
    ) -> TokenAnswer: ...

    def with_client_credentials(self, *, tenant: str, app: AppCredential, deadline: float) -> TokenAnswer: ...


class RunStore(Protocol):
    """Runs and their exact progress, however many workers report at once and however often a queue
    message is delivered."""

    def start(self, run: Run, *, stale_after: timedelta) -> tuple[Run, bool]:
        """Make `run` (total 0, nothing completed) the running one, unless another run is running (not
        finished, and progress within `stale_after`): then that one. Returns (the running run, is it new)."""

    def enrol(self, run_id: str, customer_ids: list[str]) -> bool:
        """Add customers to a run (its total grows by those not enrolled before); False when the run takes no
        more (it is fanned out, or unknown)."""

    def mark_fanned_out(self, run_id: str) -> None:
        """Every customer of the run is enrolled: the run finishes once they are all completed or given up."""

    def list_pending(self, run_id: str, among: Sequence[str] | None = None) -> list[str]:
        """The enrolled customers not yet completed nor given up, sorted: of `among`, or of the whole run."""

    def mark_alive(self, run_id: str) -> None:
        """A worker is still verifying for the run: counts as progress, though nothing was completed."""

    def give_up(self, run_id: str, customer_ids: Sequence[str] | None, *, cause: RecoveryCause) -> int:
        """Stop trying to verify these pending customers (None: every pending one), counted in `given_up` once
        each, and note `cause`; how many were given up now."""

    def note_recovery(self, run_id: str, *, cause: RecoveryCause, resent: int = 0, stall: int | None = None) -> bool:
        """Note a recovery: its cause and how many customers it sends again. With `stall` (the run's `stalls`
        as read) it counts one more stall, only if nobody counted one since: False then (another watcher is
        recovering this stall), or when the run is unknown."""

    def complete(self, run_id: str, customer_id: str, status: Status | None) -> bool:
        """Record an enrolled customer's outcome, once (None: the customer is gone; it leaves the run and the
        total shrinks). False when it was recorded before (a message delivered twice) or never enrolled."""

    def complete_many(self, run_id: str, outcomes: Mapping[str, Status | None]) -> int:
        """`complete` for several customers in one write (at most MAX_BATCH); how many were recorded now."""

    def finish(self, run_id: str) -> Run | None:
        """Mark the run finished if it is fanned out and every customer completed; returns the run only to
        the one caller that marked it (so the run's summary is logged once)."""

    def prune(self, *, started_before: datetime) -> int:
        """Forget which customer had which outcome in the runs started before `started_before` (their totals
        and counts stay); how many runs were pruned."""

    def get(self, run_id: str) -> Run | None:
        """The run with its counts; finished_at is set once it is fanned out and every customer completed."""

    def list_recent(self, *, top: int) -> list[Run]:
        """Newest first."""


class WorkQueue(Protocol):
    """The Storage queue `verify-requests`; a queue-triggered worker handles each message."""

    def send(self, work: list[Work], *, delay: timedelta | None = None) -> None:
        """One message per item; with `delay`, each becomes visible only after it."""


class ConsentStates(Protocol):
    """The states of the links handed out, by hash; each can be claimed once."""

    def create(self, hashed: str, *, customer_id: str, expires_at: datetime) -> None: ...

    def claim(self, hashed: str) -> ClaimedState | None:
        """Take the state for good and return what it was for; None when unknown or claimed already (of two
        concurrent claims exactly one gets it)."""

    def delete_expired(self, *, expired_before: datetime) -> int:
        """Forget the states of links that expired unused before that moment; how many."""


class ConsentPlatform(Protocol):
    """The identity platform's side of consent (MSAL's auth-code flow with PKCE, and admin consent)."""

    def authorization_request(
        self, *, tenant: str, client_id: str, client_secret: str, redirect_uri: str, scopes: tuple[str, ...],
        state: str, login_hint: str | None,
    ) -> AuthorizationRequest: ...

    def admin_consent_url(self, *, tenant: str, client_id: str, redirect_uri: str, scope: str, state: str) -> str: ...

    def redeem_code(
        self, *, tenant: str, app: AppCredential, flow: str, response: Mapping[str, str], deadline: float
    ) -> TokenAnswer:
        """Redeem the code of `response` with the flow it was asked with; on success `claims` are the ID
        token's (tid, preferred_username) and `refresh_token` is set."""

    def tenant_of_domain(self, domain: str, *, deadline: float) -> str | None:
        """The tenant id (lower-case GUID) the identity platform says `domain` belongs to: the `issuer` of the
        domain's OpenID configuration. None when the platform does not know the domain; raises
        DependencyUnavailable when it cannot be asked."""


class AlertTransport(Protocol):
    """Sends alert messages to the URLs of channels, by the outbound rules of shared.domain.alerts.channel_urls
    (https, no refused address, no redirect, short time-outs, a small answer read and never kept)."""

    def check_destination(self, url: str) -> ChannelUrl:
        """`url` taken apart if messages may go there now (its host resolved, every address allowed); raises
        InputError (target `url`: invalidChannelUrl, channelUrlNotAllowed) otherwise."""

    def post(self, url: str, body: bytes, headers: Mapping[str, str]) -> SendOutcome:
        """POST one message; what came of it, as data (never raised, never the answer's body)."""


class AuditLog(Protocol):
    """Every change made through the API, append-only (shared.domain.audit)."""

    def append(self, record: AuditRecord) -> None:
        """Keep one record; the same record appended again (a retry) is kept once."""

    def list_records(self, *, customer_id: str | None, actor_id: str | None, top: int,
                     cursor: str | None) -> AuditListing:
        """Newest first, only those of the customer and of the actor (Actor.id) given; `cursor` is one a listing
        returned. Raises InputError (invalidContinuationToken) for a cursor it did not make."""

    def delete_older_than(self, moment: datetime) -> int:
        """Delete the records from before `moment` (maintenance: audit.expired_before); how many."""


class ChannelStore(Protocol):
    """Alert channels (shared.domain.alerts.channels); never a URL or a signing secret, only their versions."""

    def get(self, channel_id: str) -> AlertChannel | None: ...

    def list(self) -> list[AlertChannel]:
        """Every channel, by channelId (a handful: no paging)."""

    def create(self, channel: AlertChannel) -> AlertChannel:
        """Insert a new channel; raises errors.Conflict when the channelId exists."""

    def replace(self, previous: AlertChannel, channel: AlertChannel) -> AlertChannel:
        """Replace `previous`, as it was read (its etag must still match); raises errors.Conflict otherwise."""

    def delete(self, channel: AlertChannel) -> None:
        """Remove a channel read before (its etag must still match); raises errors.Conflict otherwise."""


class DeliveryStore(Protocol):
    """Deliveries (shared.domain.alerts.deliveries), each written before its first attempt."""

    def add(self, delivery: Delivery) -> Delivery:
        """Keep a new delivery; one with its id already kept (another instance, a redelivered message) is answered
        instead and left as it is."""

    def replace(self, previous: Delivery, delivery: Delivery) -> Delivery:
        """Replace `previous`, as it was read (its etag must still match); raises errors.Conflict otherwise."""

    def list_due(self, *, now: datetime, top: int) -> list[Delivery]:
        """Pending deliveries whose next attempt is due at `now`, the oldest due first."""

    def list_recent(self, channel_id: str, *, top: int) -> list[Delivery]:
        """A channel's latest deliveries, newest first."""

    def delete_older_than(self, moment: datetime) -> int:
        """Delete the sent and failed deliveries made before `moment` (maintenance: deliveries.expired_before), a
        bounded number per call (the rest on the next); how many."""


class AlertFollower(Protocol):
    """What the alert dispatcher keeps between ticks: where it is in the event log, and operators'
    acknowledgements of failures."""

    def get_mark(self) -> str | None: ...

    def set_mark(self, mark: str | None) -> None: ...

    def get_batch_head(self, chain: str) -> BatchHead | None:
        """The latest batch recorded for `chain` (batches.chain_of), or None."""

    def put_batch_head(self, previous: BatchHead | None, head: BatchHead) -> BatchHead:
        """Record `head` in place of `previous` as it was read (None: the chain has none yet); raises
        errors.Conflict when another instance recorded one since."""

    def forget_runs_batches(self, *, done_before: datetime) -> int:
        """Delete the done batch heads of runs' chains last recorded before `done_before` (a bounded number per
        call); how many. The `changes` chain's head stays."""

    def acknowledge(self, customer_id: str, acknowledgement: Acknowledgement) -> None:
        """Keep an operator's acknowledgement of the customer's failure (replacing an earlier one)."""

    def list_acknowledgements(self) -> dict[str, Acknowledgement]:
        """Every acknowledgement kept, by customerId (one that no longer covers its customer's failure included)."""


class EventOutbox(Protocol):
    """The status events written with the results that made them (CustomerStore.replace, replace_many) and not
    yet relayed to the EventLog."""

    def claim_unrelayed(self, *, written_before: datetime, top: int) -> list[tuple[StatusEvent, ...]]:
        """Up to `top` groups of events written before that moment, oldest first, each claimed for this caller: a
        group another caller claimed since it was listed is left out (the claim holds as long as a fresh write)."""

    def forget_relayed(self, writes: Sequence[Sequence[StatusEvent]]) -> None:
        """Remove from the outbox the events of these writes (each write's events as it handed them to the store,
        or a group claim_unrelayed returned). Idempotent."""


class EventLog(Protocol):
    """Every status event relayed from the outbox, kept for listing and for followers (the alert dispatcher)."""

    def append_many(self, events: Sequence[StatusEvent]) -> None:
        """Keep the events; one appended before (same event_id) is kept once, so a relay can be run again."""

    def list_events(self, flt: EventFilter, *, top: int, after: Cursor | None) -> EventListing:
        """Newest first (by `at`), only those `flt` matches, from `after` (a cursor a listing of this filter
        returned). Raises InputError (invalidContinuationToken) for a cursor it did not make."""

    def read_since(self, mark: str | None, *, top: int) -> tuple[list[StatusEvent], str | None]:
        """Up to `top` events appended after `mark` (None: from the first), oldest first in the order they were
        appended, and the mark to read on from (the same mark when there is nothing new). An event appended late
        (relayed after a newer one) comes after every event a reader was already given: none is ever skipped."""

    def changed_since(self, moment: datetime, types: Collection[EventType]) -> dict[str, datetime]:
        """Each customer with an event of `types` after `moment`, and the time of its latest one (a projection of
        the few columns this needs, not the events)."""

    def read_after(self, position: int, *, top: int) -> list[LoggedEvent]:
        """Up to `top` events numbered after `position` (0: from the first), in the order appended, each with its
        number: numbers follow one another without a gap, and a mark read_since returns is the last number read
        (int(mark))."""


class GraphReader(Protocol):
    """Reads what Microsoft Graph knows of expiries, with an access token the caller claimed; answers the data or
    why there is none (never raises for what Graph answered or for the network). 429 waits for its Retry-After
    and 5xx, resets and time-outs back off, within the retry policy and `deadline` (a time.monotonic() value)."""

    def application_credentials(
        self, *, access_token: str, application_id: str, deadline: float,
    ) -> AppCredentials | ReadUnknown:
        """`GET {GRAPH}/v1.0/applications(appId='{application_id}')?$select=passwordCredentials,keyCredentials` in
        the token's tenant (its roles must hold Application.Read.All)."""

    def delegated_admin_relationships(
        self, *, access_token: str, deadline: float,
    ) -> tuple[DelegatedAdminRelationship, ...] | ReadUnknown:
        """`GET {GRAPH}/v1.0/tenantRelationships/delegatedAdminRelationships`, every page, in the provider's tenant
        (DelegatedAdminRelationship.Read.All)."""


class ExpiryIndex(Protocol):
    """The customers' known times to failure (the CustomerStore keeps one per record: expiry_record.record_outlook)."""

    def expiring_by(self, moment: datetime) -> list[datetime]:
        """Every known time to failure at or before `moment` (summary.expiring counts them)."""


class FunctionKeyCheck(Protocol):
    """Whether the Functions host takes a function key: the app never holds its keys, it asks the host."""

    def is_valid(self, key: str) -> bool:
        """True for a key the host accepts; raises DependencyUnavailable when the host cannot be asked."""
