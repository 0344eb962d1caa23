"""ConsentPlatform on MSAL: the auth-code flow with PKCE, state and nonce for Grant Consent (token), and the
admin-consent URL (application). Redemption goes through MsalIdentityPlatform's session, once: a code is single-use.
A domain is resolved from its OpenID configuration, through the discovery cache MSAL's requests use."""
from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from urllib.parse import quote, urlencode

import requests

from ..domain.consent import AuthorizationRequest, tenant_in_issuer
from ..domain.errors import Conflict, DependencyUnavailable
from ..domain.verification import AppCredential, TokenAnswer
from .msal_platform import MsalIdentityPlatform

logger = logging.getLogger(__name__)


class MsalConsentPlatform:
    """Implements ports.ConsentPlatform on MSAL's auth-code flow (PKCE, state, nonce)."""

    def __init__(self, platform: MsalIdentityPlatform) -> None:
        self._platform = platform

    def authorization_request(
        self, *, tenant: str, client_id: str, client_secret: str, redirect_uri: str, scopes: tuple[str, ...],
        state: str, login_hint: str | None,
    ) -> AuthorizationRequest:
        try:
            # Building the application discovers the tenant's endpoints; no token is asked for here.
            client = self._platform.application(tenant, AppCredential(client_id, client_secret))
        except ValueError:
            raise Conflict("invalidTenantId", f"The identity platform does not know the tenant {tenant}; "
                           "check the customer's tenant id.") from None
        except requests.RequestException:
            raise DependencyUnavailable("identityPlatformUnavailable", "The Microsoft identity platform could not "
                                        "be reached to prepare the consent link; try again in a moment.") from None
        flow = client.initiate_auth_code_flow(list(scopes), redirect_uri=redirect_uri, state=state, prompt="consent",
                                              login_hint=login_hint)
        return AuthorizationRequest(url=flow["auth_uri"], flow=json.dumps(flow))

    def admin_consent_url(self, *, tenant: str, client_id: str, redirect_uri: str, scope: str, state: str) -> str:
        query = urlencode({"client_id": client_id, "redirect_uri": redirect_uri, "scope": scope, "state": state})
        return f"{self._platform.authority_host}/{quote(tenant, safe='')}/v2.0/adminconsent?{query}"

    def redeem_code(
        self, *, tenant: str, app: AppCredential, flow: str, response: Mapping[str, str], deadline: float
    ) -> TokenAnswer:
        return self._platform.claim_once(
            tenant, app, deadline,
            lambda client: client.acquire_token_by_auth_code_flow(json.loads(flow), dict(response)),
        )

    def tenant_of_domain(self, domain: str, *, deadline: float) -> str | None:
        try:
            configuration = self._platform.openid_configuration(domain, deadline=deadline)
        except requests.RequestException:
            raise DependencyUnavailable("identityPlatformUnavailable", "The Microsoft identity platform could not "
                                        "be reached to look up the customer's domain; try again in a moment.") from None
        if configuration is None:
            return None
        tenant = tenant_in_issuer(configuration.get("issuer"))
        if tenant is None:
            logger.warning("The OpenID configuration of domain %s names no tenant id in its issuer.", domain)
        return tenant
