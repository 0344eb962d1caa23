"""How the tables' columns hold values: times in UTC, ints, enums read tolerantly, keys that sort newest first."""
from __future__ import annotations

import enum
import logging
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

from ..domain.models import Status
from ..domain.reasons import Reason

logger = logging.getLogger(__name__)

E = TypeVar("E", bound=enum.Enum)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_INVERT_FROM = 10**20 - 1  # 20 digits: keys made from later moments sort first as plain strings


def newest_first_key(moment: datetime) -> str:
    """A key part that sorts newest first: every moment before `moment` has a larger key than this."""
    micros = (utc(moment) - _EPOCH) // timedelta(microseconds=1)
    return f"{_INVERT_FROM - micros:020d}"


def moment_of_newest_first_key(key: str) -> datetime:
    """The moment newest_first_key(moment) was made from."""
    return _EPOCH + timedelta(microseconds=_INVERT_FROM - int(key))


def without_none(entity: dict[str, Any]) -> dict[str, Any]:
    # A missing column is how Table Storage says null; REPLACE then also clears a column set before.
    return {name: value for name, value in entity.items() if value is not None}


def utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    # Naive values are taken as UTC: the SDK would otherwise read them as the machine's local time.
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def plain_datetime(value: Any) -> datetime | None:
    """The SDK's TablesEntityDatetime (which remembers the service's text) as a plain aware datetime."""
    moment = utc(value)
    if moment is None:
        return None
    return datetime(
        moment.year, moment.month, moment.day, moment.hour, moment.minute, moment.second, moment.microsecond,
        tzinfo=UTC,
    )


def int_or_none(value: Any) -> int | None:
    if value is None:
        return None
    return int(getattr(value, "value", value))  # an Edm.Int64 column arrives as an EntityProperty


def known(kind: type[E], value: Any, *, default: E) -> E | None:
    """Tolerates values another version wrote, so one odd row cannot break a whole list."""
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        logger.warning("Unknown %s %r in Table Storage; read as %s.", kind.__name__, value, default.value)
        return default


def status_of(value: Any) -> Status:
    return known(Status, value, default=Status.NOT_VERIFIED) or Status.NOT_VERIFIED


def reason_of(value: Any) -> Reason | None:
    return known(Reason, value, default=Reason.UNKNOWN_ERROR)
