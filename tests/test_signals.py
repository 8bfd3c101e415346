"""Signals to the daemon: SIGHUP (a closed ssh or tmux session, a habitual "reload") neither kills nor reloads it,
nor its extraction workers (a terminal's hangup reaches the whole process group)."""

import json
import os
import re
import signal
import subprocess
import time

import pytest
from conftest import REGWATCH
from support.news import art, feed_to_webhook_config, publish


def wait_for(path, text: str, timeout: float = 60) -> str:
    deadline = time.time() + timeout
    while time.time() < deadline:
        log = path.read_text(encoding="utf-8", errors="replace")
        if text in log:
            return log
        time.sleep(0.2)
    raise AssertionError(f"{text!r} never logged:\n{path.read_text(encoding='utf-8', errors='replace')[-2000:]}")


def alerted(receiver) -> list[str]:
    return [id_ for m in receiver.delivered("gw") for id_ in re.findall(r"/a/(n\d)\.html", json.dumps(m["body"]))]


def test_sighup_is_logged_and_ignored_then_sigterm_stops_cleanly(tmp_path, site, receiver):
    publish(site, {"feed": [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 100)]})
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    err_path = tmp_path / "daemon.log"
    with open(err_path, "w", encoding="utf-8") as err:
        p = subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], stdout=subprocess.DEVNULL, stderr=err,
                             restore_signals=True, start_new_session=True)  # SIGHUP at its default action
        try:
            wait_for(err_path, "regwatch: watching")
            deadline = time.time() + 60    # the baseline crawl done (a second one asked for)
            while time.time() < deadline and len(site.requests("/feed.xml")) < 2:
                time.sleep(0.1)
            publish(site, {"feed": [art("n1", "国家金融监督管理总局发布小额贷款公司监督管理暂行办法",
                                        "国家金融监督管理总局发布《小额贷款公司监督管理暂行办法》，明确小额贷款公司融资杠杆和"
                                        "网络小额贷款业务要求。", 1)]})
            deadline = time.time() + 60    # the extraction workers are up once an article went out
            while time.time() < deadline and not alerted(receiver):
                time.sleep(0.2)
            assert alerted(receiver) == ["n1"]
            os.killpg(p.pid, signal.SIGHUP)   # as a closed terminal does: the daemon and its workers
            log = wait_for(err_path, "SIGHUP")
            assert "restart it to apply a change" in log
            served = len(site.requests("/feed.xml"))
            time.sleep(3)
            assert p.poll() is None, "SIGHUP ended the daemon"
            assert len(site.requests("/feed.xml")) > served, "the daemon stopped crawling after SIGHUP"
            publish(site, {"feed": [art("n2", "人民银行提示警惕“征信修复”骗局", "人民银行提示，所谓“征信修复”“征信洗白”"
                                        "均属骗局，不良信用记录不能花钱删除，逾期记录保留5年。", 1)]})
            deadline = time.time() + 60
            while time.time() < deadline and len(alerted(receiver)) < 2:
                time.sleep(0.2)
            assert alerted(receiver) == ["n1", "n2"], err_path.read_text(encoding="utf-8")[-3000:]
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=60)
    log = err_path.read_text(encoding="utf-8")
    assert p.returncode == 0, log[-2000:]
    assert "regwatch: stopping" in log and "Traceback" not in log
    assert log.count("SIGHUP") == 1


def _loaded(pid: int, name: str) -> bool:
    try:
        with open(f"/proc/{pid}/maps", encoding="utf-8", errors="replace") as f:
            return name in f.read()
    except FileNotFoundError:
        return False


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_while_run_once_is_starting_stops_it_as_later(tmp_path, site, receiver, sig):
    """`run --once` takes a second or two to start (Scrapy, the topics): a signal then is a stop like any other —
    its line, exit 128 + the signal, nothing half-done — not a silent death (or a KeyboardInterrupt traceback)."""
    publish(site, {"feed": [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 100)]})
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    p = subprocess.Popen([REGWATCH, "run", "--once", "-c", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        # started: it is loading its modules (pydantic's, for the config: long before Scrapy and the topics)
        while p.poll() is None and not _loaded(p.pid, "pydantic_core"):
            time.sleep(0.002)
        p.send_signal(sig)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 128 + sig, (p.returncode, err[-2000:])
    assert f"regwatch: stopped by {sig.name}: what this run left is fetched next run" in err.splitlines(), err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    assert site.requests("/feed.xml") == []          # stopped before its crawl began
    # nothing half-done: the next run is the source's first (its baseline), as if the stopped one never ran
    r = subprocess.run([REGWATCH, "run", "--once", "-c", str(cfg)], capture_output=True, text=True, timeout=180)
    assert r.returncode == 0 and "stored as the baseline of feed" in r.stderr, r.stderr[-2000:]


def test_a_signal_while_run_once_waits_for_its_store_still_stops_it(tmp_path, site, receiver, pg_url):
    """A `run --once` whose PostgreSQL store is being migrated by another process waits in its start for it (for as
    long as the migration takes): a SIGTERM then still ends it, with its line and 143, after EARLY_STOP_WAIT — it
    waited for the other process and only then acted on the signal (under systemd: until the stop's SIGKILL)."""
    import psycopg
    from support.config import chat, everything, write_config
    from support.news import feed_source

    from regwatch.pipeline.store.postgres.connection import LOCK_MIGRATE, LOCK_NS

    cfg = write_config(tmp_path, store={"url": pg_url}, sources=[feed_source(site, every="1s")],
                       channels=[chat(receiver, "gw")], subscriptions=[everything("gw")])
    with psycopg.connect(pg_url, autocommit=True) as other:       # another process migrating the store
        other.execute("SELECT pg_advisory_lock(%s, %s)", (LOCK_NS, LOCK_MIGRATE))
        p = subprocess.Popen([REGWATCH, "run", "--once", "-c", str(cfg)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        try:
            while p.poll() is None and not _loaded(p.pid, "pydantic_core"):
                time.sleep(0.002)
            p.send_signal(signal.SIGTERM)
            out, err = p.communicate(timeout=120)
        finally:
            if p.poll() is None:
                p.kill()
        still_held = other.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted").fetchone()
    assert p.returncode == 143, (p.returncode, err[-2000:])
    assert "regwatch: stopped by SIGTERM: what this run left is fetched next run" in err.splitlines(), err
    assert "Traceback" not in err, err
    assert still_held == (1,)          # it did not wait for the other process
