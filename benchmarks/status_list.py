"""Cost of GET /api/status over many tenants, against a real Azurite it starts.

Run: .venv/bin/python benchmarks/status_list.py [--tenants 10000] [--top 1000]
Prints the cost of the summary read from the kept counts, of a full recount (what every first page cost
before counts were kept: a read of every tenant's status column), of one page, and of walking every page,
with their ratios. The summary's cost should stay flat as the tenant count grows.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from azure.data.tables import TableServiceClient  # noqa: E402

from shared.adapters.local_secrets import LocalFileSecretStore  # noqa: E402
from shared.adapters.table_customers import TableCustomerStore, customer_to_entity
from shared.domain.inputs import StatusQuery  # noqa: E402
from shared.domain.models import AuthMethod, Customer, CustomerFilter, Status  # noqa: E402
from shared.usecases.status import list_status  # noqa: E402
from shared.usecases.token_key import TokenKey  # noqa: E402
from tools.azurite import start_azurite  # noqa: E402


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
    args = parser.parse_args()
    azurite = start_azurite()
    try:
        service = TableServiceClient.from_connection_string(azurite.connection_string)
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
