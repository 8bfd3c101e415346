"""The daemon: sources on their schedule, an alert soon after publication, a clean stop on SIGTERM."""

import signal
import socket
import subprocess
import time
import urllib.request

from conftest import REGWATCH
from support.news import art, feed_to_webhook_config, publish


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


TEXT = "中国人民银行宣布实施一次性信用修复政策，符合条件的个人逾期记录将不予展示，征信修复骗局需警惕。"


def test_daemon_alerts_new_articles_and_stops_cleanly_on_sigterm(tmp_path, site, receiver):
    publish(site, {"feed": [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 100)]})
    port = free_port()
    cfg = feed_to_webhook_config(tmp_path, site, receiver, topics='["credit_repair"]',
                                 extra=f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    p = subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not site.requests("/a/old"):
            time.sleep(0.2)
        assert site.requests("/a/old"), "the baseline crawl did not happen"
        time.sleep(1.5)
        publish(site, {"feed": [art("old", "银行发布年度报告",
                                    "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 100),
                                art("new", "央行推出一次性信用修复政策", TEXT, 1)]})
        while time.time() < deadline + 30 and not receiver.delivered("gw"):
            time.sleep(0.2)
        assert len(receiver.delivered("gw")) == 1
        for _ in range(20):   # gauges are refreshed after each cycle (every second here)
            metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
            if 'regwatch_alerts{status="sent"}' in metrics:
                break
            time.sleep(0.5)
        assert 'regwatch_sources{state="ok"} 1.0' in metrics
        assert "regwatch_articles 2.0" in metrics and 'regwatch_alerts{status="sent"}' in metrics
        assert "regwatch_crawl_seconds_count" in metrics
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=40)
    assert p.returncode == 0, err[-2000:]
    assert "Traceback" not in err


def stopped_mid_send(tmp_path, site, receiver, mode):
    """A daemon that stored its baseline, then an article whose alert the webhook answers in `mode`; SIGTERM once the
    request has arrived. (the process's stderr, whether the first request was still held when the daemon ended)"""
    old = art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 100)
    publish(site, {"feed": [old]})
    cfg = feed_to_webhook_config(tmp_path, site, receiver, topics='["credit_repair"]')
    p = subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not site.requests("/a/old"):
            time.sleep(0.2)
        time.sleep(1.5)                                     # the baseline is stored
        receiver.fail = {"gw": [mode]}
        publish(site, {"feed": [old, art("new", "央行推出一次性信用修复政策", TEXT, 1)]})
        while time.time() < deadline and not receiver.messages:
            time.sleep(0.05)
        assert receiver.messages, "the alert was never sent"
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=40)
        held_at_exit = bool(receiver.messages) and "done" not in receiver.messages[0]
        receiver.release.set()
    assert p.returncode == 0, err[-2000:]
    assert "Traceback" not in err
    return err, held_at_exit


def test_a_stop_during_a_send_waits_for_its_answer(tmp_path, site, receiver):
    """SIGTERM while a webhook takes three seconds to answer: the daemon waits for the answer and records the
    message sent (cut off mid-request, it stayed claimed and the next daemon sent it again after the lease)."""
    import sqlite3

    stopped_mid_send(tmp_path, site, receiver, "slow")
    db = sqlite3.connect(tmp_path / "rw.db")
    assert db.execute("SELECT status, attempts FROM messages").fetchall() == [("sent", 1)]


def test_a_stop_during_a_send_that_never_answers_cuts_it_off_and_records_it(tmp_path, site, receiver):
    """SIGTERM while a webhook holds the request without answering: the send gets the stop's seconds, then is cut
    off and recorded to be retried — not left `sending` until its lease ran out, nor waited for up to the send's
    30 s deadline past the service manager's stop timeout. The stop's own last pass does not send it again to the
    endpoint that just failed to answer (it did, after the 2 s backoff: with another worker's retry, three copies):
    the next start or another worker retries it."""
    import sqlite3
    from datetime import datetime

    from regwatch.pipeline.timeutil import utcnow

    err, held_at_exit = stopped_mid_send(tmp_path, site, receiver, "hold")   # (the receiver holds 20 s at most)
    ended = utcnow()
    assert held_at_exit                     # the daemon ended while the endpoint still held the request
    assert err.count("cut off by regwatch's stop") == 1, err[-2000:]
    assert len(receiver.messages) == 1      # one copy (the platform may have had it), none more from this stop
    db = sqlite3.connect(tmp_path / "rw.db")
    status, attempts, error, nxt = db.execute("SELECT status, attempts, last_error, next_attempt_at FROM messages"
                                              ).fetchone()
    assert (status, attempts) == ("retry", 1) and "cut off by regwatch's stop" in error, (status, attempts, error)
    assert (datetime.fromisoformat(nxt) - ended).total_seconds() > 10     # (STOP_CUT_RETRY, less the stop's seconds)


def test_the_pruning_job_takes_no_name_a_source_may_have_and_runs_at_start():
    """Job ids are the sources' names: the story index's pruning job must not claim one (a source of any
    name starts); it runs at the daemon's start (a daemon restarted daily must still prune), then hourly, and
    each run asks the app to prune if a pruning is due (tests/test_pruning.py)."""
    import asyncio
    from types import SimpleNamespace

    from regwatch.service.scheduler import SourceScheduler

    pruned = []

    async def prune_story_index():
        pruned.append(1)
        return 7

    sources = [SimpleNamespace(name=n, cron=None, every=3600) for n in ("prune-story-index", "prune", "story-index")]
    app = SimpleNamespace(enabled_sources=lambda names=None: sources, prune_story_index=prune_story_index)

    async def main():
        sched = SourceScheduler(app)
        sched.start()                                   # three interval jobs and the pruning job
        try:
            assert len(sched.sched.get_jobs()) == 4
            for _ in range(50):
                if pruned:
                    break
                await asyncio.sleep(0.05)
        finally:
            sched.sched.shutdown(wait=False)
            if sched.batcher is not None:
                sched.batcher.cancel()

    asyncio.run(main())
    assert pruned == [1]


def test_a_second_daemon_on_one_sqlite_file_is_refused_and_cron_beside_it_is_not(tmp_path, site, receiver):
    """A second `regwatch run` on the same SQLite file (a unit started twice, `make run` beside the service) is
    refused in one line; the first keeps its sources, and a cron `run --once` beside it still runs."""
    publish(site, {"feed": [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 100)]})
    cfg = feed_to_webhook_config(tmp_path, site, receiver, topics='["credit_repair"]')
    first = subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    try:
        deadline = time.time() + 30
        while time.time() < deadline and not site.requests("/a/old"):
            time.sleep(0.2)
        second = subprocess.run([REGWATCH, "run", "-c", str(cfg)], capture_output=True, text=True, timeout=60)
        assert second.returncode == 2
        assert second.stderr.strip() == (f"regwatch: another regwatch daemon (pid {first.pid}) is running on "
                                         f"{tmp_path / 'rw.db'}; stop it first (several daemons need a PostgreSQL "
                                         "store: README, Deployment)"), second.stderr
        once = subprocess.run([REGWATCH, "run", "--once", "-c", str(cfg)], capture_output=True, text=True, timeout=120)
        assert once.returncode == 0, once.stderr
    finally:
        first.send_signal(signal.SIGTERM)
        _, err = first.communicate(timeout=40)
    assert first.returncode == 0, err[-2000:]
    # the lock went with the daemon
    seen = len(site.requests("/"))
    again = subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True)
    deadline = time.time() + 30
    while time.time() < deadline and len(site.requests("/")) == seen and again.poll() is None:
        time.sleep(0.2)
    again.send_signal(signal.SIGTERM)
    _, err = again.communicate(timeout=40)
    assert again.returncode == 0 and "another regwatch daemon" not in err, err[-2000:]


def test_metrics_show_the_store_from_the_daemons_start(tmp_path, site, receiver, rw):
    """After a restart the gauges said 0 articles and no sources until the first cycle ended (up to `every`
    later, or a slow source's crawl): they show what the store holds from the start."""
    publish(site, {"feed": [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 100)]})
    port = free_port()
    cfg = feed_to_webhook_config(tmp_path, site, receiver, extra=f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
    assert rw("run", "--once", "-c", cfg).returncode == 0
    feed = site.pages["/feed.xml"]
    site.pages["/feed.xml"] = lambda: (time.sleep(20), feed)[1]      # the first cycle hangs on the feed
    p = subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        metrics = ""
        deadline = time.time() + 15
        while time.time() < deadline and "regwatch_articles" not in metrics:
            try:
                metrics = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=2).read().decode()
            except OSError:
                time.sleep(0.2)
        assert "regwatch_articles 1.0" in metrics and 'regwatch_sources{state="ok"} 1.0' in metrics, metrics[-800:]
    finally:
        p.send_signal(signal.SIGTERM)
        p.communicate(timeout=40)


def test_a_metrics_port_in_use_is_one_clear_line_before_any_crawl(tmp_path, site, receiver):
    """Another program on `[metrics] listen`'s port: the daemon says so in one line and exits 2 (it printed the bare
    `[Errno 98] Address already in use`, which named neither the setting nor the address)."""
    publish(site, {"feed": [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 100)]})
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = feed_to_webhook_config(tmp_path, site, receiver, extra=f'[metrics]\nlisten = "127.0.0.1:{port}"\n')
        r = subprocess.run([REGWATCH, "run", "-c", str(cfg)], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, r.stderr[-2000:]
    assert r.stderr.strip().splitlines()[-1] == f"regwatch: [metrics] listen = '127.0.0.1:{port}': Address already in use"
    assert "Traceback" not in r.stderr and not site.requests("/feed.xml")
