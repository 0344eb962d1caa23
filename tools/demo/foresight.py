"""The demo's foresight: what it adds to the identity simulator's scenario, with dates relative to now (a customer
whose app secret expires in 5 days, a delegated admin relationship that ends in 12 days and cannot auto-extend,
the provider's app in its own tenant), and the lines it prints about what will break, and when."""
from __future__ import annotations

import copy
import textwrap
from datetime import UTC, datetime, timedelta
from typing import Any

PARTNER = {"id": "a0000013-0000-4000-8000-000000000013", "domains": ["demo-partner.onmicrosoft.com"],
           "name": "The provider (a Cloud Solution Provider)"}
GLOBAL_ADMINISTRATOR = "62e90394-69f5-4237-9190-012177145e10"
CONTOSO_TENANT = "a0000001-0000-4000-8000-000000000001"
ENV = {"PROVIDER_TENANT_ID": PARTNER["id"], "GDAP_CHECK": "true"}  # and GRAPH_ENDPOINT: the simulator


def _at(now: datetime, days: int) -> str:
    return (now + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M:%SZ")


def scenario(base: dict[str, Any], *, provider: str, woodgrove_app: str, now: datetime | None = None) -> dict:
    """`base` with foresight's data: Woodgrove's secret ends in 5 days (its app may read itself in Graph), the
    provider's app lives in its own tenant and its secret ends in 45 days, and the provider's relationship with
    Contoso holds Global Administrator and ends in 12 days."""
    now = now or datetime.now(UTC)
    data = copy.deepcopy(base)
    data["tenants"].append(PARTNER)
    for app in data["apps"]:
        if app["client_id"] == provider:
            app.update(home_tenant=PARTNER["id"], roles={
                PARTNER["id"]: ["Application.Read.All", "DelegatedAdminRelationship.Read.All"]})
            app["secrets"][0]["expires_at"] = _at(now, 45)
        elif app["client_id"] == woodgrove_app:
            app.update(home_tenant="a0000008-0000-4000-8000-000000000008",
                       roles={"*": ["User.Read.All", "Application.Read.All"]})
            app["secrets"][0]["expires_at"] = _at(now, 5)
    data["relationships"] = [{"partner": PARTNER["id"], "customer_tenant_id": CONTOSO_TENANT,
                              "ends_at": _at(now, 12), "status": "active", "auto_extend": "PT0S",
                              "roles": [GLOBAL_ADMINISTRATOR], "customer_name": "Contoso"}]
    return data


WHAT = {"clientSecret": "client secret", "providerClientSecret": "provider's client secret",
        "refreshTokenInactivity": "refresh token (90 days unused)", "gdapRelationship": "delegated admin relationship"}


def _in_days(iso: str, now: datetime) -> str:
    days = (datetime.fromisoformat(iso.replace("Z", "+00:00")) - now).total_seconds() / 86400
    return f"in {round(days)} days ({iso[:10]})"


def print_foresight(summary: dict, tenants: list[dict], *, width: int = 118) -> None:
    """What will break, and when: the provider's secret, then each customer with a known time to failure."""
    now = datetime.now(UTC)
    print("\nForesight (what will break, and when)")
    provider = summary.get("providerClientSecret")
    if provider and "at" in provider:
        print(f"  provider's client secret expires {_in_days(provider['at'], now)}, read from {provider['source']}")
        print("    every password and token customer depends on it")
    expiring = summary.get("expiring", {})
    print(f"  expiring within 7 days: {expiring.get('within7Days', 0)}, within 30 days: "
          f"{expiring.get('within30Days', 0)}")
    known = sorted((t for t in tenants if t["expiresAt"]), key=lambda t: t["expiresAt"])
    for view in (t for t in known if t["expiry"]["what"] != "providerClientSecret"):
        expiry = view["expiry"]
        print(f"  {view['customerId']}: {WHAT.get(expiry['what'], expiry['what'])} ends "
              f"{_in_days(expiry['at'], now)} ({expiry['source']})")
        if expiry.get("hint"):
            print(textwrap.fill(expiry["hint"], width=width, initial_indent="    ", subsequent_indent="    "))
    through_provider = sum(t["expiry"]["what"] == "providerClientSecret" for t in known)
    print(f"  {through_provider} more customers fail first when the provider's client secret expires")
