"""`make demo` (python -m tools.demo): Azurite, the identity platform simulator and the local host; a dozen
customers over the three methods; Verify All with its progress; then the status table as a person reads it; then
a lost and a restored connection reaching the local alert receiver.

Everything runs on loopback, on free ports, from this checkout; nothing is left running afterwards. The
customers' secrets are demo values that exist nowhere else.
"""
from __future__ import annotations

import argparse
import dataclasses
import html
import json
import re
import shutil
import tempfile
import time
from pathlib import Path

import requests

from shared.adapters.local_secrets import LocalFileSecretStore
from shared.adapters.storage_clients import table_service_from_config
from shared.adapters.table_customers import TableCustomerStore
from shared.config import StorageConfig
from shared.domain.secrets import SecretKind
from tools.azurite import start_azurite
from tools.demo.table import print_status_table
from tools.processes import stop_process

from . import foresight
from .alerts import show_alerts
from .processes import start_alert_receiver, start_identity_simulator, start_local_host

HERE = Path(__file__).resolve().parent
PROVIDER, PROVIDER_SECRET = "d0000000-0000-4000-8000-00000000000a", "Demo-Provider-Secret-1"
WOODGROVE_APP, PROSEWARE_APP, FOURTHCOFFEE_APP = (f"d0000000-0000-4000-8000-00000000000{c}" for c in "bcd")


def tenant(n: int) -> str:
    return f"a{n:07d}-0000-4000-8000-{n:012d}"


def password(name: str, n: int, secret: str) -> dict:
    return {"tenantId": tenant(n), "authenticationMethod": "password",
            "m365Email": f"admin@{name}.onmicrosoft.com", "password": secret}


def application(n: int, app_id: str, secret: str, tenant_id: str | None = None) -> dict:
    return {"tenantId": tenant_id or tenant(n), "authenticationMethod": "application", "applicationId": app_id,
            "applicationSecret": secret}


CUSTOMERS: dict[str, dict] = {
    "contoso": password("contoso", 1, "Demo-Contoso-Pass-1"),
    "fabrikam": password("fabrikam", 2, "Demo-Fabrikam-Pass-1"),          # MFA required
    "tailspin": password("tailspin", 3, "An-Old-Password-9"),             # the wrong password
    "adatum": password("adatum", 4, "Demo-Adatum-Pass-1"),                # locked out
    "alpine": password("alpine", 11, "Demo-Alpine-Pass-1"),               # Conditional Access blocks it
    "litware": {"tenantId": tenant(5), "authenticationMethod": "token", "m365Email": "admin@litware.onmicrosoft.com"},
    "northwind": {"tenantId": tenant(6), "authenticationMethod": "token"},  # its refresh token was revoked
    "wingtip": {"tenantId": tenant(7), "authenticationMethod": "token"},    # its refresh token expired
    "relecloud": {"tenantId": "relecloud.onmicrosoft.com", "authenticationMethod": "token"},  # consents below
    "coho": {"tenantId": "coho.onmicrosoft.com", "authenticationMethod": "token"},  # never consented
    "woodgrove": application(8, WOODGROVE_APP, "Demo-Woodgrove-App-Secret-1"),
    "proseware": application(9, PROSEWARE_APP, "Demo-Proseware-App-Secret-1"),          # lacks User.Read.All
    "fourthcoffee": application(10, FOURTHCOFFEE_APP, "Demo-Fourthcoffee-Old-Secret"),  # its secret expired
    "lucerne": application(12, WOODGROVE_APP, "Demo-Woodgrove-App-Secret-1",
                           tenant_id="a0000099-0000-4000-8000-000000000099"),          # no such tenant
}
# Refresh tokens consents had stored before the demo starts (relecloud consents during it).
REFRESH_TOKENS = {"litware": "demo-rt-litware", "northwind": "demo-rt-northwind", "wingtip": "demo-rt-wingtip"}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="keep the working folder (logs) afterwards")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="tas-demo-"))
    stops: list = []
    try:
        print("Starting Azurite, the identity platform simulator and the local host...")
        azurite = start_azurite()
        stops.append(azurite.stop)
        scenario = work / "scenario.json"  # the demo's scenario with foresight's dates, relative to now
        scenario.write_text(json.dumps(foresight.scenario(json.loads((HERE / "scenario.json").read_text()),
                                                          provider=PROVIDER, woodgrove_app=WOODGROVE_APP)))
        simulator, where = start_identity_simulator(work / "ca", scenario, work / "identity.log")
        stops.append(lambda: stop_process(simulator))
        env = {"AzureWebJobsStorage": azurite.connection_string, "KEY_VAULT_URL": "",
               "LOCAL_SECRETS_FILE": str(work / "secrets.json"), "ENTRA_AUTHORITY_HOST": where["authority_host"],
               "REQUESTS_CA_BUNDLE": where["ca_bundle"], "VERIFY_SCHEDULE": "0 0 0 1 1 *",
               "GRAPH_ENDPOINT": where["authority_host"], **foresight.ENV}
        host, base = start_local_host(env, work / "host.log")
        stops.append(lambda: stop_process(host))
        receiver, receiving = start_alert_receiver(work / "receiver", work / "receiver.log")
        stops.append(lambda: stop_process(receiver))
        print(f"  local host {base}, identity platform {where['authority_host']} (150 ms a token)\n")
        seed(base, azurite.connection_string, work / "secrets.json")
        grant_consent(base, "relecloud", where["ca_bundle"])
        verify_all(base)
        tenants = all_tenants(base)
        print_status_table(tenants)
        foresight.print_foresight(api(base, "GET", "/api/status?top=1")["summary"], tenants)
        print()
        show_alerts(base, receiving, api, run_quietly)
        return 0
    finally:
        for stop in reversed(stops):
            stop()
        if args.keep:
            print(f"\nLogs kept in {work}")
        else:
            shutil.rmtree(work, ignore_errors=True)


def api(base: str, method: str, path: str, body: dict | None = None) -> dict:
    response = requests.request(method, base + path, json=body, timeout=60)
    if response.status_code >= 400:
        raise RuntimeError(f"{method} {path} answered {response.status_code}: {response.text}")
    return response.json() if response.content else {}


def all_tenants(base: str) -> list[dict]:
    """Every page of GET /api/status, following its continuation token."""
    tenants, token = [], None
    while True:
        query = "?top=1000" + (f"&continuationToken={requests.utils.quote(token)}" if token else "")
        page = api(base, "GET", "/api/status" + query)
        tenants += page["tenants"]
        if not (token := page["continuationToken"]):
            return tenants


def seed(base: str, connection_string: str, secrets_file: Path) -> None:
    api(base, "PUT", "/api/settings", {"clientId": PROVIDER, "clientSecret": PROVIDER_SECRET,
                                       "redirectUrl": base + "/authenticate/OAuth2Callback"})
    for customer_id, body in CUSTOMERS.items():
        api(base, "PUT", f"/api/tenants/{customer_id}", body)
    customers = TableCustomerStore(table_service_from_config(StorageConfig(connection_string=connection_string)))
    store = LocalFileSecretStore(secrets_file)
    for customer_id, value in REFRESH_TOKENS.items():
        read = customers.get(customer_id)
        version = store.create_version(customer_id, SecretKind.REFRESH_TOKEN, value)
        customers.replace(read, dataclasses.replace(read, secret_versions={SecretKind.REFRESH_TOKEN: version}))
    methods = {m: sum(b["authenticationMethod"] == m for b in CUSTOMERS.values()) for m in ("password", "token",
                                                                                          "application")}
    print(f"{len(CUSTOMERS)} customers added: " + ", ".join(f"{n} by {m}" for m, n in methods.items()))


def grant_consent(base: str, customer_id: str, ca_bundle: str) -> None:
    """What the provider and the customer's admin do: ask for a Grant Consent link, open it, consent."""
    link = api(base, "POST", f"/api/consent/{customer_id}", {"loginHint": f"admin@{customer_id}.onmicrosoft.com"})
    print(f"\nGrant Consent for {customer_id}: a link valid until {link['expiresAt']}")
    authorize = requests.get(link["authorizationUrl"], allow_redirects=False, timeout=30, verify=ca_bundle)
    page = requests.get(authorize.headers["Location"], timeout=60)  # Microsoft sends the admin back here
    said = [html.unescape(re.sub(r"<[^>]+>", "", line)).strip() for line in re.findall(r"<p>(.*?)</p>", page.text)]
    print(f"  the admin opens it and consents; the page answers {page.status_code}: {' '.join(said[1:3])}")


def verify_all(base: str) -> None:
    run = api(base, "POST", "/api/runs")
    print(f"\nVerify All: run {run['runId']} started")
    last = None
    while True:
        run = api(base, "GET", f"/api/runs/{run['runId']}")
        progress = (run["completed"], run["total"], json.dumps(run["byStatus"]))
        if progress != last and run["total"]:
            by = run["byStatus"]
            print(f"  {run['completed']:>3}/{run['total']:<3} verified   succeeded {by['succeeded']}, "
                  f"failed {by['failed']}")
            last = progress
        if run["finishedAt"]:
            print(f"  finished at {run['finishedAt']}\n")
            return
        time.sleep(0.2)


def run_quietly(base: str) -> str:
    """Verify All, waiting for its end without printing progress; the run's id."""
    run = api(base, "POST", "/api/runs")
    while not api(base, "GET", f"/api/runs/{run['runId']}")["finishedAt"]:
        time.sleep(0.2)
    return run["runId"]


if __name__ == "__main__":
    raise SystemExit(main())
