"""GET/PUT /api/settings: the provider's Client Id, Redirect URL and (write-only) Client Secret."""
import azure.functions as func

from shared import bootstrap
from shared.usecases.provider_settings import get_settings, put_settings
from shared.views import provider_settings_view

from . import parsing
from .http import body_of, endpoint, json_response

bp = func.Blueprint()


@endpoint(bp, "settings_get", "api/settings", methods=["GET"])
def settings_get(req: func.HttpRequest) -> func.HttpResponse:
    services = bootstrap.services()
    return json_response(provider_settings_view(get_settings(services.provider_settings),
                                                graph_reads=services.config.provider_graph_reads))


@endpoint(bp, "settings_put", "api/settings", methods=["PUT"])
def settings_put(req: func.HttpRequest) -> func.HttpResponse:
    data = parsing.provider_settings_input(parsing.json_object(body_of(req)))
    services = bootstrap.services()
    return json_response(provider_settings_view(put_settings(services.provider_settings, services.secrets, data),
                                                graph_reads=services.config.provider_graph_reads))
