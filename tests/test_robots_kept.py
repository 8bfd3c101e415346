"""robots.txt is fetched once by the daemon and kept for its later crawls (ROBOTS_KEEP), still obeyed by them:
at `every = "1s"` it was fetched again by every crawl (a quarter of a site's requests at 20 s)."""

import signal
import sqlite3
import subprocess
import time

from conftest import REGWATCH
from support.config import write_config
from support.news import art, feed_source, feed_to_webhook_config, publish
from support.servers import Page

OLD = art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 100)
NEW = art("secret", "央行推出一次性信用修复政策", "中国人民银行宣布实施一次性信用修复政策，符合条件的个人逾期记录将不予展示。", 1)


def test_robots_txt_is_fetched_once_across_the_daemons_crawls_and_still_obeyed(tmp_path, site, receiver):
    publish(site, {"feed": [OLD]})
    site.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow: /a/secret\n", ctype="text/plain")
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    p = subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(site.requests("/feed.xml")) < 4:
            time.sleep(0.2)
        publish(site, {"feed": [OLD, NEW]})     # a later crawl finds an article robots.txt forbids
        seen = len(site.requests("/feed.xml"))
        while time.time() < deadline and len(site.requests("/feed.xml")) < seen + 3:
            time.sleep(0.2)
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err[-2000:]
    assert len(site.requests("/feed.xml")) >= 7           # seven crawls …
    assert len(site.requests("/robots.txt")) == 1         # … one robots.txt
    assert site.requests("/a/old") and not site.requests("/a/secret")


def _endless(head: bytes, chunk: bytes):
    def write(h):
        h.send_response(200)
        h.send_header("Content-Type", "text/plain")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        try:
            for part in (head, *[chunk] * 10_000):        # 100 MB at most
                h.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
                h.wfile.flush()
        except OSError:          # regwatch hung up
            pass
    return write


def _robots_run(tmp_path, site, robots: bytes, rw, endless: bytes = b"") -> str:
    """One `run --once` of the site's feed (naming /a/early, /a/late and /a/ok) under this robots.txt (`endless`:
    followed by these bytes again and again, in chunks, until regwatch hangs up): the run's record (its notes)."""
    text = "中国人民银行发布通知，要求各金融机构明示贷款年化利率。"
    arts = [art(n, f"央行发布通知{n}", text, 5) for n in ("early", "late", "ok")]
    publish(site, {"feed": arts})
    site.pages["/robots.txt"] = Page(robots, ctype="text/plain", raw=_endless(robots, endless) if endless else None)
    tmp_path.mkdir()
    cfg = write_config(tmp_path, sources=[feed_source(site)])
    r = rw("run", "--once", "-c", cfg, timeout=120)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    (message,) = sqlite3.connect(tmp_path / "rw.db").execute("SELECT message FROM source_runs").fetchone()
    assert site.requests("/a/ok"), message
    return message or ""


def test_a_robots_txt_is_read_to_its_first_500_kib_and_its_first_thousand_wildcard_rules(tmp_path, site, rw):
    """A 10 MB robots.txt of wildcard rules took 11.5 s to parse and 1.6 s for each URL checked, on the event loop:
    a robots.txt is read to its first 500 KiB (Google's limit) and to its 1,000th rule with a `*` or `$`; the rules
    before are obeyed, what follows is ignored, said in the run's record."""
    head = b"User-agent: *\nDisallow: /a/early\n"
    padding = b"# " + b"x" * 97 + b"\n"                                  # 100 bytes a line: 6,000 lines, 600 KB
    message = _robots_run(tmp_path / "bytes", site, head + padding * 6000 + b"Disallow: /a/late\n", rw)
    assert not site.requests("/a/early") and site.requests("/a/late")
    assert f"{site.url}/robots.txt: over 500 KiB, read to its first {len(head) + 5119 * 100} bytes; the rest ignored" \
           in message, message
    site.log.clear()
    wild = b"".join(b"Disallow: /*q%07d*z\n" % i for i in range(1500))     # 30 KB
    message = _robots_run(tmp_path / "rules", site, head + wild + b"Disallow: /a/late\n", rw)
    assert not site.requests("/a/early") and site.requests("/a/late")
    assert f"{site.url}/robots.txt: more than 1000 rules with a * or $, read to its line 1002; the rest ignored" \
           in message, message
    # an endless robots.txt: its download stops after 500 KiB, and what was read is obeyed (it was read to max_size,
    # then failed: a site without one)
    site.log.clear()
    message = _robots_run(tmp_path / "endless", site, head, rw, endless=padding * 100)
    assert not site.requests("/a/early") and site.requests("/a/late")
    assert f"{site.url}/robots.txt: over 500 KiB, read to its first {len(head) + 5119 * 100} bytes; the rest ignored" \
           in message, message
