"""The documents MSAL reads before it asks for a token: OpenID configuration (v2.0 and v1), user realm, keys.

Like the service, the configuration names the tenant by its id (GUID) whatever the caller wrote, so MSAL's
token requests arrive at /{tenant-id}/oauth2/v2.0/token.
"""
from __future__ import annotations

from tools.identity_sim.aadsts import unknown_tenant_code
from tools.identity_sim.directory import Tenant
from tools.identity_sim.replies import Reply, SimulatorState, aadsts_reply, json_reply

CLAIMS = ["sub", "iss", "cloud_instance_name", "cloud_instance_host_name", "cloud_graph_host_name", "msgraph_host",
          "aud", "exp", "iat", "auth_time", "acr", "nonce", "preferred_username", "name", "tid", "ver", "at_hash",
          "c_hash", "email"]


def openid_configuration(
    state: SimulatorState, tenant_ref: str, *, v2: bool, correlation_id: str | None = None,
) -> Reply:
    """The configuration of a registered tenant; for any other, the service's 400 `invalid_tenant`, which
    makes MSAL raise ValueError while the application is being built."""
    tenant = state.directory.tenant(tenant_ref)
    if tenant is None:
        return aadsts_reply(unknown_tenant_code(tenant_ref), state=state, correlation_id=correlation_id,
                            error="invalid_tenant", tenant=tenant_ref)
    return json_reply(200, _configuration(state.authority_host, tenant, v2=v2))


def _configuration(host: str, tenant: Tenant, *, v2: bool) -> dict[str, object]:
    base = f"{host}/{tenant.id}"
    oauth = f"{base}/oauth2/v2.0" if v2 else f"{base}/oauth2"
    return {
        "token_endpoint": f"{oauth}/token",
        "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
        "jwks_uri": f"{base}/discovery/v2.0/keys" if v2 else f"{host}/common/discovery/keys",
        "response_modes_supported": ["query", "fragment", "form_post"],
        "subject_types_supported": ["pairwise"],
        "id_token_signing_alg_values_supported": ["HS256"],
        "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "issuer": f"{base}/v2.0" if v2 else f"{base}/",
        "request_uri_parameter_supported": False,
        "authorization_endpoint": f"{oauth}/authorize",
        "device_authorization_endpoint": f"{oauth}/devicecode",
        "end_session_endpoint": f"{oauth}/logout",
        "http_logout_supported": True,
        "frontchannel_logout_supported": True,
        "claims_supported": CLAIMS,
        "tenant_region_scope": "EU",
        "cloud_instance_name": "microsoftonline.com",
        "cloud_graph_host_name": "graph.windows.net",
        "msgraph_host": "graph.microsoft.com",
    }


def user_realm(state: SimulatorState, username: str) -> Reply:
    """GET /common/userrealm/{username}: every registered domain is Managed (MSAL then sends the password grant).

    Never a 404: MSAL remembers a 404 for the whole host, process-wide, and stops asking.
    """
    domain = username.rpartition("@")[2]
    tenant = state.directory.tenant(domain)
    if tenant is None:
        return json_reply(200, {"ver": "1.0", "account_type": "Unknown", "cloud_instance_name": "microsoftonline.com"})
    return json_reply(200, {"ver": "1.0", "account_type": "Managed", "domain_name": domain,
                            "cloud_instance_name": "microsoftonline.com",
                            "cloud_audience_urn": "urn:federation:MicrosoftOnline"})


def signing_keys() -> Reply:
    """No public keys: tokens are HS256 under a key only the simulator holds."""
    return json_reply(200, {"keys": []})
