"""Throughput of the identity simulator's token endpoint at 1 and at N requests in flight, as a ratio.

Run: .venv/bin/python benchmarks/identity_sim_concurrency.py [--latency-ms 100] [--concurrency 64] [--seconds 3]
With a latency L each answer takes at least L, so one client gets about 1/L answers a second; N clients get
about N/L when nothing in the simulator serialises them. The ratio printed should come close to N.
"""
from __future__ import annotations

import argparse
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from tools.identity_sim import AppRegistration, ClientSecret, IdentitySimulator  # noqa: E402

CLIENT_ID = "0f1e2d3c-4b5a-4968-8776-655443322110"
SECRET = "benchmark-secret"


def throughput(sim: IdentitySimulator, *, concurrency: int, seconds: float) -> float:
    """Token answers per second with `concurrency` clients, each on its own keep-alive connection."""
    url = f"{sim.authority('bench.onmicrosoft.com')}/oauth2/v2.0/token"
    form = {"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": SECRET,
            "scope": "https://graph.microsoft.com/.default"}
    answered = [0] * concurrency
    start = threading.Barrier(concurrency + 1)

    def client(index: int) -> None:
        with sim.session(timeout=30, pool_maxsize=1) as session:
            session.post(url, data=form).raise_for_status()  # connect and handshake before the clock starts
            start.wait()
            deadline = time.monotonic() + seconds
            while time.monotonic() < deadline:
                session.post(url, data=form).raise_for_status()
                answered[index] += 1

    threads = [threading.Thread(target=client, args=(index,)) for index in range(concurrency)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.monotonic()
    for thread in threads:
        thread.join()
    return sum(answered) / (time.monotonic() - began)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--latency-ms", type=float, default=100.0)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--seconds", type=float, default=3.0)
    arguments = parser.parse_args()
    with tempfile.TemporaryDirectory() as ca_dir, IdentitySimulator(
            ca_dir=ca_dir, latency_ms=arguments.latency_ms) as sim:
        sim.add_tenant("bench")
        sim.add_app(AppRegistration(client_id=CLIENT_ID, secrets=(ClientSecret(SECRET),)))
        one = throughput(sim, concurrency=1, seconds=arguments.seconds)
        many = throughput(sim, concurrency=arguments.concurrency, seconds=arguments.seconds)
        peak = sim.counters()["peak_in_flight"]
    print(f"latency {arguments.latency_ms:.0f} ms per token answer")
    print(f"1 in flight                {one:8.1f} answers/s")
    print(f"{arguments.concurrency} in flight               {many:8.1f} answers/s (peak at the server: {peak})")
    print(f"ratio {arguments.concurrency} / 1: {many / one:.1f} (ideal {arguments.concurrency})")


if __name__ == "__main__":
    main()
