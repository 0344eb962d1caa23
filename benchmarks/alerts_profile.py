"""Where the alert dispatcher's time goes with 10,000 customers failing in one run: cProfile of its ticks, in
process, over a real Azurite and the local alert receiver (a webhook and a Teams channel).

Run: .venv/bin/python benchmarks/alerts_profile.py [--customers 10000] [--top 15]

Seeds the failing customers and their `connectionLost` events of one run straight into the tables, then profiles
three dispatches as the host makes them: the minute's tick while the run still runs (the first one of a channel's
day also looks for customers to remind), a second tick during the run, and the dispatch after the run ends (the
digests). Prints each one's seconds and its top functions by cumulative time, then the seconds (and this process's
CPU seconds: Azurite's are not in them) of the look-up for customers to remind alone, as a channel's first digest
of a day makes it, right after the run and a day later (--repeats times each). Nothing is asserted.
"""
from __future__ import annotations

import argparse
import cProfile
import io
import pstats
import statistics
import sys
import tempfile
import time
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from azure.data.tables import TableServiceClient  # noqa: E402

from shared.adapters.local_secrets import LocalFileSecretStore  # noqa: E402
from shared.adapters.outbound_http import OutboundHttp  # noqa: E402
from shared.adapters.table_alert_follower import TableAlertFollower  # noqa: E402
from shared.adapters.table_channels import TableChannelStore  # noqa: E402
from shared.adapters.table_customers import CUSTOMER_PARTITION, TableCustomerStore, customer_to_entity  # noqa: E402
from shared.adapters.table_deliveries import TableDeliveryStore  # noqa: E402
from shared.adapters.table_events import TableEventLog  # noqa: E402
from shared.adapters.table_runs import TableRunStore  # noqa: E402
from shared.domain.alerts.channels import ChannelInput, ChannelKind  # noqa: E402
from shared.domain.alerts.events import EventType, StatusEvent, StatusPoint  # noqa: E402
from shared.domain.models import AuthMethod, Customer, Status  # noqa: E402
from shared.domain.reasons import Reason  # noqa: E402
from shared.domain.runs import Run, Trigger, new_run_id  # noqa: E402
from shared.usecases.alert_channels import put_channel  # noqa: E402
from shared.usecases.alert_dispatch import AlertContext, _reminders_due, dispatch  # noqa: E402
from tools.alert_receiver import AlertReceiver  # noqa: E402
from tools.azurite import start_azurite  # noqa: E402

LOST = StatusPoint(Status.FAILED, Reason.INVALID_CLIENT_SECRET)


def seed(service: TableServiceClient, customers: TableCustomerStore, log: TableEventLog, run_id: str, count: int,
         now: datetime) -> None:
    customers.get("none")  # creates the table
    table = service.get_table_client("Tenants")
    ids = [f"c{n:05d}" for n in range(count)]
    for start in range(0, count, 100):
        table.submit_transaction([("upsert", customer_to_entity(Customer(
            cid, "contoso.onmicrosoft.com", AuthMethod.APPLICATION, last_verification_status=Status.FAILED,
            when_last_verified=now, last_verification_reason=LOST.reason, hint="Store a new client secret.")))
            for cid in ids[start:start + 100]])
    assert table.get_entity(CUSTOMER_PARTITION, ids[0])
    log.append_many([StatusEvent(uuid.uuid4().hex, EventType.CONNECTION_LOST, cid, "contoso.onmicrosoft.com",
                                 StatusPoint(Status.NOT_VERIFIED), LOST, now, run_id) for cid in ids])


def profiled(label: str, ctx: AlertContext, top: int) -> None:
    profile = cProfile.Profile()
    began = time.perf_counter()
    profile.enable()
    report = dispatch(ctx)
    profile.disable()
    print(f"\n== {label}: {time.perf_counter() - began:.2f} s; {report}", flush=True)
    out = io.StringIO()
    pstats.Stats(profile, stream=out).sort_stats("cumulative").print_stats(top)
    print("\n".join(line for line in out.getvalue().splitlines() if line.strip()), flush=True)


def reminder_lookup(ctx: AlertContext, *, repeats: int) -> None:
    """The look-up for customers to remind alone (what a channel's first digest of a day costs), as right after
    the run (every failure is new: the day's events are read back) and a day later (every failure is due)."""
    channels = [replace(c, reminded_at=None) for c in ctx.channels.list()]
    now = ctx.clock()
    for label, moment in (("right after the run", now),
                          ("a day later", now + ctx.reminder_interval + timedelta(hours=1))):
        at = replace(ctx, clock=lambda moment=moment: moment)
        times, cpu = [], []
        for _ in range(repeats):
            began, began_cpu = time.perf_counter(), time.process_time()
            found = _reminders_due(at, channels, now=moment)
            times.append(time.perf_counter() - began)
            cpu.append(time.process_time() - began_cpu)
        reminded = max((len(lines) for lines in found.lines.values()), default=0)
        print(f"the reminder look-up alone, {label} ({reminded} customers to remind): median "
              f"{statistics.median(times):.2f} s of {', '.join(f'{t:.2f}' for t in times)} s; this process's CPU "
              f"median {statistics.median(cpu):.2f} s", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=10000)
    parser.add_argument("--top", type=int, default=15)
    parser.add_argument("--repeats", type=int, default=3, help="times the reminder look-up alone is measured")
    args = parser.parse_args()
    azurite = start_azurite()
    try:
        with tempfile.TemporaryDirectory(prefix="alerts-profile-") as work, \
                AlertReceiver(ca_dir=Path(work) / "receiver") as receiver:
            service = TableServiceClient.from_connection_string(azurite.connection_string)
            now = datetime.now(UTC)
            secrets = LocalFileSecretStore(Path(work) / "dev-secrets.json")
            transport = OutboundHttp(local_development=True, verify=str(receiver.ca_bundle_path))
            ctx = AlertContext(
                events=TableEventLog(service), follower=TableAlertFollower(service),
                channels=TableChannelStore(service), deliveries=TableDeliveryStore(service),
                customers=TableCustomerStore(service), history=TableCustomerStore(service),
                runs=TableRunStore(service), secrets=secrets, transport=transport,
                page_url="https://tas.example.com/", reminder_interval=timedelta(hours=24))
            saved = put_channel(ctx.channels, secrets, transport, "ops", ChannelInput(
                ChannelKind.WEBHOOK, frozenset(EventType), url=receiver.add_webhook("ops")))
            receiver.add_webhook("ops", saved.signing_secret)
            put_channel(ctx.channels, secrets, transport, "team", ChannelInput(
                ChannelKind.TEAMS, frozenset(EventType), url=receiver.add_teams("team")))
            run = Run(new_run_id(now), Trigger.HTTP, now, None, 0, 0, {})
            ctx.runs.start(run, stale_after=timedelta(hours=1))
            began = time.perf_counter()
            seed(service, ctx.customers, ctx.events, run.run_id, args.customers, now)
            print(f"{args.customers} failing customers and their events of one run seeded in "
                  f"{time.perf_counter() - began:.1f} s", flush=True)
            profiled("the minute's first tick during the run", ctx, args.top)
            profiled("a later tick during the run", ctx, args.top)
            ctx.runs.mark_fanned_out(run.run_id)  # no customer enrolled: the run finishes
            profiled("the dispatch after the run", ctx, args.top)
            print(f"\nmessages received: {sorted(m.channel for m in receiver.inbox.messages())}")
            print()
            reminder_lookup(ctx, repeats=args.repeats)
    finally:
        azurite.stop()


if __name__ == "__main__":
    main()
