"""What a consent test needs of the identity platform simulator and the app: a tenant whose admin signs in and
consents, the provider's app registration, and the provider's settings applied through the API."""
from __future__ import annotations

import uuid

import requests

from tools.identity_sim import AppRegistration, ClientSecret, IdentitySimulator, Tenant, User


def consenting_tenant(identity: IdentitySimulator, label: str, *, password: str) -> tuple[Tenant, str]:
    """A new tenant `<label><random>.onmicrosoft.com` and its admin's UPN; the admin (password `password`) is who
    signs in at its authorize and admin-consent pages."""
    tenant = identity.add_tenant(Tenant.named(f"{label}{uuid.uuid4().hex[:8]}"))
    admin = f"admin@{tenant.default_domain}"
    identity.add_user(User(upn=admin, password=password))
    identity.sign_in_as(admin, tenant=tenant.id)
    return tenant, admin


def provider_app(identity: IdentitySimulator, client_id: str, secret: str) -> None:
    """The provider's multi-tenant app: User.Read.All in every tenant, granted by an admin consent."""
    identity.add_app(AppRegistration(client_id=client_id, secrets=(ClientSecret(secret),),
                                     roles={"*": ("User.Read.All",)}, application_permissions=("User.Read.All",)))


def apply_provider_settings(app, client_id: str, secret: str) -> None:
    settings = {"clientId": client_id, "clientSecret": secret, "redirectUrl": app.url("/authenticate/OAuth2Callback")}
    assert requests.put(app.url("/api/settings"), json=settings, timeout=30).status_code == 200
