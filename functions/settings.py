"""GET/PUT /api/settings: the provider's Client Id, Redirect URL and (write-only) Client Secret."""
import azure.functions as func

from shared import bootstrap, validation
from shared.provider_settings import get_settings, put_settings, settings_view

from .http import body_of, handles_errors, json_response

bp = func.Blueprint()


@bp.function_name("settings_get")
@bp.route(route="api/settings", methods=["GET"])
@handles_errors
def settings_get(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(settings_view(get_settings(bootstrap.services().settings_store)))


@bp.function_name("settings_put")
@bp.route(route="api/settings", methods=["PUT"])
@handles_errors
def settings_put(req: func.HttpRequest) -> func.HttpResponse:
    data = validation.settings_input(validation.json_object(body_of(req)))
    services = bootstrap.services()
    return json_response(settings_view(put_settings(services.settings_store, services.secrets, data)))
