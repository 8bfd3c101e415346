"""Durations as users write them: `30s`, `10m`, `2h`, `3d` (a bare number is seconds)."""

from __future__ import annotations

import math
import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


LONGEST = 100 * 365 * 86400   # no duration a user means is longer; past it, datetime arithmetic overflows


def parse_duration(value: str | int | float) -> float:
    """Seconds in `value`; ValueError with the accepted forms when it is not a duration (negative,
    infinite, not a number, or longer than 100 years are not durations)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        seconds = float(value)
        if not math.isfinite(seconds):
            raise ValueError(f"{value!r} is not a duration: write e.g. 30s, 10m, 2h or 3d")
    else:
        m = _RE.match(str(value))
        if not m:
            raise ValueError(f"{value!r} is not a duration: write e.g. 30s, 10m, 2h or 3d")
        seconds = float(m.group(1)) * _UNITS[m.group(2) or "s"]
    if seconds < 0:
        raise ValueError("a duration cannot be negative")
    if seconds > LONGEST:
        raise ValueError(f"{value!r} is longer than 100 years")
    return seconds


def format_duration(seconds: float) -> str:
    """`90` → `90s`, `600` → `10m`: how a duration is written back to the user."""
    for unit, n in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= n and seconds % n == 0:
            return f"{int(seconds // n)}{unit}"
    return f"{seconds:g}s"
