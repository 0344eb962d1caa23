"""A small FunctionApp for the local host's tests: each trigger kind the host runs, none of the product.

Timer and queue functions record what they received as JSON lines in $SAMPLE_EVENTS_DIR/<function>.jsonl
(`recorded()` reads them), so a test sees each invocation from outside the host's process. $SAMPLE_EXTRA_ROUTE
("<route> <METHOD,...>") registers one more HTTP function last, for the routes the host refuses at start-up.
"""
from __future__ import annotations

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


def recorded(folder: Path, function: str) -> list[dict[str, Any]]:
    """What `function` recorded so far in `folder` ($SAMPLE_EVENTS_DIR)."""
    path = folder / f"{function}.jsonl"
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


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
    return func.HttpResponse(
        json.dumps({
            "method": request.method,
            "url": request.url,
            "params": dict(request.params),
            "routeParams": dict(request.route_params),
            "headers": {k: v for k, v in request.headers.items() if k.startswith("x-sample")},
            "body": request.get_body().decode("utf-8"),
        }),
        status_code=int(request.params.get("status", "200")),
        mimetype="application/json",
        headers={"X-Echo": request.route_params.get("name", "")},
    )


# Registered in this order on purpose: a route registered earlier wins over a more specific one registered later.
@app.route(route="api/order/{name}", methods=["GET"])
def order_parameter(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"handler": "order_parameter", "name": req.route_params["name"]})


@app.route(route="api/order/first", methods=["GET", "POST"])
def order_literal(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"handler": "order_literal"})


@app.route(route="api/items/{id}", methods=["GET"])
def item(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"id": req.route_params["id"]})


@app.route(route="api/short/{code:maxlength(3)?}", methods=["GET"])
def short(req: func.HttpRequest) -> func.HttpResponse:
    return _json({"code": req.route_params.get("code")})


@app.route(route="api/page", methods=["GET"])
def page(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse("<p>caf\u00e9</p>", mimetype="text/html", headers={"Cache-Control": "no-store"})


@app.route(route="api/things/{id}", methods=["DELETE"])
def delete_thing(req: func.HttpRequest) -> func.HttpResponse:
    return func.HttpResponse(status_code=204)


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
def consume(msg: func.QueueMessage) -> None:
    _record("consume", {"id": msg.id, "body": msg.get_body().decode("utf-8"), "dequeueCount": msg.dequeue_count,
                        "inserted": msg.insertion_time is not None, "expires": msg.expiration_time is not None,
                        "popReceipt": bool(msg.pop_receipt)})


@app.queue_trigger(arg_name="msg", queue_name="%SAMPLE_FAIL_QUEUE%", connection="SAMPLE_STORAGE")
def always_fails(msg: func.QueueMessage) -> None:
    _record("always_fails", {"id": msg.id, "dequeueCount": msg.dequeue_count})
    raise RuntimeError("queue failure: retried, then poisoned")


if os.environ.get("SAMPLE_EXTRA_ROUTE"):
    _route, _, _methods = os.environ["SAMPLE_EXTRA_ROUTE"].partition(" ")

    @app.route(route=_route, methods=_methods.split(",") if _methods else None)
    def extra(req: func.HttpRequest) -> func.HttpResponse:
        return _json({"handler": "extra"})
