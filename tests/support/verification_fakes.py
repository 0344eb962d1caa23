"""In-memory fakes of the verification ports (identity platform, runs, work queue), for unit tests."""
from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from shared.domain.consent import AuthorizationRequest, ClaimedState
from shared.domain.errors import DependencyUnavailable
from shared.domain.models import Status
from shared.domain.runs import RecoveryCause, Run, is_running
from shared.domain.verification import AppCredential, TokenAnswer
from shared.domain.work import Work


class ScriptedPlatform:
    """Answers per tenant, as scripted; records every request (never a secret value, only what was used)."""

    def __init__(self) -> None:
        self.answers: dict[str, TokenAnswer | Callable[[], TokenAnswer]] = {}
        self.calls: list[tuple[str, str, str]] = []  # (grant, tenant, client id)
        self.sent: list[str] = []  # the credential values sent, for the tests that check what was used
        self._lock = threading.Lock()

    def script(self, tenant: str, answer: TokenAnswer | Callable[[], TokenAnswer]) -> None:
        self.answers[tenant] = answer

    def _answer(self, grant: str, tenant: str, app: AppCredential, credential: str) -> TokenAnswer:
        with self._lock:
            self.calls.append((grant, tenant, app.client_id))
            self.sent.append(credential)
        answer = self.answers.get(tenant, TokenAnswer(claims={"tid": tenant}))
        return answer() if callable(answer) else answer

    def with_password(self, *, tenant, app, username, password, deadline):
        return self._answer("password", tenant, app, password)

    def with_refresh_token(self, *, tenant, app, refresh_token, deadline):
        return self._answer("refresh_token", tenant, app, refresh_token)

    def with_client_credentials(self, *, tenant, app, deadline):
        return self._answer("client_credentials", tenant, app, app.secret)


class InMemoryRunStore:
    def __init__(self) -> None:
        self.runs: dict[str, Run] = {}
        self.members: dict[str, dict[str, Status | None | str]] = {}  # run -> customer -> outcome or "pending"
        self.fanned: set[str] = set()
        self.current: str | None = None
        self.pruned: dict[str, Run] = {}  # run -> its figures when its markers were dropped
        self.progress: dict[str, datetime] = {}  # run -> its last progress (tests move it back)
        self.recovery: dict[str, dict[str, Any]] = {}  # run -> resent, stalls, causes
        self._lock = threading.Lock()

    def start(self, run: Run, *, stale_after: timedelta) -> tuple[Run, bool]:
        with self._lock:
            if self.current is not None:
                running = self._view(self.current)
                if is_running(running, now=datetime.now(UTC), stale_after=stale_after):
                    return running, False
            self.runs[run.run_id] = run
            self.members[run.run_id] = {}
            self.recovery[run.run_id] = {"resent": 0, "stalls": 0, "causes": frozenset()}
            self.current = run.run_id
            self._progressed(run.run_id)
            return self._view(run.run_id), True

    def enrol(self, run_id: str, customer_ids: list[str]) -> bool:
        with self._lock:
            if run_id not in self.runs or run_id in self.fanned:
                return False
            for customer_id in customer_ids:
                self.members[run_id].setdefault(customer_id, "pending")
            self._progressed(run_id)
            return True

    def mark_fanned_out(self, run_id: str) -> None:
        self.fanned.add(run_id)

    def complete(self, run_id: str, customer_id: str, status: Status | None) -> bool:
        with self._lock:
            if self.members[run_id].get(customer_id) != "pending":
                return False
            if status is None:
                del self.members[run_id][customer_id]
            else:
                self.members[run_id][customer_id] = status
            self._progressed(run_id)
            return True

    def complete_many(self, run_id: str, outcomes) -> int:
        return sum(self.complete(run_id, customer_id, status) for customer_id, status in outcomes.items())

    def list_pending(self, run_id: str, among=None) -> list[str]:
        with self._lock:
            members = self.members.get(run_id, {})
            return sorted(c for c, o in members.items() if o == "pending" and (among is None or c in among))

    def mark_alive(self, run_id: str) -> None:
        with self._lock:
            self._progressed(run_id)

    def give_up(self, run_id: str, customer_ids, *, cause: RecoveryCause) -> int:
        self.note_recovery(run_id, cause=cause)
        with self._lock:
            members = self.members[run_id]
            ids = [c for c in (members if customer_ids is None else customer_ids) if members.get(c) == "pending"]
            for customer_id in ids:
                members[customer_id] = "givenUp"
            self._progressed(run_id)
            return len(ids)

    def note_recovery(self, run_id: str, *, cause: RecoveryCause, resent: int = 0, stall: int | None = None) -> bool:
        with self._lock:
            if run_id not in self.runs:
                return False
            noted = self.recovery[run_id]
            if stall is not None and noted["stalls"] != stall:
                return False
            noted["causes"] = noted["causes"] | {cause}
            noted["resent"] += resent
            noted["stalls"] += stall is not None
            self._progressed(run_id)
            return True

    def finish(self, run_id: str) -> Run | None:
        with self._lock:
            run = self._view(run_id)
            if run.finished_at is not None or run_id not in self.fanned or run.completed + run.given_up != run.total:
                return None
            self.runs[run_id] = dataclasses.replace(self.runs[run_id], finished_at=datetime.now(UTC))
            return self._view(run_id)

    def prune(self, *, started_before: datetime) -> int:
        with self._lock:
            old = [r for r, run in self.runs.items() if run.started_at < started_before and r not in self.pruned]
            for run_id in old:
                self.pruned[run_id] = self._view(run_id)
                self.members[run_id] = {}
            return len(old)

    def get(self, run_id: str) -> Run | None:
        with self._lock:
            return self._view(run_id) if run_id in self.runs else None

    def list_recent(self, *, top: int) -> list[Run]:
        with self._lock:
            return sorted((self._view(r) for r in self.runs), key=lambda r: r.started_at, reverse=True)[:top]

    def _progressed(self, run_id: str) -> None:
        self.progress[run_id] = datetime.now(UTC)

    def _view(self, run_id: str) -> Run:
        if run_id in self.pruned:
            return dataclasses.replace(self.pruned[run_id], finished_at=self.runs[run_id].finished_at)
        outcomes = list(self.members[run_id].values())
        done = [o for o in outcomes if o not in ("pending", "givenUp")]
        by_status = {status: sum(1 for o in done if o == status) for status in Status}
        noted = self.recovery.get(run_id, {"resent": 0, "stalls": 0, "causes": frozenset()})
        return dataclasses.replace(
            self.runs[run_id], total=len(outcomes), completed=len(done), by_status=by_status,
            last_progress_at=self.progress.get(run_id), fanned_out=run_id in self.fanned,
            given_up=outcomes.count("givenUp"), resent=noted["resent"], stalls=noted["stalls"],
            causes=noted["causes"])


class InMemoryWorkQueue:
    def __init__(self) -> None:
        self.messages: list[Work] = []
        self.delayed: list[tuple[Work, timedelta]] = []  # sent with a delay (a run's watch): not yet visible

    def send(self, work: list[Work], *, delay: timedelta | None = None) -> None:
        if delay is None:
            self.messages.extend(work)
        else:
            self.delayed.extend((item, delay) for item in work)


class InMemoryConsentStates:
    def __init__(self) -> None:
        self.rows: dict[str, ClaimedState] = {}
        self._lock = threading.Lock()

    def create(self, hashed: str, *, customer_id: str, expires_at: datetime) -> None:
        self.rows[hashed] = ClaimedState(customer_id, expires_at)

    def claim(self, hashed: str) -> ClaimedState | None:
        with self._lock:
            return self.rows.pop(hashed, None)

    def delete_expired(self, *, expired_before: datetime) -> int:
        with self._lock:
            old = [hashed for hashed, row in self.rows.items() if row.expires_at < expired_before]
            for hashed in old:
                del self.rows[hashed]
            return len(old)


class ScriptedConsentPlatform:
    """Consent links that point nowhere, code redemptions answered as scripted, and domains resolved from
    `domains` (a domain not in it is unknown; `unreachable` makes every lookup fail as a dead network would)."""

    def __init__(self) -> None:
        self.redeemed: TokenAnswer = TokenAnswer(claims={}, identity={}, refresh_token="rt-from-consent")
        self.flows: list[str] = []
        self.domains: dict[str, str] = {}
        self.unreachable = False
        self.lookups: list[str] = []

    def authorization_request(self, *, tenant, client_id, client_secret, redirect_uri, scopes, state, login_hint):
        flow = f'{{"state": "{state}", "code_verifier": "verifier-{len(self.flows)}"}}'
        self.flows.append(flow)
        return AuthorizationRequest(url=f"https://login.example/{tenant}/authorize?state={state}", flow=flow)

    def admin_consent_url(self, *, tenant, client_id, redirect_uri, scope, state):
        return f"https://login.example/{tenant}/v2.0/adminconsent?state={state}"

    def redeem_code(self, *, tenant, app, flow, response, deadline):
        assert flow in self.flows, "redeemed with a flow that was never made"
        return self.redeemed

    def tenant_of_domain(self, domain, *, deadline):
        self.lookups.append(domain)
        if self.unreachable:
            raise DependencyUnavailable("identityPlatformUnavailable", "The identity platform could not be reached.")
        return self.domains.get(domain)
