"""One clock: every time shown is in the `[display] tz` zone (Beijing time by default) and labelled, and a
date given to `--since` is read in that zone — so what a filter returns agrees with the times shown."""

import asyncio
import json
import re
import sqlite3
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import regwatch
from support.news import art, publish
from support.world import DIGEST_AT

from regwatch.pipeline.classify import Classifier, load_topics
from regwatch.pipeline.process import Processor
from regwatch.pipeline.store import Store

ROOT = Path(__file__).resolve().parent.parent
CAP = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调。"
CST = timezone(timedelta(hours=8))


def beijing(iso):
    return datetime.fromisoformat(iso).astimezone(CST).strftime("%Y-%m-%d %H:%M")


@pytest.fixture
def around_midnight(tmp_path):
    """Two articles either side of midnight, Beijing time, on 1 December: 23:00 on the 30th, 01:30 on the 1st
    (both still 30 November in UTC)."""
    store = Store(tmp_path / "rw.db")
    p = Processor(store, Classifier(load_topics()))
    p.process(url="http://x/late", source="s", title="利率上限新规前夜", body=CAP, lang="zh",
              published_at=datetime(2026, 11, 30, 15, 0, tzinfo=UTC))
    p.process(url="http://x/early", source="s", title="利率上限新规落地", body=CAP.replace("20%", "18%"), lang="zh",
              published_at=datetime(2026, 11, 30, 17, 30, tzinfo=UTC))
    store.close()

    def config(extra=""):
        cfg = tmp_path / "regwatch.toml"
        cfg.write_text(f'[store]\npath = "rw.db"\n{extra}', encoding="utf-8")
        return cfg
    return config


def test_since_a_date_is_read_in_beijing_time_and_agrees_with_what_is_shown(around_midnight):
    cfg = around_midnight()
    r = regwatch("search", "利率", "--since", "2026-12-01", "-c", cfg)
    assert r.returncode == 0, r.stderr
    assert "新规落地" in r.stdout and "新规前夜" not in r.stdout
    assert "published (北京时间)" in r.stdout and "2026-12-01 01:30" in r.stdout
    rows = [json.loads(ln) for ln in regwatch("search", "利率", "--json", "-c", cfg).stdout.splitlines()]
    assert {r["published_at"] for r in rows} == {"2026-11-30T23:00:00+08:00", "2026-12-01T01:30:00+08:00"}
    r = regwatch("search", "利率", "--until", "2026-12-01", "-c", cfg)
    assert "新规前夜" in r.stdout and "2026-11-30 23:00" in r.stdout and "新规落地" not in r.stdout


def test_display_tz_changes_every_time_shown_and_the_reading_of_dates(around_midnight):
    cfg = around_midnight('[display]\ntz = "UTC"\n')
    r = regwatch("search", "利率", "--since", "2026-12-01", "-c", cfg)
    assert r.stdout == "" and "no results for '利率' (since 2026-12-01 00:00 UTC)" in r.stderr
    r = regwatch("search", "利率", "--since", "2026-11-30 16:00", "-c", cfg)
    assert "published (UTC)" in r.stdout and "2026-11-30 17:30" in r.stdout and "新规前夜" not in r.stdout
    r = regwatch("export", "-c", around_midnight('[display]\ntz = "Asia/Hong_Kong"\n'))
    assert {json.loads(ln)["published_at"] for ln in r.stdout.splitlines()} == \
        {"2026-11-30T23:00:00+08:00", "2026-12-01T01:30:00+08:00"}
    r = regwatch("search", "利率", "-c", around_midnight('[display]\ntz = "Mars/Olympus"\n'))
    assert r.returncode == 2 and "display.tz: 'Mars/Olympus' is not a time zone name" in r.stderr


def test_a_date_that_is_no_date_is_one_line(around_midnight):
    r = regwatch("search", "利率", "--since", "yesterday", "-c", around_midnight())
    assert r.returncode == 2 and "--since 'yesterday' is neither a duration (7d) nor a date (2026-12-01, read in 北京时间)" \
        in r.stderr


def test_sources_alerts_and_export_show_beijing_time_labelled(world):
    con = sqlite3.connect(world.dir / "rw.db")
    last_run = con.execute("SELECT max(finished_at) FROM source_runs WHERE source = 'feed'").fetchone()[0]
    sent = con.execute("SELECT sent_at, id FROM alerts WHERE status = 'sent' ORDER BY id DESC LIMIT 1").fetchone()
    digest_at = con.execute("SELECT digest_at FROM alerts WHERE status = 'digest' LIMIT 1").fetchone()[0]
    fetched = con.execute("SELECT fetched_at FROM articles ORDER BY id LIMIT 1").fetchone()[0]
    con.close()
    r = regwatch("sources", "-c", world.config)
    assert "last run (北京时间)" in r.stdout and re.search(rf"^feed\s+ok\s+{beijing(last_run)}", r.stdout, re.M)
    r = regwatch("alerts", "-c", world.config)
    assert "time (北京时间)" in r.stdout and re.search(rf"^\s*{sent[1]}\s+{beijing(sent[0])}\s+sent", r.stdout, re.M)
    assert f"it goes out {beijing(digest_at)} 北京时间" in r.stdout                # a pending digest's send time
    assert beijing(digest_at).endswith(DIGEST_AT)                                  # "daily HH:MM" is Beijing's time
    row = json.loads(regwatch("export", "-c", world.config).stdout.splitlines()[0])
    assert row["fetched_at"] == datetime.fromisoformat(fetched).astimezone(CST).isoformat()
    row = json.loads(regwatch("sources", "--json", "-c", world.config).stdout.splitlines()[0])
    assert row["last_run"].endswith("+08:00")


def test_the_report_shows_days_and_times_in_beijing_time(around_midnight, tmp_path):
    cfg = around_midnight()
    con = sqlite3.connect(tmp_path / "rw.db")
    con.execute("INSERT INTO source_state (source, state, last_success_at) VALUES ('s', 'ok', '2026-11-30T17:30:00+00:00')")
    con.commit()
    con.close()
    out = tmp_path / "r.html"
    assert regwatch("report", "--since", "2026-11-01", "--out", out, "-c", cfg).returncode == 0
    page = out.read_text(encoding="utf-8")
    assert "last success (北京时间)" in page and '<td class=t>2026-12-01 01:30</td>' in page
    assert "Times and days in 北京时间" in page
    from regwatch.service.report import gather  # the chart counts Beijing days
    store = Store(tmp_path / "rw.db")
    days = {(r["day"], r["n"]) for r in gather(store, datetime(2026, 11, 1, tzinfo=UTC))["per_day"]}
    assert days == {("2026-11-30", 1), ("2026-12-01", 1)}


def test_alert_messages_use_the_display_zone(tmp_path, site):
    publish(site, {"feed": [art("old", "银行发布年度报告", "某银行发布年度报告，营业收入增长。", 300)]})
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[crawl]\ndelay = "0s"\n[[sources]]\nname = "feed"\nkind = "feed"\nurl = "{site.url}/feed.xml"\n'
                   '[[channels]]\nname = "c"\ntype = "console"\n[[subscriptions]]\nname = "s"\ntopics = ["*"]\n'
                   'channels = ["c"]\n[display]\ntz = "Europe/London"\n', encoding="utf-8")
    assert regwatch("run", "--once", "-c", cfg).returncode == 0
    new = art("cap", "消费金融利率上限降至20%", CAP, 30)
    publish(site, {"feed": [art("old", "银行发布年度报告", "某银行发布年度报告，营业收入增长。", 300), new]})
    r = regwatch("run", "--once", "-c", cfg)
    shown = new["when"].astimezone(__import__("zoneinfo").ZoneInfo("Europe/London"))
    assert f"{shown.strftime('%Y-%m-%d %H:%M')} UTC+{shown.strftime('%z')[1:3]}:00" in r.stdout, r.stdout


def test_datasette_canned_queries_show_beijing_time(around_midnight, tmp_path):
    import yaml
    from datasette.app import Datasette

    around_midnight()
    ds = Datasette([str(tmp_path / "rw.db")], metadata=yaml.safe_load((ROOT / "deploy/datasette/metadata.yml").read_text()),
                   plugins_dir=str(ROOT / "deploy/datasette/plugins"))

    async def go():
        r = await ds.client.get("/rw/search.json?q=利率&_shape=objects")
        assert r.status_code == 200, r.text
        assert {x["published"] for x in r.json()["rows"]} == {"2026-11-30 23:00 北京时间", "2026-12-01 01:30 北京时间"}
        r = await ds.client.get("/rw/topic_articles_since.json?topic=rate_cap&since=2026-12-01&_shape=objects")
        assert [x["title"] for x in r.json()["rows"]] == ["利率上限新规落地"]
    asyncio.run(go())
