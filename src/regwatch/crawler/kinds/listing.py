"""HTML list pages: the links that the source's CSS selector picks out."""

from __future__ import annotations

import re

from cssselect import SelectorError
from cssselect import parse as parse_css
from parsel import Selector
from parsel.csstranslator import css2xpath

from ...pipeline.decode import decode_html
from . import Entry, ListError, web_url

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")   # lxml refuses them in names and strings


def check_links(css: str) -> str | None:
    """Why a `links` selector can never select (the config's error), or None: translated as `parse`'s
    `Selector.css` will; and elements, as `_entries` reads them (parsel's ::text / ::attr() select strings)."""
    try:
        css2xpath(css)
        selectors = parse_css(css)
    except SelectorError as e:
        return f"bad CSS selector {css!r}: {e}"
    if any(s.pseudo_element for s in selectors):
        return (f"{css!r} selects text, not elements: select the <a> elements (or elements holding one), "
                "without ::text or ::attr()")
    return None


def parse(body: bytes, url: str, source, content_type: str | None = None) -> list[Entry]:
    text, _ = decode_html(body, content_type, source.encoding)
    sel = Selector(text=_CONTROL.sub(" ", text), base_url=url)
    try:
        links = sel.css(source.links)
    except Exception as e:  # cssselect's syntax errors
        raise ListError(f"bad `links` selector {source.links!r}: {e}") from None
    # links are relative to the document's base: its first <base href>, made absolute against the page's URL
    base = sel.xpath("//base[@href][1]/@href").get()
    try:
        return _entries(links, (web_url(url, base) if base else None) or url)
    except ValueError as e:   # what lxml will not take from a broken page
        raise ListError(f"not a readable list page: {e}") from None


def _entries(links, base: str) -> list[Entry]:
    out: list[Entry] = []
    seen: dict[str, tuple[Entry, bool]] = {}     # each link once: (its entry, named with a #fragment)
    for a in links:
        href = a.attrib.get("href") if a.root.tag == "a" else (a.css("a::attr(href)").get())
        if not href or href.startswith("#"):
            continue
        link = web_url(base, href)
        if not link:
            continue
        title = (a.attrib.get("title") or " ".join(a.css("::text").getall())).strip() or None
        if link in seen:
            # `a.html#comment` (评论) before `a.html`: the title is the plain link's
            first, fragment = seen[link]
            if fragment and "#" not in href:
                first.title, seen[link] = title, (first, False)
            continue
        entry = Entry(url=link, title=title)
        seen[link] = (entry, "#" in href)
        out.append(entry)
    return out
