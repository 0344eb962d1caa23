"""`python -m tools.alert_receiver --ca-dir DIR [--port 0] [--http-port 0] [--control-port 0]`

Prints one JSON line, `{"https_url", "http_url", "control_url", "ca_bundle", "ca_cert", "pid"}`, once it is serving,
then serves until SIGTERM or SIGINT and exits 0. Channels are added, and messages read, through the control API
(control.py). A client trusts the receiver with REQUESTS_CA_BUNDLE=<ca_bundle>.
"""
from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading

from tools.alert_receiver.control import control_server
from tools.alert_receiver.receiver import AlertReceiver

logger = logging.getLogger(__name__)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tools.alert_receiver", description=__doc__.splitlines()[0])
    parser.add_argument("--ca-dir", required=True, help="where the CA certificate and the CA bundle are written")
    parser.add_argument("--port", type=int, default=0, help="HTTPS port; 0 picks a free one (default)")
    parser.add_argument("--http-port", type=int, default=0, help="plain HTTP port; 0 picks a free one (default)")
    parser.add_argument("--control-port", type=int, default=0, help="control API port; 0 picks a free one")
    parser.add_argument("--log-level", default="WARNING")
    arguments = parser.parse_args(argv)
    logging.basicConfig(level=arguments.log_level.upper(), stream=sys.stderr,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    with AlertReceiver(ca_dir=arguments.ca_dir, ports=(arguments.port, arguments.http_port)) as receiver:
        control = control_server(receiver, port=arguments.control_port)
        threading.Thread(target=control.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True).start()
        assert receiver.ca is not None
        print(json.dumps({"https_url": receiver.base_url("https"), "http_url": receiver.base_url("http"),
                          "control_url": f"http://127.0.0.1:{control.server_address[1]}",
                          "ca_bundle": str(receiver.ca.bundle_path), "ca_cert": str(receiver.ca.ca_path),
                          "pid": os.getpid()}), flush=True)
        while not stop.wait(0.5):  # a timed wait keeps the main thread responsive to signals
            pass
        control.shutdown()
        control.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
