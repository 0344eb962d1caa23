"""GET /api/health: anonymous liveness, touching no storage so it answers even when a dependency is down."""
import azure.functions as func

from shared.views import health_view

from .http import json_response

bp = func.Blueprint()


@bp.function_name("health")
@bp.route(route="api/health", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def health(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(health_view())
