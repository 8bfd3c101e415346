"""Nothing from the web can take regwatch down: each bad source costs itself one failed run, nothing more."""

import json
import resource
import time

from support.news import art, publish
from support.servers import Page

GOOD = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调，部分高定价产品暂停发放。"


def trickle(h):
    h.send_response(200)
    h.send_header("Content-Type", "text/html")
    h.send_header("Content-Length", "100000")
    h.end_headers()
    for _ in range(60):
        try:
            h.wfile.write(b" ")
            h.wfile.flush()
            time.sleep(1)
        except OSError:
            return


def redirect_loop(h):
    h.send_response(302)
    h.send_header("Location", h.path)
    h.send_header("Content-Length", "0")
    h.end_headers()


ENTITY_BOMB = ('<?xml version="1.0"?><!DOCTYPE rss [<!ENTITY a0 "lol">'
               + "".join(f'<!ENTITY a{i} "{("&a%d;" % (i - 1)) * 10}">' for i in range(1, 10))
               + ']><rss version="2.0"><channel><title>&a9;</title></channel></rss>').encode()

BAD = {
    "bomb": ("feed", Page(ENTITY_BOMB, ctype="application/rss+xml")),
    "huge": ("listing", Page(b"<html><body>" + b"<p>\xe5\x88\xa9\xe7\x8e\x87" * 5_000_000 + b"</body></html>")),
    "slow": ("listing", Page(b"", raw=trickle)),
    "loop": ("feed", Page(b"", raw=redirect_loop)),
    "badjson": ("json", Page(b'{"code": 0, "data": {"list": [{"title": "x", "url": ', ctype="application/json")),
    "binary": ("listing", Page(b"%PDF-1.4\n" + bytes(range(256)) * 400, ctype="text/html; charset=utf-8")),
    "htmlfeed": ("feed", Page("<html><body><h1>维护中</h1></body></html>".encode(), ctype="application/rss+xml")),
    "error500": ("feed", Page(b"<html><body>Internal Server Error</body></html>", status=500)),
    "gate412": ("listing", Page(b"<html><body></body></html>", status=412)),
    "wrongshape": ("json", Page(b'{"code": 0, "result": {"rows": []}}', ctype="application/json")),
}


def test_one_run_beside_every_kind_of_bad_source(tmp_path, site, receiver, rw):
    receiver.routes["gw"] = {"type": "webhook"}
    publish(site, {"feed": [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定，零售业务占比提升。", 500)]})
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

    publish(site, {"feed": [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定，零售业务占比提升。", 500),
                            art("new", "消费金融利率上限降至20%", GOOD, 2)]})
    t = time.time()
    r = rw("run", "--once", "-c", cfg, timeout=120)
    took = time.time() - t
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
    assert r.returncode == 0, r.stderr[-2000:]
    assert "Traceback" not in r.stderr
    assert took < 2 * 5 + 10                       # about twice the timeout (plus start-up)
    assert peak_mb < 600
    assert len(receiver.delivered("gw")) == 1      # the good source's new article still alerts
    rows = {json.loads(l)["source"]: json.loads(l) for l in rw("sources", "--json", "-c", cfg).stdout.splitlines()}
    assert rows["good"]["state"] == "ok"
    for name in BAD:
        assert rows[name]["state"] != "ok", name
        assert rows[name]["last_error"] or rows[name]["state"] in ("blocked", "empty"), name
    assert "entities" in rows["bomb"]["last_error"]
    assert "HTML page" in rows["htmlfeed"]["last_error"]
    assert "not valid JSON" in rows["badjson"]["last_error"]
    assert "data.list" in rows["wrongshape"]["last_error"]
    assert rows["gate412"]["state"] == "blocked"


def test_secrets_never_appear_in_output_or_store(tmp_path, receiver, rw):
    receiver.routes["dt"] = {"type": "dingtalk", "secret": "SECright"}
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f"""
[store]
path = "{tmp_path}/rw.db"
[[channels]]
name = "risk"
type = "dingtalk"
url = "{receiver.url}/dt?access_token=TOPSECRETTOKEN"
secret = "${{RW_DT_SECRET}}"
""", encoding="utf-8")
    r = rw("alerts", "test", "risk", "-c", cfg, env={"RW_DT_SECRET": "SECwrong-and-secret"})
    assert r.returncode == 2 and "broken" in r.stderr and "310000" in r.stderr
    assert "TOPSECRETTOKEN" not in r.stderr + r.stdout and "SECwrong-and-secret" not in r.stderr + r.stdout


def test_block_private_networks_keeps_page_links_off_loopback(tmp_path, site, rw):
    publish(site, {"feed": [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定，零售业务占比提升。", 500)]})
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n[crawl]\ndelay = "0s"\nblock_private_networks = true\n'
                   f'[[sources]]\nname = "feed"\nkind = "feed"\nurl = "{site.url}/feed.xml"\n', encoding="utf-8")
    assert rw("run", "--once", "-c", cfg).returncode == 0
    assert site.requests("/feed.xml")                 # the configured source URL itself is allowed
    assert not site.requests("/a/")                    # a link found in it, to a loopback address, is not
    row = json.loads(rw("sources", "--json", "-c", cfg).stdout.splitlines()[0])
    assert "private address" in row["last_error"]


def test_no_listener_and_timeouts_well_under_scrapys_default():
    from regwatch.crawler.settings import crawl_settings
    from regwatch.service.config import CrawlConfig

    s = crawl_settings(CrawlConfig())
    assert s["REMOTE_CONTROL_ENABLED"] is False and s["TELNETCONSOLE_ENABLED"] is False
    assert s["DOWNLOAD_TIMEOUT"] <= 30 and s["DOWNLOAD_MAXSIZE"] == 10 * 1024 * 1024 and s["REDIRECT_MAX_TIMES"] <= 5
    assert s["ROBOTSTXT_OBEY"] is True
