"""A full disk while the crawl stores its articles: `run --once` exited 0 and blamed every source ("processing
failed (FileError: …: database or disk is full)" as an article error of each). The store failing is the run's
failure: one line naming the store (`regwatch: …rw.db: database or disk is full`) and exit 2, no source blamed."""

import subprocess
import sys

from support.config import write_config
from support.news import art, publish

TEXT = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调。"
# the real `regwatch`, its SQLite store held to the pages it has when opened (SQLite's own max_page_count: every
# write that needs one more page fails SQLITE_FULL, as on a full disk)
FULL = """
import sys
from regwatch.pipeline.store.sqlite import connection
opened = connection.SQLiteConnection.__init__
def held(self, path):
    opened(self, path)
    pages = self.conn.execute("PRAGMA page_count").fetchone()[0]
    self.conn.execute(f"PRAGMA max_page_count = {pages}")
connection.SQLiteConnection.__init__ = held
from regwatch.service.cli import main
sys.argv[0] = "regwatch"
sys.exit(main())
"""


def config(tmp_path, site):
    return write_config(tmp_path, sources=[{"name": "news", "kind": "feed", "url": f"{site.url}/feed.xml"}])


def test_a_full_disk_while_storing_articles_fails_the_run_in_one_line(tmp_path, site, rw):
    cfg = config(tmp_path, site)
    publish(site, {"feed": [art("a1", "消费金融利率上限降至20%", TEXT)]})
    assert rw("run", "--once", "-c", cfg).returncode == 0            # the baseline, stored
    long_text = "\n".join(TEXT + f"（第{i}段）" * 20 for i in range(40))
    publish(site, {"feed": [art("a1", "消费金融利率上限降至20%", TEXT)] +
                   [art(f"n{i}", f"第{i}号：银行业监管新规发布", long_text, 5) for i in range(3)]})
    r = subprocess.run([sys.executable, "-c", FULL, "run", "--once", "-c", str(cfg)], capture_output=True,
                       text=True, timeout=180)
    assert r.returncode == 2, r.stderr
    assert f"regwatch: {tmp_path}/rw.db: database or disk is full" in r.stderr.splitlines()
    assert "processing failed" not in r.stderr
