"""AADSTS errors as Microsoft Entra ID answers them: HTTP status, `error`, `error_codes` and the description.

Descriptions follow the service's wording closely enough for a person to recognise them; the project
classifies by the numeric code only (design.md, "Reasons"), so the wording is never a contract.
The body shape is the service's:
`{"error", "error_description": "AADSTSnnnn: ...\\r\\nTrace ID: ...\\r\\nCorrelation ID: ...\\r\\nTimestamp: ...",
"error_codes": [nnnn], "timestamp", "trace_id", "correlation_id", "error_uri"}` (plus `suberror` for some).
"""
from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class AadstsCode:
    status: int
    error: str
    message: str  # str.format template; missing names render as "<name>"
    suberror: str | None = None


_MFA = ("Due to a configuration change made by your administrator, or because you moved to a new location, "
        "you must {verb} multi-factor authentication to access '{resource}'.")

CATALOGUE: dict[int, AadstsCode] = {
    50126: AadstsCode(400, "invalid_grant", "Error validating credentials due to invalid username or password."),
    # Entra answers the MFA codes at the token endpoint as invalid_grant with a suberror, not interaction_required.
    50076: AadstsCode(400, "invalid_grant", _MFA.replace("{verb}", "use"), "basic_action"),
    50079: AadstsCode(400, "invalid_grant", _MFA.replace("{verb}", "enroll in"), "basic_action"),
    50074: AadstsCode(400, "invalid_grant", "Strong Authentication is required.", "basic_action"),
    53000: AadstsCode(400, "invalid_grant", "Device is not in required device state: compliant. Conditional Access "
                      "policy requires a compliant device, and the device is not compliant.", "message_only"),
    53001: AadstsCode(400, "invalid_grant", "Device is not in required device state: domain_joined. Conditional "
                      "Access policy requires a domain joined device, and the device is not domain joined.",
                      "message_only"),
    53002: AadstsCode(400, "invalid_grant", "Application used is not an approved application for Conditional "
                      "Access.", "message_only"),
    53003: AadstsCode(400, "invalid_grant", "Access has been blocked by Conditional Access policies. The access "
                      "policy does not allow token issuance.", "message_only"),
    530003: AadstsCode(400, "invalid_grant", "Your device is required to be managed to access this resource.",
                       "message_only"),
    530035: AadstsCode(400, "invalid_grant", "Access has been blocked by security defaults. This is due to the "
                       "request using legacy auth or being deemed unsafe by security defaults policies.",
                       "message_only"),
    65001: AadstsCode(400, "invalid_grant", "The user or administrator has not consented to use the application "
                      "with ID '{client_id}' named '{app_name}'. Send an interactive authorization request for this "
                      "user and resource.", "consent_required"),
    500011: AadstsCode(400, "invalid_resource", "The resource principal named {resource} was not found in the tenant "
                       "named {tenant}. This can happen if the application has not been installed by the "
                       "administrator of the tenant or consented to by any user in the tenant."),
    650051: AadstsCode(400, "invalid_grant", "The application '{app_name}' asked for permissions that could not be "
                       "granted in the tenant '{tenant}'. An administrator of the tenant must review them."),
    65004: AadstsCode(400, "invalid_grant", "User declined to consent to access the app."),
    700082: AadstsCode(400, "invalid_grant", "The refresh token has expired due to inactivity. The token was issued "
                       "on {issued} and was inactive for 90.00:00:00."),
    70008: AadstsCode(400, "invalid_grant", "The provided authorization code or refresh token has expired due to "
                      "inactivity. Send a new interactive authorization request for this user and resource."),
    70043: AadstsCode(400, "invalid_grant", "The refresh token has expired or is invalid due to sign-in frequency "
                      "checks by conditional access. The token was issued on {issued}."),
    50173: AadstsCode(400, "invalid_grant", "The provided grant has expired due to it being revoked, a fresh auth "
                      "token is needed. The user might have changed or reset their password. The grant was issued "
                      "on '{issued}' and the TokensValidFrom date (before which tokens are not valid) for this user "
                      "is '{valid_from}'."),
    50133: AadstsCode(400, "invalid_grant", "Session is invalid due to expiration or recent password change."),
    50053: AadstsCode(400, "invalid_grant", "The account is locked, you've tried to sign in too many times with an "
                      "incorrect user ID or password."),
    50057: AadstsCode(400, "invalid_grant", "The user account is disabled."),
    50055: AadstsCode(400, "invalid_grant", "The password is expired.", "user_password_expired"),
    50034: AadstsCode(400, "invalid_grant", "The user account {{EUII Hidden}} does not exist in the {tenant} "
                      "directory. To sign into this application, the account must be added to the directory."),
    # invalid_client answers are 401, as the service sends them (RFC 6749 section 5.2 allows it).
    7000215: AadstsCode(401, "invalid_client", "Invalid client secret provided. Ensure the secret being sent in the "
                        "request is the client secret value, not the client secret ID, for a secret added to app "
                        "'{client_id}'."),
    7000222: AadstsCode(401, "invalid_client", "The provided client secret keys for app '{client_id}' are expired. "
                        "Visit the Azure portal to create new keys for your app: https://aka.ms/NewClientSecret, or "
                        "consider using certificate credentials for added security: https://aka.ms/certCreds."),
    7000218: AadstsCode(401, "invalid_client", "The request body must contain the following parameter: "
                        "'client_assertion' or 'client_secret'."),
    700027: AadstsCode(401, "invalid_client", "Client assertion failed signature validation."),
    700016: AadstsCode(400, "unauthorized_client", "Application with identifier '{client_id}' was not found in the "
                       "directory '{tenant}'. This can happen if the application has not been installed by the "
                       "administrator of the tenant or consented to by any user in the tenant. You may have sent "
                       "your authentication request to the wrong tenant."),
    90002: AadstsCode(400, "invalid_request", "Tenant '{tenant}' not found. Check to make sure you have the correct "
                      "tenant ID and are signing into the correct cloud. Check with your subscription administrator, "
                      "this may happen if there are no active subscriptions for the tenant."),
    900023: AadstsCode(400, "invalid_request", "Specified tenant identifier '{tenant}' is neither a valid DNS name, "
                       "nor a valid external domain."),
    50058: AadstsCode(400, "invalid_grant", "A silent sign-in request was sent but no user is signed in."),
    9002313: AadstsCode(400, "invalid_grant", "Invalid request. Request is malformed or invalid."),
    70000: AadstsCode(400, "invalid_grant", "Provided grant is invalid or malformed."),
    54005: AadstsCode(400, "invalid_grant", "OAuth2 Authorization code was already redeemed, please retry with a new "
                      "valid code or use an existing refresh token."),
    501481: AadstsCode(400, "invalid_grant", "The Code_Verifier does not match the code_challenge supplied in the "
                       "authorization request."),
    50011: AadstsCode(400, "invalid_request", "The redirect URI '{redirect_uri}' specified in the request does not "
                      "match the redirect URIs configured for the application '{client_id}'."),
    1002012: AadstsCode(400, "invalid_scope", "The provided value for scope {scope} is not valid. Client credential "
                        "flows must have a scope value with /.default suffixed to the resource identifier "
                        "(application ID URI)."),
    70003: AadstsCode(400, "unsupported_grant_type", "The app requested an unsupported grant type '{grant_type}'."),
    900561: AadstsCode(400, "invalid_request", "The endpoint only accepts POST requests. Received a GET request."),
    900144: AadstsCode(400, "invalid_request", "The request body must contain the following parameter: '{param}'."),
}
# Discovery (GET .../.well-known/openid-configuration) names the tenant errors differently.
DISCOVERY_ERRORS = {90002: "invalid_tenant", 900023: "invalid_tenant"}
# The authorize and adminconsent redirects carry an OAuth `error` of their own.
REDIRECT_ERRORS = {65004: "access_denied", 50058: "login_required", 65001: "consent_required",
                   50076: "interaction_required", 53003: "access_denied", 50057: "access_denied",
                   50053: "access_denied"}


_GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")


def unknown_tenant_code(ref: str) -> int:
    """For a tenant that is not registered: 90002, or 900023 when `ref` is neither a GUID nor a DNS name."""
    return 90002 if _GUID.match(ref) or "." in ref else 900023


class _Names(dict):
    def __missing__(self, key: str) -> str:
        return f"<{key}>"


def timestamp(now: datetime | None = None) -> str:
    """The service's timestamp format: `2024-05-06 06:03:00Z`."""
    return (now or datetime.now(UTC)).strftime("%Y-%m-%d %H:%M:%SZ")


def lookup(code: int) -> AadstsCode:
    """The known code, or a generic 400 `invalid_request` for a code outside the catalogue."""
    return CATALOGUE.get(code) or AadstsCode(400, "invalid_request", "Simulated error {code}.")


def error_body(
    code: int, *, error_uri_base: str, correlation_id: str | None = None, error: str | None = None,
    description: str | None = None, **names: Any,
) -> dict[str, Any]:
    """The JSON body of an AADSTS error; `names` fill the description template (client_id, tenant, ...)."""
    known = lookup(code)
    text = description if description is not None else known.message.format_map(_Names(names, code=code))
    trace_id, correlation_id = str(uuid.uuid4()), correlation_id or str(uuid.uuid4())
    stamp = timestamp()
    body: dict[str, Any] = {
        "error": error or known.error,
        "error_description": f"AADSTS{code}: {text}\r\nTrace ID: {trace_id}\r\nCorrelation ID: {correlation_id}"
                             f"\r\nTimestamp: {stamp}",
        "error_codes": [code],
        "timestamp": stamp,
        "trace_id": trace_id,
        "correlation_id": correlation_id,
        "error_uri": f"{error_uri_base}/error?code={code}",
    }
    if known.suberror:
        body["suberror"] = known.suberror
    return body
