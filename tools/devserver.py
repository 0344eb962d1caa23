"""The local Functions host: `python -m tools.devserver [--host 127.0.0.1] [--port 7071]` from the repo root.

It stands in for `func start` where Azure Functions Core Tools cannot be installed:
  1. copies local.settings.json `Values` into the environment (never overriding what is set);
  2. imports the app (`function_app:app` unless `--app` says otherwise) and indexes it with
     `app.get_functions()` — once, since a second call raises;
  3. runs the app's start-up check (`shared.bootstrap:startup_check` when it exists): a
     ConfigurationError prints its message and exits with status 2;
  4. serves every HTTP function, runs every timer on its schedule and polls every trigger queue,
     until Ctrl-C or SIGTERM;
  5. then drains as the Functions host does (tools/lifecycle.py): new connections are refused, and
     requests and invocations in flight get `--grace` seconds (default 10) to finish.
Exit status: 0 after a stop (also when the grace period ran out), 1 when the app cannot be loaded, 2 for
a configuration error.

Queue messages are base64 text, as the Functions host expects by default (host.json
`extensions.queues.messageEncoding`); see tools/queues.py.
"""
from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import signal
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tools.hostconfig import (
    HostConfig,
    HostConfigError,
    load_host_config,
    load_local_settings,
    resolve_settings,
)
from tools.httpserver import MAX_BODY_BYTES, FunctionsHTTPServer, describe_routes
from tools.invocation import HTTP_TRIGGER, QUEUE_TRIGGER, TIMER_TRIGGER, FunctionSpec, IndexingError
from tools.lifecycle import DEFAULT_GRACE_SECONDS, StopSignals, drain, exit_now
from tools.queues import InvocationPool, OutputSender, QueuePoller, build_poller, invocation_threads
from tools.routing import Route, RouteTable, RouteTemplateError
from tools.scheduling import TimerRunner, parse_schedule

logger = logging.getLogger("tools.devserver")  # not __main__ when run with -m

DEFAULT_STARTUP_CHECK = "shared.bootstrap:startup_check"
DEFAULT_QUEUE_RETRY_SECONDS = 5.0  # the host retries at once by default; a pause is kinder in development


class StartupFailure(Exception):
    def __init__(self, message: str, *, status: int) -> None:
        super().__init__(message)
        self.status = status


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.devserver", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=7071, help="port to listen on; 0 picks a free one")
    parser.add_argument("--app", default="function_app",
                        help="the FunctionApp as module[:attribute] (default function_app:app)")
    parser.add_argument("--settings", type=Path, default=Path("local.settings.json"),
                        help="local settings file whose Values fill unset variables")
    parser.add_argument("--host-json", type=Path, default=Path("host.json"))
    parser.add_argument("--startup-check", default=DEFAULT_STARTUP_CHECK,
                        help="module:function called before serving, or 'none'")
    parser.add_argument("--queue-retry-seconds", type=float, default=None,
                        help="delay before a failed queue message reappears (default: host.json "
                             f"queues.visibilityTimeout, else {DEFAULT_QUEUE_RETRY_SECONDS:g})")
    parser.add_argument("--log-level", default="INFO", type=str.upper,
                        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
                        help="level of the app's and the host's logs on stderr (the SDKs stay at WARNING)")
    parser.add_argument("--grace", type=float, default=DEFAULT_GRACE_SECONDS,
                        help="seconds that requests and invocations in flight get to finish after SIGTERM or "
                             f"Ctrl-C before the host exits anyway (default {DEFAULT_GRACE_SECONDS:g})")
    parser.add_argument("--max-body-mb", type=float, default=MAX_BODY_BYTES / (1024 * 1024),
                        help="largest request body accepted (default 100)")
    return parser.parse_args(argv)


def _configure_logging(level: str) -> None:
    # stdout carries the banner and one line per request; everything else goes to stderr.
    sys.stdout.reconfigure(line_buffering=True)  # type: ignore[union-attr]
    logging.basicConfig(level=level, stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    # The SDKs log every HTTP exchange at INFO; that is noise here, and could quote a URL's SAS.
    for noisy in ("azure", "urllib3", "msal"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def import_app(target: str) -> Any:
    module_name, _, attribute = target.partition(":")
    if os.getcwd() not in sys.path:
        sys.path.insert(0, os.getcwd())
    module = importlib.import_module(module_name)
    app = getattr(module, attribute or "app", None)
    if app is None or not hasattr(app, "get_functions"):
        raise StartupFailure(f"{module_name} defines no FunctionApp named '{attribute or 'app'}'.", status=1)
    return app


def run_startup_check(target: str) -> None:
    """Call the app's own start-up check; a ConfigurationError becomes exit status 2."""
    if target.lower() == "none":
        return
    module_name, _, attribute = target.partition(":")
    try:
        found = importlib.util.find_spec(module_name) is not None
    except ModuleNotFoundError:
        found = False
    if not found:
        if target == DEFAULT_STARTUP_CHECK:
            return  # the app has no start-up check (yet)
        raise StartupFailure(f"The start-up check module {module_name} does not exist.", status=1)
    check = getattr(importlib.import_module(module_name), attribute or "startup_check", None)
    if check is None:
        return
    try:
        from shared.domain.errors import ConfigurationError
    except ImportError:  # an app without the project's shared package
        ConfigurationError = None  # type: ignore[assignment,misc]  # noqa: N806
    try:
        check()
    except Exception as exc:
        if ConfigurationError is not None and isinstance(exc, ConfigurationError):
            raise StartupFailure(str(exc), status=2) from None
        raise


@dataclass
class Plan:
    routes: list[Route[FunctionSpec]] = field(default_factory=list)
    timers: list[tuple[FunctionSpec, str, bool]] = field(default_factory=list)
    queues: list[FunctionSpec] = field(default_factory=list)
    not_loaded: list[tuple[str, str]] = field(default_factory=list)


def _disabled(name: str) -> bool:
    return os.environ.get(f"AzureWebJobs.{name}.Disabled", "").strip().lower() in {"true", "1"}


def plan_functions(functions: Sequence[Any], config: HostConfig) -> Plan:
    """Sort the indexed functions by trigger; one that cannot run is reported, not fatal (as in the host)."""
    plan = Plan()
    for function in functions:
        name = function.get_function_name()
        if _disabled(name):
            plan.not_loaded.append((name, "disabled by its AzureWebJobs.<name>.Disabled setting"))
            continue
        try:
            spec = FunctionSpec.from_function(function)
            kind = spec.trigger_type
            if kind == HTTP_TRIGGER:
                route = str(spec.trigger.get("route") or name).strip("/")
                template = f"{config.route_prefix}/{route}" if config.route_prefix else route
                plan.routes.append(Route.build(template, spec.trigger.get("methods"), spec))
            elif kind == TIMER_TRIGGER:
                on_startup = bool(spec.trigger.get("runOnStartup"))
                plan.timers.append((spec, str(spec.trigger["schedule"]), on_startup))
            elif kind == QUEUE_TRIGGER:
                plan.queues.append(spec)
            else:
                raise IndexingError(f"its trigger type {kind} is not supported by the devserver")
        except (IndexingError, RouteTemplateError, HostConfigError) as exc:
            plan.not_loaded.append((name, str(exc)))
    return plan


def _print_banner(routes: Sequence[Route[FunctionSpec]], timers: Sequence[TimerRunner],
                  pollers: Sequence[QueuePoller], schedules: dict[str, str],
                  not_loaded: Sequence[tuple[str, str]], base_url: str) -> None:
    print("\nFunctions:\n")
    for name, line in describe_routes(routes, base_url).items():
        print(f"        {name}: {line}\n")
    for runner in timers:
        print(f"        {runner.spec.name}: timerTrigger ({schedules[runner.spec.name]})\n")
    for poller in pollers:
        print(f"        {poller.spec.name}: queueTrigger ({poller.queue_name})\n")
    if not_loaded:
        print("Not loaded:\n")
        for name, reason in not_loaded:
            print(f"        {name}: {reason}\n")
    print("Function keys are not checked (as with func start).")
    print(f"Listening on {base_url} (Ctrl-C to stop)", flush=True)


def _timers(plan: Plan, deliver: OutputSender, stop: threading.Event,
            not_loaded: list[tuple[str, str]]) -> tuple[list[TimerRunner], dict[str, str]]:
    timers, shown = [], {}
    for spec, raw_schedule, on_startup in plan.timers:
        try:
            schedule = parse_schedule(raw_schedule)
        except HostConfigError as exc:
            not_loaded.append((spec.name, str(exc)))
            continue
        resolved = resolve_settings(raw_schedule)
        shown[spec.name] = raw_schedule if resolved == raw_schedule else f"{raw_schedule} = {resolved}"
        timers.append(TimerRunner(spec, schedule, run_on_startup=on_startup, deliver=deliver, stop=stop))
    return timers, shown


def _pollers(plan: Plan, config: HostConfig, retry_seconds: float | None, deliver: OutputSender,
             stop: threading.Event, not_loaded: list[tuple[str, str]]) -> list[QueuePoller]:
    if retry_seconds is None:
        retry_seconds = config.queues.visibility_timeout
    if retry_seconds is None:
        retry_seconds = DEFAULT_QUEUE_RETRY_SECONDS
    pollers: list[QueuePoller] = []
    if not plan.queues:
        return pollers
    # One pool for every queue function, as the Python worker runs all sync invocations on one pool.
    pool = InvocationPool(invocation_threads(), name="invocation")
    for spec in plan.queues:
        try:
            pollers.append(build_poller(spec, options=config.queues, retry_seconds=retry_seconds,
                                        deliver=deliver, stop=stop, pool=pool))
        except (HostConfigError, ValueError) as exc:
            not_loaded.append((spec.name, str(exc)))
    return pollers


def serve(args: argparse.Namespace) -> int:
    applied = load_local_settings(args.settings)
    if applied:
        logger.info("Loaded %d setting(s) from %s.", len(applied), args.settings)
    config = load_host_config(args.host_json)
    app = import_app(args.app)
    plan = plan_functions(app.get_functions(), config)  # once: a second call raises
    run_startup_check(args.startup_check)

    stop = threading.Event()
    deliver = OutputSender(config.queues)
    not_loaded = list(plan.not_loaded)
    timers, schedules = _timers(plan, deliver, stop, not_loaded)
    pollers = _pollers(plan, config, args.queue_retry_seconds, deliver, stop, not_loaded)
    table = RouteTable(plan.routes)
    try:
        server = FunctionsHTTPServer((args.host, args.port), table=table, deliver=deliver,
                                     max_body=int(args.max_body_mb * 1024 * 1024))
    except OSError as exc:
        raise StartupFailure(f"cannot listen on {args.host}:{args.port}: {exc}", status=1) from None
    signals = StopSignals()
    signals.install()  # before the banner: whoever waits for it may signal at once
    host, port = server.server_address[:2]
    shown = "localhost" if host in ("0.0.0.0", "::") else (f"[{host}]" if ":" in str(host) else host)
    _print_banner(plan.routes, timers, pollers, schedules, not_loaded, f"http://{shown}:{port}")

    threads = [threading.Thread(target=t.run, name=f"timer-{t.spec.name}", daemon=True) for t in timers]
    threads += [threading.Thread(target=p.run, name=f"queue-{p.spec.name}", daemon=True) for p in pollers]
    for thread in threads:
        thread.start()
    server.serve_in_thread()

    received = signal.Signals(signals.wait()).name
    logger.info("%s received: finishing the work in flight (up to %g s).", received, args.grace)
    finished = drain(server, stop=stop, workers=threads, grace=max(0.0, args.grace))
    print("Stopped.", flush=True)
    if not finished:
        exit_now(0)
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    _configure_logging(args.log_level)
    try:
        return serve(args)
    except StartupFailure as exc:
        print(f"Cannot start: {exc}", file=sys.stderr, flush=True)
        return exc.status
    except HostConfigError as exc:
        print(f"Cannot start: {exc}", file=sys.stderr, flush=True)
        return 2
    except KeyboardInterrupt:
        return 0
    except Exception:
        # The app failed to import or index (or its start-up check broke): the trace is the help.
        logger.exception("Cannot start: the app failed to load.")
        return 1


if __name__ == "__main__":
    sys.exit(main())
