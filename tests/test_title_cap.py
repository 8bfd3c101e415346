"""A title or an outlet as long as a hostile page makes it (a 40,000-character <title>, a feed entry's title, an
og:site_name) is kept at TITLE_CHARS / OUTLET_CHARS, cut between whole characters with "…", whatever kind of
source brought it: the store, search and every output after it never hold a 10 MB line."""

from __future__ import annotations

import html
import sqlite3

import regex
from support.config import write_config
from support.news import art, publish, site_sources
from support.servers import Page

from regwatch.defaults import OUTLET_CHARS, TITLE_CHARS

TEXT = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调，部分高定价产品暂停发放。"
FLAG = "\U0001f1e8\U0001f1f3"        # 🇨🇳: two code points, one character as a reader sees it
LONG = (FLAG + "长") * 20_000


def _whole(text: str) -> bool:
    """Cut with "…" after whole grapheme clusters (a flag never halved)."""
    kept = text[:-1]
    return text.endswith("…") and all(len(g) != 1 or g not in FLAG for g in regex.findall(r"\X", kept))


def test_long_titles_and_outlets_are_cut_at_extraction_for_every_kind_of_source(tmp_path, site, rw):
    arts = {kind: [art(kind, f"利率上限{kind}{LONG}", TEXT, 5)] for kind in ("feed", "listing", "json", "sitemap")}
    publish(site, arts)
    # a feed entry whose page has no title of its own (the feed's is the article's) and a hostile og:site_name
    site.pages["/feed.xml"].body = site.pages["/feed.xml"].body.replace(
        b"</channel>", f"<item><title>利率上限notitle{html.escape(LONG)}</title><link>{site.url}/a/bare.html</link>"
                       "</item></channel>".encode())
    site.pages["/a/bare.html"] = Page((f'<html><head><meta property="og:site_name" content="{"网" * 50_000}">'
                                       f"</head><body><p>{TEXT}</p><p>{TEXT}</p></body></html>").encode())
    cfg = write_config(tmp_path, sources=site_sources(site))
    r = rw("run", "--once", "-c", cfg, timeout=120)
    assert r.returncode == 0, r.stderr[-2000:]

    with sqlite3.connect(tmp_path / "rw.db") as c:
        rows = dict(c.execute("SELECT url, title FROM articles").fetchall())
        outlet = c.execute("SELECT outlet FROM articles WHERE url LIKE '%/bare.html'").fetchone()[0]
    assert len(rows) == 5, sorted(rows)
    for url, title in rows.items():
        kind = url.rsplit("/", 1)[1].removesuffix(".html")
        assert title.startswith(f"利率上限{'notitle' if kind == 'bare' else kind}{FLAG}长"), (url, title[:40])
        assert len(title) <= TITLE_CHARS and len(title) > TITLE_CHARS - 4, (url, len(title))
        assert _whole(title), (url, title[-10:])
    assert outlet == "网" * (OUTLET_CHARS - 1) + "…"

    # and what prints them prints a line of a title's length, not of the page's
    out = rw("search", "利率上限", "-c", cfg).stdout
    assert "利率上限feed" in out
    assert max(map(len, out.splitlines())) < 2 * TITLE_CHARS, max(map(len, out.splitlines()))
