"""Publication times in the forms Chinese pages write them, in the source's timezone, never in the future."""

from datetime import UTC, datetime

import pytest

from regwatch.pipeline.dates import parse_any_date, parse_cn_date

NOW = datetime(2025, 12, 23, 4, 0, tzinfo=UTC)


@pytest.mark.parametrize("text,expect", [
    ("发布时间:2025年12月22日 15:41", "2025-12-22T15:41:00+08:00"),
    ("2025-12-22 15:41:09 来源:证券时报", "2025-12-22T15:41:09+08:00"),
    ("2025/12/22", "2025-12-22T00:00:00+08:00"),
    ("18-03-08", "2018-03-08T00:00:00+08:00"),
    ("12-22 15:41", "2025-12-22T15:41:00+08:00"),
])
def test_chinese_forms(text, expect):
    assert parse_cn_date(text, "Asia/Shanghai", NOW).isoformat() == expect


def test_no_year_in_the_future_means_last_year():
    assert parse_cn_date("12-30 09:00", None, datetime(2026, 1, 2, tzinfo=UTC)).year == 2025


def test_future_and_ancient_dates_are_ignored():
    assert parse_cn_date("2031年1月1日", None, NOW) is None
    assert parse_any_date("1970-01-01T00:00:00Z", None, NOW) is None


def test_unix_seconds_and_milliseconds_and_rfc822():
    assert parse_any_date(1766389260, None, NOW) == parse_any_date(1766389260000, None, NOW)
    assert parse_any_date("Mon, 22 Dec 2025 07:41:00 GMT", None, NOW).isoformat() == "2025-12-22T07:41:00+00:00"


def test_times_without_offset_read_in_the_source_tz():
    assert parse_any_date("2025-12-22 15:41", "America/New_York", NOW).utcoffset().total_seconds() == -5 * 3600


def test_a_date_text_too_long_to_be_one_never_reaches_the_parsers(monkeypatch):
    """dateutil's parser is quadratic in a long token (a megabyte of digits froze the event loop for minutes):
    a text over DATE_CHARS is no date, and the parser never sees it."""
    from regwatch.defaults import DATE_CHARS
    from regwatch.pipeline import dates

    seen = []
    real = dates.du.parse
    monkeypatch.setattr(dates.du, "parse", lambda s, **kw: seen.append(len(s)) or real(s, **kw))
    assert parse_any_date("1" * 1_000_000) is None
    assert parse_any_date("Mon, 05 Jan 2026 08:00:00 " + "x" * DATE_CHARS) is None
    assert parse_any_date("2026年1月5日" + " " * 10 + "8:00" + "日" * 200) is None
    assert seen == []
    assert parse_any_date("Mon, 05 Jan 2026 08:00:00 +0800") == datetime(2026, 1, 5, 0, 0, tzinfo=UTC)
    assert seen and max(seen) <= DATE_CHARS

