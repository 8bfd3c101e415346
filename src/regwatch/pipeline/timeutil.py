"""Times in the store: ISO 8601 in UTC with an explicit offset, so that text order is time order."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import overload

# how far this host's clock is behind the store's (a PostgreSQL server's, on another host): `utcnow` adds it, so that
# processes on several hosts write and compare the store's times (claims, leases, retries, digests) by one clock
_behind = timedelta(0)


def host_now() -> datetime:
    """This host's clock, as it is."""
    return datetime.now(UTC)


def utcnow() -> datetime:
    """Now, by the store's clock: this host's, unless `follow_clock` found it off by the tolerance or more."""
    return host_now() + _behind


def follow_clock(behind: float, tolerance: float) -> bool:
    """Keep `utcnow` by a clock `behind` seconds ahead of this host's (negative: behind it) when it differs by
    `tolerance` or more (less: this host's clock, in step); whether what `utcnow` follows changed."""
    global _behind
    new = timedelta(seconds=behind if abs(behind) >= tolerance else 0)
    if new == _behind or (new and _behind and abs((new - _behind).total_seconds()) < tolerance):
        return False
    _behind = new
    return True


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
