"""GET /api/events: the customers' status changes, newest first (the outbox relayed to the Events table)."""
import azure.functions as func

from shared import bootstrap
from shared.usecases.events import list_events
from shared.views import events_view

from . import parsing
from .http import endpoint, json_response

bp = func.Blueprint()


@endpoint(bp, "events_list", "api/events", methods=["GET"])
def events_list(req: func.HttpRequest) -> func.HttpResponse:
    flt, top, token = parsing.events_query(req.params)
    services = bootstrap.services()
    events, following = list_events(services.events, flt, top=top, continuation_token=token, keys=services.token_keys)
    return json_response(events_view(events, following))
