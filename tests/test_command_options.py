"""A command option a user writes (a zone, a duration, a size) is checked as the config's values are: a value that
cannot work is one line naming the option and exit 2, before anything runs — never a traceback, never ignored."""

import pytest

NO_OFFSET = ("<html><head><title>央行发布通知</title></head><body><h1>央行发布通知</h1><p>2026-12-01 10:00</p><p>"
             + "中国人民银行发布通知，网络小额贷款公司综合融资成本不得超过法定上限。" * 6 + "</p></body></html>")


@pytest.mark.parametrize("page", ["no-offset", "offset"])
def test_extract_with_a_zone_that_is_no_zone_is_one_line_and_exit_2(tmp_path, rw, page):
    """A page time without an offset would have needed the zone (a traceback); with one, nothing was said."""
    path = tmp_path / "page.html"
    with_offset = NO_OFFSET.replace("<head>", '<head><meta property="article:published_time" '
                                              'content="2026-12-01T10:00:00+08:00">')
    path.write_text(NO_OFFSET if page == "no-offset" else with_offset, encoding="utf-8")
    r = rw("extract", path, "--tz", "Nope")
    assert r.returncode == 2 and r.stdout == "", r.stderr[-2000:]
    assert r.stderr == ("regwatch: --tz: 'Nope' is not a time zone name (IANA names such as Asia/Shanghai, "
                        "Asia/Hong_Kong, Europe/London, UTC)\n")


def test_extract_reads_a_time_without_an_offset_in_the_zone_given(tmp_path, rw):
    path = tmp_path / "page.html"
    path.write_text(NO_OFFSET, encoding="utf-8")
    r = rw("extract", path, "--tz", "Asia/Tokyo", "--json")
    assert r.returncode == 0, r.stderr
    assert '"published_at": "2026-12-01T09:00:00+08:00"' in r.stdout, r.stdout      # 10:00 Tokyo, shown in Beijing time
