"""A main process killed outright (`kill -9`, the OOM killer) leaves no extraction worker, forkserver or
resource tracker behind: they end with it."""

import os
import signal
import subprocess
import sys
import time

from conftest import REGWATCH
from support.news import art, feed_to_webhook_config, publish


def session(sid: int) -> dict[int, str]:
    """The live processes of session `sid`: pid -> command line."""
    found = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8", errors="replace") as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open(f"/proc/{entry}/cmdline", "rb") as f:
                cmd = f.read().replace(b"\0", b" ").decode(errors="replace")
        except OSError:
            continue
        if fields[0] != "Z" and int(fields[3]) == sid:     # state, ppid, pgrp, session
            found[int(entry)] = cmd
    return found


def test_kill_9_of_the_daemon_leaves_no_worker_or_forkserver(tmp_path, site, receiver):
    body = "某银行发布第{}份年度报告，全年营业收入同比增长5%，净利润保持稳定。"
    publish(site, {"feed": [art(f"a{i}", f"银行发布第{i}份年度报告", body.format(i), 100 + i) for i in range(6)]})
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    err_path = tmp_path / "daemon.log"
    with open(err_path, "w", encoding="utf-8") as err:
        p = subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], stdout=subprocess.DEVNULL, stderr=err,
                             start_new_session=True)
        try:
            expected = 3 + len(os.sched_getaffinity(0))     # main, tracker, forkserver, a worker a core
            deadline = time.time() + 60
            while time.time() < deadline and len(session(p.pid)) < expected:
                time.sleep(0.2)
            time.sleep(1)       # the pool started: its workers wait on their job queue
            before = session(p.pid)
            assert len(before) >= expected, f"the workers never started: {before}\n{err_path.read_text()[-2000:]}"
            p.kill()
            p.wait(timeout=10)
            deadline = time.time() + 5
            while time.time() < deadline and session(p.pid):
                time.sleep(0.1)
            left = session(p.pid)
        finally:
            for pid in session(p.pid):
                os.kill(pid, signal.SIGKILL)
    assert not left, f"left running after kill -9 of the main process: {left}"
    time.sleep(0.5)
    log = err_path.read_text(encoding="utf-8", errors="replace")
    assert "Traceback" not in log and "pickle data was truncated" not in log, log[-2000:]
    # the resource tracker cleans up the killed daemon's semaphores without saying so in its journal (`UserWarning:
    # resource_tracker: There appear to be 5 leaked semaphore objects …`): a warning filter on its process alone
    assert "leaked" not in log and "UserWarning" not in log, log[-2000:]
    quiet = [cmd for cmd in before.values() if " -W" in cmd]
    assert len(quiet) == 1 and "resource_tracker" in quiet[0], before


def test_a_process_a_worker_forks_is_not_ended_by_the_workers_hook():
    """(review) The at-fork hook that ties a worker to its forkserver is inherited: a process a worker forks in its
    turn (multiprocessing, a library's own fork) used to exit at once, status 1, without a word."""
    code = """if True:
        import os, sys
        import regwatch.crawler.worker_lifetime           # this process plays the forkserver
        worker = os.fork()
        if worker == 0:                                    # a worker: it forks a child of its own
            child = os.fork()
            if child == 0:
                os._exit(7)
            os._exit(os.waitstatus_to_exitcode(os.waitpid(child, 0)[1]))
        sys.exit(os.waitstatus_to_exitcode(os.waitpid(worker, 0)[1]))
    """
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert r.returncode == 7, r.stderr
