"""How domain values are stored as Table Storage entities, and read back.

Tenants table: PartitionKey "tenant", RowKey = customerId, one camelCase column per tenant field.
VerificationHistory table: PartitionKey = customerId, RowKey = inverted timestamp, so newest sorts first.
Settings table: one entity (PartitionKey "provider", RowKey "consent") with the provider's consent settings.
VerificationRuns table: one partition per run (its run row, a marker per customer, count shards), and the
partition "!runs" with the pointer to the running run and an index of runs, newest first (table_runs).
"""
from __future__ import annotations

import json
import logging
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from ..domain.models import (
    AuthMethod,
    ConsentResult,
    LastConsent,
    PendingConsent,
    ProviderSettings,
    Status,
    Tenant,
    VerificationResult,
)
from ..domain.reasons import Reason
from ..domain.runs import RecoveryCause, Run, Trigger
from ..domain.secrets import CURRENT_VERSION, SecretName

logger = logging.getLogger(__name__)

TENANT_PARTITION = "tenant"
SETTINGS_KEYS = ("provider", "consent")  # (PartitionKey, RowKey) of the provider's settings entity

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INVERT_FROM = 10**20 - 1  # 20 digits: history RowKeys sort newest first as plain strings
_SECRET_NAMES = frozenset(name.value for name in SecretName)

E = TypeVar("E", Status, Reason)


# --- tenants -------------------------------------------------------------------------------------


def tenant_to_entity(tenant: Tenant) -> dict[str, Any]:
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
            # Kinds and version ids only, never values; JSON because Table Storage has no map type.
            "secretVersions": json.dumps(
                {SecretName(name).value: version for name, version in tenant.secret_versions.items()}, sort_keys=True
            ),
            "createdAt": _utc(tenant.created_at),
            "updatedAt": _utc(tenant.updated_at),
            "pendingConsent": _pending_to_json(tenant.pending_consent),
            "lastConsent": _last_consent_to_json(tenant.last_consent),
        }
    )


def tenant_from_entity(entity: Any) -> Tenant:
    customer_id = entity["RowKey"]
    return Tenant(
        customer_id=customer_id,
        tenant_id=entity["tenantId"],
        authentication_method=AuthMethod(entity["authenticationMethod"]),
        m365_email=entity.get("m365Email"),
        application_id=entity.get("applicationId"),
        secret_versions=_secret_versions(entity, customer_id),
        last_verification_status=status_of(entity.get("lastVerificationStatus")),
        when_last_verified=_plain_datetime(entity.get("whenLastVerified")),
        last_verification_reason=_reason(entity.get("lastVerificationReason")),
        last_verification_message=entity.get("lastVerificationMessage"),
        aadsts_code=_int(entity.get("aadstsCode")),
        hint=entity.get("hint"),
        created_at=_plain_datetime(entity.get("createdAt")),
        updated_at=_plain_datetime(entity.get("updatedAt")),
        pending_consent=_pending_from_json(entity.get("pendingConsent"), customer_id),
        last_consent=_last_consent_from_json(entity.get("lastConsent"), customer_id),
        etag=entity.metadata.get("etag"),
    )


def _pending_to_json(pending: PendingConsent | None) -> str | None:
    if pending is None:
        return None
    return json.dumps({"method": pending.method.value, "createdAt": pending.created_at.isoformat(),
                       "expiresAt": pending.expires_at.isoformat(), "stateHash": pending.state_hash,
                       "flowVersion": pending.flow_version}, sort_keys=True)


def _pending_from_json(raw: Any, customer_id: str) -> PendingConsent | None:
    if not raw:
        return None
    try:
        data = json.loads(raw)
        return PendingConsent(method=AuthMethod(data["method"]), created_at=datetime.fromisoformat(data["createdAt"]),
                              expires_at=datetime.fromisoformat(data["expiresAt"]), state_hash=str(data["stateHash"]),
                              flow_version=data.get("flowVersion"))
    except (ValueError, KeyError, TypeError):
        logger.warning("pendingConsent of customer %r cannot be read; read as none.", customer_id)
        return None


def _last_consent_to_json(last: LastConsent | None) -> str | None:
    if last is None:
        return None
    return json.dumps({"outcome": last.outcome.value, "method": last.method.value, "at": last.at.isoformat(),
                       "message": last.message}, sort_keys=True)


def _last_consent_from_json(raw: Any, customer_id: str) -> LastConsent | None:
    if not raw:
        return None
    try:
        data = json.loads(raw)
        message = data.get("message")
        return LastConsent(outcome=ConsentResult(data["outcome"]), method=AuthMethod(data["method"]),
                           at=datetime.fromisoformat(data["at"]), message=message if isinstance(message, str) else None)
    except (ValueError, KeyError, TypeError, AttributeError):
        logger.warning("lastConsent of customer %r cannot be read; read as none.", customer_id)
        return None


# --- verification history ------------------------------------------------------------------------


def result_to_entity(result: VerificationResult) -> dict[str, Any]:
    return _without_none(
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


def result_from_entity(entity: Any) -> VerificationResult:
    verified_at = _plain_datetime(entity.get("verifiedAt"))
    if verified_at is None:
        raise ValueError("A verification history row has no verifiedAt.")
    return VerificationResult(
        customer_id=entity["PartitionKey"],
        status=status_of(entity.get("status")),
        verified_at=verified_at,
        method=AuthMethod(entity["method"]),
        reason=_reason(entity.get("reason")),
        message=entity.get("message"),
        aadsts_code=_int(entity.get("aadstsCode")),
        hint=entity.get("hint"),
    )


# --- provider settings ---------------------------------------------------------------------------


def settings_to_entity(settings: ProviderSettings) -> dict[str, Any]:
    return _without_none({
        "PartitionKey": SETTINGS_KEYS[0],
        "RowKey": SETTINGS_KEYS[1],
        "clientId": settings.client_id,
        "redirectUrl": settings.redirect_url,
        "clientSecretVersion": settings.client_secret_version,
        "updatedAt": _utc(settings.updated_at),
    })


def settings_from_entity(entity: Any) -> ProviderSettings:
    return ProviderSettings(
        client_id=entity.get("clientId"),
        redirect_url=entity.get("redirectUrl"),
        client_secret_version=entity.get("clientSecretVersion") or (
            # written before secrets were versioned: it names the current version
            CURRENT_VERSION if entity.get("clientSecretConfigured") else None
        ),
        updated_at=_plain_datetime(entity.get("updatedAt")),
        etag=entity.metadata["etag"],
    )


# --- verification runs ---------------------------------------------------------------------------

RUN_ROW = "!run"  # "!" sorts before every customerId, as the count shards ("~count-") sort after them
RUNS_PARTITION = "!runs"  # "!" is no run id character: no run's partition can be this one
CURRENT_RUN_ROW = "~current"  # in RUNS_PARTITION, after the index rows (which start with digits)
PRUNED_ROW = "~pruned"  # in RUNS_PARTITION: the index key of the newest run whose markers were deleted
ALIVE_ROW = "~alive"  # a worker's "still verifying" for the run; between the markers and the count shards
PENDING = "pending"  # a marker's outcome until its customer completes
GONE = "gone"  # the customer was deleted during the run: it left the run
GIVEN_UP = "givenUp"  # the run stopped trying to verify the customer (a marker's outcome, and its count)
TOTAL = "total"
RUN_COUNT_COLUMNS = (TOTAL, *(status.value for status in Status), GIVEN_UP)


def run_to_entity(run: Run) -> dict[str, Any]:
    return {
        "PartitionKey": run.run_id,
        "RowKey": RUN_ROW,
        "trigger": Trigger(run.trigger).value,
        "startedAt": _utc(run.started_at),
        "fannedOut": False,
    }


def run_index_entity(run: Run) -> dict[str, Any]:
    return {"PartitionKey": RUNS_PARTITION, "RowKey": f"{run_index_key(run.started_at)}-{run.run_id}",
            "runId": run.run_id}


def run_index_key(started_at: datetime) -> str:
    """Index RowKeys sort newest first: every run started before `started_at` has a larger key than this."""
    micros = (_utc(started_at) - _EPOCH) // timedelta(microseconds=1)
    return f"{_INVERT_FROM - micros:020d}"


def run_from_entities(head: Any, shards: list[Any], counts: dict[str, int], alive: Any | None = None) -> Run:
    """The run from its run row, its count shards and their sums, and the row of a worker saying it is alive.
    Its last progress is the newest write to any of them (every marker change changes a shard). Once it is
    fanned out and every customer completed or given up, it is finished at that same moment, before finish()
    writes the moment down as finishedAt."""
    by_status = {status: counts[status.value] for status in Status}
    completed = sum(by_status.values())
    given_up = counts.get(GIVEN_UP, 0)
    rows = [head, *shards, *([alive] if alive is not None else [])]
    stamps = [_plain_datetime(row.metadata.get("timestamp")) for row in rows]
    last_progress = max((stamp for stamp in stamps if stamp is not None), default=None)
    finished = _plain_datetime(head.get("finishedAt"))
    if finished is None and head.get("fannedOut") and completed + given_up == counts[TOTAL]:
        finished = last_progress
    started = _plain_datetime(head.get("startedAt"))
    if started is None:
        raise ValueError("A run row has no startedAt.")
    return Run(
        run_id=head["PartitionKey"],
        trigger=Trigger(head["trigger"]),
        started_at=started,
        finished_at=finished,
        total=counts[TOTAL],
        completed=completed,
        by_status=by_status,
        last_progress_at=last_progress,
        fanned_out=bool(head.get("fannedOut")),
        given_up=given_up,
        resent=int(head.get("resent") or 0),
        stalls=int(head.get("stalls") or 0),
        causes=causes_of(head.get("causes")),
    )


def causes_text(causes: frozenset[RecoveryCause]) -> str:
    """A run's recovery causes as its run row keeps them: one column, comma-separated."""
    return ",".join(sorted(cause.value for cause in causes))


def causes_of(text: Any) -> frozenset[RecoveryCause]:
    known = {cause.value for cause in RecoveryCause}  # a cause a newer version wrote is left out
    return frozenset(RecoveryCause(c) for c in str(text or "").split(",") if c in known)


# --- column values -------------------------------------------------------------------------------


def status_of(value: Any) -> Status:
    return _known(Status, value, default=Status.NOT_VERIFIED) or Status.NOT_VERIFIED


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
    utc = _utc(value)
    if utc is None:
        return None
    return datetime(
        utc.year, utc.month, utc.day, utc.hour, utc.minute, utc.second, utc.microsecond, tzinfo=UTC
    )


def _int(value: Any) -> int | None:
    if value is None:
        return None
    return int(getattr(value, "value", value))  # an Edm.Int64 column arrives as an EntityProperty


def _reason(value: Any) -> Reason | None:
    return _known(Reason, value, default=Reason.UNKNOWN_ERROR)


def _known(kind: type[E], value: Any, *, default: E) -> E | None:
    """Tolerates values a newer or older version wrote, so one odd row cannot break a whole list."""
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        logger.warning("Unknown %s %r in Table Storage; read as %s.", kind.__name__, value, default.value)
        return default


def _secret_versions(entity: Any, customer_id: str) -> dict[SecretName, str]:
    raw = entity.get("secretVersions")
    if raw is None:  # written before secrets were versioned: each listed kind names its current version
        return dict.fromkeys(_legacy_secret_names(entity.get("secretsConfigured"), customer_id), CURRENT_VERSION)
    try:
        versions = json.loads(raw)
    except ValueError:
        versions = None
    if not isinstance(versions, dict):
        logger.warning("secretVersions of customer %r is not a JSON object; read as empty.", customer_id)
        return {}
    return {
        SecretName(name): version
        for name, version in versions.items()
        if name in _SECRET_NAMES and isinstance(version, str)
    }


def _legacy_secret_names(value: Any, customer_id: str) -> frozenset[SecretName]:
    try:
        names = json.loads(value) if value else []
    except ValueError:
        names = None
    if not isinstance(names, list):
        logger.warning("secretsConfigured of customer %r is not a JSON list; read as empty.", customer_id)
        return frozenset()
    return frozenset(SecretName(name) for name in names if name in _SECRET_NAMES)
