"""Deliveries past their retention: the daily maintenance step deletes sent and failed deliveries older than 30
days, and keeps pending ones and younger ones."""
from __future__ import annotations

import logging
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from azure.functions.timer import TimerRequest

from shared.domain.alerts.channels import AlertChannel, ChannelKind
from shared.domain.alerts.deliveries import RETENTION, DeliveryState, new_delivery
from shared.domain.alerts.digests import Batch, DigestEntry, EntryKind, build_digest
from shared.domain.alerts.events import EventType
from shared.usecases.alert_dispatch import forget_expired_deliveries

NOW = datetime(2026, 12, 3, 3, 30, tzinfo=UTC)


def keep(store, key: str, *, age: timedelta, state: DeliveryState) -> str:
    made = NOW - age
    channel = AlertChannel("ops", ChannelKind.WEBHOOK, frozenset(EventType))
    entry = DigestEntry(EntryKind.CONNECTION_LOST, "c1", "contoso.com", made)
    delivery = new_delivery(build_digest(channel, Batch(key, None, ()), [entry], created_at=made), now=made)
    if state is not DeliveryState.PENDING:
        delivery = replace(delivery, state=state, next_attempt_at=None)
    return store.add(delivery).delivery_id


def test_sent_and_failed_deliveries_older_than_30_days_are_deleted_and_no_others(services):
    store = services.deliveries
    old = RETENTION + timedelta(minutes=1)
    gone = {keep(store, "a", age=old, state=DeliveryState.SENT), keep(store, "b", age=old, state=DeliveryState.FAILED)}
    kept = {keep(store, "c", age=old, state=DeliveryState.PENDING),
            keep(store, "d", age=RETENTION - timedelta(minutes=1), state=DeliveryState.SENT)}
    assert forget_expired_deliveries(store, now=NOW) == 2
    assert set(store.deliveries) == kept and not gone & set(store.deliveries)


def test_the_maintenance_timer_deletes_them_and_says_how_many(services, caplog):
    from functions import maintenance

    keep(services.deliveries, "a", age=timedelta(days=400), state=DeliveryState.SENT)
    with caplog.at_level(logging.INFO):
        maintenance.maintenance(TimerRequest())
    assert services.deliveries.deliveries == {}
    assert "1 alert deliveries past their retention deleted." in caplog.text


def test_the_maintenance_timer_deletes_the_batches_of_runs_done_past_the_retention(services, caplog):
    from functions import maintenance
    from shared.domain.alerts.batches import BatchHead

    follower = services.alert_follower
    follower.put_batch_head(None, BatchHead("run:old", 1, 0, 7, done=True))
    follower.put_batch_head(None, BatchHead("run:recent", 1, 7, 9, done=True))
    follower.recorded_at["run:old"] = datetime.now(UTC) - RETENTION - timedelta(minutes=1)
    with caplog.at_level(logging.INFO):
        maintenance.maintenance(TimerRequest())
    assert set(follower.heads) == {"run:recent"}
    assert "1 alert batches of old runs deleted." in caplog.text
