"""A whole Verify All, end to end: from POST /api/runs to the run's finishedAt, through the local host
(tools.devserver), Azurite's queue and tables, and the identity platform simulator with a token latency.

Run: make bench
  or .venv/bin/python benchmarks/verify_all.py [--tenants 2000] [--concurrency 16,64] [--repeat 5]
                                                [--latency-ms 100] [--memory-tenants 10000] [--busy]
Every tenant uses the `application` method against one app registration that holds User.Read.All (and
Application.Read.All, for foresight's daily Graph read) everywhere, so every verification succeeds. Each measurement
gets a fresh Azurite, secret file and host, so the host's peak memory (VmHWM) is its own. Prints tenants/s, the
ideal bound (concurrency / latency), their ratio (efficiency), the host's peak memory and the CPU each process
spent; the host's CPU per verified customer against the client CPU of one bare keep-alive token POST made with
requests against the same simulator (measured before and after); and, on the 10,000 customers of the memory run,
the latency of `GET /api/status?top=1000`. Nothing is asserted: the targets are printed beside.

CPU figures depend on the machine being quiet: the bench refuses to start when the load average is above
MAX_LOAD, unless --busy, and then every figure is marked as measured on a busy machine.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor, wait
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from azure.data.tables import TableServiceClient  # noqa: E402

from shared.adapters.local_secrets import LocalFileSecretStore  # noqa: E402
from shared.adapters.table_customers import TableCustomerStore
from shared.adapters.table_runs import TableRunStore  # noqa: E402
from shared.domain.inputs import CustomerInput  # noqa: E402
from shared.domain.models import AuthMethod  # noqa: E402
from shared.usecases.customers import put_customer  # noqa: E402
from tools.azurite import Azurite, start_azurite  # noqa: E402
from tools.processes import stop_process  # noqa: E402

logger = logging.getLogger(__name__)

REPO = Path(__file__).resolve().parents[1]
APP_ID = "b3a1c2d4-5e6f-4a7b-8c9d-0e1f2a3b4c5d"
APP_SECRET = "bench-application-secret"
NEVER = "0 0 0 1 1 *"  # midnight on 1 January: the scheduled run stays out of the measurement
TENANT_NAMESPACE = uuid.UUID("6f1c9a52-1d0e-4c61-9a77-3b1f0f5d2e10")
START_TIMEOUT = 120.0
TICKS = os.sysconf("SC_CLK_TCK")
EFFICIENCY_TARGETS = {16: 0.9, 64: 0.5}  # concurrency: the least efficiency wanted
CPU_RATIO_TARGET = 2.5  # host CPU per verified customer, in bare token POSTs
MEMORY_TARGET_MB = 150.0
STATUS_P50_TARGET_MS = 100.0
STATUS_SAMPLES = 21  # GET /api/status?top=1000 requests timed (the first one warms up and is not counted)
MAX_LOAD = 0.5  # one-minute load average above which the machine is too busy for CPU figures
BARE_THREADS, BARE_POSTS = 16, 20  # bare token POSTs: threads, and timed POSTs each


def tenant_guid(index: int) -> str:
    """The same directory id for tenant `index` in the simulator and in the Tenants table."""
    return str(uuid.uuid5(TENANT_NAMESPACE, str(index)))


def customer_id(index: int) -> str:
    return f"bench-{index:06d}"


# --- processes --------------------------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a live process so far."""
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime: fields 14 and 15 of stat(5)


def peak_rss_mb(pid: int) -> float:
    """The process's resident-memory high-water mark (VmHWM), in MiB."""
    match = re.search(r"^VmHWM:\s+(\d+) kB", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"no VmHWM for process {pid}")
    return int(match.group(1)) / 1024


def wait_for_line(process: subprocess.Popen, log: Path, pattern: str, what: str) -> re.Match[str]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        found = re.search(pattern, log.read_text(errors="replace"))
        if found:
            return found
        if process.poll() is not None:
            break
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not start (exit {process.poll()}):\n" + log.read_text(errors="replace")[-3000:])


@dataclass
class Simulator:
    process: subprocess.Popen
    authority_host: str
    ca_bundle: str


def start_simulator(work: Path, *, tenants: int, latency_ms: float) -> Simulator:
    """The identity simulator in a process of its own, so its CPU is not the host's and it serves in parallel."""
    scenario = {
        "tenants": [{"id": tenant_guid(i), "domains": [f"bench{i}.onmicrosoft.com"]} for i in range(tenants)],
        "apps": [{"client_id": APP_ID, "secrets": [{"value": APP_SECRET}],
                  "roles": {"*": ["User.Read.All", "Application.Read.All"]}}],
    }
    scenario_path = work / "scenario.json"
    scenario_path.write_text(json.dumps(scenario))
    log = work / "identity-sim.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.identity_sim", "--port", "0", "--ca-dir", str(work / "ca"),
             "--latency-ms", str(latency_ms), "--scenario", str(scenario_path)],
            cwd=REPO, stdout=out, stderr=subprocess.STDOUT)
    try:
        ready = json.loads(wait_for_line(process, log, r"\{.*\"authority_host\".*\}", "The identity simulator")[0])
    except BaseException:
        stop_process(process)
        raise
    return Simulator(process, ready["authority_host"], ready["ca_bundle"])


def token_latency_ms(sim: Simulator) -> float:
    """One client-credentials answer, timed: proves the latency asked for is the one served."""
    url = f"{sim.authority_host}/{tenant_guid(0)}/oauth2/v2.0/token"
    form = {"grant_type": "client_credentials", "client_id": APP_ID, "client_secret": APP_SECRET,
            "scope": "https://graph.microsoft.com/.default"}
    with requests.Session() as session:
        session.post(url, data=form, verify=sim.ca_bundle, timeout=30).raise_for_status()  # connect first
        started = time.perf_counter()
        session.post(url, data=form, verify=sim.ca_bundle, timeout=30).raise_for_status()
        return (time.perf_counter() - started) * 1000


def bare_post_cpu_ms(sim: Simulator) -> float:
    """The client CPU (this process's user + system time) of one keep-alive client-credentials POST with requests,
    BARE_THREADS at once like the host's verifications, each thread on its own session (connected first)."""
    url = f"{sim.authority_host}/{tenant_guid(0)}/oauth2/v2.0/token"
    form = {"grant_type": "client_credentials", "client_id": APP_ID, "client_secret": APP_SECRET,
            "scope": "https://graph.microsoft.com/.default"}
    sessions = [requests.Session() for _ in range(BARE_THREADS)]
    try:
        for session in sessions:
            session.post(url, data=form, verify=sim.ca_bundle, timeout=30).raise_for_status()

        def post_many(session: requests.Session) -> None:
            for _ in range(BARE_POSTS):
                session.post(url, data=form, verify=sim.ca_bundle, timeout=30).raise_for_status()

        with ThreadPoolExecutor(max_workers=BARE_THREADS) as pool:
            started = time.process_time()
            done, _ = wait([pool.submit(post_many, session) for session in sessions])
            spent = time.process_time() - started
        for future in done:
            future.result()
    finally:
        for session in sessions:
            session.close()
    return spent * 1000 / (BARE_THREADS * BARE_POSTS)


@dataclass
class Host:
    process: subprocess.Popen
    base_url: str
    log: Path


def start_host(work: Path, azurite: Azurite, sim: Simulator, secrets_file: Path, concurrency: int) -> Host:
    env = {
        **os.environ,
        "AzureWebJobsStorage": azurite.connection_string,
        "KEY_VAULT_URL": "",
        "LOCAL_SECRETS_FILE": str(secrets_file),
        "ENTRA_AUTHORITY_HOST": sim.authority_host,
        "GRAPH_ENDPOINT": sim.authority_host,  # the simulator serves Graph too: foresight's reads reach it
        "REQUESTS_CA_BUNDLE": sim.ca_bundle,
        "VERIFY_CONCURRENCY": str(concurrency),
        "VERIFY_SCHEDULE": NEVER,
        "REQUIRED_APPLICATION_ROLES": "User.Read.All",
        "AzureWebJobs.maintenance.Disabled": "true",  # its daily recount must not land in a measurement
        "PYTHONUNBUFFERED": "1",
    }
    log = work / "host.log"
    with log.open("wb") as out:
        # --settings names no file: only the environment above configures the host, whatever local.settings.json says.
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.devserver", "--host", "127.0.0.1", "--port", "0",
             "--settings", str(work / "no-local-settings.json"), "--log-level", "INFO", "--grace", "1"],
            cwd=REPO, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        base_url = wait_for_line(process, log, r"Listening on (http://\S+)", "The local host").group(1)
    except BaseException:
        stop_process(process)
        raise
    return Host(process, base_url, log)


# --- tenants ----------------------------------------------------------------------------------------------


class HeldSecretFile(LocalFileSecretStore):
    """The local secret store, held in memory while seeding and written once at the end.

    Its put() reads and rewrites the whole JSON file (quadratic: about 23 ms a put at 4,000 secrets), so
    10,000 puts would take minutes; the file written is the store's own, in its own format.
    """

    def __init__(self, path: Path) -> None:
        super().__init__(path)
        self._held: dict[str, Any] = {}

    def _read(self) -> dict[str, Any]:
        return self._held

    def _write(self, secrets: dict[str, Any]) -> None:
        self._held = secrets

    def flush(self) -> None:
        LocalFileSecretStore._write(self, self._held)


def seed(azurite: Azurite, secrets_file: Path, count: int, *, secret: str = APP_SECRET) -> float:
    """Create `count` application tenants with the app's own use case and adapters, each with `secret` as its
    application secret; seconds taken."""
    started = time.perf_counter()
    store = TableCustomerStore(TableServiceClient.from_connection_string(azurite.connection_string))
    secrets = HeldSecretFile(secrets_file)

    def create(index: int) -> None:
        data = CustomerInput(tenant_id=tenant_guid(index), authentication_method=AuthMethod.APPLICATION,
                             m365_email=None, application_id=APP_ID, application_secret=secret)
        put_customer(store, secrets, customer_id(index), data)

    with ThreadPoolExecutor(max_workers=16) as pool:
        for _ in pool.map(create, range(count)):
            pass
    secrets.flush()
    return time.perf_counter() - started


# --- one measurement --------------------------------------------------------------------------------------


@dataclass
class Measurement:
    tenants: int
    concurrency: int
    seconds: float
    polled_seconds: float
    peak_mb: float
    host_cpu: float
    azurite_cpu: float
    sim_cpu: float
    seed_seconds: float
    by_status: dict[str, int]
    status_p50_ms: float | None = None
    later_seconds: float = 0.0  # a second Verify All on the same host: foresight's Graph reads of the day are kept
    later_host_cpu: float = 0.0

    @property
    def host_cpu_ms(self) -> float:
        """The host's CPU per verified customer in the day's first run (a Graph read each), in milliseconds."""
        return self.host_cpu * 1000 / self.tenants

    @property
    def later_host_cpu_ms(self) -> float:
        """The same in a later run of the day (no Graph read)."""
        return self.later_host_cpu * 1000 / self.tenants

    @property
    def rate(self) -> float:
        return self.tenants / self.seconds


def verify_all(host: Host, azurite: Azurite, expected: int) -> tuple[float, float, dict[str, int]]:
    """POST /api/runs, then poll until finishedAt. Seconds to the run's own finishedAt (read at full precision
    from its table: the API shows whole seconds), seconds until the poll saw it, and the counts by status."""
    session = requests.Session()
    posted_at = datetime.now(UTC)
    began = time.perf_counter()
    answer = session.post(host.base_url + "/api/runs", timeout=30)
    answer.raise_for_status()
    run_id = answer.json()["runId"]
    deadline = began + max(600.0, expected)  # generous: at concurrency 1 and 100 ms, 2,000 take 200 s
    while True:
        run = session.get(f"{host.base_url}/api/runs/{run_id}", timeout=30).json()
        if run.get("finishedAt"):
            break
        if time.perf_counter() > deadline:
            raise RuntimeError(f"the run did not finish in time: {run}")
        time.sleep(1.0)  # as often as the page polls a run; the exact finish comes from the table below
    polled = time.perf_counter() - began
    if run["total"] != expected or run["completed"] != expected:
        raise RuntimeError(f"the run covered {run['completed']} of {run['total']} tenants, not {expected}: {run}")
    exact = TableRunStore(TableServiceClient.from_connection_string(azurite.connection_string)).get(run_id)
    finished_at = exact.finished_at if exact is not None and exact.finished_at else None
    seconds = (finished_at - posted_at).total_seconds() if finished_at else polled
    return seconds, polled, run["byStatus"]


def status_p50_ms(host: Host) -> float:
    """Median milliseconds of GET /api/status?top=1000 through the host, the first request not counted."""
    samples = []
    with requests.Session() as session:
        for _ in range(STATUS_SAMPLES):
            began = time.perf_counter()
            answer = session.get(host.base_url + "/api/status", params={"top": "1000"}, timeout=60)
            answer.raise_for_status()
            if len(answer.json()["tenants"]) != 1000:
                raise RuntimeError("GET /api/status?top=1000 did not answer 1,000 customers")
            samples.append((time.perf_counter() - began) * 1000)
    return statistics.median(samples[1:])


def measure(sim: Simulator, *, tenants: int, concurrency: int, keep_logs: Path | None = None,
            time_status: bool = False) -> Measurement:
    with ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="verify-all-bench-")))
        if keep_logs is not None:  # runs after the host stopped (last in, first out): the copy ends with its last lines
            keep_logs.mkdir(parents=True, exist_ok=True)
            stack.callback(lambda: shutil.copyfile(work / "host.log", keep_logs / f"host-{tenants}-{concurrency}.log")
                           if (work / "host.log").exists() else None)
        azurite = start_azurite()
        stack.callback(azurite.stop)
        secrets_file = work / "dev-secrets.json"
        seed_seconds = seed(azurite, secrets_file, tenants)
        host = start_host(work, azurite, sim, secrets_file, concurrency)
        stack.callback(stop_process, host.process)
        try:
            before = {pid: cpu_seconds(pid) for pid in (host.process.pid, azurite.process.pid, sim.process.pid)}
            seconds, polled, by_status = verify_all(host, azurite, tenants)
            spent = {pid: cpu_seconds(pid) - start for pid, start in before.items()}
            later_before = cpu_seconds(host.process.pid)
            later_seconds, _, _ = verify_all(host, azurite, tenants)
            later_cpu = cpu_seconds(host.process.pid) - later_before
            peak = peak_rss_mb(host.process.pid)
            listing = status_p50_ms(host) if time_status else None
        except BaseException:
            print(f"--- last lines of the host's log ({host.log}) ---", file=sys.stderr)
            print(host.log.read_text(errors="replace")[-4000:], file=sys.stderr)
            raise
        return Measurement(tenants, concurrency, seconds, polled, peak, spent[host.process.pid],
                           spent[azurite.process.pid], spent[sim.process.pid], seed_seconds, by_status, listing,
                           later_seconds, later_cpu)


# --- report -----------------------------------------------------------------------------------------------


HEADER = (f"{'tenants':>7} {'conc.':>5} {'seconds':>8} {'tenants/s':>9} {'ideal/s':>8} {'efficiency':>10} "
          f"{'host peak MB':>12} {'host CPU':>8} {'Azurite CPU':>11} {'sim CPU':>7}")


def row(m: Measurement, latency: float) -> str:
    ideal = m.concurrency / latency
    return (f"{m.tenants:>7} {m.concurrency:>5} {m.seconds:>8.1f} {m.rate:>9.1f} {ideal:>8.1f} {m.rate / ideal:>10.2f} "
            f"{m.peak_mb:>12.1f} {m.host_cpu / m.seconds:>8.0%} {m.azurite_cpu / m.seconds:>11.0%} "
            f"{m.sim_cpu / m.seconds:>7.0%}")


def details(m: Measurement) -> str:
    per = 1000 / m.tenants  # CPU seconds to milliseconds per tenant
    failed = {status: n for status, n in m.by_status.items() if status != "succeeded" and n}
    return (f"        seeded in {m.seed_seconds:.1f} s; the poll saw finishedAt after {m.polled_seconds:.1f} s; "
            f"CPU ms per tenant: host {m.host_cpu * per:.1f}, Azurite {m.azurite_cpu * per:.1f}, "
            f"simulator {m.sim_cpu * per:.1f}" + (f"; NOT succeeded: {failed}" if failed else "")
            + f"\n        a later run (the day's Graph reads kept): {m.later_seconds:.1f} s, "
            f"{m.tenants / m.later_seconds:.1f} tenants/s, host CPU {m.later_host_cpu_ms:.1f} ms per tenant")


def _concurrencies(text: str) -> list[int]:
    return [int(part) for part in text.split(",") if part.strip()]


@contextmanager
def stopped_by_sigterm() -> Iterator[None]:
    """SIGTERM unwinds like Ctrl-C, so every `finally` stops the processes started so far."""
    def interrupt(signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt(f"signal {signum}")

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def spread(values: list[float], fmt: str = ".2f") -> str:
    """Median, and the range, of `values`."""
    if len(values) == 1:
        return format(values[0], fmt)
    return f"{statistics.median(values):{fmt}} (from {min(values):{fmt}} to {max(values):{fmt}}, {len(values)} runs)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tenants", type=int, default=2000)
    parser.add_argument("--concurrency", type=_concurrencies, default=[16, 64],
                        help="comma list of VERIFY_CONCURRENCY values (default 16,64)")
    parser.add_argument("--repeat", type=int, default=5, help="runs at concurrency 16 (default 5)")
    parser.add_argument("--latency-ms", type=float, default=100.0, help="token endpoint latency (default 100)")
    parser.add_argument("--memory-tenants", type=int, default=10000, help="tenants of the memory run; 0 skips it")
    parser.add_argument("--memory-concurrency", type=int, default=16)
    parser.add_argument("--keep-logs", type=Path, default=None, help="copy each host's log into this folder")
    parser.add_argument("--busy", action="store_true", help=f"measure even when the load is above {MAX_LOAD}")
    args = parser.parse_args()
    load = os.getloadavg()[0]
    busy = load > MAX_LOAD
    if busy and not args.busy:
        sys.exit(f"The machine is busy (load average {load:.2f} over the last minute, above {MAX_LOAD}): CPU "
                 "figures would not be comparable. Wait until it is quiet, or pass --busy to measure anyway.")
    mark = f"  [BUSY: load {load:.2f} at start]" if busy else ""
    latency = args.latency_ms / 1000
    print(f"Verify All over application tenants, token latency {args.latency_ms:.0f} ms, "
          f"{os.cpu_count()} CPUs, load {load:.2f} at start; a fresh Azurite and host for each line{mark}", flush=True)
    with stopped_by_sigterm(), ExitStack() as stack:
        work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="verify-all-sim-")))
        sim = start_simulator(work, tenants=max(args.tenants, args.memory_tenants), latency_ms=args.latency_ms)
        stack.callback(stop_process, sim.process)
        print(f"one token answer of the simulator takes {token_latency_ms(sim):.0f} ms", flush=True)
        bare = [bare_post_cpu_ms(sim)]
        print(f"one bare keep-alive token POST with requests: {bare[0]:.2f} ms of client CPU", flush=True)
        print(HEADER, flush=True)
        results: list[Measurement] = []
        for concurrency in args.concurrency:
            for _ in range(args.repeat if concurrency == 16 else 1):
                result = measure(sim, tenants=args.tenants, concurrency=concurrency, keep_logs=args.keep_logs)
                results.append(result)
                print(row(result, latency), flush=True)
                print(details(result), flush=True)
        memory = None
        if args.memory_tenants:
            memory = measure(sim, tenants=args.memory_tenants, concurrency=args.memory_concurrency,
                             keep_logs=args.keep_logs, time_status=True)
            print(row(memory, latency), flush=True)
            print(details(memory), flush=True)
        bare.append(bare_post_cpu_ms(sim))
        print(f"one bare keep-alive token POST with requests, again: {bare[1]:.2f} ms of client CPU", flush=True)
    post = statistics.mean(bare)
    print(f"\nSummary{mark}")
    for concurrency in args.concurrency:
        these = [r for r in results if r.concurrency == concurrency]
        ratios = [r.host_cpu_ms / post for r in these]
        cpu = spread([r.host_cpu_ms for r in these], ".1f")
        print(f"concurrency {concurrency}: host CPU per verified customer {cpu} ms = {spread(ratios)} bare token "
              f"POSTs of {post:.2f} ms (target at most {CPU_RATIO_TARGET})")
        later = [r.later_host_cpu_ms / post for r in these]
        print(f"concurrency {concurrency}, a later run of the day: {spread(later)} bare token POSTs")
        efficiencies = [r.rate / (r.concurrency / latency) for r in these]
        target = EFFICIENCY_TARGETS.get(concurrency)
        print(f"concurrency {concurrency}: efficiency {spread(efficiencies)}"
              + (f" (target at least {target})" if target else ""))
        later_efficiencies = [r.tenants / r.later_seconds / (r.concurrency / latency) for r in these]
        print(f"concurrency {concurrency}, a later run of the day: efficiency {spread(later_efficiencies)}")
    if memory is not None:
        print(f"host peak memory at {memory.tenants} tenants: {memory.peak_mb:.1f} MB "
              f"(target under {MEMORY_TARGET_MB:.0f} MB; ratio {memory.peak_mb / MEMORY_TARGET_MB:.2f})")
        assert memory.status_p50_ms is not None
        print(f"GET /api/status?top=1000 at {memory.tenants} tenants: p50 {memory.status_p50_ms:.0f} ms over "
              f"{STATUS_SAMPLES - 1} requests (target at most {STATUS_P50_TARGET_MS:.0f} ms; ratio "
              f"{memory.status_p50_ms / STATUS_P50_TARGET_MS:.2f})")


if __name__ == "__main__":
    main()
