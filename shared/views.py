"""The contract's JSON shapes (camelCase, ISO 8601 UTC with Z) built from the domain models."""
from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .models import Status, Tenant, VerificationResult

MAX_MESSAGE_CHARS = 500


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def first_line(message: str | None) -> str | None:
    """The provider's first line, trimmed, at most 500 characters (the contract's message field)."""
    if not message:
        return None
    line = message.strip().splitlines()[0].strip() if message.strip() else ""
    return line[:MAX_MESSAGE_CHARS] or None


def tenant_view(tenant: Tenant) -> dict[str, Any]:
    return {
        "customerId": tenant.customer_id,
        "tenantId": tenant.tenant_id,
        "m365Email": tenant.m365_email,
        "authenticationMethod": tenant.authentication_method.value,
        "whenLastVerified": iso(tenant.when_last_verified),
        "lastVerificationStatus": tenant.last_verification_status.value,
        "lastVerificationReason": tenant.last_verification_reason.value if tenant.last_verification_reason else None,
        "lastVerificationMessage": first_line(tenant.last_verification_message),
        "aadstsCode": tenant.aadsts_code,
        "hint": tenant.hint,
        "secretsConfigured": sorted(name.value for name in tenant.secrets_configured),
    }


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
