"""`regwatch demo`: the whole flow offline — a local replay site, two cycles, alerts on the terminal.

The replay site serves the bundled seed articles (real finance news of this field) as an RSS
feed and a GBK list page on 127.0.0.1. The first cycle is the baseline (stored, silent); then
the rest of the articles are published and the second cycle alerts, once per story.
"""

from __future__ import annotations

import email.utils
import html
import json
import shutil
import tempfile
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import click

from ..pipeline.private import make_private_dirs, write_private

CST = timezone(timedelta(hours=8))
DATA = Path(__file__).parent / "demo" / "articles.jsonl"
TRY_SEARCH = '"credit repair"'      # what `demo --keep` suggests searching: words of its stored articles
# the replay site's own words on an article's page, in the article's language: menu, byline, footer
PAGE_WORDS = {"zh": ("首页 | 金融 | 监管", "来源", "版权所有 演示站"),
              "en": ("Home | Finance | Regulation", "Source", "© the demo site")}


def load_articles() -> list[dict]:
    items = [json.loads(line) for line in DATA.read_text(encoding="utf-8").splitlines() if line.strip()]
    now = datetime.now(CST).replace(microsecond=0)
    for n, a in enumerate(items):
        a["when"] = now - timedelta(minutes=10 + 7 * n)
    return items


class ReplaySite:
    """A tiny news site on 127.0.0.1: `/feed.xml`, `/list.html` (GBK) and `/a/<id>.html`."""

    def __init__(self, articles: list[dict]):
        self.articles = articles
        self.published: list[dict] = []
        site = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_GET(self):
                body, ctype = site.page(self.path)
                self.send_response(200 if body else 404)
                self.send_header("Content-Type", ctype)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def page(self, path: str) -> tuple[bytes, str]:
        feed_items = [a for a in self.published if int(a["id"][-2:]) % 2]
        list_items = [a for a in self.published if not int(a["id"][-2:]) % 2]
        if path == "/robots.txt":
            return b"User-agent: *\nAllow: /\n", "text/plain"
        if path == "/feed.xml":
            items = "".join(f"<item><title>{html.escape(a['title'])}</title><link>{self.url}/a/{a['id']}.html</link>"
                            f"<pubDate>{email.utils.format_datetime(a['when'])}</pubDate></item>" for a in feed_items)
            return (f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>demo</title>'
                    f"{items}</channel></rss>").encode(), "application/rss+xml"
        if path == "/list.html":
            lis = "".join(f'<li><a href="/a/{a["id"]}.html">{html.escape(a["title"])}</a></li>' for a in list_items)
            return (f'<html><head><meta charset="gbk"></head><body><ul class="news">{lis}</ul></body></html>'
                    ).encode("gbk", "xmlcharrefreplace"), "text/html"
        for a in self.published:
            if path == f"/a/{a['id']}.html":
                return self.article_page(a), "text/html; charset=utf-8"
        return b"", "text/html"

    def article_page(self, a: dict) -> bytes:
        """The article in its own language, the site's words too; its outlet named when the data names it (none
        made up)."""
        nav, said, footer = PAGE_WORDS[a["lang"]]
        title = html.escape(a["title"])
        outlet = html.escape(a.get("source") or "")
        paras = "".join(f"<p>{html.escape(p)}</p>" for p in a["text"].split("\n") if p.strip())
        return (f'<html lang="{a["lang"]}"><head><meta charset="utf-8"><title>{title}{"_" + outlet if outlet else ""}'
                f'</title><meta property="article:published_time" content="{a["when"].isoformat()}"></head><body>'
                f'<div class="nav">{nav}</div><h1>{title}</h1>'
                + (f'<div class="info">{said}: {outlet}</div>' if outlet else "")
                + f'<div class="content">{paras}</div><div class="footer">{footer}</div></body></html>').encode()

    def stop(self) -> None:
        self.server.shutdown()


def demo_config(site: ReplaySite, folder: Path):
    from .config import parse_config

    return parse_config({
        "store": {"path": str(folder / "regwatch.db")},
        "crawl": {"user_agent": "regwatch-demo/0.1", "delay": 0, "max_article_age": "30d"},
        "sources": [
            {"name": "demo-feed", "kind": "feed", "url": f"{site.url}/feed.xml"},
            {"name": "demo-list", "kind": "listing", "url": f"{site.url}/list.html", "links": "ul.news a"},
        ],
        "channels": [{"name": "terminal", "type": "console"}],
        "subscriptions": [{"name": "regulatory", "topics": ["*"], "channels": ["terminal"]}],
        "alerts": {"once_wait": "5s"},
    }, "<demo>")


KEPT_CONFIG = f"""# regwatch demo --keep: the demo's store, to search, export and browse (`regwatch search {TRY_SEARCH}`,
# `regwatch export`, `regwatch report`, `regwatch why ID`) from this folder. The demo's sources were a local
# replay site, gone with the demo: add [[sources]] of your own (or source_packs) before `regwatch run`.
[store]
path = "regwatch.db"

[[channels]]
name = "terminal"
type = "console"

# the subscription that sent the demo's alerts (`regwatch subscriptions`, `regwatch alerts`)
[[subscriptions]]
name = "regulatory"
topics = ["*"]
channels = ["terminal"]
"""


def keep_config(folder: Path) -> Path:
    """A config beside the kept store (a config already there is left as it is)."""
    path = folder / "regwatch.toml"
    if not path.exists():
        write_private(path, KEPT_CONFIG)
    return path


def run_demo(keep: str | None = None) -> None:
    from . import reactor
    from .app import App

    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="regwatch-demo-"))
    make_private_dirs(folder)
    articles = load_articles()
    site = ReplaySite(articles)
    app = App(demo_config(site, folder))

    async def flow():
        async with app.dispatcher:
            site.published = articles[:4]
            r1 = await app.cycle(app.enabled_sources())
            click.secho(f"1. baseline: {sum(r.new for r in r1.reports.values())} articles stored, no alerts "
                        "(a source's first crawl is its baseline)\n", fg="cyan")
            site.published = articles
            click.secho(f"2. {len(articles) - 4} more articles published; the next cycle alerts once per story:\n", fg="cyan")
            r2 = await app.cycle(app.enabled_sources())
            await app.dispatcher.deliver_due()
            stories = app.store.count_stories_of_new_articles()
            kept = (f"Store: {folder / 'regwatch.db'}, config: {keep_config(folder)}\n   try: cd {folder} && regwatch "
                    f"search {TRY_SEARCH}") if keep else "(`regwatch demo --keep DIR` keeps its store to search and browse)"
            click.secho(f"3. {sum(r.new for r in r2.reports.values())} new articles in {stories} stories, "
                        f"{r2.queued} alerts. {kept}", fg="cyan")

    try:
        reactor.run(flow)
    finally:
        app.close()
        site.stop()
        if not keep:        # the demo leaves nothing behind unless asked to
            shutil.rmtree(folder, ignore_errors=True)
