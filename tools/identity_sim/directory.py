"""The registered data of the simulated identity platform: tenants, users and app registrations.

An app registration's application object (what Microsoft Graph answers for `applications(appId=...)`) lives in
its `home_tenant` only; elsewhere the app has at most a service principal, as in the service. Its secrets and
certificates carry the metadata Graph shows (key id, display name, start and end); a secret's `hint` is its
first three characters, as Graph gives it.

Values are frozen dataclasses; the `Directory` holds them behind one lock taken only for short lookups and
replacements (never while a request sleeps). Tenants are found by id or by any of their domains, case-blind.
"""
from __future__ import annotations

import dataclasses
import threading
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime

ANY_TENANT = "*"
DEFAULT_SCOPES = ("User.Read", "openid", "profile", "email", "offline_access")


def _new_id() -> str:
    return str(uuid.uuid4())


@dataclass(frozen=True)
class Tenant:
    id: str  # the directory (tenant) id, a GUID
    domains: tuple[str, ...]  # the first is the default domain, e.g. contoso.onmicrosoft.com
    name: str = ""

    @classmethod
    def named(cls, label: str, *, id: str | None = None) -> Tenant:
        """A tenant called `label` with the domain `<label>.onmicrosoft.com` and a fresh id."""
        return cls(id=id or _new_id(), domains=(f"{label}.onmicrosoft.com",), name=label.title())

    @property
    def default_domain(self) -> str:
        return self.domains[0] if self.domains else self.id


@dataclass(frozen=True)
class User:
    upn: str
    password: str = field(repr=False)
    tenant: str = ""  # tenant id or domain; empty: the tenant that owns the UPN's domain
    oid: str = field(default_factory=_new_id)
    name: str = ""
    mfa_required: bool = False  # the password grant answers 50076
    locked: bool = False  # 50053
    disabled: bool = False  # 50057 for every grant
    password_expired: bool = False  # 50055


@dataclass(frozen=True)
class ClientSecret:
    value: str = field(repr=False)
    expires_at: datetime | None = None  # None: never expires (Graph's endDateTime null)
    key_id: str = field(default_factory=_new_id)
    display_name: str = ""
    starts_at: datetime | None = None

    def expired(self, now: datetime | None = None) -> bool:
        return self.expires_at is not None and self.expires_at <= (now or datetime.now(UTC))

    @property
    def hint(self) -> str:
        """What Graph shows of the value: its first three characters."""
        return self.value[:3]


@dataclass(frozen=True)
class CertificateCredential:
    """A certificate registered on an app (Graph's keyCredential): metadata only, the simulator checks no key."""
    expires_at: datetime
    key_id: str = field(default_factory=_new_id)
    display_name: str = "CN=simulated"
    starts_at: datetime | None = None
    thumbprint: str = ""  # Graph's customKeyIdentifier


@dataclass(frozen=True)
class AppRegistration:
    client_id: str
    secrets: tuple[ClientSecret, ...] = ()  # each value may also be sent as a client_assertion
    name: str = "Simulated app"
    redirect_uris: tuple[str, ...] = ()  # empty: any redirect URI is accepted
    # Application roles the app holds per tenant (id or domain); ANY_TENANT applies where no entry is given.
    roles: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    delegated_scopes: tuple[str, ...] = DEFAULT_SCOPES  # what users and admins have consented to
    application_permissions: tuple[str, ...] = ()  # roles an admin consent grants in the consenting tenant
    tenants: tuple[str, ...] | None = None  # where it has a service principal; None: every tenant
    object_id: str = field(default_factory=_new_id)  # its service principal's oid, in app-only tokens
    home_tenant: str | None = None  # where its application object lives (Graph answers it there); None: nowhere
    certificates: tuple[CertificateCredential, ...] = ()


class Directory:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._tenants: dict[str, Tenant] = {}  # by id and by each domain, casefolded
        self._users: dict[str, User] = {}  # by UPN, casefolded
        self._apps: dict[str, AppRegistration] = {}  # by client id, casefolded
        self._sign_in: dict[str, str] = {}  # tenant id (or ANY_TENANT) -> UPN who signs in at /authorize
        # (client id, tenant id, UPN or ANY_TENANT), casefolded -> the delegated scopes granted there
        self._grants: dict[tuple[str, str, str], tuple[str, ...]] = {}

    # Tenants
    def add_tenant(self, tenant: Tenant) -> Tenant:
        with self._lock:
            for key in (tenant.id, *tenant.domains):
                self._tenants[key.casefold()] = tenant
        return tenant

    def tenant(self, ref: str | None) -> Tenant | None:
        if not ref:
            return None
        with self._lock:
            return self._tenants.get(ref.casefold())

    def tenants(self) -> list[Tenant]:
        with self._lock:
            return list({tenant.id: tenant for tenant in self._tenants.values()}.values())

    # Users
    def add_user(self, user: User) -> User:
        ref = user.tenant or user.upn.rpartition("@")[2]
        tenant = self.tenant(ref)
        if tenant is None:
            raise ValueError(f"no tenant {ref!r} for user {user.upn!r}: add the tenant first")
        user = dataclasses.replace(user, tenant=tenant.id)
        with self._lock:
            self._users[user.upn.casefold()] = user
        return user

    def user(self, upn: str | None) -> User | None:
        if not upn:
            return None
        with self._lock:
            return self._users.get(upn.casefold())

    def update_user(self, upn: str, **changes: object) -> User:
        with self._lock:
            current = self._users[upn.casefold()]
            updated = dataclasses.replace(current, **changes)
            self._users[upn.casefold()] = updated
            return updated

    def users_of(self, tenant_id: str) -> list[User]:
        with self._lock:
            return [user for user in self._users.values() if user.tenant == tenant_id]

    def sign_in_as(self, upn: str, *, tenant: str | None = None) -> None:
        """Who signs in at /authorize and /adminconsent (for `tenant`, or anywhere) when no login_hint names one."""
        key = ANY_TENANT if tenant is None else self._tenant_id(tenant)
        with self._lock:
            self._sign_in[key] = upn

    def signed_in_user(self, tenant_id: str | None, *, login_hint: str | None = None) -> User | None:
        """login_hint, else the user set for the tenant, else the one set for anywhere, else the tenant's first
        user (for common/organizations: the first user registered)."""
        with self._lock:
            upn = login_hint or self._sign_in.get(tenant_id or "") or self._sign_in.get(ANY_TENANT)
            if upn:
                return self._users.get(upn.casefold())
            users = [user for user in self._users.values() if tenant_id is None or user.tenant == tenant_id]
        return users[0] if users else None

    # App registrations
    def add_app(self, app: AppRegistration) -> AppRegistration:
        with self._lock:
            self._apps[app.client_id.casefold()] = app
        return app

    def app(self, client_id: str | None) -> AppRegistration | None:
        if not client_id:
            return None
        with self._lock:
            return self._apps.get(client_id.casefold())

    def update_app(self, client_id: str, **changes: object) -> AppRegistration:
        with self._lock:
            updated = dataclasses.replace(self._apps[client_id.casefold()], **changes)
            self._apps[client_id.casefold()] = updated
            return updated

    def installed(self, app: AppRegistration, tenant: Tenant) -> bool:
        if app.tenants is None:
            return True
        return any(self._tenant_id(ref) == tenant.id for ref in app.tenants)

    def roles_in(self, app: AppRegistration, tenant: Tenant) -> tuple[str, ...]:
        for ref, roles in app.roles.items():
            if ref != ANY_TENANT and self._tenant_id(ref) == tenant.id:
                return tuple(roles)
        return tuple(app.roles.get(ANY_TENANT, ()))

    def set_roles(self, client_id: str, tenant: str, roles: tuple[str, ...] | list[str]) -> AppRegistration:
        """The application roles `client_id` holds in `tenant` (ANY_TENANT: wherever no entry says otherwise)."""
        app = self.app(client_id)
        if app is None:
            raise KeyError(client_id)
        key = tenant if tenant == ANY_TENANT else self._tenant_id(tenant)
        kept = {ref: held for ref, held in app.roles.items() if ref == ANY_TENANT or self._tenant_id(ref) != key}
        return self.update_app(client_id, roles={**kept, key: tuple(roles)})

    def install(self, app: AppRegistration, tenant: Tenant) -> AppRegistration:
        """A service principal for `app` in `tenant` (what any consent creates)."""
        if app.tenants is not None and not self.installed(app, tenant):
            return self.update_app(app.client_id, tenants=(*app.tenants, tenant.id))
        return app

    def grant_admin_consent(self, app: AppRegistration, tenant: Tenant) -> None:
        """What an admin consent does: a service principal in `tenant`, holding the app's application permissions."""
        app = self.install(app, tenant)
        if app.application_permissions:
            self.set_roles(app.client_id, tenant.id, app.application_permissions)

    def application_object(self, app_id: str | None, tenant: Tenant) -> AppRegistration | None:
        """The app whose application object lives in `tenant` (what Graph's applications(appId=...) finds)."""
        app = self.app(app_id)
        if app is None or app.home_tenant is None or self._tenant_id(app.home_tenant) != tenant.id:
            return None
        return app

    # Delegated permission grants (what an admin consented to for the whole tenant, or a user for themself)
    def set_delegated_grant(
        self, client_id: str, tenant: str, scopes: tuple[str, ...] | list[str], *, user: str | None = None,
    ) -> None:
        """The delegated scopes `client_id` holds in `tenant` (for `user` alone, or for everyone); they replace
        the app's `delegated_scopes` there: a `.default` token's `scp` holds them, and a named scope outside
        them answers 65001. Dropping one from the list is how a test makes consent drift."""
        key = (client_id.casefold(), self._tenant_id(tenant), (user or ANY_TENANT).casefold())
        with self._lock:
            self._grants[key] = tuple(scopes)

    def delegated_grant(self, app: AppRegistration, tenant: Tenant, user: User) -> tuple[str, ...]:
        """The user's own grant, else the tenant-wide one, else the app's `delegated_scopes`."""
        client_id = app.client_id.casefold()
        with self._lock:
            for who in (user.upn.casefold(), ANY_TENANT):
                granted = self._grants.get((client_id, tenant.id, who))
                if granted is not None:
                    return granted
        return app.delegated_scopes

    def _tenant_id(self, ref: str) -> str:
        tenant = self.tenant(ref)
        return tenant.id if tenant is not None else ref.casefold()
