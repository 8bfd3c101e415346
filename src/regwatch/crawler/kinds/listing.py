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
    try:
        return _entries(links, url)
    except ValueError as e:   # what lxml will not take from a broken page
        raise ListError(f"not a readable list page: {e}") from None


def _entries(links, url: str) -> list[Entry]:
    out, seen = [], set()
    for a in links:
        href = a.attrib.get("href") if a.root.tag == "a" else (a.css("a::attr(href)").get())
        if not href or href.startswith("#"):
            continue
        link = web_url(url, href)
        if not link or link in seen:
            continue
        seen.add(link)
        title = (a.attrib.get("title") or " ".join(a.css("::text").getall())).strip() or None
        out.append(Entry(url=link, title=title))
    return out
