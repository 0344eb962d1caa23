"""What the Functions host reads before it starts: local.settings.json, host.json, and %SETTING% names."""
from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

_SETTING_REF = re.compile(r"%([^%\s]+)%")


class HostConfigError(ValueError):
    """A settings or host.json problem the host would refuse to start with."""


def load_local_settings(path: Path, environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Copy `Values` into the environment without overriding what is already set, as `func start` does.

    Returns the names it set (never the values: they may be secrets).
    """
    environ = os.environ if environ is None else environ
    if not path.is_file():
        return []
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise HostConfigError(f"{path} is not valid JSON: {exc}.") from None
    if not isinstance(document, dict):
        raise HostConfigError(f"{path} must hold a JSON object.")
    if document.get("IsEncrypted") is True:
        raise HostConfigError(f"{path} is encrypted (IsEncrypted: true); this host reads plain values only.")
    values = document.get("Values") or {}
    if not isinstance(values, dict):
        raise HostConfigError(f"{path}: 'Values' must be an object of strings.")
    applied = []
    for name, value in values.items():
        if name in environ or value is None:
            continue
        environ[name] = value if isinstance(value, str) else json.dumps(value)
        applied.append(name)
    return applied


def resolve_settings(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace every `%NAME%` with that app setting, as binding expressions do; a missing one is an error."""
    environ = os.environ if environ is None else environ

    def value_of(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in environ:
            raise HostConfigError(f"The app setting '{name}' (used as '%{name}%') is not set.")
        return environ[name]

    return _SETTING_REF.sub(value_of, text)


def _duration_seconds(value: Any, name: str, default: float) -> float:
    """host.json durations are TimeSpan strings such as "00:00:30" (or [d.]hh:mm:ss[.fff])."""
    if value is None:
        return default
    match = re.fullmatch(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)", str(value).strip())
    if not match:
        raise HostConfigError(f"host.json {name} must be a duration like \"00:00:30\", not {value!r}.")
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def default_new_batch_threshold(batch_size: int) -> int:
    """The host's default: batchSize / 2 per processor (what `func start` computes; 1 processor on Consumption)."""
    return batch_size // 2 * (os.cpu_count() or 1)


@dataclass(frozen=True)
class QueueOptions:
    max_dequeue_count: int = 5
    message_encoding: str = "base64"  # the host's default; "none" when host.json says so
    batch_size: int = 16
    # The next batch is fetched once the messages in flight drop to this many, so at most batch_size +
    # new_batch_threshold run at once (messages wait for a free invocation thread: tools/queues.py).
    new_batch_threshold: int = default_new_batch_threshold(16)
    max_polling_interval: float = 2.0  # the host idles up to 1 min between polls; 2 s at most here
    visibility_timeout: float | None = None  # retry delay after a failure; None: the devserver's default


@dataclass(frozen=True)
class HostConfig:
    route_prefix: str = "api"
    queues: QueueOptions = QueueOptions()


def load_host_config(path: Path) -> HostConfig:
    if not path.is_file():
        logger.warning("%s not found: using the host defaults (routePrefix 'api').", path)
        return HostConfig()
    try:
        document = json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise HostConfigError(f"{path} is not valid JSON: {exc}.") from None
    extensions = document.get("extensions") or {}
    http = extensions.get("http") or {}
    queues = extensions.get("queues") or {}
    encoding = str(queues.get("messageEncoding", "base64")).lower()
    if encoding not in {"base64", "none"}:
        raise HostConfigError(
            f"host.json extensions.queues.messageEncoding must be base64 or none, not {encoding!r}.")
    max_dequeue = int(queues.get("maxDequeueCount", 5))
    batch_size = int(queues.get("batchSize", 16))
    if max_dequeue < 1 or not 1 <= batch_size <= 32:
        raise HostConfigError("host.json queues: maxDequeueCount must be >= 1 and batchSize 1..32.")
    threshold = queues.get("newBatchThreshold")
    threshold = default_new_batch_threshold(batch_size) if threshold is None else int(threshold)
    if threshold < 0:
        raise HostConfigError("host.json queues: newBatchThreshold must be >= 0.")
    interval = _duration_seconds(queues.get("maxPollingInterval"), "queues.maxPollingInterval", 2.0)
    visibility = queues.get("visibilityTimeout")
    return HostConfig(
        route_prefix=str(http.get("routePrefix", "api")).strip("/"),
        queues=QueueOptions(
            max_dequeue_count=max_dequeue,
            message_encoding=encoding,
            batch_size=batch_size,
            new_batch_threshold=threshold,
            max_polling_interval=min(interval, 2.0),  # a developer should not wait a minute for a message
            visibility_timeout=None if visibility is None else _duration_seconds(
                visibility, "queues.visibilityTimeout", 0.0),
        ),
    )
