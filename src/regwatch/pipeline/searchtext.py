"""Full-text search that finds Chinese words of two characters.

FTS5's trigram tokenizer cannot match 2-character terms (征信), so the index holds Chinese as
overlapping character bigrams (一次性修复 → 一次 次性 性修 修复) and other text as words, under the
`unicode61` tokenizer. A query term of n ≥ 2 Chinese characters becomes the phrase of its n-1
bigrams, which matches exactly the texts that contain the term.
"""

from __future__ import annotations

import re
from operator import add

from .normalize import normalize

_CJK = r"\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
_RUN = re.compile(rf"[{_CJK}]+|(?:(?![{_CJK}])[^\W_])+", re.UNICODE)
_IS_CJK = re.compile(rf"^[{_CJK}]+$")


def fts_text(text: str) -> str:
    """What the index stores for `text`: bigrams for Chinese runs, words for the rest."""
    return fts_tokens(normalize(text))


def fts_tokens(normalized: str) -> str:
    """`fts_text` of a text normalized already (an `Article`'s)."""
    out: list[str] = []
    for run in _RUN.findall(normalized):
        if len(run) > 1 and _IS_CJK.match(run):
            out.extend(map(add, run, run[1:]))       # its bigrams: 一次性 → 一次 次性
        else:
            out.append(run)
    return " ".join(out)


class QueryError(ValueError):
    """The search query cannot be understood; str() says why."""


_TOKEN = re.compile(r'"([^"]*)"|(\()|(\))|([^\s()"]+)')
_OPS = {"AND", "OR", "NOT"}


def fts_query(query: str) -> str:
    """Translate a user query (words, "phrases", AND/OR/NOT, parentheses) into an FTS5 MATCH string."""
    if query.count('"') % 2:
        raise QueryError('unbalanced quote in the query')
    parts: list[str] = []
    depth = 0
    for m in _TOKEN.finditer(query):
        phrase, lp, rp, word = m.groups()
        if lp:
            depth += 1
            parts.append("(")
        elif rp:
            depth -= 1
            if depth < 0:
                raise QueryError("a ')' without its '('")
            parts.append(")")
        elif word and word in _OPS:
            parts.append(word)
        else:
            text = phrase if phrase is not None else word
            term = fts_text(text)
            if not term:
                continue
            if len(term) == 1 and _IS_CJK.match(term):     # the index holds Chinese as pairs of characters
                raise QueryError(f"one-character words cannot be searched ({term}): Chinese is indexed as pairs of "
                                 "characters; search a word of two or more")
            parts.append('"' + term.replace('"', "") + '"')
    if depth:
        raise QueryError("a '(' without its ')'")
    if not parts or all(p in _OPS or p in "()" for p in parts):
        raise QueryError("the query has no words to search for")
    if parts[0] in _OPS - {"NOT"} or parts[-1] in _OPS:
        raise QueryError("AND / OR / NOT need a word on each side")
    return " ".join(parts)
