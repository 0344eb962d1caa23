"""PUT/GET/DELETE /api/tenants/{customerId}: the customer records."""
import azure.functions as func

from shared import bootstrap
from shared.usecases.customers import delete_customer, get_customer, put_customer
from shared.views import tenant_view

from . import parsing
from .http import NO_STORE, body_of, endpoint, json_response

bp = func.Blueprint()


@endpoint(bp, "tenants_put", "api/tenants/{customerId}", methods=["PUT"])
def tenants_put(req: func.HttpRequest) -> func.HttpResponse:
    customer_id = parsing.customer_id(req.route_params.get("customerId"))
    data = parsing.customer_input(parsing.json_object(body_of(req)))
    services = bootstrap.services()
    customer, created = put_customer(services.customers, services.secrets, customer_id, data)
    return json_response(tenant_view(customer), status=201 if created else 200)


@endpoint(bp, "tenants_get", "api/tenants/{customerId}", methods=["GET"])
def tenants_get(req: func.HttpRequest) -> func.HttpResponse:
    customer_id = parsing.customer_id(req.route_params.get("customerId"))
    return json_response(tenant_view(get_customer(bootstrap.services().customers, customer_id)))


@endpoint(bp, "tenants_delete", "api/tenants/{customerId}", methods=["DELETE"])
def tenants_delete(req: func.HttpRequest) -> func.HttpResponse:
    customer_id = parsing.customer_id(req.route_params.get("customerId"))
    services = bootstrap.services()
    delete_customer(services.customers, services.history, services.secrets, customer_id)
    return func.HttpResponse(status_code=204, headers=NO_STORE)
