"""Signals to the daemon: SIGHUP (a closed ssh or tmux session, a habitual "reload") neither kills nor reloads it."""

import signal
import subprocess
import time

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


def test_sighup_is_logged_and_ignored_then_sigterm_stops_cleanly(tmp_path, site, receiver):
    publish(site, {"feed": [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 100)]})
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    err_path = tmp_path / "daemon.log"
    with open(err_path, "w", encoding="utf-8") as err:
        p = subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], stdout=subprocess.DEVNULL, stderr=err,
                             restore_signals=True)      # SIGHUP at its default action, as from a terminal
        try:
            wait_for(err_path, "regwatch: watching")
            p.send_signal(signal.SIGHUP)
            log = wait_for(err_path, "SIGHUP")
            assert "restart it to apply a change" in log
            served = len(site.requests("/feed.xml"))
            time.sleep(3)
            assert p.poll() is None, "SIGHUP ended the daemon"
            assert len(site.requests("/feed.xml")) > served, "the daemon stopped crawling after SIGHUP"
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=60)
    log = err_path.read_text(encoding="utf-8")
    assert p.returncode == 0, log[-2000:]
    assert "regwatch: stopping" in log and "Traceback" not in log
    assert log.count("SIGHUP") == 1
