"""Control characters from a feed or a JSON source reach neither the store nor a chat message (as HTML pages' never
did): dropped in one place, never turned into U+FFFD."""

import html
import json
import sqlite3

from support.servers import Page

GOOD = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调，部分高定价产品暂停发放。"
OLD = "<p>银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。</p>"
# a screen clear, an OSC 8 hyperlink (ESC ] 8 ;; url ESC \) and a bell
BAD = "\x1b[2J\x1b]8;;http://evil.example/\x1b\\点我\x1b]8;;\x1b\\\x07"
DROPPED = ("\x1b", "\x07", "\ufffd")


def _feed(site, items):
    x = "".join(f"<item><title>{html.escape(t)}</title><link>{site.url}/f/{i}</link>"
                f"<description>{html.escape(d)}</description></item>" for i, t, d in items)
    site.pages["/feed.xml"] = Page(f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>'
                                   f"{x}</channel></rss>".encode(), ctype="application/rss+xml")


def _api(site, items):
    site.pages["/api"] = Page(json.dumps({"data": items}, ensure_ascii=False).encode(), ctype="application/json")


def test_feed_and_json_text_lose_control_characters_as_html_does(tmp_path, site, receiver, rw):
    receiver.routes["gw"] = {"type": "webhook"}
    _feed(site, [("0", "旧闻", "x")])
    site.pages["/f/0"] = Page(f"<html><body>{OLD}</body></html>".encode())
    _api(site, [{"url": f"{site.url}/j/0", "title": "旧闻", "body": OLD}])
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f"""[store]\npath = "{tmp_path}/rw.db"\n[crawl]\ndelay = "0s"
[[sources]]\nname = "feed"\nkind = "feed"\nurl = "{site.url}/feed.xml"
[[sources]]\nname = "api"\nkind = "json"\nurl = "{site.url}/api"\nitems = "data"\nlink = "url"\ntitle = "title"\nbody = "body"
[[channels]]\nname = "gw"\ntype = "webhook"\nurl = "{receiver.url}/gw"
[[subscriptions]]\nname = "caps"\ntopics = ["rate_cap"]\nchannels = ["gw"]\n[alerts]\nonce_wait = "5s"
""", encoding="utf-8")
    assert rw("baseline", "-c", cfg).returncode == 0

    # the feed's title (the page has none: the feed's is the article's) and the JSON item's title and body
    _feed(site, [("1", f"利率上限通知{BAD}", f"{GOOD}{BAD}")])
    site.pages["/f/1"] = Page(f"<html><body><p>{GOOD}</p><p>{BAD}综合融资成本</p></body></html>".encode())
    _api(site, [{"url": f"{site.url}/j/1", "title": f"最高法明确民间借贷利率上限{BAD}",
                 "body": f"<p>民间借贷利率的司法保护上限为一年期贷款市场报价利率的四倍{BAD}，超过部分的利息不予支持。</p>"}])
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0, r.stderr

    with sqlite3.connect(tmp_path / "rw.db") as c:
        rows = c.execute("SELECT url, title, body FROM articles WHERE url LIKE '%/1'").fetchall()
    assert len(rows) == 2
    for url, title, body in rows:
        assert not any(ch in title + body for ch in DROPPED), (url, title, body)
        assert "点我" in title and "利率上限" in title     # the text around them kept
    assert len(receiver.messages) == 2
    for m in receiver.messages:
        sent = json.dumps(m["body"], ensure_ascii=False)
        assert not any(ch in sent for ch in DROPPED), sent
        assert "点我" in m["body"]["data"]["lead"]
