"""The demo's alerts: the local alert receiver (tools/alert_receiver) in a process of its own, a webhook and a Teams
channel pointing at it, then a customer whose connection is lost in one run and restored in the next (the
simulator blocks its first sign-in only), each run's digest shown as it arrives."""
from __future__ import annotations

import json
import time
from collections.abc import Callable

import requests

MARGIE = {"tenantId": "a0000013-0000-4000-8000-000000000013", "authenticationMethod": "password",
          "m365Email": "admin@margie.onmicrosoft.com", "password": "Demo-Margie-Pass-1"}
LABELS = {"connectionLost": "lost", "reasonChanged": "failing for another reason", "stillFailing": "still failing",
          "connectionExpiring": "expiring", "connectionRestored": "restored"}


def show_alerts(base: str, receiver: dict, api: Callable, run_quietly: Callable[[str], str]) -> None:
    control = receiver["control_url"]
    webhook_url = f"{receiver['http_url']}/webhook/ops"
    teams_url = requests.put(f"{control}/teams/team", timeout=30).json()["httpUrl"]
    secret = api(base, "PUT", "/api/alerts/channels/ops", {"kind": "webhook", "url": webhook_url})["signingSecret"]
    requests.put(f"{control}/webhook/ops", json={"secret": secret}, timeout=30).raise_for_status()
    api(base, "PUT", "/api/alerts/channels/team", {"kind": "teams", "url": teams_url})
    print("Alerts: a webhook channel (ops) and a Teams channel (team) at the local alert receiver "
          f"({receiver['http_url']});\n  the webhook's signing secret was shown once, and the receiver checks it.")
    api(base, "PUT", "/api/tenants/margie", MARGIE)
    print("\nmargie added; Conditional Access blocks its first sign-in only.")
    shown: set[str] = set()
    for _ in ("lost", "restored"):
        run_id = run_quietly(base)
        print(f"  Verify All: run {run_id} finished")
        for message in _digests_of(control, run_id, shown):
            shown.add(message["delivery_id"])
            print("    " + _describe(message))


def _digests_of(control: str, run_id: str, shown: set[str], timeout: float = 30) -> list[dict]:
    """The run's digest on each channel: the webhook's names the run; the Teams card, which does not, is the one
    about margie not shown yet. (The digest of the demo's first run, whose events the dispatcher may still read
    after the channels exist, is not margie's.)"""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        messages = [m for m in requests.get(f"{control}/messages", timeout=30).json()["messages"]
                    if m["delivery_id"] not in shown]
        webhook = [m for m in messages if m["kind"] == "webhook" and m["payload"].get("runId") == run_id]
        teams = [m for m in messages if m["kind"] == "teams" and "margie" in json.dumps(m["payload"])]
        if webhook and teams:
            return [webhook[0], teams[0]]
        time.sleep(0.2)
    raise RuntimeError(f"the alert receiver did not get run {run_id}'s digests within {timeout} s")


def _describe(message: dict) -> str:
    payload = message["payload"]
    if message["kind"] == "teams":
        card = payload["attachments"][0]["content"]
        return f"-> {message['channel']} (Teams card): \"{card['body'][0]['text']}\""
    counts = ", ".join(f"{n} {LABELS.get(kind, kind)}" for kind, n in payload["counts"].items() if n)
    lines = "; ".join(f"{c['customerId']} {LABELS.get(c['type'], c['type'])}" + (f" ({c['reason']})" if c['reason']
                      else "") for c in payload["customers"])
    return (f"-> {message['channel']} (webhook, signed, X-Delivery-Id {message['delivery_id'][:8]}...): "
            f"{counts}: {lines}")
