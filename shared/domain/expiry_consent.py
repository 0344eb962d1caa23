"""Consent drift (the delegated scopes a `token` customer's access token carries against `CONSENT_SCOPES`), and the
notice on `password` customers, whose sign-in Microsoft is retiring.

Consent drift. The access token of a delegated grant carries in `scp` the scopes granted for its resource (its
`aud`), space-separated. Each configured scope is checked against it, without regard to case:
- `<resource>/.default` (the default `https://graph.microsoft.com/.default`) asks for "whatever is granted": Entra
  then puts in `scp` every delegated permission granted to the app for that resource, never `.default` itself
  (learn.microsoft.com/entra/identity-platform/scopes-oidc, "The .default scope"). So it holds when `scp` names at
  least one scope; its content cannot drift from a `.default` (drift there shows as 403s from the resource);
- a named scope (`https://graph.microsoft.com/User.Read.All`, or bare `User.Read.All`, which means Microsoft
  Graph) must be in `scp`;
- `openid`, `profile`, `email` and `offline_access` are about sign-in and refresh tokens, not the resource's
  permissions (`offline_access` never appears in `scp`): not checked;
- a scope of another resource than the token's cannot be seen in this token: not checked.
Missing scopes make the verification fail with `missingPermissions`, naming them.
"""
from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .classification import Failure, failure
from .consent import ConsentLink
from .models import AuthMethod
from .reasons import Reason

GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
# Microsoft Graph's audiences: its app id and its URI in each cloud. A token's `aud` may be either form.
GRAPH_AUDIENCES = frozenset({GRAPH_APP_ID, "https://graph.microsoft.com", "https://graph.microsoft.us",
                             "https://dod-graph.microsoft.us", "https://microsoftgraph.chinacloudapi.cn"})
SIGN_IN_SCOPES = frozenset({"openid", "profile", "email", "offline_access"})
DEFAULT_SCOPE = ".default"


def missing_scopes(consent_scopes: Iterable[str], *, scp: str | None, audience: str | None) -> tuple[str, ...]:
    """The configured scopes this token's `scp` lacks, as configured (the rules are in the module's docstring)."""
    granted = {item.casefold() for item in (scp or "").split()}
    missing = []
    for scope in consent_scopes:
        resource, _, permission = scope.rpartition("/") if "://" in scope else ("", "", scope)
        if permission.casefold() in SIGN_IN_SCOPES or not _same_resource(resource, audience):
            continue
        held = bool(granted) if permission.casefold() == DEFAULT_SCOPE else permission.casefold() in granted
        if not held:
            missing.append(scope)
    return tuple(missing)


def consent_drift(consent_scopes: Iterable[str], *, scp: str | None, audience: str | None) -> Failure | None:
    """The verification failure for scopes missing from a token customer's access token; None when none is."""
    missing = missing_scopes(consent_scopes, scp=scp, audience=audience)
    if not missing:
        return None
    names = ", ".join(missing)
    return failure(Reason.MISSING_PERMISSIONS, method=AuthMethod.TOKEN,
                   message=f"The token lacks the delegated permissions {names}.",
                   hint=f"Consent no longer covers {names}: Grant Consent again and send the link to the customer's "
                        "admin.")


def _same_resource(resource: str, audience: str | None) -> bool:
    """Whether a scope's resource ("" for a bare scope: Microsoft Graph) is the token's audience."""
    aud = (audience or "").rstrip("/").casefold()
    resource = resource.rstrip("/").casefold()
    if not resource:
        return aud in GRAPH_AUDIENCES
    return resource == aud or (resource in GRAPH_AUDIENCES and aud in GRAPH_AUDIENCES)


@dataclass(frozen=True, slots=True)
class Retirement:
    """A method Microsoft is retiring: a short text for the view, what to do, and where Microsoft says so."""

    text: str
    hint: str
    reference: str


PASSWORD_RETIREMENT = Retirement(
    text="Microsoft is retiring sign-in with a username and password: admin sign-ins must pass multi-factor "
         "authentication, which a stored password cannot.",
    hint="Move this customer to token authentication: Grant Consent and send the link to the customer's admin (the "
         "bulk consent export gives the links of every password customer).",
    reference="https://learn.microsoft.com/entra/identity/authentication/concept-mandatory-multifactor-authentication",
)


def retirement(method: AuthMethod) -> Retirement | None:
    """The notice for a method Microsoft is retiring: `password` (mandatory MFA for admin sign-ins, which the
    username/password (ROPC) flow cannot pass; MSAL and azure-identity deprecated that flow); None otherwise."""
    return PASSWORD_RETIREMENT if method is AuthMethod.PASSWORD else None


@dataclass(frozen=True, slots=True)
class BulkLink:
    """One row of the bulk consent export (POST /api/consent): a customer's Grant Consent link, or why it has none."""

    customer_id: str
    tenant_id: str | None = None
    m365_email: str | None = None
    link: ConsentLink | None = None
    error_code: str | None = None
    error_message: str | None = None
