"""The daemon's log: a cycle that found or changed something is a line, a routine one is not (unless -v), and a
source's state is logged when it changes, not every cycle."""

import signal
import subprocess
import time

from conftest import REGWATCH
from support.news import art, feed_to_webhook_config, publish
from support.servers import Page

OLD = art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 100)


def wait_until(check, what: str, log_path, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return
        time.sleep(0.2)
    raise AssertionError(f"{what} never happened:\n{log_path.read_text(encoding='utf-8')[-3000:]}")


def daemon(tmp_path, site, receiver, args, during) -> list[str]:
    """Run the daemon (a feed every second) through its baseline and `during(log_path)`; its log's lines."""
    publish(site, {"feed": [OLD]})
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    log_path = tmp_path / "daemon.log"
    with open(log_path, "w", encoding="utf-8") as err:
        p = subprocess.Popen([REGWATCH, "run", *args, "-c", str(cfg)], stdout=subprocess.DEVNULL, stderr=err)
        try:
            wait_until(lambda: "stored as the baseline" in log_path.read_text(encoding="utf-8"), "the baseline",
                       log_path)
            during(log_path)
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=60)
    assert p.returncode == 0
    return log_path.read_text(encoding="utf-8").splitlines()


def feed_runs(site) -> int:
    return len(site.requests("/feed.xml"))


def test_routine_cycles_are_not_logged_and_states_only_when_they_change(tmp_path, site, receiver):
    def during(log_path):
        start = feed_runs(site)
        wait_until(lambda: feed_runs(site) >= start + 4, "four routine cycles", log_path)
        good = site.pages["/feed.xml"]
        site.pages["/feed.xml"] = Page(b"down", 500)
        wait_until(lambda: "error → failing" in log_path.read_text(encoding="utf-8"), "failing", log_path)
        start = feed_runs(site)
        wait_until(lambda: feed_runs(site) >= start + 6, "more failing cycles", log_path)
        site.pages["/feed.xml"] = good
        wait_until(lambda: "failing → ok" in log_path.read_text(encoding="utf-8"), "the recovery", log_path)

    lines = daemon(tmp_path, site, receiver, [], during)
    cycles = [line for line in lines if " cycle http" in line]
    assert feed_runs(site) > 2 * len(cycles)
    assert not any("not ok:" in line for line in cycles), cycles
    assert sum("state: feed ok → error" in line for line in cycles) == 1, cycles
    assert sum("state: feed error → failing" in line for line in cycles) == 1, cycles
    assert sum("state: feed failing → ok" in line for line in cycles) == 1, cycles
    assert len(cycles) == 4, cycles     # the baseline, then each change of state


def test_verbose_logs_every_cycle(tmp_path, site, receiver):
    def during(log_path):
        start = feed_runs(site)
        wait_until(lambda: feed_runs(site) >= start + 4, "four routine cycles", log_path)
        time.sleep(1)

    lines = daemon(tmp_path, site, receiver, ["-v"], during)
    assert sum(" cycle http" in line for line in lines) >= 4


def test_a_restarted_daemon_notes_a_recovery_from_the_stored_state(tmp_path, site, receiver):
    """The state a change is judged against is the store's, not the daemon's memory: a source that was `error` when
    the daemon (re)started, then `ok`, is `state: feed error → ok` on the cycle's line."""
    publish(site, {"feed": [OLD]})
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    assert subprocess.run([REGWATCH, "run", "--once", "-c", str(cfg)], capture_output=True, timeout=180).returncode == 0
    good = site.pages["/feed.xml"]
    site.pages["/feed.xml"] = Page(b"down", 500)
    subprocess.run([REGWATCH, "run", "--once", "-c", str(cfg)], capture_output=True, timeout=180)   # the error, stored
    site.pages["/feed.xml"] = good
    log_path = tmp_path / "daemon.log"
    with open(log_path, "w", encoding="utf-8") as err:
        p = subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], stdout=subprocess.DEVNULL, stderr=err)
        try:
            start = feed_runs(site)
            wait_until(lambda: feed_runs(site) >= start + 3, "three cycles", log_path)
            time.sleep(0.5)
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=60)
    cycles = [line for line in log_path.read_text(encoding="utf-8").splitlines() if " cycle http" in line]
    assert sum("state: feed error → ok" in line for line in cycles) == 1, cycles
