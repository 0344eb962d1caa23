"""GET /api/audit: every change made through the API, newest first (Administrator only when sign-in is on)."""
from __future__ import annotations

from collections.abc import Mapping

import azure.functions as func

from shared import bootstrap
from shared.domain.access import FUNCTION_KEY
from shared.domain.errors import InputError
from shared.domain.rules import is_guid
from shared.usecases.audit import DEFAULT_AUDIT_TOP, MAX_AUDIT_TOP, AuditQuery, list_changes
from shared.views import audit_view

from . import parsing
from .http import endpoint, json_response

bp = func.Blueprint()


def audit_query(params: Mapping[str, str]) -> AuditQuery:
    """Query of GET /api/audit: `customerId`, `actor` (an object id, or functionKey), `top` (1-100, default 50),
    `continuationToken`. Unknown names are ignored (the host itself adds `code`)."""
    customer_id = params.get("customerId")
    if customer_id is not None:
        customer_id = parsing.customer_id(customer_id)
    actor = params.get("actor")
    if actor is not None:
        if actor != FUNCTION_KEY.id and not is_guid(actor):
            raise InputError("invalidQueryParameter", "actor must be an object id (a GUID) or functionKey.",
                             target="actor")
        actor = actor.lower() if actor != FUNCTION_KEY.id else actor
    top = parsing.top_number(params.get("top"), "top", maximum=MAX_AUDIT_TOP, default=DEFAULT_AUDIT_TOP)
    token = params.get("continuationToken")
    return AuditQuery(customer_id=customer_id, actor=actor, top=top, continuation_token=token)


@endpoint(bp, "audit_list", "api/audit", methods=["GET"])
def audit_list(req: func.HttpRequest) -> func.HttpResponse:
    services = bootstrap.services()
    return json_response(audit_view(list_changes(services.audit, services.token_keys, audit_query(req.params))))
