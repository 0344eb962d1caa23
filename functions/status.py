"""GET /api/status and GET /api/status/{customerId}: what the provider's portal shows."""
import azure.functions as func

from shared import bootstrap, validation
from shared.status import list_status, status_detail

from .http import handles_errors, json_response

bp = func.Blueprint()


@bp.function_name("status_list")
@bp.route(route="api/status", methods=["GET"])
@handles_errors
def status_list(req: func.HttpRequest) -> func.HttpResponse:
    query = validation.list_query(req.params)
    return json_response(list_status(bootstrap.services().tenants, query))


@bp.function_name("status_get")
@bp.route(route="api/status/{customerId}", methods=["GET"])
@handles_errors
def status_get(req: func.HttpRequest) -> func.HttpResponse:
    customer_id = validation.customer_id(req.route_params.get("customerId"))
    return json_response(status_detail(bootstrap.services().tenants, customer_id))
