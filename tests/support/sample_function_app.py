"""A small FunctionApp for the devserver's tests: each trigger kind the devserver runs, none of the product.

Timer and queue functions record what they received as JSON lines in $SAMPLE_EVENTS_DIR/<function>.jsonl,
so a test can see each invocation from outside the devserver process.
"""
from __future__ import annotations

import asyncio
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

import azure.functions as func

from shared.domain.errors import ConfigurationError

app = func.FunctionApp(http_auth_level=func.AuthLevel.FUNCTION)

_write_lock = threading.Lock()


def _record(function: str, event: dict[str, Any]) -> None:
    folder = Path(os.environ["SAMPLE_EVENTS_DIR"])
    with _write_lock, (folder / f"{function}.jsonl").open("a", encoding="utf-8") as out:
        out.write(json.dumps(event) + "\n")


def _wait_for_gate(gate: str) -> bool:
    """Block until a test creates $SAMPLE_EVENTS_DIR/<gate>.open; False after a minute without it."""
    path = Path(os.environ["SAMPLE_EVENTS_DIR"]) / f"{gate}.open"
    deadline = time.monotonic() + 60
    while not path.exists():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.02)
    return True


def _json(value: Any, status: int = 200) -> func.HttpResponse:
    return func.HttpResponse(json.dumps(value), status_code=status, mimetype="application/json")


def startup_check() -> None:
    message = os.environ.get("SAMPLE_STARTUP_ERROR")
    if message:
        raise ConfigurationError(message)


@app.route(route="api/echo/{name}", methods=["GET", "POST", "PUT"], trigger_arg_name="request")
def echo(request: func.HttpRequest) -> func.HttpResponse:
    status = int(request.params.get("status", "200"))
    return func.HttpResponse(
        json.dumps({
            "method": request.method,
            "url": request.url,
            "params": dict(request.params),
            "routeParams": dict(request.route_params),
            "headers": {k: v for k, v in request.headers.items() if k.startswith("x-sample")},
            "body": request.get_body().decode("utf-8"),
        }),
        status_code=status,
        mimetype="application/json",
        headers={"X-Echo": request.route_params.get("name", "")},
    )


@app.route(route="api/status/verify", methods=["POST"])
def verify_all(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"handler": "verify_all"}, 202)


@app.route(route="api/status/{customerId}", methods=["GET"])
def status_one(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"handler": "status_one", "customerId": req.route_params["customerId"]})


@app.route(route="api/status/{customerId}/verify", methods=["POST"])
def verify_one(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"handler": "verify_one", "customerId": req.route_params["customerId"]})


@app.route(route="api/items/{id:int}", methods=["GET"])
def item(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"id": int(req.route_params["id"])})


@app.route(route="api/files/{*path}", methods=["GET"])
def files(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"path": req.route_params.get("path")})


@app.route(route="api/page", methods=["GET"])
def page(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("<p>caf\u00e9</p>", mimetype="text/html", headers={"Cache-Control": "no-store"})


@app.route(route="api/things/{id}", methods=["DELETE"])
def delete_thing(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(status_code=204)


@app.route(route="api/context", methods=["GET"])
def with_context(req: func.HttpRequest, context: func.Context) -> func.HttpResponse:
    return _json({"functionName": context.function_name, "invocationId": context.invocation_id})


@app.route(route="api/async/{value}", methods=["GET"])
async def asynchronous(req: func.HttpRequest) -> func.HttpResponse:
    await asyncio.sleep(0)
    return _json({"value": req.route_params["value"], "async": True})


@app.route(route="api/boom", methods=["GET"])
def boom(req: func.HttpRequest) -> func.HttpResponse:
    raise RuntimeError("sample failure with internal detail 7f3a")


@app.route(route="api/slow/{gate}", methods=["GET"])
def slow(req: func.HttpRequest) -> func.HttpResponse:
    """A request in flight for as long as a test keeps its gate shut; a large body shows it arrives whole."""
    gate = req.route_params["gate"]
    _record("slow", {"gate": gate})
    return _json({"gate": gate, "opened": _wait_for_gate(gate), "padding": "x" * 100_000})


@app.route(route="api/settings/{name}", methods=["GET"], auth_level=func.AuthLevel.ANONYMOUS)
def setting(req: func.HttpRequest) -> func.HttpResponse:
    name = req.route_params["name"]
    if not name.startswith("SAMPLE_"):
        return _json({"error": {"code": "notFound", "message": "Only SAMPLE_ settings are shown."}}, 404)
    return _json({"name": name, "value": os.environ.get(name)})


@app.route(route="authenticate/OAuth2Callback", methods=["GET", "POST"], auth_level=func.AuthLevel.ANONYMOUS)
def callback(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(f"code received: {bool(req.params.get('code'))}", mimetype="text/html")


@app.timer_trigger(schedule="%SAMPLE_TICK_SCHEDULE%", arg_name="timer", run_on_startup=False)
def tick(timer: func.TimerRequest) -> None:
    _record("tick", {"type": type(timer).__name__, "pastDue": timer.past_due,
                     "next": timer.schedule_status.get("Next")})


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
def yearly_on_startup(timer: func.TimerRequest) -> None:
    _record("yearly_on_startup", {"pastDue": timer.past_due})


@app.timer_trigger(schedule="0 0 0 1 1 *", arg_name="timer", run_on_startup=True)
def gated_on_startup(timer: func.TimerRequest) -> None:
    """With SAMPLE_TIMER_GATE set, a timer invocation in flight until a test opens that gate."""
    gate = os.environ.get("SAMPLE_TIMER_GATE")
    if gate:
        _record("gated_on_startup", {"phase": "started"})
        _record("gated_on_startup", {"phase": "finished", "opened": _wait_for_gate(gate)})


@app.timer_trigger(schedule="%SAMPLE_TICK_SCHEDULE%", arg_name="timer")
def tick_fails(timer: func.TimerRequest) -> None:
    _record("tick_fails", {"pastDue": timer.past_due})
    raise RuntimeError("timer failure: the schedule must go on")


@app.queue_trigger(arg_name="msg", queue_name="%SAMPLE_QUEUE%", connection="SAMPLE_STORAGE")
@app.queue_output(arg_name="forward", queue_name="%SAMPLE_QUEUE%-out", connection="SAMPLE_STORAGE")
def consume(msg: func.QueueMessage, forward: func.Out[str]) -> None:
    body = msg.get_body().decode("utf-8")
    _record("consume", {"id": msg.id, "body": body, "dequeueCount": msg.dequeue_count,
                        "inserted": msg.insertion_time is not None,
                        "expires": msg.expiration_time is not None,
                        "popReceipt": bool(msg.pop_receipt)})
    forward.set(body.upper())


@app.queue_trigger(arg_name="msg", queue_name="%SAMPLE_FAIL_QUEUE%", connection="SAMPLE_STORAGE")
def always_fails(msg: func.QueueMessage) -> None:
    _record("always_fails", {"id": msg.id, "dequeueCount": msg.dequeue_count})
    raise RuntimeError("queue failure: retried, then poisoned")
