"""The local Functions host, for where Azure Functions Core Tools cannot be installed (README, "Local host"):
`python -m tools.devserver [--host 127.0.0.1] [--port 7071]` from the repo root.

It loads local.settings.json `Values` (never overriding the environment), imports and indexes the app once
(`app.get_functions()`: a second call raises), runs its start-up check, and serves its HTTP functions
(httpserver.py), timers (scheduling.py) and queue triggers (queues.py) until SIGTERM or Ctrl-C; then the work in
flight gets `--grace` seconds to finish. A function the host would not load stops the start with its reason.
Exit status: 0 after a stop, 1 when the app cannot be loaded, 2 for a configuration error.
"""
from __future__ import annotations

import argparse
import importlib
import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shared.domain.errors import ConfigurationError
from tools.hostconfig import HostConfig, HostConfigError, load_host_config, load_local_settings
from tools.httpserver import MAX_BODY_BYTES, LocalHTTPServer
from tools.invocation import HTTP_TRIGGER, QUEUE_TRIGGER, TIMER_TRIGGER, FunctionSpec
from tools.local_signin import start as start_local_signin
from tools.queues import QueuePoller, build_poller, invocation_threads
from tools.routing import RouteTable
from tools.scheduling import TimerRunner, parse_schedule

logger = logging.getLogger("tools.devserver")  # not __main__ when run with -m

STOP_SIGNALS = {signal.SIGTERM, signal.SIGINT}


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.devserver", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7071, help="port to listen on; 0 picks a free one")
    parser.add_argument("--app", default="function_app", help="the FunctionApp as module[:attribute]")
    parser.add_argument("--settings", type=Path, default=Path("local.settings.json"),
                        help="local settings file whose Values fill unset variables")
    parser.add_argument("--host-json", type=Path, default=Path("host.json"))
    parser.add_argument("--startup-check", default="shared.bootstrap:startup_check",
                        help="module:function called before serving, or 'none'")
    parser.add_argument("--log-level", default="INFO", type=str.upper, choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="level of the app's and the host's logs on stderr (the SDKs stay at WARNING)")
    parser.add_argument("--grace", type=float, default=10.0,
                        help="seconds the work in flight gets after SIGTERM or Ctrl-C before the host exits anyway")
    parser.add_argument("--max-body-mb", type=float, default=MAX_BODY_BYTES / (1024 * 1024),
                        help="largest request body accepted (default 100)")
    return parser.parse_args(argv)


def _configure_logging(level: str) -> None:
    # stdout carries the banner and one line per request; everything else goes to stderr.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    logging.basicConfig(level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The SDKs log every HTTP exchange at INFO; that is noise here, and could quote a URL's SAS.
    for noisy in ("azure", "urllib3", "msal"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def _attribute(target: str, default: str) -> Any:
    module_name, _, attribute = target.partition(":")  # importable from the repo root (python -m puts it first)
    return getattr(importlib.import_module(module_name), attribute or default)


@dataclass
class Plan:
    routes: RouteTable
    timers: list[FunctionSpec] = field(default_factory=list)
    queues: list[FunctionSpec] = field(default_factory=list)


def plan_functions(functions: Sequence[Any], config: HostConfig) -> Plan:
    """Sort the indexed functions by trigger, routes in registration order; raises HostConfigError for a function
    the host would not load."""
    plan = Plan(RouteTable(config.route_prefix))
    for function in functions:
        name = function.get_function_name()
        if os.environ.get(f"AzureWebJobs.{name}.Disabled", "").strip().lower() in {"true", "1"}:
            continue
        try:
            spec = FunctionSpec.from_function(function)
            if spec.trigger_type == HTTP_TRIGGER:
                plan.routes.add(name, spec.trigger.get("route"), spec.trigger.get("methods"), spec)
            else:
                (plan.queues if spec.trigger_type == QUEUE_TRIGGER else plan.timers).append(spec)
        except ValueError as exc:  # RouteError and HostConfigError too
            raise HostConfigError(f"Function '{name}': {exc}") from None
    return plan


def _print_banner(plan: Plan, timers: Sequence[TimerRunner], pollers: Sequence[QueuePoller], base_url: str) -> None:
    print("\nFunctions:\n")
    for route in plan.routes.routes:
        methods = ",".join(sorted(route.methods)) if route.methods else "ANY"
        print(f"        {route.name}: [{methods}] {base_url}/{route.template}\n")
    for timer in timers:
        raw = str(timer.spec.trigger["schedule"])
        shown = raw if raw == timer.expression else f"{raw} = {timer.expression}"
        print(f"        {timer.spec.name}: timerTrigger ({shown})\n")
    for poller in pollers:
        print(f"        {poller.spec.name}: queueTrigger ({poller.queue_name})\n")
    print("Function keys are not checked (as with func start).")
    print(f"Listening on {base_url} (Ctrl-C to stop)", flush=True)


def serve(args: argparse.Namespace) -> int:
    if applied := load_local_settings(args.settings):
        logger.info("Loaded %d setting(s) from %s.", len(applied), args.settings)
    config = load_host_config(args.host_json)
    signed_in = start_local_signin(os.environ)  # before the app reads its settings
    functions = _attribute(args.app, "app").get_functions()  # once: a second call raises
    if args.startup_check.lower() != "none":
        try:
            _attribute(args.startup_check, "startup_check")()
        except ConfigurationError as exc:
            raise HostConfigError(str(exc)) from None
    plan = plan_functions(functions, config)
    signed_in.attach(plan.routes)
    stop = threading.Event()
    # One pool for every queue function, as the Python worker runs all sync invocations on one pool.
    pool = ThreadPoolExecutor(invocation_threads(), thread_name_prefix="invocation")
    timers: list[TimerRunner] = []
    pollers: list[QueuePoller] = []
    for spec in plan.timers + plan.queues:
        try:
            if spec.trigger_type == TIMER_TRIGGER:
                timers.append(TimerRunner(spec, parse_schedule(str(spec.trigger["schedule"])), stop=stop))
            else:
                pollers.append(build_poller(spec, options=config.queues, stop=stop, pool=pool))
        except HostConfigError as exc:
            raise HostConfigError(f"Function '{spec.name}': {exc}") from None
    server = LocalHTTPServer((args.host, args.port), routes=plan.routes, max_body=int(args.max_body_mb * 2**20))
    # Blocked in every thread started from here on; the main thread takes them with sigwait (later ones wait
    # unseen, so a script's repeated signal cannot cut the drain short).
    signal.pthread_sigmask(signal.SIG_BLOCK, STOP_SIGNALS)
    host, port = server.server_address[:2]
    shown = "localhost" if host in ("0.0.0.0", "::") else (f"[{host}]" if ":" in str(host) else host)
    _print_banner(plan, timers, pollers, f"http://{shown}:{port}")
    workers = [threading.Thread(target=t.run, name=f"timer-{t.spec.name}", daemon=True) for t in timers]
    workers += [threading.Thread(target=p.run, name=f"queue-{p.spec.name}", daemon=True) for p in pollers]
    workers.append(threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True))
    for worker in workers:
        worker.start()

    received = signal.Signals(signal.sigwait(STOP_SIGNALS)).name
    logger.info("%s received: finishing the work in flight (up to %g s).", received, args.grace)
    deadline = time.monotonic() + max(0.0, args.grace)
    stop.set()  # timers and queue pollers start nothing new
    in_flight = server.drain(deadline=deadline)
    for worker in workers:
        worker.join(timeout=max(0.0, deadline - time.monotonic()))
    running = [worker.name for worker in workers if worker.is_alive()]
    print("Stopped.", flush=True)
    if in_flight or running:
        logger.warning("Stopping after the %g s grace period with %d request(s) still in flight%s.", args.grace,
                       in_flight, f" and {', '.join(running)} still running" if running else "")
        logging.shutdown()
        os._exit(0)  # without waiting for what still runs (the interpreter's exit would join its threads)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _configure_logging(args.log_level)
    try:
        return serve(args)
    except HostConfigError as exc:
        print(f"Cannot start: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        return 0
    except Exception:
        logger.exception("Cannot start.")  # the app failed to import, or the port is taken: the trace says
        return 1


if __name__ == "__main__":
    sys.exit(main())
