"""POST /api/consent: Grant Consent links for many customers at once (foresight's move off passwords), as JSON,
or as CSV with `Accept: text/csv` so an operator can mail them."""
import azure.functions as func

from shared import bootstrap
from shared.expiry_views import bulk_links_csv, bulk_links_view
from shared.usecases.consent_bulk import MAX_BULK, bulk_links, password_customer_ids

from . import parsing
from .expiry_parsing import bulk_consent_input
from .http import NO_STORE, NOSNIFF, body_of, endpoint, json_response

bp = func.Blueprint()


@endpoint(bp, "consent_bulk", "api/consent", methods=["POST"])
def consent_bulk(req: func.HttpRequest) -> func.HttpResponse:
    customer_ids = bulk_consent_input(parsing.json_object(body_of(req)), limit=MAX_BULK)
    ctx = bootstrap.services().consent
    links = bulk_links(ctx, customer_ids if customer_ids is not None else password_customer_ids(ctx))
    if _wants_csv(req.headers.get("Accept")):
        return func.HttpResponse(bulk_links_csv(links).encode("utf-8"), status_code=200, mimetype="text/csv",
                                 charset="utf-8", headers={
                                     **NO_STORE, **NOSNIFF,
                                     "Content-Disposition": 'attachment; filename="consent-links.csv"'})
    return json_response(bulk_links_view(links))


def _wants_csv(accept: str | None) -> bool:
    """CSV when the client names text/csv among the types it accepts (JSON otherwise, the API's default)."""
    types = [part.split(";", 1)[0].strip().lower() for part in (accept or "").split(",")]
    return "text/csv" in types
