"""PUT/GET/DELETE /api/tenants/{customerId}: the customer records."""
import azure.functions as func

from shared import bootstrap, validation
from shared.tenants import delete_tenant, get_tenant, put_tenant
from shared.views import tenant_view

from .http import body_of, handles_errors, json_response

bp = func.Blueprint()


@bp.function_name("tenants_put")
@bp.route(route="api/tenants/{customerId}", methods=["PUT"])
@handles_errors
def tenants_put(req: func.HttpRequest) -> func.HttpResponse:
    customer_id = validation.customer_id(req.route_params.get("customerId"))
    data = validation.tenant_input(validation.json_object(body_of(req)))
    services = bootstrap.services()
    tenant, created = put_tenant(services.tenants, services.secrets, customer_id, data)
    return json_response(tenant_view(tenant), status=201 if created else 200)


@bp.function_name("tenants_get")
@bp.route(route="api/tenants/{customerId}", methods=["GET"])
@handles_errors
def tenants_get(req: func.HttpRequest) -> func.HttpResponse:
    customer_id = validation.customer_id(req.route_params.get("customerId"))
    return json_response(tenant_view(get_tenant(bootstrap.services().tenants, customer_id)))


@bp.function_name("tenants_delete")
@bp.route(route="api/tenants/{customerId}", methods=["DELETE"])
@handles_errors
def tenants_delete(req: func.HttpRequest) -> func.HttpResponse:
    customer_id = validation.customer_id(req.route_params.get("customerId"))
    services = bootstrap.services()
    delete_tenant(services.tenants, services.secrets, customer_id)
    return func.HttpResponse(status_code=204, headers={"Cache-Control": "no-store"})
