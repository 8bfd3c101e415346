"""Times in the store: ISO 8601 in UTC with an explicit offset, so that text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import overload


def utcnow() -> datetime:
    return datetime.now(UTC)


@overload
def iso(dt: datetime) -> str: ...
@overload
def iso(dt: None) -> None: ...


def iso(dt: datetime | None) -> str | None:
    if dt is None:
        return None
    if dt.tzinfo is None:
        raise ValueError("naive datetime: give it a timezone first")
    return dt.astimezone(UTC).isoformat(timespec="seconds")


def iso_ms(dt: datetime) -> str:
    """To the microsecond, for times that pace deliveries (seconds would open a window early)."""
    return dt.astimezone(UTC).isoformat(timespec="microseconds")
