"""Durations as users write them: `30s`, `10m`, `2h`, `3d` (a bare number is seconds)."""

from __future__ import annotations

import re

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_RE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$")


def parse_duration(value: str | int | float) -> float:
    """Seconds in `value`; ValueError with the accepted forms when it is not a duration."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        if value < 0:
            raise ValueError("a duration cannot be negative")
        return float(value)
    m = _RE.match(str(value))
    if not m:
        raise ValueError(f"{value!r} is not a duration: write e.g. 30s, 10m, 2h or 3d")
    return float(m.group(1)) * _UNITS[m.group(2) or "s"]
