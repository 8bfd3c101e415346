"""XML from the web is parsed with entity expansion and network access off."""

from __future__ import annotations

import re

from lxml import etree

from . import ListError

_DTD_ENTITY = re.compile(rb"<!ENTITY", re.I)
_HTML_START = re.compile(rb"<!doctype\s+html|<html", re.I)   # anchored at one position: no backtracking


def starts_as_html(head: bytes) -> bool:
    """Whether the document opens (after whitespace and comments) as an HTML page; linear in `head`
    (a pattern with a repeated comment group backtracks exponentially on `<!---->` × 40)."""
    pos = 0
    while True:
        while pos < len(head) and head[pos] in b" \t\r\n\f\v":
            pos += 1
        if not head.startswith(b"<!--", pos):
            break
        end = head.find(b"-->", pos + 4)
        if end < 0:
            return False
        pos = end + 3
    return _HTML_START.match(head, pos) is not None


def check_xml(body: bytes, what: str) -> None:
    """Reject entity declarations (billion laughs, external entities) and HTML served as XML."""
    head = body[:65536]
    if _DTD_ENTITY.search(head):
        raise ListError(f"the {what} declares XML entities (refused: entity expansion is a known attack)")
    if starts_as_html(head):
        raise ListError(f"not a {what}: the server sent an HTML page (maintenance page or a redesign?)")


def parse_xml(body: bytes, what: str) -> etree._Element:
    check_xml(body, what)
    parser = etree.XMLParser(resolve_entities=False, no_network=True, huge_tree=False, recover=True,
                             remove_comments=True)
    try:
        root = etree.fromstring(body, parser=parser)
    except etree.XMLSyntaxError as e:
        raise ListError(f"the {what} is not well-formed XML: {e}") from None
    if root is None:
        raise ListError(f"the {what} is empty or not XML")
    return root
