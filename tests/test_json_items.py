"""A json source's items: one without a template's field (or not an object) is skipped and counted, never the whole
list lost; a `{field}` value is percent-encoded for its place in the URL template, its own escapes kept."""

from __future__ import annotations

import json
import sqlite3

from support.config import write_config
from support.news import art, article_page
from support.servers import Page

TEXT = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调，编号{n}。"


def api(site, items, path="/api/list.json"):
    site.pages[path] = Page(json.dumps({"data": items}, ensure_ascii=False).encode(), ctype="application/json")


def article(site, path, id_):
    site.pages[path] = article_page(art(id_, f"利率上限新规{id_}", TEXT.format(n=id_), 5))


def config(tmp_path, site, **keys):
    return write_config(tmp_path, sources=[{"name": "api", "kind": "json", "url": f"{site.url}/api/list.json",
                                            "items": "data", **keys}])


def row(rw, cfg):
    return {r["source"]: r for r in map(json.loads, rw("sources", "--json", "-c", cfg).stdout.splitlines())}["api"]


def stored(tmp_path):
    return sorted(u for (u,) in sqlite3.connect(tmp_path / "rw.db").execute("SELECT url FROM articles"))


def run(rw, cfg):
    r = rw("run", "--once", "-c", cfg, timeout=120)
    assert "Traceback" not in r.stderr, r.stderr[-2000:]
    return r


def test_an_item_without_the_templates_field_is_skipped_and_counted_and_the_others_come(tmp_path, site, rw):
    api(site, [{"id": "m2", "title": "新规"}, {"title": "广告", "id": None}, "a string item", {"id": "m3"}])
    article(site, "/a/m2.html", "m2")
    article(site, "/a/m3.html", "m3")
    cfg = config(tmp_path, site, link=f"{site.url}/a/{{id}}.html", title="title")
    run(rw, cfg)
    assert stored(tmp_path) == [f"{site.url}/a/m2.html", f"{site.url}/a/m3.html"]
    r = row(rw, cfg)
    assert r["state"] == "ok" and r["errors"] == 0, r
    assert (f"2 of 4 items skipped: 1 × the item has no 'id' for the template '{site.url}/a/{{id}}.html'; "
            "1 × the item is a string, not an object") in r["last_message"]


def test_a_list_no_item_of_which_can_be_read_is_an_error_as_before(tmp_path, site, rw):
    api(site, [{"title": "广告"}, {"title": "置顶"}])
    cfg = config(tmp_path, site, link=f"{site.url}/a/{{id}}.html")
    run(rw, cfg)
    r = row(rw, cfg)
    assert r["errors"] == 1 and f"the item has no 'id' for the template '{site.url}/a/{{id}}.html'" in r["last_error"], r


def test_a_fields_value_is_encoded_for_its_place_in_the_template(tmp_path, site, rw):
    ids = ["2#frag", "3?x=1&y=", "../../a/traversal", "2", "news/2024/n5"]
    api(site, [{"id": i} for i in ids])
    for path in ("/api/detail/2%23frag", "/api/detail/3%3Fx=1&y=", "/api/detail/2", "/api/detail/news/2024/n5"):
        article(site, path, path.rsplit("/", 1)[1].replace("%", "")[:8])
    cfg = config(tmp_path, site, link=f"{site.url}/view?id={{id}}&from=list", detail=f"{site.url}/api/detail/{{id}}")
    run(rw, cfg)
    assert sorted(q["path"] for q in site.requests("/api/detail/")) == [      # a `..` item skipped; a path's `/` kept
        "/api/detail/2", "/api/detail/2%23frag", "/api/detail/3%3Fx=1&y=", "/api/detail/news/2024/n5"]
    assert not site.requests("/a/")
    assert stored(tmp_path) == sorted(f"{site.url}/view?id={i}&from=list"     # a query keeps a value's ? & = /
                                      for i in ("2%23frag", "3?x=1&y=", "2", "news/2024/n5"))


def test_a_template_that_is_the_whole_url_keeps_the_value_as_a_url(tmp_path, site, rw):
    api(site, [{"u": f"{site.url}/a/w1.html?from=list"}])
    article(site, "/a/w1.html", "w1")
    run(rw, config(tmp_path, site, link="{u}"))
    assert stored(tmp_path) == [f"{site.url}/a/w1.html?from=list"]


def test_a_value_already_percent_encoded_keeps_its_escapes_and_is_fetched(tmp_path, site, rw):
    """An API's path or id that is already percent-encoded is the URL it was before templates were encoded: its
    `%XX` kept (not `%25XX`), and a `;`, `=`, `&` or `+` as written; a `%` that is no escape is encoded."""
    ps = ["news/%E9%80%9A%E7%9F%A5.html", "c/2024-05/20/content_123.htm;jsessionid=1", "doc/a%20b", "n/a:b@c,d+e=f",
          "r/20%", "r/%zz1"]
    api(site, [{"p": p} for p in ps])
    fetched = ["/news/%E9%80%9A%E7%9F%A5.html", "/c/2024-05/20/content_123.htm;jsessionid=1", "/doc/a%20b",
               "/n/a:b@c,d+e=f", "/r/20%25", "/r/%25zz1"]
    for i, path in enumerate(fetched):
        article(site, path, f"e{i}")
    cfg = config(tmp_path, site, link=f"{site.url}/{{p}}")
    run(rw, cfg)
    assert sorted(q["path"] for q in site.requests() if q["path"].startswith(("/news/", "/c/", "/doc/", "/n/", "/r/"))
                  ) == sorted(fetched)
    assert all(q["status"] == 200 for q in site.requests() if q["path"] in fetched)   # not a 404 taken as gone
    assert stored(tmp_path) == sorted(f"{site.url}{p}" for p in fetched)
    assert row(rw, cfg)["state"] == "ok"


def test_a_query_value_keeps_its_escapes_and_its_own_query_characters(tmp_path, site, rw):
    """In a query a value's `=`, `&`, `+` and `%XX` stay as written (a query given whole, `?{q}`, is the query);
    only a `#`, which would end it, is encoded."""
    api(site, [{"id": "5%2B6", "q": "id=5&cat=2"}, {"id": "7#top", "q": "id=7"}])
    article(site, "/detail?id=5&cat=2&x=1", "q5")
    article(site, "/detail?id=7&x=1", "q7")
    cfg = config(tmp_path, site, link=f"{site.url}/view?id={{id}}", detail=f"{site.url}/detail?{{q}}&x=1")
    run(rw, cfg)
    assert sorted(q["path"] for q in site.requests("/detail")) == ["/detail?id=5&cat=2&x=1", "/detail?id=7&x=1"]
    assert stored(tmp_path) == [f"{site.url}/view?id=5%2B6", f"{site.url}/view?id=7%23top"]


def test_an_encoded_dot_segment_is_skipped_as_a_dot_segment_is(tmp_path, site, rw):
    api(site, [{"p": "%2e%2e/%2E%2E/admin"}, {"p": "a/.%2e/b"}, {"p": "ok/d1"}])
    article(site, "/n/ok/d1", "d1")
    cfg = config(tmp_path, site, link=f"{site.url}/n/{{p}}")
    run(rw, cfg)
    assert stored(tmp_path) == [f"{site.url}/n/ok/d1"]
    assert "2 of 3 items skipped" in row(rw, cfg)["last_message"]


def test_two_json_sources_sharing_one_detail_fetch_both_have_the_article(tmp_path, site, rw):
    """Two json sources name one item with the same `link` and `detail`: the detail is fetched once, and the second
    source records that fetch's outcome as its own (the article stored, no note) — it had a false 'redirects to
    <detail>' note and the link skipped for good, though nothing redirected."""
    api(site, [{"id": "d5"}])
    article(site, "/api/detail/d5", "d5")
    keys = {"kind": "json", "url": f"{site.url}/api/list.json", "items": "data", "link": f"{site.url}/view?id={{id}}",
            "detail": f"{site.url}/api/detail/{{id}}"}
    cfg = write_config(tmp_path, sources=[{"name": "api", **keys}, {"name": "api2", **keys}])
    run(rw, cfg)
    assert len(site.requests("/api/detail/d5")) == 1, site.log
    assert stored(tmp_path) == [f"{site.url}/view?id=d5"]
    with sqlite3.connect(tmp_path / "rw.db") as c:
        skipped = c.execute("SELECT source, url, reason FROM source_urls WHERE state = 'skipped'").fetchall()
        messages = [m or "" for (m,) in c.execute("SELECT message FROM source_runs")]
        errors = [n for (n,) in c.execute("SELECT errors FROM source_runs")]
    assert not skipped, skipped
    assert errors == [0, 0], messages
    assert not any("redirects to" in m for m in messages), messages


def test_a_value_that_would_change_the_urls_authority_is_skipped_and_the_others_come(tmp_path, site, rw):
    """A field right after the template's host (`https://h{p}`) or in its scheme starts the path (or is a scheme's
    letters): a value that would bring a user name, a port or another host into the URL is that item's note."""
    host = site.url.split("://", 1)[1]
    api(site, [{"p": "@127.0.0.2/x", "s": ""}, {"p": ":1@127.0.0.2/x", "s": ""}, {"p": "x@y", "s": ""},
               {"p": ".evil.example/x", "s": ""}, {"p": "/n/a1", "s": "://127.0.0.2/#"}, {"p": "/n/a2", "s": ""}])
    article(site, "/n/a2", "a2")
    cfg = config(tmp_path, site, link=f"http{{s}}://{host}{{p}}")
    run(rw, cfg)
    r = row(rw, cfg)
    assert stored(tmp_path) == [f"{site.url}/n/a2"], (r["last_error"], r["last_message"])
    assert r["state"] == "ok" and r["errors"] == 0, r
    assert "5 of 6 items skipped" in r["last_message"] and "would change the URL's " in r["last_message"], r
