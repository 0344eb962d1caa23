// The API's codes in words, and times in the reader's time zone.

export const METHODS = {
  password: "Username and Password",
  token: "Auth token",
  application: "Application registration",
};

export const STATUSES = { succeeded: "Succeeded", failed: "Failed", notVerified: "Not verified" };

export const REASONS = {
  invalidCredentials: "Wrong user name or password",
  mfaRequired: "Multi-factor authentication required",
  blockedByPolicy: "Blocked by Conditional Access",
  consentRequired: "Consent required",
  consentDenied: "Consent denied",
  tokenExpired: "Refresh token expired",
  tokenRevoked: "Refresh token revoked",
  accountLocked: "Account locked",
  accountDisabled: "Account disabled",
  passwordExpired: "Password expired",
  userNotFound: "User not found",
  invalidClientSecret: "Wrong client secret",
  clientSecretExpired: "Client secret expired",
  applicationNotFound: "Application not found in the tenant",
  tenantNotFound: "Tenant not found",
  missingPermissions: "Missing application permissions",
  throttled: "Throttled by Microsoft",
  unreachable: "Microsoft could not be reached",
  notConfigured: "Not configured",
  unknownError: "Unknown error",
};

// What a 409 from POST /api/consent/{id} means, and what to do.
export const CONSENT_CONFLICTS = {
  clientIdNotConfigured:
    "The Client Id is not set: enter it under Settings and Apply Changes, then ask for the link again.",
  clientSecretNotConfigured:
    "The Client Secret is not set: enter it under Settings and Apply Changes, then ask for the link again.",
  redirectUrlNotConfigured:
    "The Redirect URL is not set: enter it under Settings and Apply Changes, then ask for the link again.",
  invalidTenantId: "Microsoft does not know this customer's tenant: check its Tenant Id (Edit).",
  modifiedConcurrently: "The customer was changed meanwhile: ask for the link again.",
};

// lastConsent.outcome: what the latest consent callback brought (never the connection's status).
export const CONSENT_OUTCOMES = { granted: "Consent granted", declined: "Consent declined", failed: "Consent failed" };

export const TRIGGERS = { http: "Verify All", timer: "scheduled" };

export const label = (table, code) => (code in table ? table[code] : String(code));

const dateTime = new Intl.DateTimeFormat(undefined, { dateStyle: "medium", timeStyle: "medium" });
const relative = new Intl.RelativeTimeFormat(undefined, { numeric: "auto" });
const UNITS = [["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];

export function localTime(iso) {
  const when = new Date(iso);
  return Number.isNaN(when.getTime()) ? String(iso) : dateTime.format(when);
}

// "5 minutes ago", "in 15 minutes".
export function fromNow(iso, now = Date.now()) {
  const seconds = Math.round((new Date(iso).getTime() - now) / 1000);
  if (Number.isNaN(seconds)) return "";
  for (const [unit, size] of UNITS) {
    if (Math.abs(seconds) >= size || unit === "second") return relative.format(Math.round(seconds / size), unit);
  }
  return "";
}

export const count = (n, one, many) => `${n} ${n === 1 ? one : many}`;
