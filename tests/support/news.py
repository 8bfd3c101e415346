"""Real-shaped pages for the local news site: an RSS feed, a GBK list page, a JSON API, a news sitemap, articles."""

from __future__ import annotations

import email.utils
import html
import json
import tomllib
from datetime import datetime, timedelta, timezone

from .config import chat, table, write_config
from .servers import Page, Site

CST = timezone(timedelta(hours=8))


def article_page(a: dict, encoding: str = "utf-8") -> Page:
    paras = "".join(f"<p>{html.escape(p)}</p>" for p in a["text"].split("\n") if p.strip())
    body = (f'<html><head><meta charset="{encoding}"><title>{html.escape(a["title"])}_财经网</title></head><body>'
            f'<div class="nav">首页 | 金融 | 银行 | 保险</div><h1>{html.escape(a["title"])}</h1>'
            f'<div class="info">{a["when"].strftime("%Y-%m-%d %H:%M")} 来源：{a.get("outlet", "财经网")}</div>'
            f'<div class="article">{paras}</div>'
            f'<div class="sidebar"><ul><li>热点：征信修复广告满天飞</li><li>暴力催收专项整治启动</li></ul></div>'
            f'<div class="footer">版权所有 财经网</div></body></html>')
    ctype = "text/html" if encoding != "utf-8" else "text/html; charset=utf-8"
    return Page(body.encode(encoding, "xmlcharrefreplace"), ctype=ctype)


def feed(site: Site, arts: list[dict]) -> Page:
    items = "".join(f"<item><title>{html.escape(a['title'])}</title><link>{site.url}/a/{a['id']}.html</link>"
                    f"<pubDate>{email.utils.format_datetime(a['when'])}</pubDate></item>" for a in arts)
    rss = f'<?xml version="1.0" encoding="utf-8"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'
    return Page(rss.encode(), ctype="application/rss+xml", etag=True)


def links_feed(*links: str) -> Page:
    """An RSS feed of these links, as they are (titles t0, t1…, no dates)."""
    items = "".join(f"<item><title>t{i}</title><link>{html.escape(link)}</link></item>" for i, link in enumerate(links))
    return Page(f'<?xml version="1.0"?><rss version="2.0"><channel><title>t</title>{items}</channel></rss>'.encode(),
                ctype="application/rss+xml")


def listing(site: Site, arts: list[dict]) -> Page:
    lis = "".join(f'<li><a href="/a/{a["id"]}.html">{html.escape(a["title"])}</a></li>' for a in arts)
    body = (f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head><body>'
            f'<ul class="news-list">{lis}</ul></body></html>')
    return Page(body.encode("gbk", "xmlcharrefreplace"), ctype="text/html", etag=True)


def api(site: Site, arts: list[dict]) -> Page:
    data = {"code": 0, "data": {"list": [{"title": a["title"], "url": f"{site.url}/a/{a['id']}.html",
                                          "pubTime": int(a["when"].timestamp())} for a in arts]}}
    return Page(json.dumps(data, ensure_ascii=False).encode(), ctype="application/json", etag=True)


def sitemap(site: Site, arts: list[dict]) -> Page:
    urls = "".join(f"<url><loc>{site.url}/a/{a['id']}.html</loc><news:news><news:publication><news:name>财经网</news:name>"
                   f"<news:language>zh</news:language></news:publication><news:publication_date>{a['when'].isoformat()}"
                   f"</news:publication_date><news:title>{html.escape(a['title'])}</news:title></news:news></url>" for a in arts)
    body = ('<?xml version="1.0" encoding="UTF-8"?><urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9" '
            f'xmlns:news="http://www.google.com/schemas/sitemap-news/0.9">{urls}</urlset>')
    return Page(body.encode(), ctype="application/xml", etag=True)


def publish(site: Site, by_kind: dict[str, list[dict]]) -> None:
    """Serve the articles: each kind's list page names its own, every article page is served."""
    site.pages["/feed.xml"] = feed(site, by_kind.get("feed", []))
    site.pages["/list/index.html"] = listing(site, by_kind.get("listing", []))
    site.pages["/api/news"] = api(site, by_kind.get("json", []))
    site.pages["/sitemap-news.xml"] = sitemap(site, by_kind.get("sitemap", []))
    for kind, arts in by_kind.items():
        for a in arts:
            site.pages[f"/a/{a['id']}.html"] = article_page(a, "gbk" if kind == "listing" else "utf-8")


def art(id_: str, title: str, text: str, minutes_ago: int = 10, **kw) -> dict:
    when = datetime.now(CST).replace(microsecond=0) - timedelta(minutes=minutes_ago)
    return {"id": id_, "title": title, "text": text, "when": when, **kw}


def site_sources(site: Site) -> list[dict]:
    """The `[[sources]]` of the site's four list pages: its feed, GBK list, JSON API and news sitemap."""
    return [feed_source(site),
            {"name": "list", "kind": "listing", "url": f"{site.url}/list/index.html", "links": "ul.news-list a"},
            {"name": "api", "kind": "json", "url": f"{site.url}/api/news", "items": "data.list", "link": "url",
             "title": "title", "date": "pubTime"},
            {"name": "sitemap", "kind": "sitemap", "url": f"{site.url}/sitemap-news.xml"}]


def feed_source(site: Site, name: str = "feed", **keys) -> dict:
    """The `[[sources]]` of the site's feed."""
    return {"name": name, "kind": "feed", "url": f"{site.url}/feed.xml", **keys}


def sources_toml(site: Site) -> str:
    return "".join(table("[[sources]]", s) for s in site_sources(site))


def feed_to_webhook_config(tmp_path, site: Site, receiver, topics: str = '["*"]', extra: str = ""):
    """regwatch.toml: the site's feed every second, alerts for `topics` to the receiver's `gw` route."""
    return write_config(tmp_path, crawl={"per_domain": 8}, sources=[feed_source(site, every="1s")],
                        channels=[chat(receiver, "gw")],
                        subscriptions=[{"name": "watch", "topics": tomllib.loads(f"t = {topics}")["t"], "channels": ["gw"]}],
                        extra=extra)
