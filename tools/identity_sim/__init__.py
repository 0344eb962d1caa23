"""A Microsoft identity platform simulator over real HTTPS on loopback, for tests, `make demo` and benchmarks.

Real MSAL runs against it unchanged: OpenID discovery, user realm, the token endpoint (password, refresh_token,
client_credentials, authorization_code with PKCE), /authorize and /adminconsent; and the Microsoft Graph reads of
the app's foresight (an application's credentials, a partner's delegated admin relationships) with its tokens.
Outcomes are scripted per tenant, user, client or grant (AADSTS errors in the service's shape, 429 with
Retry-After, 5xx, hang, reset), latency is adjustable, and every request is recorded without its secrets.
Never deployed.

In-process: `with IdentitySimulator() as sim: ...`; as a process: `python -m tools.identity_sim --port 0
--ca-dir DIR [--scenario FILE.json] [--latency-ms N]`.
"""
from tools.identity_sim.directory import (
    ANY_TENANT,
    AppRegistration,
    CertificateCredential,
    ClientSecret,
    Tenant,
    User,
)
from tools.identity_sim.outcomes import AadstsError, Endpoint, GraphError, Hang, Reset, ServerError, Success, Throttle
from tools.identity_sim.recording import RecordedRequest
from tools.identity_sim.relationships import GLOBAL_ADMINISTRATOR, DelegatedAdminRelationship
from tools.identity_sim.scenarios import Scenario, load_scenario
from tools.identity_sim.session import PortPreservingSession
from tools.identity_sim.simulator import IdentitySimulator
from tools.identity_sim.tokens import decode_claims, fingerprint

__all__ = [
    "ANY_TENANT", "GLOBAL_ADMINISTRATOR", "AadstsError", "AppRegistration", "CertificateCredential", "ClientSecret",
    "DelegatedAdminRelationship", "Endpoint", "GraphError", "Hang", "IdentitySimulator", "PortPreservingSession",
    "RecordedRequest", "Reset", "Scenario", "ServerError", "Success", "Tenant", "Throttle", "User", "decode_claims",
    "fingerprint", "load_scenario",
]
