"""`regwatch extract URL` fetches a page as the crawler does: the address guard on every redirect (the page's own
origin and public addresses), only http and https, the crawl's `max_size` counted on decompressed bytes, and the
crawl's `timeout` as a deadline for the whole fetch. Each refusal is one line on stderr and exit code 2.

Every server here is on 127.0.0.1: another loopback port stands for a private host (the page's origin is
127.0.0.1 at the page site's port, so another port is not its origin), so nothing can leave the machine even
without the guard."""

import sqlite3
import time
import zlib

import pytest
from support.config import write_config
from support.servers import Page, redirect

TEXT = "中国人民银行发布通知，要求各金融机构明示贷款年化利率，保护金融消费者的知情权。" * 6
ARTICLE = (f"<html><head><meta charset='utf-8'><title>央行发布通知</title></head><body><h1>央行发布通知</h1>"
           f"<p>{TEXT}</p></body></html>").encode()


def _config(tmp_path, crawl: str = "") -> str:
    cfg = tmp_path / "rw.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n[crawl]\n{crawl}\n', encoding="utf-8")
    return str(cfg)


@pytest.fixture
def other(other):
    """Another host (conftest's `other`), with a page at /secret."""
    other.pages["/secret"] = Page(ARTICLE)
    return other


def _one_line(r) -> str:
    lines = r.stderr.strip().splitlines()
    assert r.returncode == 2 and len(lines) == 1, (r.returncode, r.stdout[-500:], r.stderr[-2000:])
    return lines[0]


def test_a_loopback_page_is_read_and_a_redirect_within_its_origin_followed(site, rw):
    site.pages["/a.html"] = Page(ARTICLE)
    site.pages["/r"] = redirect("/a.html")
    r = rw("extract", f"{site.url}/r", timeout=60)       # the page's own origin: any address (as a source's URL)
    assert r.returncode == 0, r.stderr
    assert "央行发布通知" in r.stdout and "明示贷款年化利率" in r.stdout


def test_a_redirect_to_another_private_host_is_refused_unless_block_private_networks_is_off(site, other, rw, tmp_path):
    site.pages["/r"] = redirect(f"{other.url}/secret")
    for args in ([], ["-c", _config(tmp_path)]):        # the defaults, and a config's (block_private_networks = true)
        line = _one_line(rw("extract", *args, f"{site.url}/r", timeout=60))
        assert f"{other.url}/secret" in line and "refused" in line and "127.0.0.1 is a loopback address" in line, line
        assert "block_private_networks" in line
    assert other.log == []                               # not one request
    r = rw("extract", "-c", _config(tmp_path, "block_private_networks = false"), f"{site.url}/r", timeout=60)
    assert r.returncode == 0 and "央行发布通知" in r.stdout, r.stderr   # an intranet user's choice
    assert [x["path"] for x in other.log] == ["/secret"]


def test_a_redirect_out_of_the_web_or_in_a_loop_is_one_line(site, rw):
    site.pages["/file"] = redirect("file:///etc/passwd")
    site.pages["/loop"] = redirect("/loop")
    line = _one_line(rw("extract", f"{site.url}/file", timeout=60))
    assert "file:///etc/passwd" in line and "refused" in line and "only http and https" in line, line
    line = _one_line(rw("extract", f"{site.url}/loop", timeout=60))
    assert "redirects" in line, line
    assert 2 <= len(site.requests("/loop")) <= 6


def test_a_link_with_a_password_is_refused_up_front_as_the_crawl_refuses_it(site, other, rw):
    host = site.url.removeprefix("http://")
    for url in (f"http://user:hunter2@{host}/a.html", f"http://:hunter2@{host}/a.html"):
        site.pages["/a.html"] = Page(ARTICLE)
        r = rw("extract", url, timeout=60)
        assert _one_line(r) == f"regwatch: http://***@{host}/a.html: refused, a link with a user name or password in it"
        assert "hunter2" not in r.stdout + r.stderr
        r = rw("extract", "--json", url, timeout=60)
        assert r.returncode == 2 and "hunter2" not in r.stdout + r.stderr
    assert site.requests("/a.html") == []                  # nothing sent
    # a redirect to one: the crawl's check on every hop, its password not shown either
    site.pages["/r"] = redirect(f"http://user:hunter2@{other.url.removeprefix('http://')}/secret")
    line = _one_line(rw("extract", f"{site.url}/r", timeout=60))
    assert "refused, 127.0.0.1 is a loopback address and not this page's own origin" in line, line
    assert "hunter2" not in line and other.log == []


def test_a_gzip_bomb_is_cut_at_max_size_once_decompressed(site, rw, tmp_path):
    z = zlib.compressobj(6, zlib.DEFLATED, 31)           # ~1 MB of gzip expanding to 1 GB
    zeros = bytes(1 << 24)
    bomb = b"".join([*(z.compress(zeros) for _ in range(64)), z.flush()])
    assert len(bomb) < 2 << 20
    site.pages["/bomb.html"] = Page(bomb, headers={"Content-Encoding": "gzip"})
    started = time.monotonic()
    line = _one_line(rw("extract", f"{site.url}/bomb.html", timeout=60))
    assert line.endswith(f"{site.url}/bomb.html: exceeded the size limit (max_size: 10485760 bytes)"), line   # the crawl's
    assert time.monotonic() - started < 30
    # crawled (a list page sent with Content-Encoding: gzip): the README's words, not Scrapy's
    cfg = write_config(tmp_path, name="rw.toml", sources=[{"name": "bomb", "kind": "feed", "url": f"{site.url}/bomb.html"}])
    r = rw("run", "--once", "-c", cfg, timeout=120)
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    message = sqlite3.connect(tmp_path / "rw.db").execute("SELECT message FROM source_runs").fetchall()[0][0]
    assert f"{site.url}/bomb.html: exceeded the size limit (max_size: 10485760 bytes)" in message, message
    assert "DOWNLOAD_MAXSIZE" not in message, message


def _layers(body: bytes, n: int) -> bytes:
    """`body` gzipped `n` times over (level 0: each layer a little bigger than the one inside it)."""
    for _ in range(n):
        z = zlib.compressobj(0, zlib.DEFLATED, 31)
        body = z.compress(body) + z.flush()
    return body


def _layered(body: bytes, n: int, ctype: str = "text/html; charset=utf-8") -> Page:
    return Page(_layers(body, n), ctype=ctype, headers={"Content-Encoding": ", ".join(["gzip"] * n)})


def test_more_than_two_content_encodings_are_refused_undecoded_and_the_layers_share_max_size(site, rw, tmp_path):
    """8,000 gzip layers, each within max_size, held the event loop 29 s (extract's 5 s timeout: 24 s): more than
    MAX_ENCODINGS (2) is refused before any is decoded, by `extract` and by the crawl; two are read; and what the
    layers produce counts together against max_size (two layers of 700 KB each: 1.4 MB, over a 1 MB limit)."""
    site.pages["/fifty.html"] = _layered(ARTICLE, 50)
    site.pages["/two.html"] = _layered(ARTICLE, 2)
    big = ARTICLE + b"<!--" + b"x" * 700_000 + b"-->"
    site.pages["/big.html"] = _layered(big, 2)
    assert len(site.pages["/big.html"].body) < 1 << 20             # received: under 1 MB; each layer: under 1 MB
    line = _one_line(rw("extract", f"{site.url}/fifty.html", timeout=60))
    assert line.endswith(f"{site.url}/fifty.html: too many content encodings (50)"), line
    r = rw("extract", f"{site.url}/two.html", timeout=60)
    assert r.returncode == 0 and "央行发布通知" in r.stdout, r.stderr
    small = _config(tmp_path, 'max_size = "1MB"')
    line = _one_line(rw("extract", "-c", small, f"{site.url}/big.html", timeout=60))
    assert line.endswith(f"{site.url}/big.html: exceeded the size limit (max_size: 1048576 bytes)"), line
    # crawled: a feed in 50 layers is its source's error, in those words; one in two layers is read; the layers of
    # a 1 MB source's feed share its max_size
    rss = (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title><item><title>央行'
           f'发布通知</title><link>{site.url}/two.html</link></item></channel></rss>').encode()
    site.pages["/fifty.xml"] = _layered(rss, 50, "application/rss+xml")
    site.pages["/two.xml"] = _layered(rss, 2, "application/rss+xml")
    site.pages["/big.xml"] = _layered(rss + b"<!--" + b"x" * 700_000 + b"-->", 2, "application/rss+xml")
    cfg = write_config(tmp_path, name="layers.toml", sources=[
        {"name": name, "kind": "feed", "url": f"{site.url}/{name}.xml", **({"max_size": "1MB"} if name == "big" else {})}
        for name in ("fifty", "two", "big")])
    r = rw("run", "--once", "-c", cfg, timeout=120)
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    db = sqlite3.connect(tmp_path / "rw.db")
    runs = dict(db.execute("SELECT source, coalesce(message, '') FROM source_runs").fetchall())
    found = dict(db.execute("SELECT source, found FROM source_runs").fetchall())
    assert f"{site.url}/fifty.xml: too many content encodings (50)" in runs["fifty"], runs
    assert found["two"] == 1 and "encodings" not in runs["two"] and "size" not in runs["two"], runs
    assert f"{site.url}/big.xml: exceeded the size limit (max_size: 1048576 bytes)" in runs["big"], runs


def _endless(delay: float):
    """A chunked body that never ends: 64 KB chunks (a byte every `delay` seconds when `delay`)."""
    def write(h):
        h.send_response(200)
        h.send_header("Content-Type", "text/html; charset=utf-8")
        h.send_header("Transfer-Encoding", "chunked")
        h.end_headers()
        chunk = b"<p>" + b"x" * 65533 if not delay else b"x"
        try:
            while True:
                h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                h.wfile.flush()
                if delay:
                    time.sleep(delay)
        except OSError:          # the client hung up
            pass
    return Page(b"", raw=write)


def test_an_endless_body_ends_at_max_size_or_the_deadline(site, rw, tmp_path):
    site.pages["/endless.html"] = _endless(0)
    site.pages["/drip.html"] = _endless(0.1)
    line = _one_line(rw("extract", "-c", _config(tmp_path, 'max_size = "1MB"'), f"{site.url}/endless.html", timeout=60))
    assert line.endswith(f"{site.url}/endless.html: exceeded the size limit (max_size: 1048576 bytes)"), line
    started = time.monotonic()
    line = _one_line(rw("extract", "-c", _config(tmp_path, 'timeout = "2s"'), f"{site.url}/drip.html", timeout=60))
    assert "took longer than 2 s" in line and "timeout" in line, line
    assert time.monotonic() - started < 15


def test_behind_a_proxy_the_redirect_target_is_checked_as_the_crawl_checks_it(rw, site):
    """Behind `http_proxy` the proxy connects: a redirect to a private IP literal never reaches it, a name does."""
    proxy = site          # a forward proxy: it is asked for absolute URLs, and logs each
    origin = "http://127.0.0.1:1"                   # the page's origin, through the proxy
    proxy.pages[f"{origin}/r"] = redirect("http://127.0.0.1:2/latest/meta-data")
    proxy.pages[f"{origin}/moved"] = redirect("http://news.example.com/a.html")
    proxy.pages["http://news.example.com/a.html"] = Page(ARTICLE)
    env = {"http_proxy": proxy.url, "HTTP_PROXY": proxy.url, "no_proxy": "", "NO_PROXY": ""}
    line = _one_line(rw("extract", f"{origin}/r", env=env, timeout=60))
    assert "refused, 127.0.0.1 is a loopback address" in line, line
    r = rw("extract", f"{origin}/moved", env=env, timeout=60)
    assert r.returncode == 0 and "央行发布通知" in r.stdout, r.stderr
    asked = [x["path"] for x in proxy.log]
    assert asked == [f"{origin}/r", f"{origin}/moved", "http://news.example.com/a.html"], asked


def test_a_chinese_domain_name_is_fetched_as_the_crawl_fetches_it(rw, site):
    """An IDN host (人民银行.中国) is IDNA-encoded before the address check, as Scrapy encodes a crawl's: `extract`
    refused it as "not a valid host name". (Through a local proxy: no name is looked up.)"""
    proxy = site
    idn = "http://xn--gmq282eqltrsl.xn--fiqs8s"           # 人民银行.中国
    proxy.pages[f"{idn}/a.html"] = Page(ARTICLE)
    env = {"http_proxy": proxy.url, "HTTP_PROXY": proxy.url, "no_proxy": "", "NO_PROXY": ""}
    r = rw("extract", "http://人民银行.中国/a.html", env=env, timeout=60)
    assert r.returncode == 0 and "央行发布通知" in r.stdout, r.stderr
    assert [x["path"] for x in proxy.log] == [f"{idn}/a.html"]


def test_a_host_is_read_or_refused_as_a_source_url_in_a_config_is(site, rw):
    """Fullwidth dots (U+FF0E, U+3002, U+FF61) and digits are read as the fetcher reads them, as the config reads a
    source's URL: `127.0.0.1．．` is refused for its two trailing dots, in the config's words (extract said only "is not a
    valid host name"); a fullwidth spelling of the page's host is that host, and read."""
    from regwatch.service.config import check_host

    site.pages["/a.html"] = Page(ARTICLE)
    port = site.url.rsplit(":", 1)[1]
    for host in ("127.0.0.1\uff0e\uff0e", "127\u30020\uff610.1\u3002\u3002", "exa\u202emple.com"):
        url = f"http://{host}:{port}/a.html"
        with pytest.raises(ValueError) as config_said:
            check_host(url)
        why = str(config_said.value).split(": its host ", 1)[1]
        line = _one_line(rw("extract", url, timeout=60))
        assert "refused, its host '" in line and line.endswith(f"' {why}"), (line, why)
    assert site.log == []
    fullwidth = f"http://\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11:{port}/a.html"
    assert check_host(fullwidth) == fullwidth
    r = rw("extract", fullwidth, timeout=60)
    assert r.returncode == 0 and "央行发布通知" in r.stdout, r.stderr
    assert [x["path"] for x in site.log] == ["/a.html"]
