"""Publication times as Chinese and English pages write them, read in the source's timezone."""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

from dateutil import parser as du

EARLIEST = datetime(1990, 1, 1, tzinfo=timezone.utc)

_FULL = re.compile(
    r"(?P<y>(?:19|20)\d{2})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:[T\s]*(?P<H>\d{1,2})\s*[:：时]\s*(?P<M>\d{1,2})(?:\s*[:：分]\s*(?P<S>\d{1,2}))?)?"
)
_SHORT_YEAR = re.compile(r"(?<!\d)(?P<y>\d{2})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:\s+(?P<H>\d{1,2}):(?P<M>\d{2}))?(?!\d)")
_NO_YEAR = re.compile(r"(?<![\d-])(?P<m>\d{1,2})[-月/](?P<d>\d{1,2})日?\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?!\d)")
_UNIX = re.compile(r"(?<!\d)(1[2-9]\d{8})(\d{3})?(?!\d)")


def zone(tz: str | None) -> ZoneInfo:
    return ZoneInfo(tz or "Asia/Shanghai")


def sane(dt: datetime | None, now: datetime | None = None) -> datetime | None:
    """None for times before 1990 or more than a day in the future (a typo, a countdown, an expiry)."""
    if dt is None:
        return None
    now = now or datetime.now(timezone.utc)
    if dt < EARLIEST or dt > now + timedelta(days=1):
        return None
    return dt


def _build(y: int, m: int, d: int, H: str | None, M: str | None, S: str | None, tz: str | None) -> datetime | None:
    try:
        return datetime(y, m, d, int(H or 0), int(M or 0), int(S or 0), tzinfo=zone(tz))
    except ValueError:
        return None


def parse_cn_date(text: str, tz: str | None = None, now: datetime | None = None) -> datetime | None:
    """The first date (with its time, if written) in `text`: 2025年12月22日 15:41, 2025-12-22, 18-03-08, 12-22 15:41."""
    m = _FULL.search(text)
    if m:
        return sane(_build(int(m["y"]), int(m["m"]), int(m["d"]), m["H"], m["M"], m["S"], tz), now)
    m = _SHORT_YEAR.search(text)
    if m:
        return sane(_build(2000 + int(m["y"]), int(m["m"]), int(m["d"]), m["H"], m["M"], None, tz), now)
    m = _NO_YEAR.search(text)
    if m:
        now = now or datetime.now(timezone.utc)
        local = now.astimezone(zone(tz))
        dt = _build(local.year, int(m["m"]), int(m["d"]), m["H"], m["M"], None, tz)
        if dt and dt > now + timedelta(days=1):  # "12-30" seen in January is last year's
            dt = _build(local.year - 1, int(m["m"]), int(m["d"]), m["H"], m["M"], None, tz)
        return sane(dt, now)
    return None


def parse_any_date(value: object, tz: str | None = None, now: datetime | None = None) -> datetime | None:
    """A date from a feed, sitemap or JSON field: unix seconds or ms, ISO 8601, RFC 822, or Chinese forms."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        ts = float(value)
        if ts > 1e11:
            ts /= 1000.0
        try:
            return sane(datetime.fromtimestamp(ts, timezone.utc), now)
        except (OverflowError, OSError, ValueError):
            return None
    s = str(value).strip()
    if re.fullmatch(r"\d{10}(\d{3})?", s):
        return parse_any_date(int(s), tz, now)
    if re.search(r"[年月]", s) or re.fullmatch(r"\d{2}-\d{1,2}-\d{1,2}.*", s):
        return parse_cn_date(s, tz, now)
    try:
        dt = du.parse(s)
    except (ValueError, OverflowError):
        return parse_cn_date(s, tz, now)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone(tz))
    return sane(dt, now)
