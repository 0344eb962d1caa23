"""The Authentication Status page (GET /) and its static files (GET /page/{file}).

Anonymous: the files hold no data. The page's script reads everything from the API with the operator's function
key. Files are read on first request, not at import, and kept in memory.
"""
from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import azure.functions as func

from shared.domain.errors import NotFound

from .http import error_response, page_headers, sign_in_redirect

bp = func.Blueprint()

FOLDER = Path(__file__).resolve().parent.parent / "page"

# The Functions host turns an empty route into the function's name, so the root needs an optional parameter
# that only the empty path satisfies (any segment is longer than 0 characters).
ROOT_ROUTE = "{root:maxlength(0)?}"

# MIME types; text/* get "; charset=utf-8" added, as azure.functions does for every text type.
_TYPES = {".html": "text/html", ".css": "text/css", ".js": "application/javascript", ".svg": "image/svg+xml"}
# The only files /page/{file} serves: a name from the request never reaches the file system.
STATIC_FILES = frozenset({
    "app.css", "favicon.svg", "icon-succeeded.svg", "icon-failed.svg", "icon-notverified.svg",
    "app.js", "api.js", "format.js", "dom.js", "summary.js", "table.js", "customer.js", "tenant-form.js",
    "settings.js", "dialogs.js", "render.js", "form-fields.js",
    "events.js", "expiry.js",
    "access.js", "activity.js",
    "channels.js",
})
INDEX = "index.html"

# Revalidated each time (the ETag makes that a 304): a deployment's new files are seen at once.
SECURITY_HEADERS = page_headers(sources=("script-src 'self'", "style-src 'self'", "img-src 'self' data:",
                                         "connect-src 'self'"), cache="no-cache")


@functools.cache
def _file(name: str) -> tuple[bytes, str]:
    body = (FOLDER / name).read_bytes()
    return body, '"' + hashlib.sha256(body).hexdigest()[:32] + '"'


def _serve(req: func.HttpRequest, name: str) -> func.HttpResponse:
    body, etag = _file(name)
    headers = {**SECURITY_HEADERS, "ETag": etag}
    if etag in (req.headers.get("If-None-Match") or "").replace(" ", "").split(","):
        return func.HttpResponse(status_code=304, headers=headers)
    return func.HttpResponse(body, status_code=200, headers=headers, mimetype=_TYPES[Path(name).suffix],
                             charset="utf-8")


@bp.function_name("page")
@bp.route(route=ROOT_ROUTE, methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def page(req: func.HttpRequest) -> func.HttpResponse:
    return sign_in_redirect(req) or _serve(req, INDEX)


@bp.function_name("page_file")
@bp.route(route="page/{file}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def page_file(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params.get("file") or ""
    if name not in STATIC_FILES:
        return error_response(NotFound("No such file of the page."))
    return _serve(req, name)
