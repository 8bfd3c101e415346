"""XML sitemaps, Google News sitemaps included (`news:title`, `news:publication_date`)."""

from __future__ import annotations

from ...pipeline.dates import parse_any_date
from . import Entry, ListError, web_url
from .xmlsafe import parse_xml


def _local(tag) -> str:
    return tag.rsplit("}", 1)[-1] if isinstance(tag, str) else ""


def parse(body: bytes, url: str, source, content_type: str | None = None) -> list[Entry]:
    root = parse_xml(body, "sitemap")
    kind = _local(root.tag)
    if kind not in ("urlset", "sitemapindex"):
        raise ListError(f"not a sitemap (root element <{kind}>)")
    out = []
    for node in root:
        if _local(node.tag) not in ("url", "sitemap"):
            continue
        fields = {}
        for child in node.iter():
            name = _local(child.tag)
            if name and child.text and name not in fields:
                fields[name] = child.text.strip()
        loc = web_url(url, fields.get("loc"))
        if not loc:
            continue
        when = fields.get("publication_date") or fields.get("lastmod")
        e = Entry(url=loc, title=fields.get("title"),
                  published_at=parse_any_date(when, source.timezone()) if when else None)
        if kind == "sitemapindex":
            e.extra["sitemap"] = True
        out.append(e)
    return out
