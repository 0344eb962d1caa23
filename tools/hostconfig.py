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
_TIMESPAN = re.compile(r"(?:(\d+)\.)?(\d{1,2}):(\d{2}):(\d{2}(?:\.\d+)?)")


class HostConfigError(ValueError):
    """A settings, host.json or function problem the host refuses to start with."""


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, ValueError) as exc:
        raise HostConfigError(f"{path} is not valid JSON: {exc}.") from None


def load_local_settings(path: Path, environ: MutableMapping[str, str] | None = None) -> list[str]:
    """Copy `Values` into the environment without overriding what is set, as `func start` does; the names set."""
    environ = os.environ if environ is None else environ
    if not path.is_file():
        return []
    values = (_read_json(path) or {}).get("Values") or {}
    if not isinstance(values, dict):
        raise HostConfigError(f"{path}: 'Values' must be an object of strings.")
    applied = [name for name, value in values.items() if name not in environ and value is not None]
    for name in applied:
        environ[name] = str(values[name])
    return applied


def resolve_settings(text: str, environ: Mapping[str, str] | None = None) -> str:
    """Replace every `%NAME%` with that app setting, as binding expressions do; a missing one is an error."""
    environ = os.environ if environ is None else environ

    def value_of(match: re.Match[str]) -> str:
        if match.group(1) not in environ:
            raise HostConfigError(f"The app setting '{match.group(1)}' (used as '{match.group(0)}') is not set.")
        return environ[match.group(1)]

    return _SETTING_REF.sub(value_of, text)


def timespan_seconds(text: str) -> float | None:
    """A .NET TimeSpan such as "00:00:30" (or [d.]hh:mm:ss[.fff]) in seconds; None when it is not one."""
    match = _TIMESPAN.fullmatch(text.strip())
    if not match:
        return None
    days, hours, minutes, seconds = match.groups()
    return int(days or 0) * 86400 + int(hours) * 3600 + int(minutes) * 60 + float(seconds)


def _duration(queues: Mapping[str, Any], name: str, default: float) -> float:
    value = queues.get(name)
    seconds = default if value is None else timespan_seconds(str(value))
    if seconds is None:
        raise HostConfigError(f"host.json extensions.queues.{name} must be a duration like \"00:00:30\".")
    return seconds


def default_new_batch_threshold(batch_size: int) -> int:
    """The host's default: batchSize / 2 per processor."""
    return batch_size // 2 * (os.cpu_count() or 1)


@dataclass(frozen=True)
class QueueOptions:
    """host.json `extensions.queues`, with the host's defaults."""

    max_dequeue_count: int = 5
    message_encoding: str = "base64"
    batch_size: int = 16
    # The next batch is fetched once the messages in flight drop to this many.
    new_batch_threshold: int = default_new_batch_threshold(16)
    max_polling_interval: float = 60.0
    visibility_timeout: float = 0.0  # how long a failed message stays hidden before its next try


@dataclass(frozen=True)
class HostConfig:
    route_prefix: str = "api"
    queues: QueueOptions = QueueOptions()


def load_host_config(path: Path) -> HostConfig:
    if not path.is_file():
        logger.warning("%s not found: using the host defaults (routePrefix 'api').", path)
        return HostConfig()
    extensions = _read_json(path).get("extensions") or {}
    queues = extensions.get("queues") or {}
    encoding = str(queues.get("messageEncoding", "base64")).lower()
    batch_size = int(queues.get("batchSize", 16))
    threshold = queues.get("newBatchThreshold")
    options = QueueOptions(
        max_dequeue_count=int(queues.get("maxDequeueCount", 5)),
        message_encoding=encoding,
        batch_size=batch_size,
        new_batch_threshold=default_new_batch_threshold(batch_size) if threshold is None else int(threshold),
        max_polling_interval=_duration(queues, "maxPollingInterval", 60.0),
        visibility_timeout=_duration(queues, "visibilityTimeout", 0.0),
    )
    if encoding not in {"base64", "none"} or options.max_dequeue_count < 1 or not 1 <= batch_size <= 32 \
            or options.new_batch_threshold < 0:
        raise HostConfigError("host.json extensions.queues: messageEncoding must be base64 or none, "
                              "maxDequeueCount >= 1, batchSize 1..32 and newBatchThreshold >= 0.")
    route_prefix = str((extensions.get("http") or {}).get("routePrefix", "api")).strip("/")
    return HostConfig(route_prefix=route_prefix, queues=options)
