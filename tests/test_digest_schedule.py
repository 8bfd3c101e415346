"""A digest's alerts follow the subscription's schedule as configured now: a run (or the daemon) that starts after
the schedule changed moves the alerts already waiting to the time the new schedule gives them — at once when that
is past, or when the subscription sends at once now — once, whichever process moves them, with one line."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from conftest import regwatch
from support import config
from support.news import art, publish, site_sources

from regwatch.alerts.subscriptions import follow_schedules
from regwatch.pipeline.store import Store
from regwatch.pipeline.timeutil import iso, utcnow
from regwatch.service.config import parse_config

TEXTS = ["监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调。",
         "中国人民银行宣布实施一次性信用修复政策，符合条件的个人逾期记录将不予展示，征信记录不能付费删除。",
         "多地金融监管局通报暴力催收典型案例，要求催收机构不得骚扰借款人通讯录联系人。",
         "网络小额贷款公司联合放贷出资比例不得低于30%，监管部门将开展专项检查。"]
TITLES = ["消费金融利率上限降至20%", "央行推出一次性信用修复政策", "监管通报暴力催收典型案例", "网络小贷联合贷款新规"]


def beijing_in(hours: float) -> str:
    return (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(hours=hours)).strftime("%H:%M")


def write(tmp_path, site, receiver, digest, extra=""):
    return config.write_config(tmp_path, sources=site_sources(site)[:1], channels=[config.chat(receiver, "wh")],
                               subscriptions=[{"name": "daily-all", "topics": ["*"], "channels": ["wh"],
                                               "digest": digest}],
                               alerts={"once_wait": "5s"}, extra=extra)


def run_once(cfg):
    r = regwatch("run", "--once", "-c", cfg, cwd=cfg.parent)
    assert r.returncode == 0, r.stderr
    return r


def test_waiting_alerts_move_to_the_new_digest_time_and_go_with_the_new_ones(tmp_path, site, receiver):
    arts = {"feed": [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%。", 300)]}
    publish(site, arts)
    cfg = write(tmp_path, site, receiver, f"daily {beijing_in(12)}")
    run_once(cfg)                                                       # the baseline
    arts["feed"] += [art(f"n{i}", TITLES[i], TEXTS[i], 10 + i) for i in range(3)]
    publish(site, arts)
    run_once(cfg)
    store = Store(tmp_path / "rw.db")
    old_at = store.one("SELECT DISTINCT digest_at FROM alerts WHERE status = 'digest'")
    assert store.one("SELECT count(*) FROM alerts WHERE status = 'digest'") == 3 and receiver.messages == []

    new_time = beijing_in(6)
    cfg = write(tmp_path, site, receiver, f"daily {new_time}")         # the schedule changed; regwatch restarted
    arts["feed"].append(art("n3", TITLES[3], TEXTS[3], 5))
    publish(site, arts)
    r = run_once(cfg)
    moved = [ln for ln in r.stderr.splitlines() if "moved" in ln]
    assert len(moved) == 1, r.stderr
    assert "digest daily-all: 3 waiting alert(s) moved from " in moved[0] and "(the schedule changed)" in moved[0]
    assert f"{new_time} 北京时间 (the schedule changed)" in moved[0]
    rows = store.q("SELECT status, digest_at, next_attempt_at FROM alerts")
    assert len(rows) == 4 and {r["status"] for r in rows} == {"digest"}
    new_at = {r["digest_at"] for r in rows}
    assert len(new_at) == 1 and new_at != {old_at} and {r["next_attempt_at"] for r in rows} == new_at
    assert datetime.fromisoformat(new_at.pop()).astimezone(ZoneInfo("Asia/Shanghai")).strftime("%H:%M") == new_time
    shown = regwatch("alerts", "--status", "digest", "-c", cfg).stdout
    assert f"{new_time} 北京时间" in shown and "it goes out" in shown
    assert receiver.messages == []

    assert "moved" not in run_once(cfg).stderr                        # moved once: the next run leaves them be
    store.conn.execute("UPDATE alerts SET next_attempt_at = '2000-01-01T00:00:00+00:00'")   # the new time came
    run_once(cfg)
    assert len(receiver.messages) == 1                                 # one digest: the moved three and the new one
    body = receiver.messages[0]["body"]
    assert body["type"] == "articles.digest" and len(body["data"]["items"]) == 4
    assert store.one("SELECT count(*) FROM alerts WHERE status = 'sent'") == 4


def queue(store, created_ago: timedelta, digest_at: datetime, subscription="daily-all", n=3) -> None:
    for i in range(n):
        store.enqueue_alert(subscription=subscription, channel="wh", story_id=None, article_id=None,
                            digest_at=digest_at, idem_key=f"{subscription}-{i}")
    store.x("UPDATE alerts SET created_at = ? WHERE subscription = ?", (iso(utcnow() - created_ago), subscription))


def cfg_of(store_location, digest, tz=None, name="daily-all"):
    return parse_config({"store": {"url" if "://" in store_location else "path": store_location},
                         "channels": [{"name": "wh", "type": "webhook", "url": "http://127.0.0.1:9/wh"}],
                         "subscriptions": [{"name": name, "topics": ["*"], "channels": ["wh"], "digest": digest}],
                         **({"display": {"tz": tz}} if tz else {})})


def test_two_processes_move_each_alert_once(store_location, caplog):
    tomorrow = utcnow().replace(microsecond=0) + timedelta(days=1)
    first, second = Store(store_location), Store(store_location)
    queue(first, timedelta(minutes=5), tomorrow)
    cfg = cfg_of(store_location, f"daily {beijing_in(3)}")
    with caplog.at_level("WARNING", logger="regwatch.alerts"):
        assert follow_schedules(first, cfg) == 3
        assert follow_schedules(second, cfg) == 0          # the same schedule: nothing left to move
    assert len([r for r in caplog.records if "moved" in r.message]) == 1
    at = first.q("SELECT DISTINCT digest_at FROM alerts")
    assert len(at) == 1 and at[0]["digest_at"] != iso(tomorrow)


def test_a_time_already_past_goes_at_once_and_at_once_takes_them_out_of_the_digest(store_location):
    tomorrow = utcnow().replace(microsecond=0) + timedelta(days=1)
    store = Store(store_location)
    queue(store, timedelta(hours=3), tomorrow)          # queued three hours ago for tomorrow
    # hourly now: their hour came two hours ago; they go at once, as a digest
    assert follow_schedules(store, cfg_of(store_location, "hourly")) == 3
    rows = store.q("SELECT status, digest_at FROM alerts")
    assert {r["status"] for r in rows} == {"digest"} and all(r["digest_at"] <= iso(utcnow()) for r in rows)
    assert len(store.alerts_to_compose(utcnow(), ["wh"])) == 3
    assert follow_schedules(store, cfg_of(store_location, "hourly")) == 0       # due already: left to go

    store.x("UPDATE alerts SET digest_at = ?, next_attempt_at = ?", (iso(tomorrow), iso(tomorrow)))
    assert follow_schedules(store, cfg_of(store_location, "")) == 3             # the subscription sends at once now
    rows = store.q("SELECT status, digest_at, next_attempt_at FROM alerts")
    assert {r["status"] for r in rows} == {"pending"} and {r["digest_at"] for r in rows} == {None}
    assert len(store.alerts_to_compose(utcnow(), ["wh"])) == 3


@pytest.mark.parametrize("store_location", ["sqlite"], indirect=True)
def test_a_zone_change_moves_them_and_a_removed_subscription_keeps_its_time(store_location):
    store = Store(store_location)
    later = beijing_in(5)
    cfg = cfg_of(store_location, f"daily {later}")
    queue(store, timedelta(minutes=1), next_digest_at(later, "Asia/Shanghai"))
    assert follow_schedules(store, cfg) == 0                                    # as configured: nothing moves
    assert follow_schedules(store, cfg_of(store_location, f"daily {later}", tz="UTC")) == 3
    assert store.one("SELECT DISTINCT digest_at FROM alerts") == iso(next_digest_at(later, "UTC"))
    # a subscription no longer configured: its alerts go out at the time they wait for
    assert follow_schedules(store, cfg_of(store_location, "hourly", name="other")) == 0
    assert store.one("SELECT DISTINCT digest_at FROM alerts") == iso(next_digest_at(later, "UTC"))


def next_digest_at(hhmm, tz):
    from regwatch.alerts.digest import next_digest_time

    return next_digest_time(f"daily {hhmm}", now=utcnow() - timedelta(minutes=1), tz=tz).astimezone(UTC)
