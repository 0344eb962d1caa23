"""10,000 customers turning failed in one run: how many messages each alert channel gets, and how much time the
alerts add to the run, end to end through the local host, Azurite and the identity platform simulator.

Run: .venv/bin/python benchmarks/alerts.py [--tenants 10000] [--concurrency 16] [--latency-ms 100]

Every tenant uses the `application` method with a secret the simulator refuses, so the run's every verification
fails and every customer makes a `connectionLost` event. The same run is measured twice, each time on a fresh
Azurite and host: without alert channels, then with a webhook and a Teams channel at the local alert receiver.
Prints the messages each channel received (target 1), the run's seconds in both (POST /api/runs to finishedAt),
the seconds the worker spent dispatching the run's digests after it ended (the host's "Alerts: ... in s" line),
and the extra time as ratios of the run without channels (target under 0.05); and the CPU seconds the host and
Azurite spent during each run (less swayed by other work on the machine than the wall time). Nothing is asserted.
"""
from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
import time
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks.verify_all import (  # noqa: E402
    cpu_seconds,
    seed,
    start_host,
    start_simulator,
    stopped_by_sigterm,
    verify_all,
)
from tools.alert_receiver import AlertReceiver  # noqa: E402
from tools.azurite import start_azurite  # noqa: E402
from tools.processes import stop_process  # noqa: E402

REFUSED_SECRET = "bench-not-the-application-secret"
MESSAGES_TARGET, EXTRA_TARGET = 1, 0.05
_DISPATCHED = re.compile(r"Alerts: (\d+) events read, (\d+) deliveries made, \d+ attempts, \d+ sent, in ([\d.]+) s")


@dataclass
class Measurement:
    run_seconds: float
    events_read: int = 0
    dispatch_seconds: float = 0.0
    messages: dict[str, int] | None = None
    alerts_after_finish: float | None = None  # seconds from POST to the last digest taken, less the run's seconds
    tick_seconds: float = 0.0  # the minute's dispatches during the run
    cpu: dict[str, float] | None = None  # CPU seconds the host and Azurite spent from POST to finishedAt


def measure(sim, *, tenants: int, concurrency: int, receiver: AlertReceiver | None) -> Measurement:
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="alerts-bench-")))
        azurite = start_azurite()
        stack.callback(azurite.stop)
        secrets_file = work / "dev-secrets.json"
        seed(azurite, secrets_file, tenants, secret=REFUSED_SECRET)
        host = start_host(work, azurite, sim, secrets_file, concurrency)
        stack.callback(stop_process, host.process)
        if receiver is not None:
            for name, body in (("ops", {"kind": "webhook", "url": receiver.add_webhook("ops", scheme="http")}),
                               ("team", {"kind": "teams", "url": receiver.add_teams("team", scheme="http")})):
                answer = requests.put(f"{host.base_url}/api/alerts/channels/{name}", json=body, timeout=30)
                answer.raise_for_status()
                if "signingSecret" in answer.json():
                    receiver.add_webhook(name, answer.json()["signingSecret"])
        began = time.monotonic()
        processes = {"host": host.process.pid, "Azurite": azurite.process.pid}
        cpu_before = {name: cpu_seconds(pid) for name, pid in processes.items()}
        seconds, _, by_status = verify_all(host, azurite, tenants)
        cpu = {name: cpu_seconds(pid) - cpu_before[name] for name, pid in processes.items()}
        if by_status.get("failed") != tenants:
            raise RuntimeError(f"expected every verification to fail: {by_status}")
        result = Measurement(seconds, cpu=cpu)
        if receiver is not None:
            if not receiver.inbox.wait_for(lambda inbox: len(inbox.messages()) >= 2, timeout=120):
                raise RuntimeError(f"the digests did not arrive: {receiver.inbox.attempts()}")
            result.alerts_after_finish = time.monotonic() - began - seconds
            time.sleep(2)  # a second digest for the run, if any, would arrive meanwhile
            counted: dict[str, int] = {}
            for message in receiver.inbox.messages():
                counted[message.channel] = counted.get(message.channel, 0) + 1
            result.messages = counted
        # The dispatch after the run reads every event of it; the minute's ticks during the run read one page at
        # most (they stop at the run still running).
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            lines = list(_DISPATCHED.finditer(host.log.read_text(errors="replace")))
            after = [m for m in lines if int(m[1]) >= tenants]
            if after:
                break
            time.sleep(0.5)
        result.events_read = sum(int(m[1]) for m in after)
        result.dispatch_seconds = sum(float(m[3]) for m in after)
        result.tick_seconds = sum(float(m[3]) for m in lines if 0 < int(m[1]) < tenants)
        return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=10000)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--baseline", type=float, default=None,
                        help="seconds of the run without channels, measured before: skips that measurement")
    args = parser.parse_args()
    print(f"{args.tenants} customers turning failed in one run, VERIFY_CONCURRENCY {args.concurrency}, token latency "
          f"{args.latency_ms:.0f} ms, {os.cpu_count()} CPUs; a fresh Azurite and host for each line", flush=True)
    with stopped_by_sigterm(), ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="alerts-bench-sim-")))
        sim = start_simulator(work, tenants=args.tenants, latency_ms=args.latency_ms)
        stack.callback(stop_process, sim.process)
        if args.baseline is None:
            without = measure(sim, tenants=args.tenants, concurrency=args.concurrency, receiver=None)
            print(f"without channels: run {without.run_seconds:.1f} s; after it, {without.events_read} events read "
                  f"in {without.dispatch_seconds:.2f} s; the minute's ticks during it took "
                  f"{without.tick_seconds:.2f} s", flush=True)
        else:
            without = Measurement(args.baseline)
            print(f"without channels: run {without.run_seconds:.1f} s (given)", flush=True)
        receiver = stack.enter_context(AlertReceiver(ca_dir=work / "receiver"))
        with_channels = measure(sim, tenants=args.tenants, concurrency=args.concurrency, receiver=receiver)
        print(f"with a webhook and a Teams channel: run {with_channels.run_seconds:.1f} s; after it, "
              f"{with_channels.events_read} events read and the digests sent in {with_channels.dispatch_seconds:.2f} "
              f"s (the last arrived {with_channels.alerts_after_finish:.1f} s after finishedAt); the minute's ticks "
              f"during it took {with_channels.tick_seconds:.2f} s", flush=True)
    print()
    for channel, count in sorted((with_channels.messages or {}).items()):
        print(f"messages to {channel}: {count} for {args.tenants} customers lost (target {MESSAGES_TARGET}; "
              f"ratio {count / MESSAGES_TARGET:.2f})")
    base = without.run_seconds
    print(f"run time with channels / without: {with_channels.run_seconds / base:.3f} "
          f"(extra {(with_channels.run_seconds - base) / base:+.3f}; target under {EXTRA_TARGET})")
    if without.cpu and with_channels.cpu:
        # CPU seconds follow the code more than the machine's load does (the run's wall time follows the load).
        for name, spent in with_channels.cpu.items():
            print(f"{name} CPU during the run with channels / without: {spent:.1f} s / {without.cpu[name]:.1f} s = "
                  f"{spent / without.cpu[name]:.3f}")
    print(f"alerts' work after the run / run without channels: {with_channels.dispatch_seconds / base:.3f} "
          f"(target under {EXTRA_TARGET})")
    print(f"alerts' work during the run (the minute's ticks) / run without channels: "
          f"{with_channels.tick_seconds / base:.3f} (target under {EXTRA_TARGET})")


if __name__ == "__main__":
    main()
