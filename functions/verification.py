"""Verification triggers: Verify All and runs (HTTP), verify one (HTTP), the schedule (timer), the worker
that handles each `verify-requests` queue message, and what the host gave up on (`verify-requests-poison`)."""
import logging

import azure.functions as func

from shared import bootstrap
from shared.domain.errors import NotFound
from shared.domain.runs import Trigger
from shared.usecases.alert_dispatch import dispatch_after_work
from shared.usecases.events import relay_quietly
from shared.usecases.runs import handle_poisoned, handle_work, start_run
from shared.usecases.verify import verify_customer
from shared.views import run_view, runs_view, tenant_view

from . import parsing
from .http import endpoint, json_response

bp = func.Blueprint()
logger = logging.getLogger(__name__)


@endpoint(bp, "runs_start", "api/runs", methods=["POST"])
def runs_start(req: func.HttpRequest) -> func.HttpResponse:
    services = bootstrap.services()
    run, _ = start_run(services.runs, services.work, trigger=Trigger.HTTP, customers=services.customers)
    return json_response(run_view(run), status=202, headers={"Location": f"/api/runs/{run.run_id}"})


@endpoint(bp, "runs_get", "api/runs/{runId}", methods=["GET"])
def runs_get(req: func.HttpRequest) -> func.HttpResponse:
    run_id = parsing.run_id(req.route_params.get("runId"))
    run = bootstrap.services().runs.get(run_id)
    if run is None:
        raise NotFound(f"No run with runId {run_id}.")
    return json_response(run_view(run))


@endpoint(bp, "runs_list", "api/runs", methods=["GET"])
def runs_list(req: func.HttpRequest) -> func.HttpResponse:
    return json_response(runs_view(bootstrap.services().runs.list_recent(top=parsing.runs_top(req.params))))


@endpoint(bp, "status_verify", "api/status/{customerId}/verify", methods=["POST"])
def status_verify(req: func.HttpRequest) -> func.HttpResponse:
    customer_id = parsing.customer_id(req.route_params.get("customerId"))
    customer = verify_customer(bootstrap.services().verification, customer_id, in_run=False)
    if customer is None:
        raise NotFound(f"No customer with customerId {customer_id}.")
    return json_response(tenant_view(customer))


@bp.function_name("verify_schedule")
@bp.timer_trigger(arg_name="timer", schedule="%VERIFY_SCHEDULE%", run_on_startup=False, use_monitor=True)
def verify_schedule(timer: func.TimerRequest) -> None:
    services = bootstrap.services()
    relay_quietly(services.outbox, services.events)  # status events a host that died left in the outbox
    start_run(services.runs, services.work, trigger=Trigger.TIMER, customers=services.customers)


@bp.function_name("verify_worker")
@bp.queue_trigger(arg_name="message", queue_name="verify-requests", connection="AzureWebJobsStorage")
def verify_worker(message: func.QueueMessage) -> None:
    services = bootstrap.services()
    text = message.get_body().decode("utf-8", "replace")
    handle_work(services.verification, services.runs, services.work, text)
    dispatch_after_work(services.alerts, text)  # a run that just ended sends its digest now


@bp.function_name("verify_poisoned")
@bp.queue_trigger(arg_name="message", queue_name="verify-requests-poison", connection="AzureWebJobsStorage")
def verify_poisoned(message: func.QueueMessage) -> None:
    services = bootstrap.services()
    handle_poisoned(services.runs, services.work, message.get_body().decode("utf-8", "replace"))
