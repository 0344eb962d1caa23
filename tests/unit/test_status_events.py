"""Status events over fakes of every port: which recorded result makes which event, on every path that records
one (verify one, a run's groups, consent), handed to the store with the record; and the relay to the event log."""
from __future__ import annotations

import dataclasses
import logging
from datetime import UTC, datetime, timedelta
from urllib.parse import parse_qs, urlsplit

import pytest

from shared.domain.alerts.events import EventType, StatusPoint
from shared.domain.event_log import parse_event_log_line
from shared.domain.inputs import CustomerInput, ProviderSettingsInput
from shared.domain.models import AuthMethod, Status
from shared.domain.reasons import Reason
from shared.domain.runs import Trigger
from shared.domain.verification import TokenAnswer
from shared.domain.work import Watch, encode
from shared.usecases.consent import complete_consent, start_consent
from shared.usecases.customers import put_customer
from shared.usecases.events import RELAY_GRACE, relay, relay_left_behind
from shared.usecases.provider_settings import put_settings
from shared.usecases.runs import handle_work, start_run
from shared.usecases.verify import check, record_many, verify_customer

TENANT = "72f988bf-86f1-41af-91ab-2d7cd011db47"
APP = "aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"
PROVIDER = "11111111-2222-4333-8444-555555555555"
OK = TokenAnswer(claims={"tid": TENANT, "roles": ["User.Read.All"]})


def failing(code: int) -> TokenAnswer:
    return TokenAnswer(error="invalid_client", error_codes=(code,), description=f"AADSTS{code}: Something.")


def add(services, cid: str, tenant: str = TENANT):
    data = CustomerInput(tenant_id=tenant, authentication_method=AuthMethod.APPLICATION, application_id=APP,
                         application_secret="app-secret", m365_email=None)
    return put_customer(services.customers, services.secrets, cid, data)[0]


def verified(services, cid: str, answer: TokenAnswer, tenant: str = TENANT):
    services.verification.platform.script(tenant, answer)
    return verify_customer(services.verification, cid, in_run=False)


def kinds(services) -> list[tuple[EventType, str]]:
    return [(event.type, event.customer_id) for event in services.events.appended]


SEQUENCE = [  # answer -> the event it makes after the one before (None: none)
    (OK, None),  # notVerified -> succeeded: a first success tells no one anything new
    (OK, None),  # a repeat
    (failing(7000222), EventType.CONNECTION_LOST),
    (failing(7000222), None),
    (failing(7000215), EventType.REASON_CHANGED),
    (OK, EventType.CONNECTION_RESTORED),
]


def test_each_result_makes_the_event_its_change_makes_and_a_repeat_none(services):
    add(services, "c1")
    made = []
    for answer, _ in SEQUENCE:
        before = len(services.events.appended)
        verified(services, "c1", answer)
        new = services.events.appended[before:]
        made.append(new[0].type if new else None)
        assert len(new) <= 1
    assert made == [expected for _, expected in SEQUENCE]


def test_an_event_carries_both_states_the_customer_the_time_and_no_run_outside_runs(services):
    add(services, "c1")
    verified(services, "c1", OK)
    customer = verified(services, "c1", failing(7000222))
    (event,) = services.events.appended
    assert (event.customer_id, event.tenant_id, event.run_id) == ("c1", TENANT, None)
    assert event.before == StatusPoint(Status.SUCCEEDED, None)
    assert event.after == StatusPoint(Status.FAILED, Reason.CLIENT_SECRET_EXPIRED)
    assert event.at == customer.when_last_verified and len(event.event_id) == 32


def test_a_failure_from_not_verified_is_a_lost_connection(services):
    add(services, "c1")
    verified(services, "c1", failing(90002))
    assert kinds(services) == [(EventType.CONNECTION_LOST, "c1")]


def test_the_event_is_handed_to_the_store_with_the_record_and_the_outbox_is_empty_once_relayed(services):
    add(services, "c1")
    handed = []
    real_replace = services.customers.replace

    def replace(previous, customer, *, events=(), result=None):
        handed.append((customer.last_verification_status, [e.type for e in events]))
        saved = real_replace(previous, customer, events=events, result=result)
        assert services.customers.outbox  # written with the record, relayed only after
        return saved

    services.customers.replace = replace
    verified(services, "c1", failing(7000222))
    assert handed == [(Status.FAILED, [EventType.CONNECTION_LOST])]
    assert services.customers.outbox == {} and kinds(services) == [(EventType.CONNECTION_LOST, "c1")]


def test_a_run_records_its_groups_with_their_events_and_the_run_id(services):
    tenants = {f"c{n}": f"a000000{n}-0000-4000-8000-00000000000{n}" for n in range(1, 5)}
    for cid, tenant in tenants.items():
        add(services, cid, tenant)
        ok = TokenAnswer(claims={"tid": tenant, "roles": ["User.Read.All"]})
        services.verification.platform.script(tenant, failing(7000222) if cid in ("c1", "c3") else ok)
    run, _ = start_run(services.runs, services.work, trigger=Trigger.HTTP)
    while services.work.messages:
        handle_work(services.verification, services.runs, services.work, encode(services.work.messages.pop(0)))
    assert sorted(kinds(services)) == [(EventType.CONNECTION_LOST, "c1"), (EventType.CONNECTION_LOST, "c3")]
    assert {event.run_id for event in services.events.appended} == {run.run_id}


def test_a_group_recorded_in_one_write_hands_every_event_of_the_group_to_that_write(services):
    for n in range(1, 4):
        add(services, f"c{n}", f"a000000{n}-0000-4000-8000-00000000000{n}")
        services.verification.platform.script(f"a000000{n}-0000-4000-8000-00000000000{n}", failing(7000222))
    writes = []
    real = services.customers.replace_many

    def replace_many(changes, *, events=(), results=()):
        writes.append(sorted(e.customer_id for e in events))
        return real(changes, events=events, results=results)

    services.customers.replace_many = replace_many
    done = [check(services.verification, services.customers.get(f"c{n}"), in_run=True) for n in range(1, 4)]
    record_many(services.verification, done, run_id="r-1")
    assert writes == [["c1", "c2", "c3"]]
    assert sorted(kinds(services)) == [(EventType.CONNECTION_LOST, f"c{n}") for n in range(1, 4)]


def test_a_result_dropped_because_the_record_changed_makes_no_event(services):
    customer = add(services, "c1")
    services.verification.platform.script(TENANT, failing(7000222))
    done = check(services.verification, customer, in_run=False)
    put_customer(services.customers, services.secrets, "c1", CustomerInput(
        tenant_id="b0000000-0000-4000-8000-000000000000", authentication_method=AuthMethod.APPLICATION,
        application_id=APP, m365_email=None))  # another tenant: the verification read the old inputs
    record_many(services.verification, [done])
    assert services.events.appended == [] and services.customers.outbox == {}


def test_the_relay_logs_the_event_line_once_per_event(services, caplog):
    add(services, "c1")
    verified(services, "c1", OK)
    with caplog.at_level(logging.INFO, logger="shared.usecases.events"):
        verified(services, "c1", failing(7000222))
    lines = [parse_event_log_line(r.getMessage()) for r in caplog.records]
    (line,) = [line for line in lines if line is not None]
    (event,) = services.events.appended
    assert line["type"] == "connectionLost" and line["eventId"] == event.event_id and line["fromStatus"] == "succeeded"


class BrokenLog:
    def append_many(self, events):
        raise ConnectionError("storage down")


def test_a_relay_that_fails_leaves_the_events_in_the_outbox_and_the_result_recorded(services):
    add(services, "c1")
    broken = dataclasses.replace(services.verification, event_log=BrokenLog())
    services.verification.platform.script(TENANT, failing(7000222))
    customer = verify_customer(broken, "c1", in_run=False)
    assert customer.last_verification_status is Status.FAILED
    ((events, _),) = services.customers.outbox.values()
    assert [e.type for e in events] == [EventType.CONNECTION_LOST] and services.events.appended == []


def test_what_a_writer_left_behind_is_relayed_once_after_the_grace(services):
    add(services, "c1")
    broken = dataclasses.replace(services.verification, event_log=BrokenLog())
    services.verification.platform.script(TENANT, failing(7000222))
    verify_customer(broken, "c1", in_run=False)  # the host "died" before its relay
    assert relay_left_behind(services.customers, services.events) == 0  # still the writer's to relay
    later = datetime.now(UTC) + RELAY_GRACE + timedelta(seconds=1)
    assert relay_left_behind(services.customers, services.events, now=later) == 1
    assert relay_left_behind(services.customers, services.events, now=later + RELAY_GRACE * 2) == 0
    assert kinds(services) == [(EventType.CONNECTION_LOST, "c1")] and services.customers.outbox == {}


def test_relaying_nothing_is_nothing(services):
    assert relay(services.customers, services.events, []) is True
    assert services.events.appended == []


def add_password_customer(services) -> None:
    put_settings(services.provider_settings, services.secrets, ProviderSettingsInput(
        client_id=PROVIDER, redirect_url="https://tas.example.com/authenticate/OAuth2Callback",
        client_secret="provider-secret"))
    put_customer(services.customers, services.secrets, "c1", CustomerInput(
        tenant_id=TENANT, authentication_method=AuthMethod.PASSWORD, m365_email="a@contoso.com", password="pw"))


def consent_granted(services, answer: TokenAnswer) -> None:
    """Grant Consent for c1 (method token); its verification then gets `answer`."""
    link = start_consent(services.consent, "c1", method=AuthMethod.TOKEN, login_hint=None)
    services.consent.platform.redeemed = TokenAnswer(
        claims={}, identity={"tid": TENANT, "preferred_username": "a@contoso.com"}, refresh_token="rt-1")
    services.verification.platform.script(TENANT, answer)
    state = parse_qs(urlsplit(link.authorization_url).query)["state"][0]
    complete_consent(services.consent, {"state": state, "code": "c0de"})


@pytest.mark.parametrize("answer, expected", [(OK, []), (failing(700082), [EventType.CONNECTION_LOST])])
def test_a_granted_consent_records_its_verification_with_its_event_outside_runs(services, answer, expected):
    add_password_customer(services)
    consent_granted(services, answer)
    # A granted consent makes the record never verified; its verification is a first result from there.
    assert [e.type for e in services.events.appended] == expected
    assert all(event.run_id is None for event in services.events.appended)


def test_a_runs_watch_relays_what_a_writer_left_in_the_outbox(services):
    add(services, "c1")
    broken = dataclasses.replace(services.verification, event_log=BrokenLog())
    services.verification.platform.script(TENANT, failing(7000222))
    verify_customer(broken, "c1", in_run=False)
    ((key, (events, _)),) = services.customers.outbox.items()
    services.customers.outbox[key] = (events, datetime.now(UTC) - RELAY_GRACE * 2)  # left behind a while ago
    run, _ = start_run(services.runs, services.work, trigger=Trigger.HTTP)
    handle_work(services.verification, services.runs, services.work, encode(Watch(run.run_id)))
    assert kinds(services) == [(EventType.CONNECTION_LOST, "c1")] and services.customers.outbox == {}


def test_a_chunk_relays_the_events_of_all_its_groups_in_one_append_before_its_run_finishes(services):
    for n in range(1, 7):
        tenant = f"a000000{n}-0000-4000-8000-00000000000{n}"
        add(services, f"c{n}", tenant)
        services.verification.platform.script(tenant, failing(7000222))
    appends, real = [], services.events.append_many

    def append_many(events):
        appends.append(len(events))
        real(events)

    services.events.append_many = append_many
    run, _ = start_run(services.runs, services.work, trigger=Trigger.HTTP)
    while services.work.messages:
        handle_work(services.verification, services.runs, services.work, encode(services.work.messages.pop(0)))
    assert appends == [6] and services.customers.outbox == {}
    assert services.runs.get(run.run_id).finished_at is not None


def edit(services, cid: str, secret: str):
    """A PUT that changes the customer's verification inputs (a new secret): its status is back to notVerified."""
    data = CustomerInput(tenant_id=TENANT, authentication_method=AuthMethod.APPLICATION, application_id=APP,
                         application_secret=secret, m365_email=None)
    customer = put_customer(services.customers, services.secrets, cid, data)[0]
    assert customer.last_verification_status is Status.NOT_VERIFIED
    return customer


def test_a_failure_restored_after_an_edit_is_a_restored_connection_from_the_failure(services):
    add(services, "c1")
    verified(services, "c1", failing(7000222))
    edit(services, "c1", "new-secret")
    edit(services, "c1", "newer-secret")  # a second edit still remembers the failure
    verified(services, "c1", OK)
    assert kinds(services) == [(EventType.CONNECTION_LOST, "c1"), (EventType.CONNECTION_RESTORED, "c1")]
    restored = services.events.appended[-1]
    assert (restored.before, restored.after) == (StatusPoint(Status.FAILED, Reason.CLIENT_SECRET_EXPIRED),
                                                 StatusPoint(Status.SUCCEEDED))
    verified(services, "c1", OK)  # the result cleared what the reset remembered: a repeat again
    assert len(services.events.appended) == 2


@pytest.mark.parametrize("first", [None, OK], ids=["never verified", "succeeded"])
def test_a_success_after_an_edit_of_a_customer_not_failing_makes_no_event(services, first):
    add(services, "c1")
    if first is not None:
        verified(services, "c1", first)
    edit(services, "c1", "new-secret")
    verified(services, "c1", OK)
    assert kinds(services) == []


@pytest.mark.parametrize("answer, expected", [(failing(7000222), []), (failing(7000215), [EventType.REASON_CHANGED])],
                         ids=["same reason", "another reason"])
def test_a_failure_after_an_edit_of_a_failing_customer_is_compared_with_that_failure(services, answer, expected):
    add(services, "c1")
    verified(services, "c1", failing(7000222))
    edit(services, "c1", "new-secret")
    verified(services, "c1", answer)
    assert [e.type for e in services.events.appended[1:]] == expected


def test_a_failure_restored_after_a_consent_is_a_restored_connection(services):
    add_password_customer(services)
    verified(services, "c1", failing(50076))
    consent_granted(services, OK)
    assert kinds(services) == [(EventType.CONNECTION_LOST, "c1"), (EventType.CONNECTION_RESTORED, "c1")]
    assert services.events.appended[-1].before == StatusPoint(Status.FAILED, Reason.MFA_REQUIRED)
