"""The store failing while a daemon's cycle stores an article (a full disk): the cycle ended with one log line
(`cycle … failed`) and the run of the source recorded nothing of it — `regwatch sources` and the health notices
showed a run without the failure. The run of the source whose article could not be stored says so when the store
can still record it (when it cannot, one log line says that the runs are not recorded)."""

import sqlite3
import subprocess
import sys
import time

from support.news import art, publish

TEXT = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调。"
LONG = "\n".join(TEXT + f"（第{i}段）" * 20 for i in range(40))

# one cycle of the real daemon's scheduler (its own process: a crawl runs the reactor once per process), its
# SQLite store allowed to grow by SLACK pages (SQLite's own max_page_count: a write that needs more fails
# SQLITE_FULL, as on a full disk)
CYCLE = """
import sys
from regwatch.service import reactor
from regwatch.service.commands.service import quiet_libraries
from regwatch.service.app import App
from regwatch.service.config import load_config
from regwatch.service.scheduler import SourceScheduler

quiet_libraries(verbose=False)      # the daemon's log
app = App(load_config(sys.argv[1]))
pages = app.store.one("PRAGMA page_count")
app.store.one(f"PRAGMA max_page_count = {pages + int(sys.argv[2])}")

async def main():
    await SourceScheduler(app)._crawl_site("site", app.enabled_sources())

try:
    reactor.run(main)
finally:
    app.close()
"""


def config(tmp_path, site):
    p = tmp_path / "regwatch.toml"
    p.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n[crawl]\ndelay = "0s"\n'
                 f'[[sources]]\nname = "news"\nkind = "feed"\nurl = "{site.url}/feed.xml"\nevery = "1s"\n', encoding="utf-8")
    return p


def full_cycle(tmp_path, site, rw, slack: int) -> tuple[subprocess.CompletedProcess, list[tuple]]:
    cfg = config(tmp_path, site)
    publish(site, {"feed": [art("a1", "消费金融利率上限降至20%", TEXT)]})
    assert rw("run", "--once", "-c", cfg).returncode == 0            # the baseline, stored
    publish(site, {"feed": [art("a1", "消费金融利率上限降至20%", TEXT)] +
                   [art(f"n{i}", f"第{i}号：银行业监管新规发布", LONG, 5) for i in range(3)]})
    conn = sqlite3.connect(tmp_path / "rw.db")
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    time.sleep(1.5)                                                     # due again
    r = subprocess.run([sys.executable, "-c", CYCLE, str(cfg), str(slack)], capture_output=True, text=True, timeout=180)
    conn = sqlite3.connect(tmp_path / "rw.db")
    runs = conn.execute("SELECT errors, message FROM source_runs WHERE source = 'news' ORDER BY id").fetchall()
    conn.close()
    assert r.returncode == 0, r.stderr
    assert "cycle site failed" in r.stderr and "Traceback" not in r.stderr
    return r, runs


def test_a_full_store_during_a_daemon_cycle_is_on_the_sources_run(tmp_path, site, rw):
    _, runs = full_cycle(tmp_path, site, rw, slack=1)
    assert len(runs) == 2
    errors, message = runs[-1]
    assert "not stored: the store failed" in message and "database or disk is full" in message
    # the store's failure, not the source's: no error of the source (toward `failing_after`, a health notice)
    assert errors == 0
    conn = sqlite3.connect(tmp_path / "rw.db")
    state, failing = conn.execute("SELECT state, failing_runs FROM source_state").fetchone()
    conn.close()
    assert (state, failing) == ("ok", 0)



def test_a_first_run_the_store_cut_short_is_not_the_sources_baseline(tmp_path, site, rw):
    # the source's first run stored some of its articles, then the store failed: what it did not store would alert
    # as new next run, were this its baseline (the failure is not the source's error, but the run was cut short)
    cfg = config(tmp_path, site)
    publish(site, {"feed": [art("a1", "消费金融利率上限降至20%", TEXT)] +
                   [art(f"n{i}", f"第{i}号：银行业监管新规发布", LONG, 5) for i in range(3)]})
    slack = 12                          # (room for its first article or so)
    r = subprocess.run([sys.executable, "-c", CYCLE, str(cfg), str(slack)], capture_output=True, text=True, timeout=180)
    assert "cycle site failed" in r.stderr and "Traceback" not in r.stderr, r.stderr
    conn = sqlite3.connect(tmp_path / "rw.db")
    stored = conn.execute("SELECT count(*) FROM articles").fetchone()[0]
    baselined = conn.execute("SELECT baselined_at FROM source_state WHERE source = 'news'").fetchone()
    conn.close()
    assert 0 < stored < 4, stored
    assert baselined is None or baselined[0] is None
