"""List parsers, one per source kind: bytes of a list page → the article entries it names.

They are plain functions (no Scrapy), so each bundled source's recorded response can be tested
directly, and they raise `ListError` with one clear line when a page is not what the source expects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import urldefrag, urljoin, urlsplit

from ...defaults import HASH_ROUTE, LIST_ENTRIES_MAX, too_slow


@dataclass
class Entry:
    url: str
    title: str | None = None
    published_at: datetime | None = None
    detail_url: str | None = None      # fetch this instead of `url` (json sources with `detail`)
    body_html: str | None = None       # the article body, when the list carries it
    attachment_url: str | None = None
    extra: dict = field(default_factory=dict)


class ListError(ValueError):
    """A list page that cannot be read as the source's kind; str() says what was wrong."""


class Entries(list):
    """A list page's entries, with `notes`: what its parser left out, for the run's record (each one line)."""

    def __init__(self, entries=(), notes: list[str] | None = None):
        super().__init__(entries)
        self.notes: list[str] = list(notes or [])


def web_url(base: str, link) -> str | None:
    """`link` made absolute against `base` (the list page's URL, or its `<base href>`) and without its
    #fragment, when it is an http(s) URL with a host; else None (regwatch fetches only the web: no file:,
    data:, ftp:, javascript: … links). A fragment names a place in a page, not another page: a list's
    `a.html#comment` beside `a.html` is the same article (and the server never sees it) — but for a
    route of a single-page site (`#/detail?id=7`, `#!/a/7`), which names the article a reader opens
    and is kept (a json source fetches its text from `detail` or carries it in `body`)."""
    if link is None:
        return None
    url, fragment = urldefrag(urljoin(base, str(link).strip()))
    if fragment.startswith(HASH_ROUTE):
        url = f"{url}#{fragment}"
    try:
        parts = urlsplit(url)
    except ValueError:
        return None
    return url if parts.scheme.lower() in ("http", "https") and parts.hostname else None


def parser_for(kind: str) -> Callable[..., list[Entry]]:
    from . import feed, jsonapi, listing, sitemap

    return {"feed": feed.parse, "sitemap": sitemap.parse, "listing": listing.parse, "json": jsonapi.parse}[kind]


def parse_list(kind: str, body: bytes, url: str, source, content_type: str | None = None) -> Entries:
    """The page's entries, each URL once (its first entry), at most one more than `LIST_ENTRIES_MAX` (the
    caller says when there were more), with the parser's notes."""
    found = parser_for(kind)(body, url, source, content_type)
    entries, seen = Entries(notes=getattr(found, "notes", None)), set()
    for e in found:
        if e.url not in seen:
            seen.add(e.url)
            entries.append(e)
            if len(entries) > LIST_ENTRIES_MAX:
                break
    return entries


def limited_parse_list(kind: str, body: bytes, url: str, source, content_type: str | None, seconds: float) -> Entries:
    """`parse_list` in a pool worker, under a time limit (and the worker's memory limit)."""
    from ...pipeline.limits import JobTimeout, run_limited

    try:
        return run_limited(parse_list, (kind, body, url, source, content_type), seconds)
    except JobTimeout:
        raise ListError(f"reading it {too_slow(seconds, 'extract_timeout')}") from None
    except MemoryError:
        raise ListError("reading it needed more memory than the limit (extract_memory)") from None
