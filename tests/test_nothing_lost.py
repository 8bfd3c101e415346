"""Nothing lost: every article a list names is stored, skipped for good, or fetched next run — after
a SIGTERM mid-crawl, a pipeline failure, a cap, a quiet sitemap index or a gzipped sitemap."""

import gzip
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time

from conftest import REGWATCH
from support.news import art, article_page, feed, feed_to_webhook_config, publish
from support.servers import Page

TEXT = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调，编号{n}。"


_serial = iter(range(1000, 10**6))


def new_arts(prefix, n, minutes_ago=5):
    """Articles on the cap topic, each its own story (the numbers differ)."""
    out = []
    for i in range(n):
        k = next(_serial)
        out.append(art(f"{prefix}{i}", f"利率上限新规第{k}号", TEXT.format(n=k), minutes_ago))
    return out


def stored(tmp_path, like="%"):
    return sqlite3.connect(tmp_path / "rw.db").execute("SELECT count(*) FROM articles WHERE url LIKE ?", (like,)).fetchone()[0]


def source_row(rw, cfg, name="feed"):
    rows = {r["source"]: r for r in map(json.loads, rw("sources", "--json", "-c", cfg).stdout.splitlines())}
    return rows[name]


HOLD = 180      # the longest a held page waits: longer than a run is given to stop, so a stop that waited for its
                # downloads instead of cutting them off would hang the test past `communicate`'s timeout


def held(page, gate):
    """A page that answers only once `gate` is set: the stop always meets these in flight, however slowly a loaded
    machine stores the first article (a fixed delay could pass first)."""
    def answer():
        gate.wait(HOLD)
        return page
    return answer


def long_downloads(cfg):
    """The crawl's download limit (30 s by default) beyond HOLD: a held page is cut off by the stop, never by it."""
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("per_domain = 8", f'per_domain = 8\ntimeout = "{HOLD + 60}s"'),
                   encoding="utf-8")


def stopped(p, gate, pgroup=False):
    """The process's output once it has exited (a minute at most); then the held pages are let go. One that does not
    exit is killed (its process group with it) before the test fails, so nothing outlives the test."""
    try:
        return p.communicate(timeout=60)[1]
    except subprocess.TimeoutExpired:
        if pgroup:
            os.killpg(p.pid, signal.SIGKILL)
        else:
            p.kill()
        p.communicate()
        raise
    finally:
        gate.set()


def test_sigterm_mid_crawl_then_a_normal_run_stores_all_40(tmp_path, site, receiver, rw):
    # failing_after = 1: were the pages the stop cut off errors, this one deploy would alert the source as failing
    cfg = feed_to_webhook_config(tmp_path, site, receiver,
                                 extra='[alerts]\nfailing_after = 1\nhealth_channels = ["gw"]\n')
    long_downloads(cfg)
    old = new_arts("old", 1, 600)
    publish(site, {"feed": old})
    assert rw("baseline", "-c", cfg).returncode == 0
    arts = new_arts("n", 40)
    publish(site, {"feed": old + arts})
    gate = threading.Event()
    for i, a in enumerate(arts):                     # a slow site: a fifth answers at once, the rest only after the stop
        site.pages[f"/a/{a['id']}.html"] = article_page(a) if i % 5 == 0 else held(article_page(a), gate)
    p = subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60                  # (until one is stored: a loaded machine may not have stored any yet)
        while time.time() < deadline and stored(tmp_path, "%/a/n%") == 0:
            time.sleep(0.1)
    finally:
        p.send_signal(signal.SIGTERM)                # a deploy, mid-crawl
        err = stopped(p, gate)
    assert p.returncode == 0 and "Traceback" not in err
    assert "still running after" not in err, err[-2000:]   # the downloads were cut off, not waited for until the deadline
    first = stored(tmp_path, "%/a/n%")
    assert 0 < first < 40
    # what the stop left is no error of the source: still ok, nothing counted toward failing_after, the
    # run's record names what was left for the next run
    row = source_row(rw, cfg)
    assert row["state"] == "ok" and row["errors"] == 0 and row["last_error"] is None, row
    assert "cut off by regwatch's stop" in row["last_message"] and "not fetched" in row["last_message"]
    assert sqlite3.connect(tmp_path / "rw.db").execute(
        "SELECT failing_runs FROM source_state WHERE source = 'feed'").fetchone()[0] == 0
    assert "cut short by regwatch's stop" in rw("sources", "-c", cfg).stdout
    assert not [m for m in receiver.delivered("gw") if (m["body"] or {}).get("type") == "source.health"]

    publish(site, {"feed": old + arts})              # the site is fast again; the next run
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0, r.stderr
    assert stored(tmp_path, "%/a/n%") == 40
    assert source_row(rw, cfg)["state"] == "ok"
    assert not [m for m in receiver.delivered("gw") if (m["body"] or {}).get("type") == "source.health"]



def test_ctrl_c_mid_run_once_stops_it_cleanly_and_the_next_run_stores_the_rest(tmp_path, site, receiver, rw):
    """Ctrl-C (or SIGTERM from a cron wrapper) on `run --once` while it downloads: it stops as the daemon
    stops — what it stored stays, the run is recorded, the exit code says 128 + the signal — and the next
    run stores the rest. (It used to hang in threading's shutdown, with nothing recorded.)"""
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    long_downloads(cfg)
    listed = new_arts("old", 1, 600)
    publish(site, {"feed": listed})
    assert rw("baseline", "-c", cfg).returncode == 0
    for prefix, sig, code in (("i", signal.SIGINT, 130), ("t", signal.SIGTERM, 143), ("h", signal.SIGHUP, 129)):
        arts = new_arts(prefix, 30)
        listed += arts
        publish(site, {"feed": listed})
        gate = threading.Event()
        for i, a in enumerate(arts):               # a fifth answers at once, the rest only after the stop
            site.pages[f"/a/{a['id']}.html"] = article_page(a) if i % 5 == 0 else held(article_page(a), gate)
        # its own process group, signalled as a whole: a terminal's Ctrl-C reaches the extraction workers too
        p = subprocess.Popen([REGWATCH, "run", "--once", "-c", str(cfg)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True, start_new_session=True)
        try:
            deadline = time.time() + 60            # until one is stored (a loaded machine may take a while)
            while time.time() < deadline and stored(tmp_path, f"%/a/{prefix}%") == 0:
                time.sleep(0.1)
        finally:
            os.killpg(p.pid, sig)
            err = stopped(p, gate, pgroup=True)    # no hang: the downloads in flight are cut off, not waited for
        assert p.returncode == code, err[-2000:]
        assert "Traceback" not in err and "KeyboardInterrupt" not in err and f"stopped by {sig.name}" in err
        row = source_row(rw, cfg)
        assert "BrokenPipe" not in err and "processing failed" not in (row["last_message"] or ""), row
        assert row["state"] == "ok" and row["errors"] == 0, row
        assert "cut off by regwatch's stop" in (row["last_message"] or ""), row
        assert 0 < stored(tmp_path, f"%/a/{prefix}%") < 30
    publish(site, {"feed": listed})
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0, r.stderr
    assert stored(tmp_path, "%/a/i%") == 30 and stored(tmp_path, "%/a/t%") == 30 and stored(tmp_path, "%/a/h%") == 30


def test_a_run_whose_only_new_article_is_gone_ends_without_a_traceback(tmp_path, site, receiver, rw):
    """The extraction workers start as the first new article is taken; when it answers 404 the run ends
    while they are still starting — the process waits for them (bounded) instead of leaving the forkserver
    to print `pickle data was truncated` on stderr."""
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    listed = new_arts("old", 1, 600)
    publish(site, {"feed": listed})
    assert rw("run", "--once", "-c", cfg).returncode == 0
    for n in range(3):
        listed += new_arts(f"gone{n}-", 1)
        publish(site, {"feed": listed})
        site.pages.pop(f"/a/{listed[-1]['id']}.html")
        r = rw("run", "--once", "-c", cfg)
        assert r.returncode == 0 and "Traceback" not in r.stderr and "Error" not in r.stderr, r.stderr


def test_an_article_missing_while_its_baseline_ran_never_alerts_when_it_comes(tmp_path, site, receiver, rw):
    """A page the baseline's list named answers 404 then: it would never alert, so it is skipped at once, as
    before there was a grace for missing pages (that grace is for articles that would alert)."""
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    old = new_arts("old", 3, 600)
    publish(site, {"feed": old})
    page = site.pages.pop(f"/a/{old[1]['id']}.html")
    assert rw("baseline", "-c", cfg).returncode == 0
    site.pages[f"/a/{old[1]['id']}.html"] = page
    fresh = new_arts("n", 1)
    publish(site, {"feed": old + fresh})
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0, r.stderr
    assert stored(tmp_path, "%/a/old%") == 2
    assert "feed skipped it for good (HTTP 404" in rw("why", f"{site.url}/a/{old[1]['id']}.html", "-c", cfg).stderr
    alerted = {m for msg in receiver.delivered("gw") for m in re.findall(r"/a/(\w+)\.html", json.dumps(msg["body"]))}
    assert alerted == {fresh[0]["id"]}

PATCH = """
import sys
from regwatch.pipeline import process
real = process.Processor._write
def failing(self, item, *args):
    if item.url.endswith("/a/n2.html"):
        raise OSError("disk I/O error")
    return real(self, item, *args)
process.Processor._write = failing
from regwatch.service.cli import main
main(["run", "--once", "-c", sys.argv[1]])
"""


def test_an_exception_in_the_item_pipeline_is_an_error_and_the_article_comes_next_run(tmp_path, site, receiver, rw):
    # a store that fails under one article (the disk, not regwatch): the only stand-in in this file
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    old = new_arts("old", 1, 600)
    publish(site, {"feed": old})
    rw("baseline", "-c", cfg)
    publish(site, {"feed": old + new_arts("n", 4)})
    r = subprocess.run([sys.executable, "-c", PATCH, str(cfg)], capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    assert stored(tmp_path, "%/a/n%") == 3
    row = source_row(rw, cfg)
    assert row["errors"] == 1 and "/a/n2.html" in row["last_error"] and "disk I/O error" in row["last_error"]
    rw("run", "--once", "-c", cfg)
    assert stored(tmp_path, "%/a/n%") == 4           # the list was read again, not answered 304


def test_a_cap_defers_the_rest_to_the_next_run_and_says_so(tmp_path, site, receiver, rw):
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    cfg.write_text(cfg.read_text().replace('delay = "0s"', 'delay = "0s"\nmax_articles_per_source = 2'), encoding="utf-8")
    old = new_arts("old", 4, 600)
    publish(site, {"feed": old})
    r = rw("run", "--once", "-c", cfg)               # the baseline takes 2 now, 2 next run: all baseline
    assert "2 deferred to the next run" in r.stderr
    new = new_arts("n", 3)
    publish(site, {"feed": old + new})
    runs = []
    for n in range(4):
        r = rw("run", "--once", "-c", cfg)
        runs.append(source_row(rw, cfg))
        if n == 0:    # 2 of the 3 new ones first; the third and the baseline's last 2 wait
            assert "3 deferred to the next run" in r.stderr
            assert "3 new articles deferred to the next run (max_articles_per_source)" in rw("sources", "-c", cfg).stdout
            assert stored(tmp_path, "%/a/n%") == 2 and stored(tmp_path, "%/a/old%") == 2
    assert [row["deferred"] for row in runs] == [3, 1, 0, 0]
    assert stored(tmp_path, "%/a/old%") == 4 and stored(tmp_path, "%/a/n%") == 3
    alerted = {m for msg in receiver.delivered("gw") for m in re.findall(r"/a/(\w+)\.html", json.dumps(msg["body"]))}
    assert alerted == {"n0", "n1", "n2"}             # the baseline's deferred articles never alert
    assert [q["status"] for q in site.requests("/feed.xml")][-2:] == [200, 304]   # all taken: 304 again


def test_by_default_every_new_entry_is_taken(tmp_path, site, receiver, rw):
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    publish(site, {"feed": new_arts("m", 60, 600)})
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0 and "deferred" not in r.stderr
    assert stored(tmp_path) == 60


def sitemap(site, arts):
    urls = "".join(f"<url><loc>{site.url}/a/{a['id']}.html</loc><lastmod>{a['when'].isoformat()}</lastmod></url>" for a in arts)
    return ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
            f'{urls}</urlset>').encode()


def sitemap_config(tmp_path, site, receiver, path):
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    cfg.write_text(cfg.read_text().replace('kind = "feed"', 'kind = "sitemap"').replace("/feed.xml", path), encoding="utf-8")
    return cfg


def test_a_quiet_sitemap_index_still_asks_its_children(tmp_path, site, receiver, rw):
    one, two = new_arts("s", 2, 600), new_arts("t", 2, 600)
    index = ('<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
             f'<sitemap><loc>{site.url}/sm/1.xml</loc></sitemap><sitemap><loc>{site.url}/sm/2.xml</loc></sitemap>'
             '</sitemapindex>').encode()
    site.pages["/sitemap-index.xml"] = Page(index, ctype="application/xml", etag=True)
    site.pages["/sm/1.xml"] = Page(sitemap(site, one), ctype="application/xml", etag=True)
    site.pages["/sm/2.xml"] = Page(sitemap(site, two), ctype="application/xml", etag=True)
    for a in one + two:
        site.pages[f"/a/{a['id']}.html"] = article_page(a)
    cfg = sitemap_config(tmp_path, site, receiver, "/sitemap-index.xml")
    rw("run", "--once", "-c", cfg)                   # the baseline
    assert stored(tmp_path) == 4
    site.log.clear()
    rw("run", "--once", "-c", cfg)                   # a quiet poll: everything answers 304
    assert sorted((q["path"], q["status"]) for q in site.log if q["path"] != "/robots.txt") == [
        ("/sitemap-index.xml", 304), ("/sm/1.xml", 304), ("/sm/2.xml", 304)]
    fresh = art("t9", "利率上限再下调", TEXT.format(n=99), 1)
    site.pages["/sm/2.xml"] = Page(sitemap(site, two + [fresh]), ctype="application/xml", etag=True)
    site.pages["/a/t9.html"] = article_page(fresh)
    rw("run", "--once", "-c", cfg)                   # the index is still quiet; a child is not
    assert stored(tmp_path, "%/a/t9.html") == 1
    assert any("/a/t9.html" in json.dumps(m["body"]) for m in receiver.delivered("gw"))


def test_a_gzipped_sitemap_is_read_and_a_gzip_bomb_is_refused(tmp_path, site, receiver, rw):
    arts = new_arts("g", 3, 600)
    site.pages["/sitemap.xml.gz"] = Page(gzip.compress(sitemap(site, arts)), ctype="application/x-gzip", etag=True)
    for a in arts:
        site.pages[f"/a/{a['id']}.html"] = article_page(a)
    cfg = sitemap_config(tmp_path, site, receiver, "/sitemap.xml.gz")
    rw("run", "--once", "-c", cfg)
    assert stored(tmp_path) == 3 and source_row(rw, cfg)["state"] == "ok"

    bomb = gzip.compress(b"<urlset>" + b" " * 20_000_000 + b"</urlset>")   # 20 MB from ~20 KB
    site.pages["/sitemap.xml.gz"] = Page(bomb, ctype="application/x-gzip")
    rw("run", "--once", "-c", cfg)
    row = source_row(rw, cfg)
    assert row["errors"] == 1 and "once decompressed" in row["last_error"] and "/sitemap.xml.gz" in row["last_error"]


def test_a_list_that_ignores_validators_is_not_parsed_again_when_unchanged(tmp_path, site, receiver, rw):
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    arts = new_arts("h", 3, 600)
    publish(site, {"feed": arts})
    site.pages["/feed.xml"] = Page(feed(site, arts).body, ctype="application/rss+xml")   # no ETag, no Last-Modified
    rw("run", "--once", "-c", cfg)
    assert source_row(rw, cfg)["found"] == 3
    rw("run", "--once", "-c", cfg)
    row = source_row(rw, cfg)
    assert row["found"] == 3 and row["state"] == "ok"      # same bytes: not read again (found: as last read)
    more = arts + new_arts("i", 1)
    site.pages["/feed.xml"] = Page(feed(site, more).body, ctype="application/rss+xml")
    site.pages["/a/i0.html"] = article_page(more[-1])
    rw("run", "--once", "-c", cfg)
    assert source_row(rw, cfg)["found"] == 4 and stored(tmp_path) == 4


def test_forbidden_removed_and_binary_articles_are_skipped_once_and_the_list_still_304s(tmp_path, site, receiver, rw):
    receiver.routes["ops"] = {"type": "webhook"}
    cfg = feed_to_webhook_config(tmp_path, site, receiver, extra='[alerts]\nhealth_channels = ["gw"]\nfailing_after = 1\n')
    old = new_arts("old", 1, 600)
    publish(site, {"feed": old})
    rw("run", "--once", "-c", cfg)
    good = new_arts("ok", 1)
    forbidden, gone, removed, pdf = new_arts("forbidden", 1), new_arts("gone", 1), new_arts("removed", 1), new_arts("pdf", 1)
    late = new_arts("late", 1)
    publish(site, {"feed": old + good + forbidden + gone + removed + pdf + late})
    site.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow: /a/forbidden\n", ctype="text/plain")
    del site.pages["/a/gone0.html"]                                         # 404
    site.pages["/a/removed0.html"] = Page(b"<html><body>gone</body></html>", status=410)
    site.pages["/a/pdf0.html"] = Page(b"%PDF-1.4\n" + bytes(range(256)) * 40, ctype="text/html")
    late_page = site.pages.pop("/a/late0.html")                             # listed before it is up
    db = sqlite3.connect(tmp_path / "rw.db", isolation_level=None)
    for n in range(2):
        r = rw("run", "--once", "-c", cfg)
        assert r.returncode == 0 and "not ok" not in r.stderr
        if n == 0:
            site.pages["/a/late0.html"] = late_page                         # up now: fetched, stored, alerted
    # robots.txt and binaries are skipped at once; a 404 / 410 is asked again each run for a day (a site may
    # list a page before it is up), a note and no error
    row = source_row(rw, cfg)
    assert row["state"] == "ok" and row["errors"] == 0 and row["skipped"] == 2
    assert "HTTP 404; asked again each run until it has been missing 24 h" in row["last_message"]
    for path in ("/a/gone0.html", "/a/removed0.html", "/a/late0.html"):
        assert len(site.requests(path)) == 2, path
    assert len(site.requests("/a/pdf0.html")) == 1
    why = rw("why", f"{site.url}/a/gone0.html", "-c", cfg)
    assert why.returncode == 2 and "feed finds it missing since" in why.stderr, why.stderr
    db.execute("UPDATE source_urls SET at = '2000-01-01T00:00:00+00:00' WHERE state = 'missing'")   # a day on
    for _ in range(2):
        r = rw("run", "--once", "-c", cfg)
        assert r.returncode == 0 and "not ok" not in r.stderr
    row = source_row(rw, cfg)
    assert row["state"] == "ok" and row["errors"] == 0 and row["skipped"] == 4
    assert "4 articles skipped for good" in rw("sources", "-c", cfg).stdout
    assert "feed skipped it for good (HTTP 410" in rw("why", f"{site.url}/a/removed0.html", "-c", cfg).stderr
    skipped = dict(db.execute("SELECT url, reason FROM source_urls WHERE state = 'skipped'").fetchall())
    assert skipped == {f"{site.url}/a/forbidden0.html": "forbidden by robots.txt", f"{site.url}/a/gone0.html": "HTTP 404",
                       f"{site.url}/a/removed0.html": "HTTP 410", f"{site.url}/a/pdf0.html": "a binary file, not a page"}
    assert [q["status"] for q in site.requests("/feed.xml")][-1] == 304       # the list keeps its validators
    for path in ("/a/gone0.html", "/a/removed0.html"):
        assert len(site.requests(path)) == 3, path                          # then never asked again
    assert not site.requests("/a/forbidden")
    texts = [json.dumps(m["body"], ensure_ascii=False) for m in receiver.delivered("gw")]
    assert sum("/a/ok0.html" in t for t in texts) == 1 and sum("/a/late0.html" in t for t in texts) == 1
    assert not any("feed" in t and ("failing" in t or "健康" in t) for t in texts)   # no health alert


def test_an_article_error_names_its_url(tmp_path, site, receiver, rw):
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    old = new_arts("old", 1, 600)
    publish(site, {"feed": old})
    rw("run", "--once", "-c", cfg)
    with socket.socket() as s:                       # a port where nothing listens
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    elsewhere = f"http://127.0.0.1:{closed}/a/x.html"
    page = feed(site, old)
    page.body = page.body.replace(b"</channel>", f"<item><title>t</title><link>{elsewhere}</link></item></channel>".encode())
    site.pages["/feed.xml"] = page
    rw("run", "--once", "-c", cfg)
    row = source_row(rw, cfg)
    assert row["state"] == "error" and elsewhere in row["last_error"] and "refused" in row["last_error"]


def test_sources_that_name_the_same_article_all_come_through(tmp_path, site, receiver, rw):
    # one crawl fetches the article once (Scrapy drops the duplicate requests); every source that
    # named it gets that outcome, so every list keeps its validators
    [one] = new_arts("shared", 1, 600)
    site.pages["/a/shared0.html"] = article_page(one)
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    text = cfg.read_text()
    block = text[text.index("[[sources]]"):text.index("[[channels]]")]
    many = "".join(block.replace('name = "feed"', f'name = "f{i}"').replace("/feed.xml", f"/feed/{i}.xml") for i in range(20))
    cfg.write_text(text.replace(block, many), encoding="utf-8")
    for i in range(20):
        site.pages[f"/feed/{i}.xml"] = feed(site, [one])
    rw("run", "--once", "-c", cfg)
    assert len(site.requests("/a/shared0.html")) == 1
    rows = [json.loads(line) for line in rw("sources", "--json", "-c", cfg).stdout.splitlines()]
    assert all(r["state"] == "ok" and r["errors"] == 0 and r["baselined"] for r in rows)
    site.log.clear()
    rw("run", "--once", "-c", cfg)
    assert sorted({q["status"] for q in site.log if q["path"].startswith("/feed/")}) == [304]


def test_a_list_of_half_a_million_links_is_read_to_its_first_50000_and_a_run_takes_its_cap(tmp_path, site, rw):
    """A hostile (or broken) list page within max_size naming 500,000 links: the crawl reads the first 50,000,
    says so, and fetches its cap of new articles a run (1,000 unless set; the rest deferred, never scheduled)."""
    items = [{"u": f"/a/{i}.html"} for i in range(500_000)]
    site.pages["/api/list"] = Page(json.dumps({"data": items}, separators=(",", ":")).encode(), ctype="application/json")
    cfg = tmp_path / "regwatch.toml"     # (reading 10 MB of JSON takes seconds; on a machine the other tests load, over 30)
    cfg.write_text(f"""[store]\npath = "{tmp_path}/rw.db"\n[crawl]\ndelay = "0s"\nmax_size = "20MB"\nmax_articles_per_source = 20
extract_timeout = "300s"
[[sources]]\nname = "huge"\nkind = "json"\nurl = "{site.url}/api/list"\nitems = "data"\nlink = "u"
""", encoding="utf-8")
    r = rw("run", "--once", "-c", cfg, timeout=600)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    row = source_row(rw, cfg, "huge")
    assert row["found"] == 50_000 and row["deferred"] == 49_980, row
    assert "names more than 50,000 entries: the first 50,000 read" in (row["last_message"] or "") + (row["last_error"] or "")
    assert len(site.requests("/a/")) == 20             # the articles' pages answer 404: skipped, never an error
