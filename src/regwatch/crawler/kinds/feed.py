"""RSS and Atom feeds, read by feedparser."""

from __future__ import annotations

import io
from datetime import datetime

import feedparser

from ...pipeline.dates import feed_date
from . import Entry, ListError, web_url
from .xmlsafe import check_xml


def parse(body: bytes, url: str, source, content_type: str | None = None) -> list[Entry]:
    check_xml(body, "feed")
    # a stream, never the bytes: feedparser opens a bytes argument as a *file name* first (a feed whose
    # body is `/etc/passwd` would be read from the disk)
    parsed = feedparser.parse(io.BytesIO(body), response_headers={"content-type": content_type or "application/xml"},
                              resolve_relative_uris=False, sanitize_html=False)
    if not parsed.entries and parsed.get("bozo"):
        raise ListError(f"not a readable feed: {parsed.get('bozo_exception')}")
    if not parsed.get("version") and not parsed.entries:
        raise ListError("not a feed (no RSS or Atom root element)")
    out = []
    for e in parsed.entries:
        link = e.get("link") or (e.get("id") if str(e.get("id", "")).startswith("http") else None)
        link = web_url(url, link)
        if not link:
            continue
        out.append(Entry(url=link, title=e.get("title"), published_at=_when(e, source)))
    return out


def _when(e, source) -> datetime | None:
    """The one date rule (`pipeline.dates.feed_date`): the entry's text in the source's zone."""
    for key in ("published", "updated", "created"):
        if e.get(key):
            dt = feed_date(e.get(key), e.get(f"{key}_parsed"), source.timezone())
            if dt:
                return dt
    return None
