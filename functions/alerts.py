"""Alert channels (list, create or update, delete, test), acknowledging a failure, and the alert dispatcher's
timer (README, "Alerts")."""
import azure.functions as func

from shared import bootstrap
from shared.domain.alerts.channels import channel_input, check_channel_id
from shared.usecases.acknowledge import acknowledge_failure
from shared.usecases.alert_channels import (
    channel_state,
    delete_channel,
    list_channels,
    put_channel,
    send_test_message,
)
from shared.usecases.alert_dispatch import dispatch
from shared.views import (
    acknowledgement_view,
    channel_saved_view,
    channel_test_view,
    channels_view,
)

from . import parsing
from .http import body_of, endpoint, json_response

bp = func.Blueprint()


@endpoint(bp, "alert_channels_list", "api/alerts/channels", methods=["GET"])
def alert_channels_list(req: func.HttpRequest) -> func.HttpResponse:
    services = bootstrap.services()
    return json_response(channels_view(list_channels(services.channels, services.deliveries)))


@endpoint(bp, "alert_channel_put", "api/alerts/channels/{channelId}", methods=["PUT"])
def alert_channel_put(req: func.HttpRequest) -> func.HttpResponse:
    channel_id = check_channel_id(req.route_params.get("channelId"))
    data = channel_input(parsing.json_object(body_of(req)))
    services = bootstrap.services()
    saved = put_channel(services.channels, services.secrets, services.alert_transport, channel_id, data)
    view = channel_saved_view(saved, channel_state(saved.channel, services.deliveries))
    return json_response(view, status=201 if saved.created else 200)


@endpoint(bp, "alert_channel_delete", "api/alerts/channels/{channelId}", methods=["DELETE"])
def alert_channel_delete(req: func.HttpRequest) -> func.HttpResponse:
    channel_id = check_channel_id(req.route_params.get("channelId"))
    services = bootstrap.services()
    delete_channel(services.channels, services.secrets, channel_id)
    return func.HttpResponse(status_code=204)


@endpoint(bp, "alert_channel_test", "api/alerts/channels/{channelId}/test", methods=["POST"])
def alert_channel_test(req: func.HttpRequest) -> func.HttpResponse:
    channel_id = check_channel_id(req.route_params.get("channelId"))
    services = bootstrap.services()
    test = send_test_message(services.channels, services.secrets, services.alert_transport, channel_id,
                             page_url=services.config.page_url)
    return json_response(channel_test_view(test))


@endpoint(bp, "status_acknowledge", "api/status/{customerId}/acknowledge", methods=["POST"])
def status_acknowledge(req: func.HttpRequest) -> func.HttpResponse:
    customer_id = parsing.customer_id(req.route_params.get("customerId"))
    services = bootstrap.services()
    acknowledgement = acknowledge_failure(services.customers, services.alert_follower, customer_id)
    return json_response(acknowledgement_view(customer_id, acknowledgement))


# Every minute (NCRONTAB, six fields): changes outside runs are gathered for at most a minute, and deliveries due are
# retried. Without the schedule monitor: a missed minute is not worth a storage write per tick to catch up.
@bp.function_name("alerts_dispatch")
@bp.timer_trigger(arg_name="timer", schedule="0 * * * * *", run_on_startup=False, use_monitor=False)
def alerts_dispatch(timer: func.TimerRequest) -> None:
    dispatch(bootstrap.services().alerts)
