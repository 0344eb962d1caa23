"""`python -m tools.identity_sim --port 0 --ca-dir DIR [--scenario FILE.json] [--latency-ms N] [--host H]`

Prints one JSON line, `{"authority_host", "ca_bundle", "ca_cert", "port", "pid"}`, once it is serving, then serves
until SIGTERM or SIGINT and exits 0. Point the client at it with REQUESTS_CA_BUNDLE=<ca_bundle> and
ENTRA_AUTHORITY_HOST=<authority_host>.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

from tools.identity_sim.simulator import IdentitySimulator

logger = logging.getLogger(__name__)


def _arguments(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tools.identity_sim", description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="loopback address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=0, help="port; 0 picks a free one (default)")
    parser.add_argument("--ca-dir", required=True, help="where the CA certificate and the CA bundle are written")
    parser.add_argument("--scenario", help="a scenario JSON file (tools/identity_sim/scenarios.py)")
    parser.add_argument("--latency-ms", type=float, default=None,
                        help="delay of every token answer; wins over the scenario's latency_ms (default: the "
                             "scenario's, else 0)")
    parser.add_argument("--log-level", default="WARNING")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    arguments = _arguments(argv)
    logging.basicConfig(level=arguments.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    simulator = IdentitySimulator(ca_dir=arguments.ca_dir, host=arguments.host, port=arguments.port,
                                  scenario=arguments.scenario)
    if arguments.latency_ms is not None:  # after the scenario: what the command line says wins
        simulator.set_latency(arguments.latency_ms)
    with simulator:
        print(json.dumps({"authority_host": simulator.authority_host, "ca_bundle": str(simulator.ca_bundle_path),
                          "ca_cert": str(simulator.ca_path), "port": simulator.port, "pid": os.getpid()}),
              flush=True)
        while not stop.wait(0.5):  # a timed wait keeps the main thread responsive to signals
            pass
        logger.info("stopping the identity simulator")
    return 0


if __name__ == "__main__":
    sys.exit(main())
