"""What foresight costs a run: verification of many customers with foresight's Graph reads on vs off, in process,
over a real Azurite, the real MSAL platform and Graph reader, and the identity simulator over HTTPS in a process of
its own (its CPU is Microsoft's side, not the app's).

Run: .venv/bin/python benchmarks/foresight.py [--customers 200] [--concurrency 16] [--latency-ms 100] [--rounds 3]
Every customer is an `application` customer whose own app may read itself in Graph (the costliest case: one Graph
read each); its secret ends in 200 days, so no warning band is crossed (a connectionExpiring event costs what any
status event costs: an outbox row and its relay, once per band and credential). The simulator answers tokens
after `--latency-ms`; Graph reads get the same latency (added around the reader, since the simulator delays only
its token endpoint). Each round verifies a fresh set of customers twice
with foresight on (the day's first run, which reads Graph, then a later run, which finds the reads kept) and twice
with it off, alternating. Prints the median seconds of each and the ratios on/off: the day's first run, a later
run, and a day of four runs (VERIFY_SCHEDULE every 6 hours). Target: a day of runs at most 1.10. Nothing is
asserted.

With `--profile N`, no wall times: the day's first run is made one customer after another in this thread, twice with
foresight on and twice off, and this thread's CPU time is measured (the simulator and Azurite are not in it);
then once each under cProfile, and foresight's entry points and the N functions whose own CPU foresight adds most
(on minus off) are printed.
"""
from __future__ import annotations

import argparse
import contextlib
import cProfile
import json
import os
import pstats
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from azure.data.tables import TableServiceClient  # noqa: E402

from shared.adapters.graph_reader import HttpGraphReader  # noqa: E402
from shared.adapters.table_customers import TableCustomerStore  # noqa: E402
from shared.bootstrap import build  # noqa: E402
from shared.config import load_config  # noqa: E402
from shared.domain.inputs import CustomerInput  # noqa: E402
from shared.domain.models import AuthMethod  # noqa: E402
from shared.usecases.customers import put_customer  # noqa: E402
from shared.usecases.verify import verify_customer  # noqa: E402
from tools.azurite import start_azurite  # noqa: E402
from tools.processes import stop_process  # noqa: E402

APP, SECRET = "b4a1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d", "Bench-foresight-secret"
TENANT_ID = "b4a1c2d4-0000-4000-8000-00000000f0e5"
TARGET = 1.10


class SlowGraph:
    """The Graph reader with a latency per read, as Graph has one (the simulator delays only tokens)."""

    def __init__(self, reader: HttpGraphReader, latency: float) -> None:
        self._reader, self._latency = reader, latency

    def application_credentials(self, **kwargs):
        time.sleep(self._latency)
        return self._reader.application_credentials(**kwargs)

    def delegated_admin_relationships(self, **kwargs):
        time.sleep(self._latency)
        return self._reader.delegated_admin_relationships(**kwargs)

    def close(self) -> None:
        self._reader.close()


@dataclass(frozen=True)
class Simulator:
    authority_host: str
    ca_bundle: str

    @property
    def graph_endpoint(self) -> str:
        return self.authority_host  # the simulator serves Graph on the same host


@contextlib.contextmanager
def simulator_process(work: Path, latency_ms: int) -> Iterator[Simulator]:
    """The identity simulator in a process of its own, as Microsoft's side is: its CPU (tokens, Graph answers) is
    not this process's, where it would take turns with the verifications measured."""
    ends = datetime.now(UTC) + timedelta(days=200)  # past every warning band: no connectionExpiring
    scenario = work / "scenario.json"
    scenario.write_text(json.dumps({
        "tenants": [{"id": TENANT_ID, "domains": ["benchforesight.onmicrosoft.com"]}],
        "apps": [{"client_id": APP, "home_tenant": TENANT_ID, "roles": {"*": ["User.Read.All", "Application.Read.All"]},
                  "secrets": [{"value": SECRET, "expires_at": ends.isoformat().replace("+00:00", "Z")}]}]}))
    process = subprocess.Popen(
        [sys.executable, "-m", "tools.identity_sim", "--port", "0", "--ca-dir", str(work / "ca"),
         "--latency-ms", str(latency_ms), "--scenario", str(scenario)],
        cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        line = process.stdout.readline() if process.stdout else ""  # one JSON line once it serves
        if not line:
            raise RuntimeError(f"the identity simulator did not start (exit {process.wait()})")
        ready = json.loads(line)
        yield Simulator(ready["authority_host"], ready["ca_bundle"])
    finally:
        stop_process(process)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--latency-ms", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--profile", type=int, default=0, metavar="N",
                        help="profile the first run's CPU on vs off and print the N costliest differences")
    args = parser.parse_args()
    latency = args.latency_ms / 1000
    work = Path(tempfile.mkdtemp(prefix="tas-bench-foresight-"))
    azurite = start_azurite()
    try:
        with simulator_process(work, args.latency_ms) as sim:
            os.environ["REQUESTS_CA_BUNDLE"] = sim.ca_bundle
            config = load_config({
                "AzureWebJobsStorage": azurite.connection_string, "KEY_VAULT_URL": "",
                "LOCAL_SECRETS_FILE": str(work / "secrets.json"), "ENTRA_AUTHORITY_HOST": sim.authority_host,
                "GRAPH_ENDPOINT": sim.graph_endpoint, "VERIFY_CONCURRENCY": str(args.concurrency)})
            tables = TableServiceClient.from_connection_string(azurite.connection_string)
            if args.profile:
                profile(config, tables, sim, args, latency)
                return
            # Untimed: what the first verifications of a process pay once (discovery, TLS contexts, pools) must not
            # land on whichever mode is measured first.
            warm_up = argparse.Namespace(**{**vars(args), "customers": min(args.customers, args.concurrency)})
            for on in (True, False):
                measure(config, tables, sim, warm_up, latency, foresight=on)
            times: dict[str, list[float]] = {"on-first": [], "on-later": [], "off-first": [], "off-later": []}
            for round_ in range(args.rounds):
                for mode in (("on", "off") if round_ % 2 == 0 else ("off", "on")):
                    first, later = measure(config, tables, sim, args, latency, foresight=mode == "on")
                    times[f"{mode}-first"].append(first)
                    times[f"{mode}-later"].append(later)
                    print(f"round {round_ + 1}, foresight {mode:>3}: first run {first:.2f} s, later run {later:.2f} s",
                          flush=True)
            report(times, args)
    finally:
        azurite.stop()


@contextlib.contextmanager
def fresh_customers(config, tables, sim, args, latency: float, *, foresight: bool) -> Iterator[tuple]:
    """Services over a table of `--customers` new customers, and their ids."""
    customers = TableCustomerStore(tables, table=f"Bench{uuid.uuid4().hex[:12]}")
    graph = SlowGraph(HttpGraphReader(sim.graph_endpoint, pool_size=args.concurrency), latency)
    with build(config, customers=customers, graph=graph, foresight=foresight) as services:
        ids = [f"c{index:05d}" for index in range(args.customers)]
        for customer_id in ids:
            put_customer(customers, services.secrets, customer_id, CustomerInput(
                tenant_id=TENANT_ID, authentication_method=AuthMethod.APPLICATION, m365_email=None,
                application_id=APP, application_secret=SECRET))
        yield services, ids


def measure(config, tables, sim, args, latency: float, *, foresight: bool) -> tuple[float, float]:
    """Seconds to verify a fresh set of customers twice (the day's first run, then a later one)."""
    with fresh_customers(config, tables, sim, args, latency, foresight=foresight) as (services, ids):
        return run(services, ids, args.concurrency), run(services, ids, args.concurrency)


def profile(config, tables, sim, args, latency: float) -> None:
    """The first run's CPU in this thread, on and off, and where foresight adds to it (see the docstring)."""
    cpu: dict[bool, list[float]] = {True: [], False: []}
    for on in (True, False, True, False):  # without the profiler, whose overhead grows with the calls made
        cpu[on].append(first_run_cpu(config, tables, sim, args, latency, foresight=on))
    stats = {}
    for on in (True, False):
        profiler = cProfile.Profile(time.thread_time)
        first_run_cpu(config, tables, sim, args, latency, foresight=on, profiler=profiler)
        stats[on] = pstats.Stats(profiler).stats  # (file, line, name) -> (calls, ncalls, tottime, cumtime, callers)
    each = {on: 1000 * min(values) / (args.customers - 1) for on, values in cpu.items()}
    print(f"{args.customers - 1} customers verified one after another, the day's first run (a Graph read each): "
          f"CPU of this thread a customer, least of {len(cpu[True])}: on {each[True]:.2f} ms, off {each[False]:.2f} "
          f"ms ({each[True] - each[False]:+.2f} ms, ratio {each[True] / each[False]:.3f})")
    print("\nforesight's entry points under cProfile (cumulative CPU s, calls):")
    for name in ("learn", "with_foresight", "foresight_to_json", "foresight_of", "record_outlook"):
        found = [(entry[3], entry[1]) for (_, _, function), entry in stats[True].items() if function == name]
        if found:
            print(f"  {name:<18} {sum(c for c, _ in found):7.3f} s {sum(n for _, n in found):6d}")
    print(f"\nthe {args.profile} functions whose own CPU foresight adds most (on minus off, under cProfile):")
    print(f"{'extra own s':>11} {'on calls':>9} {'off calls':>9}  function")
    extra = {key: stats[True][key][2] - (stats[False].get(key) or (0, 0, 0.0))[2] for key in stats[True]}
    for key in sorted(extra, key=extra.get, reverse=True)[:args.profile]:
        file, line, name = key
        off_calls = (stats[False].get(key) or (0, 0))[1]
        print(f"{extra[key]:11.3f} {stats[True][key][1]:9d} {off_calls:9d}  {name} ({_short(file)}:{line})")


def first_run_cpu(config, tables, sim, args, latency: float, *, foresight: bool,
                  profiler: cProfile.Profile | None = None) -> float:
    """This thread's CPU seconds to verify a fresh set of customers once, one after another."""
    with fresh_customers(config, tables, sim, args, latency, foresight=foresight) as (services, ids):
        verify_customer(services.verification, ids[0], in_run=True)  # the TLS contexts and sessions, made once
        start = time.thread_time()
        if profiler is not None:
            profiler.enable()
        for customer_id in ids[1:]:
            verify_customer(services.verification, customer_id, in_run=True)
        if profiler is not None:
            profiler.disable()
        return time.thread_time() - start


def _short(file: str) -> str:
    parts = Path(file).parts
    return "/".join(parts[-3:]) if len(parts) > 3 else file


def run(services, ids: list[str], concurrency: int) -> float:
    start = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        verified = list(pool.map(lambda customer_id: verify_customer(services.verification, customer_id,
                                                                     in_run=True), ids))
    elapsed = time.perf_counter() - start
    assert all(customer.last_verification_status.value == "succeeded" for customer in verified)
    return elapsed


def report(times: dict[str, list[float]], args) -> None:
    median = {name: statistics.median(values) for name, values in times.items()}
    day_on = median["on-first"] + 3 * median["on-later"]
    day_off = median["off-first"] + 3 * median["off-later"]
    print(f"\n{args.customers} customers, concurrency {args.concurrency}, {args.latency_ms} ms a token and a Graph "
          f"read, median of {args.rounds} rounds")
    print(f"  the day's first run  on {median['on-first']:.2f} s / off {median['off-first']:.2f} s = "
          f"{median['on-first'] / median['off-first']:.2f}  (one Graph read a customer)")
    print(f"  a later run          on {median['on-later']:.2f} s / off {median['off-later']:.2f} s = "
          f"{median['on-later'] / median['off-later']:.2f}  (the reads kept: none)")
    print(f"  a day of four runs   on {day_on:.2f} s / off {day_off:.2f} s = {day_on / day_off:.2f}  "
          f"(target at most {TARGET:.2f})")


if __name__ == "__main__":
    main()
