"""App Service Authentication as the local host emulates it, so `make run` shows the page and the API as each role
sees them: LOCAL_PRINCIPAL="Ada Lovelace;Operator" (a name, then the app roles, comma-separated; none is allowed)
signs that person in for every request.

Then, as the platform does while its authentication runs: WEBSITE_AUTH_ENABLED is true (so the app registers its
API ANONYMOUS and trusts the principal), every request carries this principal in X-MS-CLIENT-PRINCIPAL (one a
client sent is replaced), and GET /.auth/me answers who is signed in; /.auth/login/aad and /.auth/logout lead
back to the page. OPERATORS_CLIENT_ID / OPERATORS_TENANT_ID get fixed local ids unless set.

What differs from the platform (README, "Local host"): nobody signs in or out (the principal is fixed for the
host's life), /.auth/me answers without a token store, and the local host checks no function keys itself: a key
is valid only where WEBSITE_HOSTNAME points at something that checks it.
"""
from __future__ import annotations

import base64
import dataclasses
import json
import uuid
from collections.abc import MutableMapping

import azure.functions as func

from shared.domain.access import Role
from tools.hostconfig import HostConfigError
from tools.routing import RouteTable

SETTING = "LOCAL_PRINCIPAL"
LOCAL_CLIENT_ID = "00000000-0000-4000-8000-00000000c11d"
LOCAL_TENANT_ID = "00000000-0000-4000-8000-0000000000aa"
_ROLE_URI = "http://schemas.microsoft.com/ws/2008/06/identity/claims/role"
_NAME_URI = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name"
_OID_URI = "http://schemas.microsoft.com/identity/claims/objectidentifier"
_TID_URI = "http://schemas.microsoft.com/identity/claims/tenantid"


@dataclasses.dataclass(frozen=True)
class LocalSignIn:
    name: str
    roles: tuple[str, ...]
    tenant_id: str
    client_id: str

    @property
    def object_id(self) -> str:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"local-principal:{self.name}"))  # stable per name

    def claims(self) -> list[dict[str, str]]:
        claims = [(_OID_URI, self.object_id), (_TID_URI, self.tenant_id), (_NAME_URI, self.name),
                  ("aud", self.client_id), *((_ROLE_URI, role) for role in self.roles)]
        return [{"typ": typ, "val": val} for typ, val in claims]

    def header(self) -> str:
        document = {"auth_typ": "aad", "claims": self.claims(), "name_typ": _NAME_URI, "role_typ": _ROLE_URI}
        return base64.b64encode(json.dumps(document).encode("utf-8")).decode("ascii")

    def attach(self, routes: RouteTable) -> None:
        """Give every route's function this principal, and add the platform's /.auth routes."""
        routes.routes[:] = [dataclasses.replace(r, target=self._signed_in(r.target)) for r in routes.routes]
        routes.add("auth_me", ".auth/me", ["GET"], self._me)
        for path in (".auth/login/aad", ".auth/logout"):
            routes.add(path, path, ["GET"], _back_to_the_page)

    def _signed_in(self, target):
        def call(request: func.HttpRequest) -> func.HttpResponse:
            headers = {k: v for k, v in request.headers.items() if k.lower() != "x-ms-client-principal"}
            return target(func.HttpRequest(
                request.method, request.url, headers={**headers, "X-MS-CLIENT-PRINCIPAL": self.header()},
                params=dict(request.params), route_params=dict(request.route_params), body=request.get_body()))

        return call

    def _me(self, request: func.HttpRequest) -> func.HttpResponse:
        me = [{"provider_name": "aad", "user_id": self.name, "user_claims": self.claims()}]
        return func.HttpResponse(json.dumps(me), mimetype="application/json", headers={"Cache-Control": "no-store"})


class NoLocalSignIn:
    """LOCAL_PRINCIPAL unset: the local host serves requests as they come, as func start does."""

    def attach(self, routes: RouteTable) -> None:
        pass


def _back_to_the_page(request: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(status_code=302, headers={"Location": "/"})


def start(env: MutableMapping[str, str]) -> LocalSignIn | NoLocalSignIn:
    """The principal LOCAL_PRINCIPAL names, with the platform's settings set in `env` for the app to read
    (NoLocalSignIn when it is unset). Raises HostConfigError for a role the app does not know."""
    raw = (env.get(SETTING) or "").strip()
    if not raw:
        return NoLocalSignIn()
    name, _, role_list = raw.partition(";")
    roles = tuple(part.strip() for part in role_list.split(",") if part.strip())
    known = {role.value for role in Role}
    if not name.strip() or any(role not in known for role in roles):
        raise HostConfigError(f"{SETTING} must be 'name;role,...' with roles among {', '.join(sorted(known))}.")
    env["WEBSITE_AUTH_ENABLED"] = "true"
    client_id = env.setdefault("OPERATORS_CLIENT_ID", LOCAL_CLIENT_ID) or LOCAL_CLIENT_ID
    tenant_id = env.setdefault("OPERATORS_TENANT_ID", LOCAL_TENANT_ID) or LOCAL_TENANT_ID
    env["OPERATORS_CLIENT_ID"], env["OPERATORS_TENANT_ID"] = client_id, tenant_id
    return LocalSignIn(name.strip(), roles, tenant_id.lower(), client_id.lower())
