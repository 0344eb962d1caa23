"""The values and ports of verification: what the identity platform answers, runs, and the work queue."""
from __future__ import annotations

import enum
import re
import string
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from .models import Cursor, Status, Tenant
from .reasons import Reason


class Trigger(enum.StrEnum):
    """What started a run (`trigger` of a run)."""

    HTTP = "http"
    TIMER = "timer"


class RecoveryCause(enum.StrEnum):
    """Why a run sent work again or gave customers up (`recovery.causes` of a run)."""

    WORK_FAILED = "workFailed"  # a message failed on every delivery: the host moved it to the poison queue
    WORKER_STALLED = "workerStalled"  # no progress while customers were outstanding: a worker died holding them
    ENROLMENT_STOPPED = "enrolmentStopped"  # enrolment could not go on: customers not yet enrolled are not in it


@dataclass(frozen=True, slots=True)
class AppCredential:
    """An app registration's client id and secret, as a token request sends them."""

    client_id: str
    secret: str = field(repr=False)


@dataclass(frozen=True, slots=True)
class TokenAnswer:
    """What the identity platform answered to one token request, after retries.

    Success: `claims` of the access token (tid, roles, ...) and, for user grants, the new refresh token.
    Failure: the OAuth `error`, its `error_codes` and `description`; or `transport` (THROTTLED, UNREACHABLE)
    when no usable answer came before the attempts or the deadline ran out.
    """

    claims: Mapping[str, Any] | None = None
    identity: Mapping[str, Any] | None = None  # the ID token's claims (tid, preferred_username), for user grants
    refresh_token: str | None = field(default=None, repr=False)
    error: str | None = None
    error_codes: tuple[int, ...] = ()
    description: str | None = None
    transport: Reason | None = None
    throttled: int = 0  # how many 429 answers came before this one

    @property
    def ok(self) -> bool:
        return self.claims is not None


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


# ASCII letters only: the identity platform matches UPNs and domain names without regard to letter case, and
# DNS (RFC 4343) defines that case-insensitivity for ASCII only.
_ASCII_LOWER = str.maketrans(string.ascii_uppercase, string.ascii_lowercase)


def _case_blind(value: str | None) -> str | None:
    return value.translate(_ASCII_LOWER) if value is not None else None


def same_tenant(a: str, b: str) -> bool:
    """Whether two tenant ids (GUIDs or domain names) name the same tenant as the identity platform reads them."""
    return _case_blind(a) == _case_blind(b)


def verification_inputs(tenant: Tenant) -> tuple[Any, ...]:
    """What a verification of this record sends to the identity platform, as the platform tells values apart:
    two records with equal inputs are the same sign-in to it. So an edit that changes only the letter case of
    the email (a UPN) or of a domain tenant id keeps the last verification, and with it the lockout guard."""
    return (tenant.authentication_method, _case_blind(tenant.tenant_id), _case_blind(tenant.m365_email),
            _case_blind(tenant.application_id), tuple(sorted(tenant.secret_versions.items())))


@dataclass(frozen=True, slots=True)
class Run:
    run_id: str
    trigger: Trigger
    started_at: datetime
    finished_at: datetime | None
    total: int
    completed: int
    by_status: dict[Status, int]
    last_progress_at: datetime | None = None
    fanned_out: bool = False  # every customer it will verify is enrolled
    given_up: int = 0  # customers it stopped trying to verify (not in completed): their work kept failing
    resent: int = 0  # customers whose work was sent again after it was lost
    stalls: int = 0  # times it was found without progress while customers were outstanding
    causes: frozenset[RecoveryCause] = frozenset()


STALE_AFTER = timedelta(minutes=30)  # a run without progress for this long no longer counts as running


def is_running(run: Run, *, now: datetime, stale_after: timedelta = STALE_AFTER) -> bool:
    """Whether `run` still counts as running: not finished, and its last progress (its start, before any)
    within `stale_after` of `now`. Only a running run keeps a new one from starting."""
    if run.finished_at is not None:
        return False
    return now - (run.last_progress_at or run.started_at) <= stale_after


# Run ids go into routes (/api/runs/{runId}) and storage keys (a run's partition): letters, digits and '-'.
_RUN_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9-]{0,63}")


def is_run_id(value: str | None) -> bool:
    """Whether `value` can be a run id: the edge answers 404 for anything else without a lookup, and the run
    store never takes one for a key of its own bookkeeping."""
    return value is not None and _RUN_ID.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class FanOut:
    """Queue work: enrol the next page of tenants (after `after`) in a run and send their chunks. `resent`: sent
    again after it failed on every delivery (it is not sent a third time)."""

    run_id: str
    after: Cursor | None = None
    resent: bool = False


@dataclass(frozen=True, slots=True)
class Chunk:
    """Queue work: verify these customers for a run. `resent`: sent again after their work was lost."""

    run_id: str
    customer_ids: tuple[str, ...]
    resent: bool = False


@dataclass(frozen=True, slots=True)
class Watch:
    """Queue work, sent with a delay: look whether a run still makes progress, and recover it if not."""

    run_id: str


Work = FanOut | Chunk | Watch


class RunStore(Protocol):
    """Runs and their exact progress, however many workers report at once and however often a queue
    message is delivered."""

    def start(self, run: Run, *, stale_after: timedelta) -> tuple[Run, bool]:
        """Make `run` (total 0, nothing completed) the running one, unless another run is running (not
        finished, and progress within `stale_after`): then that one. Returns (the running run, is it new)."""

    def enrol(self, run_id: str, customer_ids: list[str]) -> bool:
        """Add customers to a run (its total grows by those not enrolled before); False when the run takes no
        more (it is fanned out, or unknown)."""

    def fanned_out(self, run_id: str) -> None:
        """Every customer of the run is enrolled: the run finishes once they are all completed or given up."""

    def pending(self, run_id: str, among: Sequence[str] | None = None) -> list[str]:
        """The enrolled customers not yet completed nor given up, sorted: of `among`, or of the whole run."""

    def alive(self, run_id: str) -> None:
        """A worker is still verifying for the run: counts as progress, though nothing was completed."""

    def give_up(self, run_id: str, customer_ids: Sequence[str] | None, *, cause: RecoveryCause) -> int:
        """Stop trying to verify these pending customers (None: every pending one), counted in `given_up` once
        each, and note `cause`; how many were given up now."""

    def recovering(self, run_id: str, *, cause: RecoveryCause, resent: int = 0, stall: int | None = None) -> bool:
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

    def recent(self, *, top: int) -> list[Run]:
        """Newest first."""


class WorkQueue(Protocol):
    """The Storage queue `verify-requests`; a queue-triggered worker handles each message."""

    def send(self, work: list[Work], *, delay: timedelta | None = None) -> None:
        """One message per item; with `delay`, each becomes visible only after it."""
