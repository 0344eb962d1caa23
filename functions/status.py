"""GET /api/status and GET /api/status/{customerId}: what the provider's portal shows."""
import azure.functions as func

from shared import bootstrap
from shared.usecases.status import list_status, status_detail
from shared.views import status_detail_view, status_list_view

from . import parsing
from .http import endpoint, json_response

bp = func.Blueprint()


@endpoint(bp, "status_list", "api/status", methods=["GET"])
def status_list(req: func.HttpRequest) -> func.HttpResponse:
    query = parsing.status_query(req.params)
    services = bootstrap.services()
    return json_response(status_list_view(list_status(
        services.customers, query, keys=services.token_keys, settings=services.provider_settings,
        graph_reads=services.config.provider_graph_reads, reads=services.status_reads)))


@endpoint(bp, "status_get", "api/status/{customerId}", methods=["GET"])
def status_get(req: func.HttpRequest) -> func.HttpResponse:
    customer_id = parsing.customer_id(req.route_params.get("customerId"))
    services = bootstrap.services()
    return json_response(status_detail_view(status_detail(services.customers, services.history, customer_id)))
