"""Full-text search that finds Chinese words of two characters.

FTS5's trigram tokenizer cannot match 2-character terms (征信), so the index holds Chinese as
overlapping character bigrams (一次性修复 → 一次 次性 性修 修复) and other text as words, under the
`unicode61` tokenizer. A query term of n ≥ 2 Chinese characters becomes the phrase of its n-1
bigrams, which matches exactly the texts that contain the term. One Chinese character joined to the
Latin letters or digits before it (A股, P2P网) is the start of a Chinese run in the text (A股三大 →
a 股三 三大): a prefix term, `股*`, which matches exactly the texts that contain A股 too.
"""

from __future__ import annotations

import re
import unicodedata
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


def _parts(query: str) -> list[str | list[str]]:
    """A user query (words, "phrases", AND/OR/NOT, parentheses) as operators, parentheses and
    phrases (each the list of its index terms), checked."""
    if query.count('"') % 2:
        raise QueryError('unbalanced quote in the query')
    parts: list[str | list[str]] = []
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
            terms = _query_terms(phrase if phrase is not None else word)
            if not terms:
                continue
            if len(terms) == 1 and len(terms[0]) == 1 and _IS_CJK.match(terms[0]):   # Chinese is indexed as pairs
                raise QueryError(f"one-character words cannot be searched ({terms[0]}): Chinese is indexed as pairs of "
                                 "characters; search a word of two or more")
            parts.append(terms)
    if depth:
        raise QueryError("a '(' without its ')'")
    if not any(isinstance(p, list) for p in parts):
        raise QueryError("the query has no words to search for")
    # AND / OR / NOT join two operands (a word, a phrase or a parenthesis): `a NOT b` is a without b. A NOT with
    # nothing before it (`NOT a`, `(NOT a)`, `a OR NOT b`) is refused: FTS5 has no such query, and a search that
    # lists every article without a word is no search (PostgreSQL would answer it: both engines refuse it alike)
    ops = [(p, isinstance(b, list) or b == ")", isinstance(a, list) or a == "(")    # (an operand before, after)
           for p, b, a in zip(parts, [None, *parts[:-1]], [*parts[1:], None], strict=True)
           if isinstance(p, str) and p in _OPS]
    if any(op == "NOT" and after and not before for op, before, after in ops):
        raise QueryError("NOT needs a word before it: `征信 NOT 骗局` finds 征信 without 骗局 "
                         "(a search cannot list every article without a word)")
    if not all(before and after for _, before, after in ops):
        raise QueryError("AND / OR / NOT need a word on each side")
    return parts


def _query_terms(text: str) -> list[str]:
    """A query's word or phrase as index terms (`fts_text`'s), a prefix term marked by a trailing `*`: one
    Chinese character right after Latin letters or digits (A股) starts a Chinese run of the text, whose
    first term is that character or a pair starting with it (A股三大 → a 股三 三大). One Chinese character
    right before them (股A) ends a run: a pair ending with it, which neither engine can look up."""
    runs = list(_RUN.finditer(normalize(text)))
    out: list[str] = []
    for i, m in enumerate(runs):
        run = m.group()
        if len(run) == 1 and _IS_CJK.match(run):
            after = i > 0 and runs[i - 1].end() == m.start()
            before = i + 1 < len(runs) and runs[i + 1].start() == m.end()
            if before and not after:
                raise QueryError(f"one Chinese character before Latin letters or digits cannot be searched "
                                 f"({run}{runs[i + 1].group()}): Chinese is indexed as pairs of characters; add the "
                                 "Chinese character before it, or leave it out")
            out.append(run + "*" if after and not before else run)
        elif _IS_CJK.match(run):
            out.extend(map(add, run, run[1:]))
        else:
            out.append(run)
    return out


def _fts_phrase(terms: list[str]) -> str:
    if not any(t.endswith("*") for t in terms):
        return '"' + " ".join(terms) + '"'
    return " + ".join(f'"{t[:-1]}"*' if t.endswith("*") else f'"{t}"' for t in terms)   # "a" + "股"*


def fts_query(query: str) -> str:
    """Translate a user query (words, "phrases", AND/OR/NOT, parentheses) into an FTS5 MATCH string."""
    return " ".join(_fts_phrase(p) if isinstance(p, list) else p for p in _parts(query))


def ts_query(query: str) -> str:
    """The same query as a PostgreSQL `tsquery` over the same index terms (a phrase: its terms in a
    row, `<->`; words side by side: AND, as in FTS5; `a NOT b`: `a & !b`)."""
    out: list[str] = []
    for p in _parts(query):
        operand = isinstance(p, list) or p == "("
        if (operand or p == "NOT") and out and out[-1] not in ("&", "|", "!", "("):
            out.append("&")         # side by side: AND (and NOT after a word is AND NOT)
        if isinstance(p, list):
            out.append("(" + " <-> ".join(ts_lexeme(fold(t[:-1])) + ":*" if t.endswith("*") else ts_lexeme(fold(t))
                                          for t in p) + ")")
        elif p in ("(", ")"):
            out.append(p)
        else:
            out.append({"AND": "&", "OR": "|", "NOT": "!"}[p])
    return " ".join(out)


def fold(term: str) -> str:
    """As FTS5's unicode61 tokenizer (remove_diacritics 2) sees a term: accents dropped (the tsvector's
    terms and the tsquery's alike, so `café` finds café on PostgreSQL as on SQLite)."""
    if term.isascii():
        return term
    return "".join(c for c in unicodedata.normalize("NFD", term) if not unicodedata.combining(c))


def ts_lexeme(term: str) -> str:
    """A term quoted as a tsvector / tsquery lexeme (taken as it is, never re-parsed)."""
    return "'" + term.replace("\\", "\\\\").replace("'", "''") + "'"
