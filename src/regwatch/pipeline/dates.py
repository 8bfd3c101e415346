"""Publication times as Chinese and English pages write them, read in the source's timezone."""

from __future__ import annotations

import calendar
import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from dateutil import parser as du
from dateutil.tz import tzoffset

from ..defaults import DATE_CHARS, SOURCE_TZ

EARLIEST = datetime(1990, 1, 1, tzinfo=UTC)

_FULL = re.compile(
    r"(?P<y>(?:19|20)\d{2})\s*[-/.年]\s*(?P<m>\d{1,2})\s*[-/.月]\s*(?P<d>\d{1,2})\s*日?"
    r"(?:[T\s]*(?P<H>\d{1,2})\s*[:：时]\s*(?P<M>\d{1,2})(?:\s*[:：分]\s*(?P<S>\d{1,2}))?)?"
)
_SHORT_YEAR = re.compile(r"(?<!\d)(?P<y>\d{2})-(?P<m>\d{1,2})-(?P<d>\d{1,2})(?:\s+(?P<H>\d{1,2}):(?P<M>\d{2}))?(?!\d)")
_NO_YEAR = re.compile(r"(?<![\d-])(?P<m>\d{1,2})[-月/](?P<d>\d{1,2})日?\s+(?P<H>\d{1,2}):(?P<M>\d{2})(?!\d)")
_UNIX = re.compile(r"(?<!\d)(1[2-9]\d{8})(\d{3})?(?!\d)")


def zone(tz: str | None) -> ZoneInfo:
    return ZoneInfo(tz or SOURCE_TZ)


def sane(dt: datetime | None, now: datetime | None = None) -> datetime | None:
    """None for times before 1990 or more than a day in the future (a typo, a countdown, an expiry)."""
    if dt is None:
        return None
    now = now or datetime.now(UTC)
    if dt < EARLIEST or dt > now + timedelta(days=1):
        return None
    return dt


def too_old(published_at: datetime | None, max_age_s: float, now: datetime | None = None) -> bool:
    """Older than `max_article_age`: stored, never alerted (an article without a date is not)."""
    if published_at is None:
        return False
    return published_at < (now or datetime.now(UTC)) - timedelta(seconds=max_age_s)


def _build(y: int, m: int, d: int, H: str | None, M: str | None, S: str | None, tz: str | None) -> datetime | None:
    try:
        return datetime(y, m, d, int(H or 0), int(M or 0), int(S or 0), tzinfo=zone(tz))
    except ValueError:
        return None


# A date that says when something takes effect or ends is not when the page was published:
# 自2026年3月1日起施行, 截止2026年3月31日, 有效期至…, 2026年3月1日前, 施行日期：…
_NOT_PUBLISHED_BEFORE = re.compile(
    r"(?:自|从|至|到|截至|截止|有效期|到期|期限|施行|生效|实施|执行|起始|effective|until|deadline|expires?)"
    r"\s*(?:日期|时间|日)?\s*(?:为|是|到|至|:|：)?\s*$", re.I)
_NOT_PUBLISHED_AFTER = re.compile(
    r"^\s*(?:[日号])?\s*(?:零时|0时|24时)?\s*(?:起|开始|以前|之前|前|止|为止|截止|到期|届满|后|施行|生效|实施|执行)")


def _publication_context(text: str, start: int, end: int) -> bool:
    """False when the date at text[start:end] reads as an effective date, a deadline or an expiry."""
    return not (_NOT_PUBLISHED_BEFORE.search(text[max(0, start - 12) : start])
                or _NOT_PUBLISHED_AFTER.match(text[end : end + 8]))


def dates_in(text: str, tz: str | None = None, now: datetime | None = None, yearless: bool = True):
    """Every publication-like date in `text`, in order of the forms' reliability (full dates first);
    effective dates and deadlines are passed over. `yearless=False`: only dates that write their year
    (12-03 10:00 is given one: this year's, or last year's when that would be in the future)."""
    for m in _FULL.finditer(text):
        if _publication_context(text, m.start(), m.end()):
            dt = sane(_build(int(m["y"]), int(m["m"]), int(m["d"]), m["H"], m["M"], m["S"], tz), now)
            if dt:
                yield dt
    for m in _SHORT_YEAR.finditer(text):
        if _publication_context(text, m.start(), m.end()):
            dt = sane(_build(2000 + int(m["y"]), int(m["m"]), int(m["d"]), m["H"], m["M"], None, tz), now)
            if dt:
                yield dt
    if not yearless:
        return
    for m in _NO_YEAR.finditer(text):
        if _publication_context(text, m.start(), m.end()):
            dt = _this_year(int(m["m"]), int(m["d"]), m["H"], m["M"], tz, now)
            if dt:
                yield dt


def _this_year(m: int, d: int, H: str | None, M: str | None, tz: str | None, now: datetime | None) -> datetime | None:
    """A month and day without a year: this year's, or last year's when this year's is in the future."""
    now_ = now or datetime.now(UTC)
    local = now_.astimezone(zone(tz))
    dt = _build(local.year, m, d, H, M, None, tz)
    if dt and dt > now_ + timedelta(days=1):  # "12-30" seen in January is last year's
        dt = _build(local.year - 1, m, d, H, M, None, tz)
    return sane(dt, now_)


def parse_cn_date(text: str, tz: str | None = None, now: datetime | None = None,
                  yearless: bool = True) -> datetime | None:
    """The first publication date (with its time, if written) in `text`: 2025年12月22日 15:41, 2025-12-22,
    18-03-08, 12-22 15:41 (not with `yearless=False`). Effective dates and deadlines (自…起施行, 截止…,
    有效期至…) are not one."""
    return next(dates_in(text, tz, now, yearless), None)


# A field that holds only a date may write it the short ways a list does: 12月1日, 12-01, 今天 10:00,
# 昨天 10:00, 前天, 3小时前, 5分钟前, 2天前, 刚刚 (read against the crawl's time, in the source's zone)
_FIELD_MONTH_DAY = re.compile(r"(?P<m>\d{1,2})\s*(?:月|-|/)\s*(?P<d>\d{1,2})\s*日?"
                              r"(?:\s*(?P<H>\d{1,2})\s*[:：时]\s*(?P<M>\d{1,2})\s*分?)?")
_FIELD_DAY_WORD = re.compile(r"(?P<w>今天|今日|昨天|昨日|前天)\s*(?:(?P<H>\d{1,2})\s*[:：时]\s*(?P<M>\d{1,2})\s*分?)?")
_FIELD_AGO = re.compile(r"(?P<n>\d{1,4})\s*(?P<u>秒|分钟|分|小时|个小时|天|日)\s*前")
_DAYS_BACK = {"今天": 0, "今日": 0, "昨天": 1, "昨日": 1, "前天": 2}
_UNIT_S = {"秒": 1, "分钟": 60, "分": 60, "小时": 3600, "个小时": 3600, "天": 86400, "日": 86400}


def _field_short_date(s: str, tz: str | None, now: datetime | None) -> datetime | None:
    """A date field's whole value in a short or relative form (see above), or None."""
    now_ = (now or datetime.now(UTC)).replace(microsecond=0)
    if s in ("刚刚", "刚才"):
        return now_
    if m := _FIELD_AGO.fullmatch(s):
        return sane(now_ - timedelta(seconds=int(m["n"]) * _UNIT_S[m["u"]]), now_)
    if m := _FIELD_DAY_WORD.fullmatch(s):
        day = now_.astimezone(zone(tz)).date() - timedelta(days=_DAYS_BACK[m["w"]])
        return sane(_build(day.year, day.month, day.day, m["H"], m["M"], None, tz), now_)
    if m := _FIELD_MONTH_DAY.fullmatch(s):
        return _this_year(int(m["m"]), int(m["d"]), m["H"], m["M"], tz, now_)
    return None


def parse_any_date(value: object, tz: str | None = None, now: datetime | None = None) -> datetime | None:
    """A date from a feed, sitemap or JSON field: unix seconds or ms, ISO 8601, RFC 822, Chinese forms, or
    a whole value in a short or relative form (12月1日, 12-01, 昨天 10:00, 3小时前, 刚刚) read against `now`."""
    if value is None or value == "":
        return None
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        ts = float(value)
        if ts > 1e11:
            ts /= 1000.0
        try:
            return sane(datetime.fromtimestamp(ts, UTC), now)
        except (OverflowError, OSError, ValueError):
            return None
    s = str(value).strip()
    if len(s) > DATE_CHARS:     # no date is this long; dateutil's parser is quadratic in a long token
        return None
    if re.fullmatch(r"\d{10}(\d{3})?", s):
        return parse_any_date(int(s), tz, now)
    if short := _field_short_date(s, tz, now):
        return short
    if re.search(r"[年月]", s) or re.fullmatch(r"\d{2}-\d{1,2}-\d{1,2}.*", s):
        return parse_cn_date(s, tz, now)
    try:
        dt = du.parse(s, tzinfos=_known_offsets_only)
    except (ValueError, OverflowError, TypeError):
        return parse_cn_date(s, tz, now)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=zone(tz))
    return sane(dt, now)


def _known_offsets_only(name: str | None, offset: int | None):
    """dateutil's zone hook: numeric offsets and UTC as written; a zone name it cannot know (CST is
    China's, America's or Cuba's) is left to the caller (naive)."""
    if offset is not None:
        return tzoffset(name, offset)
    if name and name.upper() in ("UTC", "GMT", "UT", "Z"):
        return UTC
    return None


# the end of a date text that names its zone: +08:00, +0800, Z, GMT, CST, EDT
_ZONE = re.compile(r"(?:(?<=\d)Z|[+-]\d{2}:?\d{2}|\b(?P<name>[A-Z]{2,5}))\s*$")


def feed_date(text: str | None, parsed: tuple | None, tz: str | None = None,
              now: datetime | None = None) -> datetime | None:
    """A feed entry's date by the one rule of every source kind: its text, read by `parse_any_date`
    in the source's zone. feedparser's parsed tuple (UTC) is used only when the text names a zone
    that regwatch cannot read itself (EDT, PST…): feedparser reads a zone-less text as UTC and
    Chinese forms (2026年12月01日 03:07, 2026/12/01 03:07) as the first of the month."""
    if not text:
        return None
    text = str(text).strip()
    m = _ZONE.search(text)
    name = m["name"] if m else None
    if name and name not in ("UTC", "GMT", "UT", "AM", "PM"):
        local = parse_any_date(text, tz, now)
        # a zone named as the source's own zone writes it (CST in a Chinese feed is China Standard Time)
        if local is not None and local.tzname() == name:
            return local
        if parsed:
            try:
                return sane(datetime.fromtimestamp(calendar.timegm(parsed), UTC), now)
            except (OverflowError, ValueError, TypeError):
                return None
        return local
    return parse_any_date(text, tz, now)
