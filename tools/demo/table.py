"""The status table as a person wants to read it: one customer a line, why and what to do beneath."""
from __future__ import annotations

import textwrap
from datetime import UTC, datetime

METHODS = {"password": "Username and Password", "token": "Auth token", "application": "Application registration"}
STATUS = {"succeeded": "OK", "failed": "FAILED", "notVerified": "not verified"}


def when(iso: str | None, now: datetime) -> str:
    if iso is None:
        return "never"
    moment = datetime.fromisoformat(iso.replace("Z", "+00:00"))
    seconds = max(0, int((now - moment).total_seconds()))
    ago = f"{seconds} s ago" if seconds < 120 else f"{seconds // 60} min ago"
    return f"{moment.astimezone():%Y-%m-%d %H:%M:%S} ({ago})"


def print_status_table(tenants: list[dict], *, width: int = 118) -> None:
    now = datetime.now(UTC)
    rows = [(t["customerId"], t["m365Email"] or "-", METHODS[t["authenticationMethod"]],
             when(t["whenLastVerified"], now), STATUS[t["lastVerificationStatus"]], t) for t in tenants]
    header = ("Customer Id", "M365 Email", "Authentication Method", "When Last Verified", "Last Verification")
    widths = [max(len(header[i]), *(len(r[i]) for r in rows)) for i in range(5)]
    line = "  ".join(f"{{:<{w}}}" for w in widths)
    print(line.format(*header))
    print("  ".join("-" * w for w in widths))
    for *cells, view in rows:
        print(line.format(*cells).rstrip())
        if view["lastVerificationReason"]:
            why = f"{view['lastVerificationReason']}: {view['lastVerificationMessage'] or ''}".rstrip(": ")
            for text in (why, "what to do: " + (view["hint"] or "-")):
                print(textwrap.fill(text, width=width, initial_indent="    ", subsequent_indent="      "))
    counts = {s: sum(t["lastVerificationStatus"] == s for t in tenants) for s in STATUS}
    print(f"\n{len(tenants)} customers: " + ", ".join(f"{n} {STATUS[s]}" for s, n in counts.items() if n))
