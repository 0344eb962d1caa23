"""GET /api/me: who the caller is, as the edge sees them, so the page can show the signed-in name and role.

The platform's own /.auth/me answers only with a token store, which this app's infra leaves off; the principal
the platform forwards with every request (X-MS-CLIENT-PRINCIPAL) needs none.
"""
import azure.functions as func

from shared import bootstrap
from shared.domain.access import principal_from_header
from shared.views import me_view

from .http import PRINCIPAL_HEADER, endpoint, json_response

bp = func.Blueprint()


@endpoint(bp, "me", "api/me", methods=["GET"])
def me(req: func.HttpRequest) -> func.HttpResponse:
    sign_in = bootstrap.services().config.sign_in
    principal = principal_from_header(req.headers.get(PRINCIPAL_HEADER), sign_in=sign_in)
    return json_response(me_view(principal, sign_in_configured=sign_in.configured))
