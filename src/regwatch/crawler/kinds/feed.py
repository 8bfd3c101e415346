"""RSS and Atom feeds, read by feedparser."""

from __future__ import annotations

import io
import re
from datetime import datetime

import feedparser
import feedparser.api

from ...pipeline.dates import feed_date
from . import Entry, ListError, web_url
from .xmlsafe import check_xml

_ROOT = re.compile(rb"<\w")      # the first element (as feedparser divides a document's prolog from it)


def replace_doctype(data: bytes) -> tuple[str | None, bytes, dict[str, str]]:
    """feedparser's `replace_doctype` (its entity and DOCTYPE declarations out of the prolog), linear.

    feedparser's own runs `^\\s*<!ENTITY([^>]*?)>` in MULTILINE mode over the prolog: each line start scans every
    blank line after it, so 100 KB of line breaks before `<rss>` held the event loop for 146 s (a 256 KB feed, read
    on the loop, about 17 minutes). Here each declaration is found by one search from the end of the previous
    one. Every entity declaration goes, not only the "safe" ones feedparser keeps: regwatch reads no feed that
    declares entities (`check_xml`)."""
    m = _ROOT.search(data)
    start = m.start() if m else 0
    head, version = data[:start], None
    for decl in (b"<!ENTITY", b"<!DOCTYPE"):      # entities first: a DOCTYPE's internal subset then ends at its `]>`
        kept, pos = [], 0
        while (i := head.find(decl, pos)) >= 0:
            end = head.find(b">", i)
            end = len(head) if end < 0 else end + 1
            kept.append(head[pos:i])
            if decl == b"<!DOCTYPE" and b"netscape" in head[i:end].lower():
                version = "rss091n"
            pos = end
        kept.append(head[pos:])
        head = b"".join(kept)
    return version, head + data[start:], {}


feedparser.api.replace_doctype = replace_doctype   # (the name feedparser.parse calls)


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
