"""Digest schedules: `hourly`, `daily HH:MM` or `daily` (09:00), in the `[display] tz` zone (Beijing time by default)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ..defaults import DISPLAY_TZ
from ..pipeline.timeutil import utcnow


def next_digest_time(spec: str, now: datetime | None = None, tz: str = DISPLAY_TZ) -> datetime:
    now = (now or utcnow()).astimezone(ZoneInfo(tz))     # (the store's clock: digests are due by it)
    if spec == "hourly":
        nxt = now.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
    else:
        hh, mm = (spec.split(" ", 1)[1] if " " in spec else "09:00").split(":")
        nxt = now.replace(hour=int(hh), minute=int(mm), second=0, microsecond=0)
        if nxt <= now:
            nxt += timedelta(days=1)
    return nxt.astimezone(UTC)
