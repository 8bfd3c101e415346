"""One source's pages never reach another source's origin for it: a robots.txt is its own site's (its redirects reach
that origin and public addresses only), and a refusal made for one source is never another source's result."""

import sqlite3
import time

import pytest
from support.config import write_config
from support.news import art, article_page, feed_source, links_feed
from support.servers import Page, redirect

GOOD = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调，部分高定价产品暂停发放。"


def _messages(db, source: str) -> list[str]:
    """Each run's message of this source, first run first."""
    with sqlite3.connect(db) as c:
        return [m or "" for (m,) in c.execute("SELECT message FROM source_runs WHERE source = ? ORDER BY id", (source,))]


def _stored(db) -> set[str]:
    with sqlite3.connect(db) as c:
        return {u for (u,) in c.execute("SELECT url FROM articles")}


def test_a_robots_txt_redirect_reaches_only_its_own_origin_never_another_sources(tmp_path, site, rw, other):
    """evil's robots.txt redirects to the intranet source's admin path: never asked; evil is crawled as a site without
    a robots.txt, and its run says why in one line. A robots.txt redirect to its own origin is still followed."""
    intranet = other
    site.pages["/robots.txt"] = redirect(f"{intranet.url}/admin/delete-everything?via=robots")
    site.pages["/a/e1.html"] = article_page(art("e1", "消费金融利率上限降至20%", GOOD, 5))
    site.pages["/feed.xml"] = links_feed(f"{site.url}/a/e1.html")
    intranet.pages["/robots.txt"] = redirect(f"{intranet.url}/robots/real.txt")     # its own origin
    intranet.pages["/robots/real.txt"] = Page(b"User-agent: *\nDisallow: /a/secret\n", ctype="text/plain")
    intranet.pages["/a/i1.html"] = article_page(art("i1", "内部通知：利率上限新规", GOOD, 5))
    intranet.pages["/a/secret.html"] = article_page(art("secret", "内部通知：不公开", GOOD, 5))
    intranet.pages["/feed.xml"] = links_feed(f"{intranet.url}/a/i1.html", f"{intranet.url}/a/secret.html")
    cfg = write_config(tmp_path, name="rw.toml", sources=[feed_source(site, "evil"), feed_source(intranet, "intranet")])
    for _ in range(2):
        r = rw("run", "--once", "-c", cfg)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    assert not intranet.requests("/admin"), intranet.log
    assert intranet.requests("/robots/real.txt") and not intranet.requests("/a/secret")
    assert {f"{site.url}/a/e1.html", f"{intranet.url}/a/i1.html"} <= _stored(tmp_path / "rw.db")
    said = _messages(tmp_path / "rw.db", "evil")
    line = (f"{site.url}/robots.txt: not read, {intranet.url}/admin/delete-everything?via=robots: refused, "
            "127.0.0.1 is a loopback address and not this robots.txt's own origin (see block_private_networks); "
            "crawled as a site without one")
    assert len(said) == 2 and all(line in m for m in said), said


def _slow(page: Page, seconds: float) -> Page:
    """The page, answered after `seconds`."""
    def raw(h):
        time.sleep(seconds)
        h.send_response(200)
        h.send_header("Content-Type", page.ctype)
        h.send_header("Content-Length", str(len(page.body)))
        h.end_headers()
        h.wfile.write(page.body)
    return Page(b"", raw=raw)


@pytest.mark.parametrize("intranet_after", [0.0, 1.5])
def test_a_refusal_for_one_source_is_never_another_sources_failure(tmp_path, site, rw, intranet_after, other):
    """evil lists the intranet source's article: refused for evil, an error of evil's run only; the intranet source
    fetches it itself (whether its list is read before evil's refusal or after), its run ok, the article stored."""
    intranet = other
    article = f"{intranet.url}/a/i1.html"
    site.pages["/feed.xml"] = links_feed(article)
    intranet.pages["/a/i1.html"] = article_page(art("i1", "内部通知：利率上限新规", GOOD, 5))
    intranet.pages["/feed.xml"] = _slow(links_feed(article), intranet_after) if intranet_after else links_feed(article)
    cfg = write_config(tmp_path, name="rw.toml", sources=[feed_source(site, "evil"), feed_source(intranet, "intranet")])
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    db = tmp_path / "rw.db"
    assert article in _stored(db)
    assert len(intranet.requests("/a/i1.html")) == 1
    with sqlite3.connect(db) as c:
        runs = {s: (n, m or "") for s, n, m in c.execute("SELECT source, errors, message FROM source_runs")}
        state = c.execute("SELECT baselined_at, failing_runs FROM source_state WHERE source = 'intranet'").fetchone()
    assert state[0] is not None and state[1] == 0, state      # its first run is its baseline
    assert runs["intranet"][0] == 0 and "failed" not in runs["intranet"][1] and "evil" not in runs["intranet"][1], runs
    if intranet_after:      # evil's request first, refused: its own error (at once, either may ask first)
        assert f"{article}: refused, 127.0.0.1 is a loopback address and not this source's own origin" in runs["evil"][1]


def _runs(db) -> dict[str, tuple[int, str]]:
    with sqlite3.connect(db) as c:
        return {s: (n, m or "") for s, n, m in c.execute("SELECT source, errors, message FROM source_runs")}


@pytest.mark.parametrize("intranet_after", [0.0, 1.5])
def test_an_article_refused_for_one_source_is_still_reached_through_another_sources_redirect(
        tmp_path, site, rw, intranet_after, other):
    """evil lists X, the intranet source's article; the intranet source lists Y, its own link that redirects to X. X
    refused for evil is no page this crawl asked for: Y's redirect fetches it for the intranet source (it was skipped
    for good, 'redirects to X, a page this crawl already asked for', never asked again and never stored)."""
    intranet = other
    article, link = f"{intranet.url}/a/i1.html", f"{intranet.url}/r/1"
    site.pages["/feed.xml"] = links_feed(article)
    intranet.pages["/r/1"] = redirect(article)
    intranet.pages["/a/i1.html"] = article_page(art("i1", "内部通知：利率上限新规", GOOD, 5))
    intranet.pages["/feed.xml"] = _slow(links_feed(link), intranet_after) if intranet_after else links_feed(link)
    cfg = write_config(tmp_path, name="rw.toml", sources=[feed_source(site, "evil"), feed_source(intranet, "intranet")])
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    db = tmp_path / "rw.db"
    runs = _runs(db)
    assert link in _stored(db), runs
    assert len(intranet.requests("/a/i1.html")) == 1
    assert runs["intranet"][0] == 0 and "skipped" not in runs["intranet"][1], runs
    with sqlite3.connect(db) as c:
        assert not c.execute("SELECT url FROM source_urls WHERE state = 'skipped'").fetchall()


@pytest.mark.parametrize("intranet_after", [0.0, 1.5])
def test_a_redirect_refused_for_one_source_never_holds_up_another_sources_article(tmp_path, site, rw, intranet_after,
                                                                                 other):
    """evil lists E, its own page that redirects to X, the intranet source's article. The redirect is refused for
    evil (its error, naming E); X was not fetched, so the intranet source fetches it itself (its request had waited
    for a fetch that never came: '1 listed article(s) not fetched before the crawl stopped', every run)."""
    intranet = other
    article, hop = f"{intranet.url}/a/i1.html", f"{site.url}/e/1"
    site.pages["/feed.xml"] = links_feed(hop)
    site.pages["/e/1"] = redirect(article)
    intranet.pages["/a/i1.html"] = article_page(art("i1", "内部通知：利率上限新规", GOOD, 5))
    intranet.pages["/feed.xml"] = _slow(links_feed(article), intranet_after) if intranet_after else links_feed(article)
    cfg = write_config(tmp_path, name="rw.toml", sources=[feed_source(site, "evil"), feed_source(intranet, "intranet")])
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    db = tmp_path / "rw.db"
    runs = _runs(db)
    assert article in _stored(db), runs
    assert len(intranet.requests("/a/i1.html")) == 1
    assert runs["intranet"][0] == 0 and "not fetched" not in runs["intranet"][1], runs
    if intranet_after:      # evil's redirect first, refused: its own error, naming its link
        assert f"{hop}: {article}: refused, 127.0.0.1 is a loopback address" in runs["evil"][1], runs


def test_two_sources_listing_one_article_fetch_it_once(tmp_path, site, rw):
    """A plain duplicate is still one fetch: two sources of one site list the same article: it is asked for once,
    stored once, and neither source's run has an error."""
    article = f"{site.url}/a/s1.html"
    site.pages["/a/s1.html"] = article_page(art("s1", "消费金融利率上限降至20%", GOOD, 5))
    site.pages["/one.xml"] = links_feed(article)
    site.pages["/two.xml"] = _slow(links_feed(article), 1.0)
    one, two = feed_source(site, "one"), feed_source(site, "two")
    one["url"], two["url"] = f"{site.url}/one.xml", f"{site.url}/two.xml"
    cfg = write_config(tmp_path, name="rw.toml", sources=[one, two])
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    runs = _runs(tmp_path / "rw.db")
    assert len(site.requests("/a/s1.html")) == 1, site.log
    assert _stored(tmp_path / "rw.db") == {article}
    assert runs["one"][0] == 0 and runs["two"][0] == 0, runs


def test_a_refused_redirect_chain_holds_up_no_source_that_names_one_of_its_hops(tmp_path, site, rw, other):
    """evil lists E, which redirects to H, its own page, which redirects to the intranet source's article: refused for
    evil. evil2 lists H: no fetch of H was had for it to share, so it asks for H itself (its own refusal, its own
    error), and waits on nothing (it was '1 listed article(s) not fetched before the crawl stopped')."""
    intranet = other
    article, hop, first = f"{intranet.url}/a/i1.html", f"{site.url}/h/1", f"{site.url}/e/1"
    site.pages["/feed.xml"] = links_feed(first)
    site.pages["/two.xml"] = _slow(links_feed(hop), 1.5)
    site.pages["/e/1"] = redirect(hop)
    site.pages["/h/1"] = redirect(article)
    intranet.pages["/a/i1.html"] = article_page(art("i1", "内部通知：利率上限新规", GOOD, 5))
    intranet.pages["/feed.xml"] = links_feed()
    two = feed_source(site, "evil2", url=f"{site.url}/two.xml")
    cfg = write_config(tmp_path, name="rw.toml", sources=[feed_source(site, "evil"), two])
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    runs = _runs(tmp_path / "rw.db")
    assert "not fetched" not in runs["evil2"][1], runs
    assert f"{hop}: {article}: refused, 127.0.0.1 is a loopback address" in runs["evil2"][1], runs
    assert f"{first}: {article}: refused" in runs["evil"][1], runs
    assert not intranet.requests("/a/i1.html")


def test_a_redirect_cycle_is_skipped_for_good_not_an_error_every_run(tmp_path, site, rw):
    """A list names A and B, A redirects to B and B to A: each redirect is dropped as a duplicate of the other's
    request, and neither fetch ever comes. Both links are skipped for good (a redirect to a page this crawl asked
    for), the source's run has no error, and the next run asks for neither (it failed every run, 'not fetched')."""
    a, b = f"{site.url}/r/a", f"{site.url}/r/b"
    site.pages["/r/a"] = redirect(b)
    site.pages["/r/b"] = redirect(a)
    site.pages["/feed.xml"] = links_feed(a, b)
    cfg = write_config(tmp_path, name="rw.toml", sources=[feed_source(site, "loop")])
    for _ in range(2):
        r = rw("run", "--once", "-c", cfg)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    runs = _messages(tmp_path / "rw.db", "loop")
    assert all("not fetched" not in m for m in runs), runs
    with sqlite3.connect(tmp_path / "rw.db") as c:
        errors = [n for (n,) in c.execute("SELECT errors FROM source_runs WHERE source = 'loop'")]
        skipped = {u for (u,) in c.execute("SELECT url FROM source_urls WHERE state = 'skipped'")}
    assert errors == [0, 0], runs
    assert skipped == {a, b}, skipped
    assert len(site.requests("/r/a")) == 1 and len(site.requests("/r/b")) == 1, site.log


def test_a_redirect_waiting_on_a_fetch_spelled_otherwise_is_never_skipped_for_good(tmp_path, site, rw):
    """A tracking link redirects to the other source's article with a `#main` (Scrapy drops it as that fetch's
    duplicate; the fetch failed). It is no redirect cycle: never skipped for good at the crawl's end (it was, as
    'a page this crawl already asked for', and never asked again); it is asked for again next run."""
    target = f"{site.url}/a/x.html"
    site.pages["/a/x.html"] = Page(b"<html>down</html>", 500)
    site.pages["/t/1"] = redirect(target + "#main")
    site.pages["/one.xml"] = links_feed(target)
    site.pages["/two.xml"] = _slow(links_feed(f"{site.url}/t/1"), 1.0)    # asked for once the article was
    one, two = feed_source(site, "one"), feed_source(site, "two")
    one["url"], two["url"] = f"{site.url}/one.xml", f"{site.url}/two.xml"
    cfg = write_config(tmp_path, name="rw.toml", sources=[one, two])
    for _ in range(2):
        r = rw("run", "--once", "-c", cfg)
        assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    with sqlite3.connect(tmp_path / "rw.db") as c:
        skipped = c.execute("SELECT url, reason FROM source_urls WHERE state = 'skipped'").fetchall()
    assert not skipped, skipped
    assert len(site.requests("/t/1")) == 2, site.log


def _two_feeds(tmp_path, site, *feeds: tuple[str, float]) -> str:
    """One feed source per (its links, seconds its feed is late), named one, two, three…"""
    sources = []
    for i, (links, late) in enumerate(feeds):
        name = ("one", "two", "three")[i]
        site.pages[f"/{name}.xml"] = _slow(links_feed(*links), late) if late else links_feed(*links)
        sources.append(feed_source(site, name, url=f"{site.url}/{name}.xml"))
    return write_config(tmp_path, name="rw.toml", sources=sources)


def test_a_source_spelling_an_article_otherwise_gets_its_fetchs_outcome(tmp_path, site, rw):
    """Two sources list one article, its query in another order: Scrapy drops the second request as a duplicate, and
    the second source gets the fetch's outcome (here a failure: its own error, asked again next run) — it was
    '1 listed article(s) not fetched before the crawl stopped', every run."""
    site.pages["/a/x.html"] = Page(b"<html>down</html>", 500)
    cfg = _two_feeds(tmp_path, site, ([f"{site.url}/a/x.html?a=1&b=2"], 0),
                     ([f"{site.url}/a/x.html?b=2&a=1"], 1.0))
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    runs = _runs(tmp_path / "rw.db")
    assert {q["path"] for q in site.requests("/a/x.html")} == {"/a/x.html?a=1&b=2"}, site.log    # (one's spelling)
    assert "not fetched" not in runs["two"][1], runs
    assert "failed (fetched once in this crawl, for one)" in runs["two"][1], runs


def test_a_source_naming_a_hop_of_a_redirect_chain_to_a_fetched_page_gets_it_in_the_same_run(tmp_path, site, rw):
    """A → B → C, C fetched for another source first: a source listing B (itself asked for as A's hop) gets the
    chain's outcome in this run (B redirects to C, a page this crawl asked for: skipped for good), not
    'not fetched' this run and asked for again the next."""
    a, b, c = f"{site.url}/r/a", f"{site.url}/r/b", f"{site.url}/a/c.html"
    site.pages["/r/a"] = redirect(b)
    site.pages["/r/b"] = redirect(c)
    site.pages["/a/c.html"] = article_page(art("c", "消费金融利率上限降至20%", GOOD, 5))
    cfg = _two_feeds(tmp_path, site, ([c], 0), ([a], 1.0), ([b], 2.0))
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    runs = _runs(tmp_path / "rw.db")
    assert runs["three"][0] == 0 and "not fetched" not in runs["three"][1], runs
    with sqlite3.connect(tmp_path / "rw.db") as conn:
        skipped = set(conn.execute("SELECT source, url FROM source_urls WHERE state = 'skipped'"))
    assert skipped == {("two", a), ("three", b)}, skipped
    assert len(site.requests("/r/b")) == 1 and len(site.requests("/a/c.html")) == 1, site.log
    assert _stored(tmp_path / "rw.db") == {c}


def test_a_post_sources_article_redirected_by_303_is_one_fetch_a_second_post_source_gets_the_outcome_of(
        tmp_path, site, rw):
    """Two json sources asked by POST (`method = "POST"`: their articles asked so too) list one article, which
    answers 303 to its page (Scrapy's RedirectMiddleware asks for it by GET). The second source's POST, dropped as the
    first's duplicate, gets that fetch's outcome in the same run: the hop's key is the request Scrapy made, a POST
    (it was reckoned as a GET of the hop's URL, a request never made: the rider waited for good, '1 listed
    article(s) not fetched before the crawl stopped', every run)."""
    import json

    page = f"{site.url}/a/x.html"
    site.pages["/a/x"] = Page(b"", 303, ctype="", headers={"Location": page})
    site.pages["/a/x.html"] = article_page(art("x", "消费金融利率上限降至20%", GOOD, 5))
    rows = json.dumps({"rows": [{"id": "x", "title": "消费金融利率上限降至20%"}]}).encode()
    site.pages["/one.json"] = Page(rows, ctype="application/json")
    site.pages["/two.json"] = _slow(Page(rows, ctype="application/json"), 1.0)      # asked once one's article was
    cfg = write_config(tmp_path, name="rw.toml", sources=[
        {"name": n, "kind": "json", "url": f"{site.url}/{n}.json", "method": "POST", "items": "rows",
         "link": f"{site.url}/a/{{id}}", "title": "title"} for n in ("one", "two")])
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    runs = _runs(tmp_path / "rw.db")
    assert runs["one"][0] == 0 and runs["two"][0] == 0 and "not fetched" not in runs["two"][1], runs
    assert [(q["method"], q["path"]) for q in site.requests("/a/")] == [("POST", "/a/x"), ("GET", "/a/x.html")]
    assert _stored(tmp_path / "rw.db") == {f"{site.url}/a/x"}


def test_a_source_url_spelt_in_fullwidth_reaches_its_own_origin(tmp_path, site, rw):
    """A source's url with its host in fullwidth digits and dots loads (the config reads it as the fetcher does:
    127.0.0.1); its requests reach its own origin, as one spelt in ASCII does (each was refused: '127.0.0.1 is a
    loopback address and not this source's own origin')."""
    port = site.url.rsplit(":", 1)[1]
    wide = f"http://\uff11\uff12\uff17\uff0e\uff10\uff0e\uff10\uff0e\uff11:{port}"
    site.pages["/a/c.html"] = article_page(art("c", "消费金融利率上限降至20%", GOOD, 5))
    site.pages["/feed.xml"] = links_feed(f"{wide}/a/c.html")
    cfg = write_config(tmp_path, name="rw.toml", sources=[feed_source(site, "wide", url=f"{wide}/feed.xml")])
    r = rw("run", "--once", "-c", cfg)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr[-2000:]
    runs = _runs(tmp_path / "rw.db")
    assert runs["wide"][0] == 0, runs
    assert [q["path"] for q in site.requests("/a/")] == ["/a/c.html"], site.log
