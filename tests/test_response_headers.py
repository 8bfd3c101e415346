"""A response's headers are bounded (64 KB, 1,000 lines): a server sending header lines without end — or one header
folded over endless continuation lines — fails that request at once, in one line, the connection cut, whatever the
page is (a list page, an article, an attachment), over HTTPS and behind a proxy too; the rest of the crawl goes on.

Each flooding answer stops by itself at `Flood.CAP` bytes (so a crawl that does not cut it off costs the machine
50 MB, not gigabytes) and says whether the client cut it off first."""

import json
import sqlite3

import pytest
from support.config import write_config
from support.news import feed_source, links_feed
from support.servers import Page, TlsSite

TEXT = "中国人民银行发布通知，要求各金融机构明示贷款年化利率，保护金融消费者的知情权。" * 6


def _article(title: str) -> bytes:
    return (
        f"<html><head><meta charset='utf-8'><title>{title}</title></head><body><h1>{title}</h1><p>{TEXT}</p></body></html>"
    ).encode()


class Flood:
    """`HTTP/1.1 200 OK`, then `first`, then `line` over and over: no end of the headers, no body. (`first=None`:
    `line` over and over from the start.)"""

    CAP = 50 * 2**20  # bytes at most, then the server closes the connection

    def __init__(self, line: bytes, first: bytes | None = b""):
        self.first, self.line = first, line
        self.sent = 0
        self.cut = False  # the client cut the connection before CAP

    def __call__(self, h) -> None:
        h.close_connection = True
        block = self.line * max(1, 65536 // len(self.line))
        try:
            if self.first is not None:
                h.wfile.write(b"HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\n" + self.first)
            while self.sent < self.CAP:
                h.wfile.write(block)
                self.sent += len(block)
        except OSError:
            self.cut = True

    def page(self) -> Page:
        return Page(b"", raw=self)


def lines() -> Flood:
    """Header lines of 8 KB each, without end."""
    return Flood(b"X-Flood: " + b"a" * 8000 + b"\r\n")


def folded() -> Flood:
    """One header folded over continuation lines of 8 KB each, without end."""
    return Flood(b" " + b"b" * 8000 + b"\r\n", first=b"X-Fold: a\r\n")


def _cut_off(flood: Flood) -> None:
    # memory bounded: the client stopped reading at the limit and cut the connection (what the server could still
    # write went to the sockets' buffers), long before the server's own cap
    assert flood.cut and flood.sent < Flood.CAP, (flood.cut, flood.sent)


def _messages(db) -> dict[str, str]:
    return {s: m or "" for s, m in sqlite3.connect(db).execute("SELECT source, message FROM source_runs")}


def test_endless_headers_fail_their_request_at_once_and_the_crawl_goes_on(tmp_path, site, rw):
    u = site.url
    floods = {"/hdr": lines(), "/fold": folded(), "/a/flood.html": lines(), "/doc/flood.pdf": folded()}
    for path, flood in floods.items():
        site.pages[path] = flood.page()
    site.pages["/many"] = Flood(b"X-A: b\r\n").page()  # short lines: 8 KB of them is 1,000 lines
    # 1xx answers without end before the response (each one ignored by Twisted, and its headers dropped): counted too
    site.pages["/hints"] = Flood(b"HTTP/1.1 103 Early Hints\r\nLink: </s.css>; rel=preload\r\n\r\n", first=None).page()
    # a header line of 40 KB is within the limit (Twisted's own 16 KB a line is not a limit here; browsers have none)
    site.pages["/a/ok.html"] = Page(_article("利率新规"), headers={"X-Big": "c" * 40_000})
    site.pages["/feed.xml"] = links_feed(f"{u}/a/ok.html", f"{u}/a/flood.html")
    site.pages["/docs.json"] = Page(
        json.dumps({"rows": [{"title": "处罚公告", "url": f"{u}/a/doc1.html", "pdf": "/doc/flood.pdf"}]}).encode(),
        ctype="application/json",
    )
    site.pages["/a/doc1.html"] = Page(_article("处罚公告"))
    listing = {"kind": "listing", "links": "ul a"}
    cfg = write_config(
        tmp_path,
        crawl={"timeout": "60s"},
        sources=[
            feed_source(site, "good"),
            {
                "name": "docs",
                "kind": "json",
                "url": f"{u}/docs.json",
                "items": "rows",
                "link": "url",
                "title": "title",
                "attachment": "pdf",
            },
            {"name": "flood", "url": f"{u}/hdr", **listing},
            {"name": "fold", "url": f"{u}/fold", **listing},
            {"name": "many", "url": f"{u}/many", **listing},
            {"name": "hints", "url": f"{u}/hints", **listing},
        ],
    )
    r = rw("run", "--once", "-c", cfg, timeout=300)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    messages = _messages(tmp_path / "rw.db")
    assert messages["flood"] == f"list page {u}/hdr: response headers over 64 KB", messages
    assert messages["fold"] == f"list page {u}/fold: response headers over 64 KB", messages
    assert messages["many"] == f"list page {u}/many: response headers over 1,000 lines", messages
    assert messages["hints"] == f"list page {u}/hints: response headers over 1,000 lines", messages
    assert f"{u}/a/flood.html: response headers over 64 KB" in messages["good"], messages
    assert f"its attachment {u}/doc/flood.pdf: response headers over 64 KB: not read" in messages["docs"], messages
    stored = {url for (url,) in sqlite3.connect(tmp_path / "rw.db").execute("SELECT url FROM articles")}
    assert stored == {f"{u}/a/ok.html", f"{u}/a/doc1.html"}, stored  # the rest of the crawl went on
    for path, flood in floods.items():
        _cut_off(flood)
        assert len(site.requests(path)) == 1, path  # failed at once: not retried


@pytest.fixture
def tls_site():
    s = TlsSite()
    yield s
    s.stop()


def test_over_https_and_behind_a_proxy_the_headers_are_bounded_and_pages_still_read(tmp_path, site, tls_site, rw):
    t = tls_site.url
    tls_site.pages["/hdr"] = (over_tls := lines()).page()
    tls_site.pages["/a/ok.html"] = Page(_article("利率新规"))
    tls_site.pages["/feed.xml"] = links_feed(f"{t}/a/ok.html")
    proxy = site  # a forward proxy: asked for absolute URLs
    origin = "http://127.0.0.1:1"  # the proxied source's origin
    proxy.pages[f"{origin}/hdr"] = (proxied := folded()).page()
    proxy.pages[f"{origin}/feed.xml"] = links_feed(f"{origin}/a/ok.html")
    proxy.pages[f"{origin}/a/ok.html"] = Page(_article("另一篇"))
    listing = {"kind": "listing", "links": "ul a"}
    cfg = write_config(
        tmp_path,
        crawl={"timeout": "60s", "obey_robots": False},
        sources=[
            {"name": "tls", "kind": "feed", "url": f"{t}/feed.xml"},
            {"name": "tlsflood", "url": f"{t}/hdr", **listing},
            {"name": "proxied", "kind": "feed", "url": f"{origin}/feed.xml"},
            {"name": "proxyflood", "url": f"{origin}/hdr", **listing},
        ],
    )
    env = {
        "http_proxy": proxy.url,
        "HTTP_PROXY": proxy.url,
        "no_proxy": "127.0.0.1:" + t.rsplit(":", 1)[1],
        "NO_PROXY": "127.0.0.1:" + t.rsplit(":", 1)[1],
    }
    r = rw("run", "--once", "-c", cfg, env=env, timeout=300)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    messages = _messages(tmp_path / "rw.db")
    assert messages["tlsflood"] == f"list page {t}/hdr: response headers over 64 KB", messages
    assert messages["proxyflood"] == f"list page {origin}/hdr: response headers over 64 KB", messages
    assert not messages["tls"] and not messages["proxied"], messages
    stored = {url for (url,) in sqlite3.connect(tmp_path / "rw.db").execute("SELECT url FROM articles")}
    assert stored == {f"{t}/a/ok.html", f"{origin}/a/ok.html"}, stored
    _cut_off(over_tls)  # over TLS too: cut at once, not closed politely while the server goes on sending
    _cut_off(proxied)


def test_extract_says_the_same_line(site, rw):
    """`regwatch extract URL` (httpx, h11) refuses such an answer in the crawl's words, and a head between the
    crawl's limit and h11's own (100 KB under httpx) alike."""
    site.pages["/hdr"] = (flood := lines()).page()
    site.pages["/fold"] = folded().page()
    site.pages["/80k"] = Page(_article("标题"), headers={f"X-H{i}": "d" * 8000 for i in range(10)})
    site.pages["/many"] = Page(_article("标题"), headers={f"X-H{i}": "e" for i in range(1_000)})
    site.pages["/ok"] = Page(_article("利率新规"), headers={"X-Big": "c" * 40_000})
    for path, why in (
        ("/hdr", "response headers over 64 KB"),
        ("/fold", "response headers over 64 KB"),
        ("/80k", "response headers over 64 KB"),
        ("/many", "response headers over 1,000 lines"),
    ):
        r = rw("extract", f"{site.url}{path}", timeout=120)
        lines_ = r.stderr.strip().splitlines()
        assert r.returncode == 2 and len(lines_) == 1, (r.returncode, r.stderr[-2000:])
        assert lines_[0].endswith(f"{site.url}{path}: {why}"), lines_
    _cut_off(flood)
    r = rw("extract", f"{site.url}/ok", timeout=120)
    assert r.returncode == 0 and "利率新规" in r.stdout, r.stderr[-2000:]
