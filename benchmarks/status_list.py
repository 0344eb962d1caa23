"""Cost of GET /api/status over many tenants, against a real Azurite it starts.

Run: .venv/bin/python benchmarks/status_list.py [--tenants 10000] [--top 1000]
Prints the cost of the summary read from the kept counts, of a full recount (what every first page cost
before counts were kept: a read of every tenant's status column), of one page, and of walking every page,
with their ratios. The summary's cost should stay flat as the tenant count grows.

With --host [--repo DIR]: the p50 of GET /api/status?top=1000 through the local host (tools.devserver, run from
DIR, this checkout by default, so another checkout's host can be measured over the same seed), over tenants
seeded as a verification leaves them: a Graph-read expiry on each record and two results in each history ring,
beside the records in the same partition.
"""
from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from azure.data.tables import TableServiceClient  # noqa: E402

from benchmarks.verify_all import NEVER, cpu_seconds, wait_for_line  # noqa: E402
from shared.adapters.local_secrets import LocalFileSecretStore  # noqa: E402
from shared.adapters.table_customers import CUSTOMER_PARTITION, TableCustomerStore, customer_to_entity  # noqa: E402
from shared.adapters.table_history import history_key, result_to_entity  # noqa: E402
from shared.domain.expiry import Expiry, ExpiryKind, ExpirySource  # noqa: E402
from shared.domain.expiry_reads import KeptRead, application_read_key  # noqa: E402
from shared.domain.expiry_record import Foresight  # noqa: E402
from shared.domain.inputs import StatusQuery  # noqa: E402
from shared.domain.models import AuthMethod, Customer, CustomerFilter, Status  # noqa: E402
from shared.domain.secrets import SecretKind  # noqa: E402
from shared.domain.verification import VerificationResult  # noqa: E402
from shared.usecases.status import list_status  # noqa: E402
from shared.usecases.token_key import TokenKey  # noqa: E402
from tools.azurite import Azurite, start_azurite  # noqa: E402
from tools.processes import stop_process  # noqa: E402

HOST_SAMPLES = 21  # requests timed through each host (the first one warms up and is not counted)
RESULTS_KEPT = 2  # results in each customer's history ring: the two Verify Alls of `make bench`


def seed(service: TableServiceClient, table: str, count: int) -> None:
    client = service.create_table_if_not_exists(table)
    statuses = list(Status)
    methods = list(AuthMethod)
    now = datetime.now(UTC)
    batch = []
    for i in range(count):
        customer = Customer(customer_id=f"cust-{i:06d}", tenant_id=str(uuid.uuid4()),
                            authentication_method=methods[i % 3], m365_email=f"admin{i}@example.com",
                            last_verification_status=statuses[i % 3], created_at=now, updated_at=now)
        batch.append(("create", customer_to_entity(customer)))
        if len(batch) == 100:  # Azurite's limit per transaction
            client.submit_transaction(batch)
            batch = []
    if batch:
        client.submit_transaction(batch)


def verified(index: int, now: datetime) -> list[dict]:
    """A customer's record as a verification leaves it (an application secret whose expiry Graph read), and the
    rows of its history ring."""
    customer_id, tenant_id, app_id = f"cust-{index:06d}", str(uuid.uuid4()), str(uuid.uuid4())
    version = uuid.uuid4().hex
    foresight = Foresight(
        client_secret=Expiry(ExpiryKind.CLIENT_SECRET, ExpirySource.GRAPH, now + timedelta(days=200 + index % 200),
                             str(uuid.uuid4())),
        client_secret_read=KeptRead(application_read_key(tenant_id, app_id, version), now), provider_checked=True)
    status = Status.SUCCEEDED if index % 10 else Status.FAILED
    customer = Customer(customer_id=customer_id, tenant_id=tenant_id, authentication_method=AuthMethod.APPLICATION,
                        m365_email=None, application_id=app_id,
                        secret_versions={SecretKind.APPLICATION_SECRET: version},
                        last_verification_status=status, when_last_verified=now, created_at=now, updated_at=now,
                        foresight=foresight, results_recorded=RESULTS_KEPT)
    results = [VerificationResult(customer_id, status, now - timedelta(hours=n), AuthMethod.APPLICATION)
               for n in range(RESULTS_KEPT)]
    return [customer_to_entity(customer), *({"PartitionKey": CUSTOMER_PARTITION,
                                            "RowKey": history_key(customer_id, n + 1), **result_to_entity(result)}
                                           for n, result in enumerate(results))]


def seed_verified(service: TableServiceClient, table: str, count: int) -> None:
    client = service.create_table_if_not_exists(table)
    now = datetime.now(UTC)
    batch: list = []
    for i in range(count):
        batch.extend(("upsert", row) for row in verified(i, now))
        if len(batch) > 100 - 1 - RESULTS_KEPT:  # Azurite's limit per transaction
            client.submit_transaction(batch)
            batch = []
    if batch:
        client.submit_transaction(batch)


def start_host(azurite: Azurite, repo: Path, work: Path) -> tuple[subprocess.Popen, str]:
    """The local host run from `repo` over `azurite`; the process and its base URL."""
    env = {**os.environ, "AzureWebJobsStorage": azurite.connection_string, "KEY_VAULT_URL": "",
           "LOCAL_SECRETS_FILE": str(work / "dev-secrets.json"), "VERIFY_SCHEDULE": NEVER,
           "AzureWebJobs.maintenance.Disabled": "true", "PYTHONUNBUFFERED": "1"}
    log = work / "host.log"
    with log.open("wb") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "tools.devserver", "--host", "127.0.0.1", "--port", "0",
             "--settings", str(work / "no-local-settings.json"), "--grace", "1"],
            cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        return process, wait_for_line(process, log, r"Listening on (http://\S+)", "The local host").group(1)
    except BaseException:
        stop_process(process)
        raise


@dataclass
class HostTimes:
    """Over the timed requests through one host, in milliseconds: the median latency, and the mean CPU the host and
    Azurite spent on a request (CPU hardly depends on what else runs; the latency does). /proc counts CPU in ticks
    of 10 ms: the mean over the requests is finer than any one request's."""

    p50: float
    host_cpu: float
    azurite_cpu: float


def host_times(azurite: Azurite, repos: list[Path], top: int) -> list[HostTimes]:
    """GET /api/status?top=`top` through a local host run from each of `repos`, their requests taken in turn so
    that whatever else loads the machine weighs on each alike."""
    with ExitStack() as stack:
        hosts, samples = [], [[] for _ in repos]
        for repo in repos:
            work = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="status-list-host-")))
            process, url = start_host(azurite, repo, work)
            stack.callback(stop_process, process)
            hosts.append((process.pid, url))
        session = stack.enter_context(requests.Session())
        for _ in range(HOST_SAMPLES):
            for (pid, url), taken in zip(hosts, samples, strict=True):
                cpu = cpu_seconds(pid), cpu_seconds(azurite.process.pid)
                began = time.perf_counter()
                answer = session.get(url + "/api/status", params={"top": str(top)}, timeout=60)
                answer.raise_for_status()
                if len(answer.json()["tenants"]) != top:
                    raise RuntimeError(f"GET /api/status?top={top} did not answer {top} customers")
                taken.append(((time.perf_counter() - began) * 1000, (cpu_seconds(pid) - cpu[0]) * 1000,
                              (cpu_seconds(azurite.process.pid) - cpu[1]) * 1000))
    return [HostTimes(statistics.median(latency), statistics.mean(host), statistics.mean(storage))
            for latency, host, storage in (zip(*taken[1:], strict=True) for taken in samples)]


def timed(fn, runs: int) -> float:
    samples = []
    for _ in range(runs):
        start = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--tenants", type=int, default=10000)
    parser.add_argument("--top", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--host", action="store_true", help="measure GET /api/status through the local host only")
    parser.add_argument("--repo", type=Path, action="append",
                        help="with --host: the checkout whose host runs (repeat to compare; default this one)")
    args = parser.parse_args()
    azurite = start_azurite()
    try:
        service = TableServiceClient.from_connection_string(azurite.connection_string)
        if args.host:
            start = time.perf_counter()
            seed_verified(service, "Tenants", args.tenants)
            TableCustomerStore(service).recount_status_counts()
            print(f"seeded {args.tenants} verified tenants, {RESULTS_KEPT} results each, in "
                  f"{time.perf_counter() - start:.1f} s; load {os.getloadavg()[0]:.2f}")
            repos = [repo.resolve() for repo in args.repo or [Path(__file__).resolve().parents[1]]]
            for repo, times in zip(repos, host_times(azurite, repos, args.top), strict=True):
                print(f"GET /api/status?top={args.top} through the host of {repo}: p50 {times.p50:.0f} ms over "
                      f"{HOST_SAMPLES - 1} requests; CPU a request: host {times.host_cpu:.0f} ms, Azurite "
                      f"{times.azurite_cpu:.0f} ms")
            return
        start = time.perf_counter()
        seed(service, "Tenants", args.tenants)
        print(f"seeded {args.tenants} tenants in {time.perf_counter() - start:.1f} s")
        store = TableCustomerStore(service)
        keys = TokenKey(LocalFileSecretStore(Path(tempfile.mkdtemp()) / "secrets.json"))

        def walk() -> int:
            token, pages = None, 0
            while True:
                page = list_status(store, StatusQuery(None, None, args.top, token), keys=keys)
                pages += 1
                token = page.continuation_token
                if token is None:
                    return pages

        store.recount_status_counts()  # the seed bypassed the store: start the kept counts from it
        page_only = timed(lambda: store.list(CustomerFilter(), top=args.top, after=None), args.runs)
        scan = timed(store.recount_status_counts, args.runs)
        summary = timed(store.get_status_counts, args.runs)
        one_page = timed(lambda: list_status(store, StatusQuery(None, None, args.top, None), keys=keys), args.runs)
        pages = walk()
        full = timed(walk, 1)
        print(f"page of {args.top} alone            {page_only * 1000:8.1f} ms")
        print(f"summary from kept counts       {summary * 1000:8.1f} ms")
        print(f"full count of {args.tenants} tenants  {scan * 1000:8.1f} ms  (what the summary cost before)")
        print(f"GET /api/status one page       {one_page * 1000:8.1f} ms")
        print(f"walk all {pages} pages              {full * 1000:8.1f} ms  ({args.tenants / full:,.0f} tenants/s)")
        print(f"ratio summary / page alone:      {summary / page_only:.3f}")
        print(f"ratio full count / summary:      {scan / summary:.0f}")
        print(f"ratio one page / page alone:     {one_page / page_only:.2f}")
        print(f"ratio walk / {pages} pages alone:     {full / (pages * page_only):.2f}")
    finally:
        azurite.stop()


if __name__ == "__main__":
    main()
