"""A sitemap crawl ends: each sitemap asked once a run, indexes followed SITEMAP_DEPTH_MAX levels deep and
SITEMAP_CHILDREN_MAX sitemaps in all, a limit reached said in the run, what was read processed."""

from __future__ import annotations

import json
import sqlite3
from collections import Counter

from support.config import write_config
from support.news import art, article_page, sitemap
from support.servers import Page

from regwatch.defaults import SITEMAP_CHILDREN_MAX, SITEMAP_DEPTH_MAX

TEXT = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调，编号{n}。"


def index(site, *paths):
    locs = "".join(f"<sitemap><loc>{site.url}{p}</loc></sitemap>" for p in paths)
    return Page(('<?xml version="1.0" encoding="UTF-8"?><sitemapindex xmlns="http://www.sitemaps.org/schemas/'
                 f'sitemap/0.9">{locs}</sitemapindex>').encode(), ctype="application/xml", etag=True)


def serve(site, path, id_):
    a = art(id_, f"利率上限新规{id_}", TEXT.format(n=id_), 5)
    site.pages[path] = sitemap(site, [a])
    site.pages[f"/a/{id_}.html"] = article_page(a)


def config(tmp_path, site, path):
    return write_config(tmp_path, sources=[{"name": "sm", "kind": "sitemap", "url": f"{site.url}{path}"}])


def row(rw, cfg):
    return {r["source"]: r for r in map(json.loads, rw("sources", "--json", "-c", cfg).stdout.splitlines())}["sm"]


def stored(tmp_path):
    return sorted(u for (u,) in sqlite3.connect(tmp_path / "rw.db").execute("SELECT url FROM articles"))


def fetches(site):
    return Counter(q["path"] for q in site.log if q["path"].startswith("/sm/"))


def test_an_index_naming_itself_is_read_once_said_and_the_run_ends(tmp_path, site, rw):
    site.pages["/sm/loop.xml"] = index(site, "/sm/loop.xml", "/sm/pages.xml", "/sm/loop.xml")
    serve(site, "/sm/pages.xml", "p1")
    cfg = config(tmp_path, site, "/sm/loop.xml")
    for _ in range(2):                     # the first run reads them; the second is answered 304 throughout
        site.log.clear()
        r = rw("run", "--once", "-c", cfg, timeout=60)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
        assert fetches(site) == {"/sm/loop.xml": 1, "/sm/pages.xml": 1}
        message = row(rw, cfg)["last_message"] or ""      # said once in the run, though named twice
        assert message.count(f"sitemap index {site.url}/sm/loop.xml lists itself: skipped") == 1, message
    assert stored(tmp_path) == [f"{site.url}/a/p1.html"]
    assert row(rw, cfg)["state"] == "ok"


def test_a_chain_of_ever_deeper_indexes_is_followed_to_the_depth_limit_and_said_so(tmp_path, site, rw):
    deep = SITEMAP_DEPTH_MAX + 5
    for n in range(deep):        # d<n> names d<n+1> (deeper) and p<n> (a page); d<n> is n levels under the source
        site.pages[f"/sm/d{n}.xml"] = index(site, f"/sm/d{n + 1}.xml", f"/sm/p{n}.xml")
        serve(site, f"/sm/p{n}.xml", f"p{n}")
    cfg = config(tmp_path, site, "/sm/d0.xml")
    for _ in range(2):
        site.log.clear()
        r = rw("run", "--once", "-c", cfg, timeout=60)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
        asked = fetches(site)
        assert set(asked.values()) == {1}, asked
        assert set(asked) == ({f"/sm/d{n}.xml" for n in range(SITEMAP_DEPTH_MAX + 1)}
                              | {f"/sm/p{n}.xml" for n in range(SITEMAP_DEPTH_MAX)})
        message = row(rw, cfg)["last_message"] or ""
        assert f"sitemap index {site.url}/sm/d{SITEMAP_DEPTH_MAX}.xml is {SITEMAP_DEPTH_MAX} levels" in message
        assert f"at most {SITEMAP_DEPTH_MAX} levels are followed" in message and message.count("levels are") == 1
    assert stored(tmp_path) == sorted(f"{site.url}/a/p{n}.html" for n in range(SITEMAP_DEPTH_MAX))


def test_an_index_naming_too_many_sitemaps_is_read_to_the_cap_and_said_so(tmp_path, site, rw):
    many = [f"/sm/c{n}.xml" for n in range(SITEMAP_CHILDREN_MAX + 50)]
    site.pages["/sm/index.xml"] = index(site, *many)
    for n, path in enumerate(many):
        serve(site, path, f"c{n}")
    cfg = config(tmp_path, site, "/sm/index.xml")
    r = rw("run", "--once", "-c", cfg, timeout=300)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    asked = fetches(site)
    assert set(asked) == {"/sm/index.xml", *many[:SITEMAP_CHILDREN_MAX]} and set(asked.values()) == {1}
    assert (f"name more than {SITEMAP_CHILDREN_MAX:,} sitemaps: the first {SITEMAP_CHILDREN_MAX:,} read"
            in (row(rw, cfg)["last_message"] or ""))
