"""An `empty` source says why — the list page answered and what regwatch looked for in it found nothing — in
`regwatch sources`, the run's record and the health notice (a `${VAR}` in its URL shown as ***); a list that
answered 304 shows what it named when last read."""

import json
import sqlite3

from support.config import chat, write_config
from support.news import art, feed_source, publish
from support.servers import Page

TEXT = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调。"


def config(tmp_path, site, receiver):
    return write_config(tmp_path, sources=[
        {"name": "redesigned", "kind": "listing", "url": f"{site.url}/list/index.html?key=${{LIST_KEY}}",
         "links": "ul.news-list li a"},
        {"name": "api", "kind": "json", "url": f"{site.url}/api/empty", "items": "data.list", "link": "url"},
        feed_source(site, "good"),
    ], channels=[chat(receiver, "ops", "slack")], alerts={"health_channels": ["ops"], "once_wait": "5s"})


def test_an_empty_source_says_why_and_a_304_list_keeps_its_count(tmp_path, site, receiver, rw):
    cfg = config(tmp_path, site, receiver)
    env = {"LIST_KEY": "s3cr3tkey"}
    publish(site, {"feed": [art("g1", "消费金融利率上限降至20%", TEXT), art("g2", "银行发布年度报告", TEXT, 20)]})
    site.pages["/list/index.html"] = Page("<html><body><div class='list'>页面改版中</div></body></html>".encode(),
                                          ctype="text/html; charset=utf-8")
    site.pages["/api/empty"] = Page(b'{"data": {"list": []}}', ctype="application/json")
    for _ in range(2):              # the second run: the feed answers 304
        r = rw("run", "--once", "-c", cfg, env=env)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert any(x["path"] == "/feed.xml" and x["status"] == 304 for x in site.log)

    rows = {r["source"]: r for r in map(json.loads, rw("sources", "--json", "-c", cfg, env=env).stdout.splitlines())}
    assert rows["redesigned"]["state"] == "empty" and rows["api"]["state"] == "empty"
    listing = (f"`links` selector `ul.news-list li a` matched nothing on the list page {site.url}/list/index.html?key=*** "
               "(it answered)")
    assert rows["redesigned"]["last_message"] == listing
    assert rows["api"]["last_message"] == (f"the `items` path `data.list` found an empty list in {site.url}/api/empty "
                                           "(it answered)")
    assert rows["good"]["found"] == 2                                  # the list as last read, not 0
    table = rw("sources", "-c", cfg, env=env).stdout
    assert "matched nothing" in table and "found an empty list" in table

    db = sqlite3.connect(tmp_path / "rw.db")
    messages = [m for (m,) in db.execute("SELECT message FROM source_runs WHERE source = 'redesigned'")]
    assert messages == [listing, listing]
    notices = [json.dumps(m["body"], ensure_ascii=False) for m in receiver.delivered("ops")
               if "健康" in m["body"]["text"]]
    assert notices and any("matched nothing" in n for n in notices), notices
    everything = table + json.dumps(rows) + "".join(notices) + "".join(messages)
    assert "s3cr3tkey" not in everything
