"""The domain's values: frozen dataclasses and string enums that serialize as the contract spells them."""
from __future__ import annotations

import enum
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import TYPE_CHECKING

from .reasons import Reason
from .secrets import SecretKind

if TYPE_CHECKING:  # expiry_record and verification import this module
    from .expiry import Part
    from .expiry_reads import KeptRead
    from .expiry_record import Foresight
    from .verification import VerificationResult


class AuthMethod(enum.StrEnum):
    """How the provider reaches a customer's Microsoft 365 (`authenticationMethod`)."""

    PASSWORD = "password"
    TOKEN = "token"
    APPLICATION = "application"


class Status(enum.StrEnum):
    """The outcome of the latest verification (`lastVerificationStatus`)."""

    NOT_VERIFIED = "notVerified"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


@dataclass(frozen=True, slots=True)
class PendingConsent:
    """A Grant Consent link handed out and not yet used: its method, when it expires, the hash of its state
    (the state itself is only in the link), and the secret version of the MSAL flow it will be redeemed with."""

    method: AuthMethod
    created_at: datetime
    expires_at: datetime
    state_hash: str
    flow_version: str | None = None  # None for admin consent, which keeps no flow


class ConsentResult(enum.StrEnum):
    """What a consent callback brought (`lastConsent.outcome`)."""

    GRANTED = "granted"
    DECLINED = "declined"  # the admin said no
    FAILED = "failed"  # refused (another tenant, an unknown domain) or not completed (an error, a bad code)


@dataclass(frozen=True, slots=True)
class LastConsent:
    """The latest consent callback for a customer: a fact about the consent, not the connection, so a declined
    consent never changes the verification status. `message` is for a person: the provider's description of a
    declined or failed consent (its first line, at most 500 characters), or what was granted."""

    outcome: ConsentResult
    method: AuthMethod
    at: datetime
    message: str | None = None


@dataclass(frozen=True, slots=True)
class Customer:
    """A customer and the one way the provider reaches its Microsoft 365. Holds no secret values."""

    customer_id: str
    tenant_id: str
    authentication_method: AuthMethod
    m365_email: str | None = None
    application_id: str | None = None
    # The secret version this record uses, per kind: the one pointer a write moves (under the record's ETag).
    secret_versions: dict[SecretKind, str] = field(default_factory=dict)
    last_verification_status: Status = Status.NOT_VERIFIED
    when_last_verified: datetime | None = None
    last_verification_reason: Reason | None = None
    last_verification_message: str | None = None
    aadsts_code: int | None = None
    hint: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    pending_consent: PendingConsent | None = None
    last_consent: LastConsent | None = None
    application_secret_expires_at: datetime | None = None  # the operator's date (applicationSecretExpiresAt)
    foresight: Foresight | None = None  # what verification learnt of its expiries (expiry_record.py)
    # How many results were ever recorded for this customer: the history keeps the latest HISTORY_KEPT of them,
    # in the slots this count turns over (adapters/table_history.py).
    results_recorded: int = 0
    # The state of the latest result when an edit or a consent reset the record to notVerified (None otherwise):
    # the state a new result is compared with for its event (alerts.events.compared_state).
    status_before_reset: Status | None = None
    reason_before_reset: Reason | None = None
    etag: str | None = field(default=None, compare=False)

    @property
    def secrets_configured(self) -> frozenset[SecretKind]:
        return frozenset(self.secret_versions)

    def with_result(self, result: VerificationResult) -> Customer:
        """This record with `result` as its latest verification, one more result recorded."""
        return replace(self._outcome(result.status, result.verified_at, result.reason, result.message,
                                     result.aadsts_code, result.hint), results_recorded=self.results_recorded + 1)

    def not_verified(self) -> Customer:
        """This record as never verified (how it is reached changed), remembering the state its latest result left
        (through further resets, until the next result)."""
        if self.last_verification_status is Status.NOT_VERIFIED:
            before = self.status_before_reset, self.reason_before_reset
        else:
            before = self.last_verification_status, self.last_verification_reason
        return self._outcome(Status.NOT_VERIFIED, None, None, None, None, None, before_reset=before)

    def with_outcome_of(self, other: Customer) -> Customer:
        """This record with the latest verification `other` holds (and the state it was reset from, if it was)."""
        return self._outcome(other.last_verification_status, other.when_last_verified, other.last_verification_reason,
                             other.last_verification_message, other.aadsts_code, other.hint,
                             before_reset=(other.status_before_reset, other.reason_before_reset))

    def _outcome(self, status: Status, when: datetime | None, reason: Reason | None, message: str | None,
                 code: int | None, hint: str | None, *,
                 before_reset: tuple[Status | None, Reason | None] = (None, None)) -> Customer:
        return replace(self, last_verification_status=status, when_last_verified=when, last_verification_reason=reason,
                       last_verification_message=message, aadsts_code=code, hint=hint,
                       status_before_reset=before_reset[0], reason_before_reset=before_reset[1])


@dataclass(frozen=True, slots=True)
class CustomerFilter:
    """Which customers a listing holds; None matches every value."""

    status: Status | None = None
    method: AuthMethod | None = None
    expires_before: datetime | None = None  # a known time to failure at or before this (expiringWithinDays)


# Where the next listing starts: printable ASCII that the store which made it reads back, and that
# nothing else looks into. Clients never see it bare: the status use case wraps it, with the filter it belongs to,
# into the one continuation token; a fan-out message carries it as it is.
Cursor = str


def is_cursor(value: object) -> bool:
    return isinstance(value, str) and value != "" and value.isascii() and value.isprintable()


@dataclass(frozen=True, slots=True)
class CustomerListing:
    """Customers in customerId order, and where the next listing starts (None at the end)."""

    customers: list[Customer]
    next: Cursor | None


@dataclass(frozen=True, slots=True)
class StatusListing:
    """What GET /api/status answers: a listing of customers, the counts over every customer, and where to go on."""

    generated_at: datetime
    counts: dict[Status, int]
    customers: list[Customer]
    continuation_token: str | None
    expiring: dict[int, int] | None = None  # summary.expiring: customers failing within 7 and 30 days
    provider_secret: Part = None  # the provider's client secret's expiry (summary.providerClientSecret)


@dataclass(frozen=True, slots=True)
class StatusDetail:
    customer: Customer
    history: list[VerificationResult]


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """The provider's own app registration, used for consent. The client secret lives in the SecretStore."""

    client_id: str | None = None
    redirect_url: str | None = None
    client_secret_version: str | None = None  # the version of the client secret this record uses
    updated_at: datetime | None = None
    client_secret_expires_at: datetime | None = None  # the operator's date (clientSecretExpiresAt)
    client_secret_graph: Part = None  # what Graph said of the client secret (expiry_record.operator_or_graph)
    client_secret_read: KeptRead | None = None  # when Graph was last asked, under which key
    etag: str | None = field(default=None, compare=False)

    @property
    def client_secret_configured(self) -> bool:
        return self.client_secret_version is not None
