"""Every JSON body of the contract (camelCase, ISO 8601 UTC with Z), built from domain values."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .domain.access import Principal
from .domain.alerts.channel_results import ChannelSaved, ChannelState, ChannelTest
from .domain.alerts.channels import AlertChannel
from .domain.alerts.deliveries import Delivery
from .domain.alerts.delivery_retry import OutcomeKind
from .domain.alerts.events import StatusEvent, StatusPoint
from .domain.alerts.reminders import Acknowledgement
from .domain.classification import first_line
from .domain.consent import ConsentLink
from .domain.models import Customer, LastConsent, PendingConsent, ProviderSettings, Status, StatusDetail, StatusListing
from .domain.runs import RecoveryCause, Run, is_running, shown_total
from .domain.secrets import ChannelSecret
from .domain.verification import VerificationResult
from .expiry_views import expiring_summary, expiry_view, foresight_fields, provider_secret_fields


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def error_view(code: str, message: str, *, target: str | None = None) -> dict[str, Any]:
    """The contract's error body; `target` (the field or parameter at fault) only when one is."""
    return {"error": {"code": code, "message": message, **({"target": target} if target is not None else {})}}


def health_view() -> dict[str, Any]:
    return {"status": "ok"}


def tenant_view(customer: Customer) -> dict[str, Any]:
    return {
        "customerId": customer.customer_id,
        "tenantId": customer.tenant_id,
        "m365Email": customer.m365_email,
        "authenticationMethod": customer.authentication_method.value,
        "whenLastVerified": iso(customer.when_last_verified),
        "lastVerificationStatus": customer.last_verification_status.value,
        "lastVerificationReason": (customer.last_verification_reason.value if customer.last_verification_reason
                                   else None),
        "lastVerificationMessage": first_line(customer.last_verification_message),
        "aadstsCode": customer.aadsts_code,
        "hint": customer.hint,
        "secretsConfigured": sorted(name.value for name in customer.secrets_configured),
        "pendingConsent": _pending_consent(customer.pending_consent),
        "lastConsent": _last_consent(customer.last_consent),
        **foresight_fields(customer),
    }


def _pending_consent(pending: PendingConsent | None) -> dict[str, Any] | None:
    if pending is None or pending.expires_at <= datetime.now(UTC):
        return None  # an expired link is no longer pending
    return {"method": pending.method.value, "createdAt": iso(pending.created_at),
            "expiresAt": iso(pending.expires_at)}


def _last_consent(last: LastConsent | None) -> dict[str, Any] | None:
    if last is None:
        return None
    return {"outcome": last.outcome.value, "method": last.method.value, "at": iso(last.at),
            "message": first_line(last.message)}


def history_view(result: VerificationResult) -> dict[str, Any]:
    return {
        "verifiedAt": iso(result.verified_at),
        "authenticationMethod": result.method.value,
        "status": result.status.value,
        "reason": result.reason.value if result.reason else None,
        "message": first_line(result.message),
        "aadstsCode": result.aadsts_code,
        "hint": result.hint,
    }


def summary_view(counts: dict[Status, int]) -> dict[str, Any]:
    by_status = {status.value: counts.get(status, 0) for status in Status}
    return {"total": sum(by_status.values()), "byStatus": by_status}


def status_list_view(listing: StatusListing) -> dict[str, Any]:
    return {
        "generatedAt": iso(listing.generated_at),
        "summary": {**summary_view(listing.counts), **expiring_summary(listing)},
        "tenants": [tenant_view(customer) for customer in listing.customers],
        "continuationToken": listing.continuation_token,
    }


def status_detail_view(detail: StatusDetail) -> dict[str, Any]:
    return {**tenant_view(detail.customer), "history": [history_view(result) for result in detail.history]}


def provider_settings_view(settings: ProviderSettings, *, graph_reads: bool = True) -> dict[str, Any]:
    return {
        "clientId": settings.client_id,
        "redirectUrl": settings.redirect_url,
        "clientSecretConfigured": settings.client_secret_configured,
        "updatedAt": iso(settings.updated_at),
        **provider_secret_fields(settings, graph_reads=graph_reads),
    }


def run_view(run: Run, *, now: datetime | None = None) -> dict[str, Any]:
    """`running` as of `now` (this moment by default): whether the run still counts as the running one."""
    return {
        "runId": run.run_id,
        "trigger": run.trigger.value,
        "startedAt": iso(run.started_at),
        "finishedAt": iso(run.finished_at),
        "running": is_running(run, now=now or datetime.now(UTC)),
        "total": shown_total(run),
        "completed": run.completed,
        "byStatus": {status.value: run.by_status.get(status, 0) for status in Status},
        "recovery": _recovery_view(run),
    }


# What went wrong, in words, for each recovery cause (openapi.yaml, Run.recovery).
_CAUSE_TEXT = {
    RecoveryCause.WORK_FAILED: "work failed on every delivery (storage could not be reached, or the worker failed)",
    RecoveryCause.WORKER_STALLED: "a worker stopped while it held work, and the run made no progress",
    RecoveryCause.ENROLMENT_STOPPED: "enrolment stopped early, so customers not yet enrolled are not in this run",
}


def _recovery_view(run: Run) -> dict[str, Any] | None:
    """null for a run that lost no work; else how many customers were sent again and given up, and why."""
    if not (run.resent or run.given_up or run.causes):
        return None
    causes = sorted(run.causes)
    words = [f"Work was lost: {'; '.join(_CAUSE_TEXT[cause] for cause in causes)}."] if causes else []
    if run.resent:
        words.append(f"{_customers(run.resent)} sent again.")
    if run.given_up:
        words.append(f"{_customers(run.given_up)} given up on: they keep their last result, and the next run "
                     "verifies them.")
    return {"resent": run.resent, "givenUp": run.given_up, "causes": [cause.value for cause in causes],
            "message": " ".join(words)}


def _customers(count: int) -> str:
    return f"{count} customer was" if count == 1 else f"{count} customers were"


def runs_view(runs: list[Run], *, now: datetime | None = None) -> dict[str, Any]:
    now = now or datetime.now(UTC)
    return {"runs": [run_view(run, now=now) for run in runs]}


def consent_link_view(link: ConsentLink) -> dict[str, Any]:
    return {"authorizationUrl": link.authorization_url, "expiresAt": iso(link.expires_at)}


def channel_view(channel: AlertChannel, *, last_delivery: Delivery | None = None,
                 last_failure: Delivery | None = None) -> dict[str, Any]:
    """An alert channel: the URL's host and whether a URL is set, never the URL nor the signing secret."""
    return {
        "channelId": channel.channel_id,
        "kind": channel.kind.value,
        "urlHost": channel.url_host,
        "urlConfigured": channel.url_configured,
        "signingSecretConfigured": ChannelSecret.SIGNING_SECRET in channel.secret_versions,
        "events": sorted(e.value for e in channel.events),
        "enabled": channel.enabled,
        "createdAt": iso(channel.created_at),
        "updatedAt": iso(channel.updated_at),
        "lastDelivery": delivery_view(last_delivery) if last_delivery else None,
        "lastFailure": delivery_view(last_failure) if last_failure else None,
    }


def channels_view(states: list[ChannelState]) -> dict[str, Any]:
    return {"channels": [channel_view(s.channel, last_delivery=s.last_delivery, last_failure=s.last_failure)
                         for s in states]}


def channel_saved_view(saved: ChannelSaved, state: ChannelState) -> dict[str, Any]:
    """The channel, and its signing secret once: when it was made or rotated."""
    view = channel_view(saved.channel, last_delivery=state.last_delivery, last_failure=state.last_failure)
    if saved.signing_secret is not None:
        view["signingSecret"] = saved.signing_secret
    return view


def delivery_view(delivery: Delivery) -> dict[str, Any]:
    digest = delivery.digest
    return {
        "deliveryId": delivery.delivery_id,
        "state": delivery.state.value,
        "runId": digest.run_id,
        "customers": sum(digest.counts.values()),
        "createdAt": iso(delivery.created_at),
        "sentAt": iso(delivery.sent_at),
        "attempts": delivery.attempts,
        "nextAttemptAt": iso(delivery.next_attempt_at),
        "lastError": delivery.last_error,
    }


def channel_test_view(test: ChannelTest) -> dict[str, Any]:
    """What came of a test message: delivered or not, in our words (never the receiver's body)."""
    outcome = test.outcome
    return {"deliveryId": test.delivery_id, "delivered": outcome.kind is OutcomeKind.SENT,
            "outcome": outcome.kind.value, "detail": outcome.detail}


def acknowledgement_view(customer_id: str, acknowledgement: Acknowledgement) -> dict[str, Any]:
    return {"customerId": customer_id, "acknowledgedAt": iso(acknowledgement.at),
            "status": acknowledgement.state.status.value, "reason": acknowledgement.state.reason}
def event_view(event: StatusEvent) -> dict[str, Any]:
    """One status event of `GET /api/events` (`from` and `to`: the status and, when failed, why)."""
    return {
        "eventId": event.event_id,
        "type": event.type.value,
        "customerId": event.customer_id,
        "tenantId": event.tenant_id,
        "from": _point_view(event.before),
        "to": _point_view(event.after),
        "at": iso(event.at),
        "runId": event.run_id,
        "expiry": expiry_view(event.expiry),
        "withinDays": event.within_days,
    }


def _point_view(point: StatusPoint) -> dict[str, Any]:
    return {"status": point.status.value, "reason": point.reason.value if point.reason else None}


def events_view(events: list[StatusEvent], continuation_token: str | None) -> dict[str, Any]:
    return {"events": [event_view(event) for event in events], "continuationToken": continuation_token}


def audit_view(changes: Any) -> dict[str, Any]:
    """GET /api/audit: `changes` is a usecases.audit.AuditChanges."""
    return {
        "records": [
            {
                "at": iso(record.at),
                "actor": {"kind": record.actor.kind.value, "id": record.actor.id, "name": record.actor.name},
                "method": record.method,
                "route": record.route,
                "action": record.action,
                "customerId": record.customer_id,
                "parameters": dict(record.parameters),
                "status": record.status,
                "requestId": record.request_id,
            }
            for record in changes.records
        ],
        "continuationToken": changes.continuation_token,
    }


def me_view(principal: Principal | None, *, sign_in_configured: bool) -> dict[str, Any]:
    """GET /api/me: the signed-in principal (name, object id, highest role), or nulls for a caller without one."""
    return {
        "signInConfigured": sign_in_configured,
        "signedIn": principal is not None,
        "name": principal.name if principal else None,
        "objectId": principal.object_id if principal else None,
        "role": principal.role.value if principal and principal.role else None,
    }
