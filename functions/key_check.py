"""GET /api/keycheck: answers 204, and only to a request the Functions host let through with a function key.

Always of auth level FUNCTION: with operators' sign-in on, the API's other routes are ANONYMOUS and the app asks
the host, through this route, whether a key a request carries is one of its keys (shared/adapters/
function_key_probe.py). The app never holds the keys.
"""
import azure.functions as func

from .http import NO_STORE, NOSNIFF

bp = func.Blueprint()


@bp.function_name("key_check")
@bp.route(route="api/keycheck", methods=["GET"], auth_level=func.AuthLevel.FUNCTION)
def key_check(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(status_code=204, headers={**NO_STORE, **NOSNIFF})
