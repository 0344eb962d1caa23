"""host.json's queue settings: how a failed work message is tried again before it is given up on."""
import json
from pathlib import Path

import function_app

STORAGE_BLIP_SECONDS = 120  # a storage account's transient outage (a throttling spell, a front-end restart)


def _host() -> dict:
    return json.loads((Path(function_app.__file__).parent / "host.json").read_text(encoding="utf-8"))


def _seconds(timespan: str) -> float:
    hours, minutes, seconds = timespan.split(":")  # hh:mm:ss, as this file writes TimeSpans
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def test_a_failed_message_is_tried_again_after_a_pause_not_at_once():
    """The host's default visibilityTimeout is 0: with maxPollingInterval 2 s a chunk that fails during a
    storage blip would use its 5 tries in about 10 s and land in verify-requests-poison."""
    queues = _host()["extensions"]["queues"]
    assert "visibilityTimeout" in queues, "without it the host retries a failed message at once"
    pause = _seconds(queues["visibilityTimeout"])
    tries = queues.get("maxDequeueCount", 5)
    assert (tries - 1) * pause >= STORAGE_BLIP_SECONDS, (tries, pause)


def test_a_retried_message_comes_back_before_a_run_counts_as_stalled():
    """Beyond STALL_AFTER without progress a run re-sends its outstanding customers: a message that failed
    once should be back before that, so a blip does not look like a dead worker."""
    from shared.usecases.runs import STALL_AFTER

    pause = _seconds(_host()["extensions"]["queues"]["visibilityTimeout"])
    assert 0 < pause < STALL_AFTER.total_seconds()
