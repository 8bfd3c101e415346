"""Source health: a failing, a gated and an emptied source are each reported once, and once recovered."""

import json

from support.config import chat, write_config
from support.news import art, feed, feed_source, listing, publish
from support.servers import Page

TEXT = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调。"
CHALLENGE = (b'<html><head><meta charset="utf-8"></head><body><noscript>\xe8\xaf\xb7\xe5\xbc\x80\xe5\x90\xafJavaScript'
             b'</noscript><script>var wzwsquestion="x";var wzwsfactor="1";</script></body></html>')


def config(tmp_path, site, receiver):
    return write_config(tmp_path, sources=[
        {"name": "down", "kind": "feed", "url": f"{site.url}/down.xml"},
        {"name": "gated", "kind": "feed", "url": f"{site.url}/gated.xml"},
        {"name": "redesigned", "kind": "listing", "url": f"{site.url}/list/index.html", "links": "ul.news-list a"},
        feed_source(site, "good"),
    ], channels=[chat(receiver, "ops", "slack")], alerts={"failing_after": 2, "health_channels": ["ops"], "once_wait": "5s"})


def states(rw, cfg):
    return {r["source"]: r["state"] for r in map(json.loads, rw("sources", "--json", "-c", cfg).stdout.splitlines())}


def health_texts(receiver):
    return [json.dumps(m["body"], ensure_ascii=False) for m in receiver.delivered("ops") if "健康" in m["body"]["text"]]


def test_each_change_of_state_is_reported_once_and_recovery_too(tmp_path, site, receiver, rw):
    cfg = config(tmp_path, site, receiver)
    good = [art("g1", "消费金融利率上限降至20%", TEXT)]
    publish(site, {"feed": good})
    site.pages["/down.xml"] = Page(b"<html><body>Internal Server Error</body></html>", status=500)
    site.pages["/gated.xml"] = Page(CHALLENGE, ctype="text/html; charset=utf-8")
    site.pages["/list/index.html"] = Page("<html><body><div class='list'>页面改版中</div></body></html>".encode(),
                                          ctype="text/html; charset=utf-8")
    for _ in range(3):
        r = rw("run", "--once", "-c", cfg)
        assert r.returncode == 0 and "Traceback" not in r.stderr
    assert states(rw, cfg) == {"down": "failing", "gated": "blocked", "redesigned": "empty", "good": "ok"}
    texts = health_texts(receiver)
    assert sum("down" in t for t in texts) == 1 and sum("gated" in t for t in texts) == 1
    assert sum("redesigned" in t for t in texts) == 1
    # the first cycle's two changes (gated, redesigned) are one summary; `down` fails in the second
    assert len(texts) == 2 and "2 个数据源状态变化：2 个异常" in texts[0]

    publish(site, {"feed": good})          # everything recovers
    site.pages["/down.xml"] = feed(site, good)
    site.pages["/gated.xml"] = feed(site, good)
    site.pages["/list/index.html"] = listing(site, good)
    for _ in range(2):
        rw("run", "--once", "-c", cfg)
    assert set(states(rw, cfg).values()) == {"ok"}
    recovered = [t for t in health_texts(receiver) if "已恢复" in t]
    assert len(recovered) == 1 and "3 个数据源状态变化：3 个已恢复" in recovered[0]      # one cycle: one summary
    assert all(f"{name} 已恢复" in recovered[0] for name in ("down", "gated", "redesigned"))
    r = rw("sources", "-c", cfg)
    assert "down" in r.stdout and "ok" in r.stdout


def test_a_first_run_cut_short_before_its_list_was_read_shows_never_run(tmp_path, rw):
    """The store keeps `new` for a source no run has given a state (the first one was cut short by a stop, which
    changes no state): `sources`, its JSON, the report and the run's summary say `never run`, the README's word."""
    from regwatch.crawler.report import SourceReport
    from regwatch.pipeline.store import SourceState, Store
    from regwatch.service import health
    from regwatch.service.app import CycleResult
    from regwatch.service.config import AlertsConfig

    store = Store(tmp_path / "regwatch.db")
    report = SourceReport("slow", list_ok=False, found=0)
    report.stopping = True
    report.error("https://example.org/feed.xml: not fetched, regwatch was stopping")
    assert health.record(store, report, None, AlertsConfig())[0] == SourceState.NEW
    store.close()
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text('[[sources]]\nname = "slow"\nkind = "feed"\nurl = "http://127.0.0.1:9/feed.xml"\n', encoding="utf-8")
    r = rw("sources", "-c", cfg)
    assert r.returncode == 0 and r.stdout.splitlines()[1].split()[:3] == ["slow", "never", "run"], r.stdout
    assert json.loads(rw("sources", "--json", "-c", cfg).stdout)["state"] == "never run"
    r = rw("report", "--out", tmp_path / "r.html", "-c", cfg)
    assert r.returncode == 0 and "<td>never run</td>" in (tmp_path / "r.html").read_text(encoding="utf-8")
    summary = CycleResult(reports={}, states={"slow": SourceState.NEW}, queued=0).summary()
    assert "not ok: slow (never run)" in summary, summary


def test_a_run_cut_short_by_a_stop_is_neither_a_failure_nor_a_recovery(tmp_path):
    """A deploy that stops the daemon mid-crawl: the pages it cut off count toward nothing. A failing source
    stays failing (no "recovered" notice), a healthy one stays ok, a new one whose list was read is ok."""
    from regwatch.crawler.report import SourceReport
    from regwatch.pipeline.store import SourceState, Store
    from regwatch.service import health
    from regwatch.service.config import AlertsConfig

    store = Store(tmp_path / "s.db")
    alerts = AlertsConfig(failing_after=2, health_channels=[])

    def run(source, *, errors=0, cut=0, list_ok=True, found=3):
        report = SourceReport(source, list_ok=list_ok, found=found)
        for i in range(errors):
            report.error(f"https://example.org/{i}: HTTP 500")
        report.stopping = True
        for i in range(cut):
            report.error(f"https://example.org/cut{i}: not fetched, regwatch was stopping")
        return health.record(store, report, None, alerts)

    for _ in range(2):
        run("down", errors=1)
    assert store.source_state("down")["state"] == SourceState.FAILING
    store.update_source_state("down", reported_state=SourceState.FAILING)      # told
    for _ in range(3):      # three deploys in a row, each mid-crawl
        assert run("down", cut=2) == (SourceState.FAILING, None)
        assert run("fine", cut=2, list_ok=False, found=0)[1] is None
    assert store.source_state("fine")["state"] == SourceState.NEW and store.source_state("fine")["failing_runs"] == 0
    assert run("fine", cut=1) == (SourceState.OK, None)       # its list was read this time
    assert run("fine") == (SourceState.OK, None)
    for _ in range(3):
        assert run("fine", cut=5) == (SourceState.OK, None)
    state = store.source_state("fine")
    assert state["failing_runs"] == 0 and state["last_error"] is None
    # an error before the stop still counts: two such runs make the source failing
    run("fine", errors=1, cut=1)
    assert run("fine", errors=1, cut=1)[0] == SourceState.FAILING
    runs = store.recent_runs("fine", 10)
    assert runs[0]["errors"] == 1 and "cut off by regwatch's stop" not in (runs[0]["message"] or "")
    assert runs[2]["errors"] == 0 and "cut off by regwatch's stop: https://example.org/cut0" in runs[2]["message"]
