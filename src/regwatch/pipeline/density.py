"""The block of a page that holds the most prose of its own: the fallback for very short articles.

trafilatura gives up on a main text of a sentence or two (a 快讯, a one-line notice) and returns the
whole page — navigation, byline and the sidebar's hot-topic headlines, which then tag the article
with every topic. The densest block — the element whose own text (its text nodes and inline
children, not nested blocks) is longest, link text counted against it and prose punctuation for
it — is the article itself.
"""

from __future__ import annotations

import re

_CONTAINERS = ("div", "td", "article", "section", "main")
_INLINE = {"p", "br", "span", "font", "b", "strong", "i", "em", "u", "a", "small", "big", "sup", "sub"}
_PUNCT = re.compile(r"[，。！？；：、,.!?;:]")
_SPACE = re.compile(r"\s+")


def _own_text(el) -> tuple[str, int]:
    """An element's own text (text nodes and inline children) and how much of it is link text."""
    parts, links = [el.text or ""], 0
    for child in el:
        if isinstance(child.tag, str) and child.tag.lower() in _INLINE:
            t = child.text_content()
            parts.append(("\n" if child.tag.lower() in ("p", "br") else "") + t)
            links += len(t) if child.tag.lower() == "a" else sum(len(a.text_content()) for a in child.iter("a"))
        parts.append(child.tail or "")
    return "".join(parts), links


def densest_text(tree, min_chars: int = 15) -> str | None:
    best, best_score = None, 0.0
    for el in tree.iter(*_CONTAINERS):
        text, links = _own_text(el)
        n = len(_SPACE.sub("", text))
        if n < min_chars:
            continue
        prose = len(_PUNCT.findall(text)) * 40 >= n
        score = (n - 2 * links) * (1.0 if prose else 0.3)
        if score > best_score:
            best, best_score = text, score
    if best is None:
        return None
    lines = [_SPACE.sub(" ", line).strip() for line in best.split("\n")]
    return "\n".join(line for line in lines if line)
