"""Grant Consent links (POST /api/consent/{customerId}) and Microsoft's redirect back
(GET/POST /authenticate/OAuth2Callback, anonymous: its `code` parameter is the authorization code, which would
collide with the function key's name), which answers an HTML page."""
import logging
from urllib.parse import parse_qsl

import azure.functions as func

from shared import bootstrap
from shared.domain.consent import ConsentOutcome, ConsentOutcomeKind
from shared.pages import consent_page
from shared.usecases.consent import complete_consent, start_consent
from shared.views import consent_link_view

from . import parsing
from .http import CONSENT_STATUS, body_of, endpoint, json_response, page_headers

bp = func.Blueprint()
# The page is text: it loads, runs, frames and submits nothing.
CALLBACK_HEADERS = page_headers(cache="no-store")
logger = logging.getLogger(__name__)


@endpoint(bp, "consent_start", "api/consent/{customerId}", methods=["POST"])
def consent_start(req: func.HttpRequest) -> func.HttpResponse:
    customer_id = parsing.customer_id(req.route_params.get("customerId"))
    method, login_hint = parsing.consent_input(parsing.json_object(body_of(req), required=False))
    link = start_consent(bootstrap.services().consent, customer_id, method=method, login_hint=login_hint)
    return json_response(consent_link_view(link))


@bp.function_name("consent_callback")
@bp.route(route="authenticate/OAuth2Callback", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
def consent_callback(req: func.HttpRequest) -> func.HttpResponse:
    try:
        outcome = _complete(req)
    except Exception as err:  # the admin gets a page, never a trace; the log keeps the kind for operators
        logger.exception("The consent callback failed (%s).", type(err).__name__)
        outcome = ConsentOutcome(ConsentOutcomeKind.UNAVAILABLE, "Consent could not be completed",
                                 ("Something went wrong on our side; the link can be asked for again.",))
    return func.HttpResponse(consent_page(outcome), status_code=CONSENT_STATUS[outcome.kind],
                             mimetype="text/html", charset="utf-8", headers=CALLBACK_HEADERS)


def _complete(req: func.HttpRequest) -> ConsentOutcome:
    params = dict(req.params)
    if req.method.upper() == "POST":  # response_mode=form_post
        body = body_of(req)
        if len(body) > parsing.MAX_BODY_BYTES:
            return ConsentOutcome(ConsentOutcomeKind.TOO_LARGE, "This answer is too large",
                                  ("The request body is larger than 64 KiB.",))
        try:
            params.update(parse_qsl(body.decode("utf-8"), keep_blank_values=True, max_num_fields=100))
        except (UnicodeDecodeError, ValueError):
            return ConsentOutcome(ConsentOutcomeKind.REFUSED, "This answer cannot be read",
                                  ("The form is not valid UTF-8 form data.",))
    return complete_consent(bootstrap.services().consent, params)
