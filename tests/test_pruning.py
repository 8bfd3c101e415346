"""The story index holds the story window's articles only, whoever runs regwatch: `run --once` from cron and a
daemon restarted more often than daily prune it when a pruning is due (the store remembers the last one)."""

import signal
import sqlite3
import subprocess
import time

from conftest import REGWATCH
from support.news import art, feed_to_webhook_config, publish


def old_rows(db, n=300):
    """Index rows of an article seen long before the story window."""
    with sqlite3.connect(db) as conn:
        conn.executemany("INSERT INTO story_keys (key, seen, article_id, story_id) VALUES (?, 1000, 1, 1)",
                         [(k,) for k in range(n)])


def count_old(db):
    return sqlite3.connect(db).execute("SELECT count(*) FROM story_keys WHERE seen = 1000").fetchone()[0]


def pruned_at(db):
    row = sqlite3.connect(db).execute("SELECT value FROM store_meta WHERE key = 'story_keys_pruned_at'").fetchone()
    return float(row[0]) if row else None


def set_pruned_at(db, when):
    with sqlite3.connect(db) as conn:
        conn.execute("UPDATE store_meta SET value = ? WHERE key = 'story_keys_pruned_at'", (repr(when),))


def test_run_once_prunes_when_a_pruning_is_due_and_not_before(tmp_path, site, receiver, rw):
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    db = tmp_path / "rw.db"
    publish(site, {"feed": [art("a1", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%。", 30)]})
    assert rw("run", "--once", "-c", cfg).returncode == 0
    first = pruned_at(db)
    assert first is not None and abs(first - time.time()) < 120        # a new store: pruned (nothing) at once

    old_rows(db)
    assert rw("run", "--once", "-c", cfg).returncode == 0
    assert count_old(db) == 300 and pruned_at(db) == first              # not due: a day has not passed

    set_pruned_at(db, time.time() - 86400 - 60)
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0
    assert count_old(db) == 0 and pruned_at(db) > first
    assert sqlite3.connect(db).execute("SELECT count(*) FROM story_keys").fetchone()[0] > 0   # the window's stay


def test_a_daemon_prunes_at_its_start_when_due(tmp_path, site, receiver, rw):
    """A daemon restarted daily (a deploy) used to prune only after a day of running: never."""
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    db = tmp_path / "rw.db"
    publish(site, {"feed": [art("a1", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%。", 30)]})
    assert rw("run", "--once", "-c", cfg).returncode == 0
    old_rows(db)
    set_pruned_at(db, time.time() - 86400 - 60)
    p = subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and count_old(db):
            time.sleep(0.2)
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 0 and "Traceback" not in err
    assert count_old(db) == 0 and pruned_at(db) > time.time() - 120
