"""An article's text as the pipeline reads it, normalized once.

`Article(title, body, attachment_text)` is a value: every view of its text is computed the first
time it is read and kept — the normalized title and text (NFKC, Simplified Chinese, lower case:
`normalize`), the text without its reprint and credit lines, the content hash, the text as story
matching reads it, its units and shingles, and what the search index stores. Stories, topics, the
content hash and the search index all read the same value, so an article's text is normalized once
on its way, however many of them look at it.

Normalization works line by line (NFKC never makes or joins a line break; Traditional characters are
converted per line; spaces fold within a line), so the views without reprint lines are the
normalized text with those lines emptied: the same strings as normalizing the stripped text anew.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from dataclasses import dataclass
from functools import cached_property

from .normalize import boilerplate_lines, normalize, strip_chrome
from .searchtext import fts_tokens

SHINGLE = 4                 # units (Chinese characters, or words of other scripts) per shingle

_KEEP = re.compile(r"[^\w\u4e00-\u9fff]+", re.UNICODE)
# (?<!\s): a run of spaces is tried from its start only (else quadratic on a title of spaces)
_TITLE_NOISE = re.compile(r"^(转载|转发|原创|独家|深度|重磅|快讯|最新)\s*[:：丨|]\s*|(?<!\s)\s*[|｜丨_-]\s*(深度|独家|快讯)\s*$")
# when this copy went up is the page's, not the story's: a clock time, or a date with its time, anywhere ...
_STAMP = re.compile(r"(?<!\d)\d{4}[-/.年]\d{1,2}[-/.月]\d{1,2}日?[ \t]{0,3}\d{1,2}:\d{2}(:\d{2})?|"
                    r"(?<![\d.])\d{1,2}:\d{2}(:\d{2})?")
# ... and a numeric date standing apart at a line's start or end (a date line, `2024-03-20  新华网`), or anywhere on
# a byline's line: a short line (BYLINE_REST characters besides its dates) with a clock time or a byline's word.
# A date inside a sentence is a fact (the LPR of 2024-02-20 is not that of 2024-03-20)
_DATE = r"(?<!\d)\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(?!\d)"
_BYLINE_TIME = re.compile(_DATE)
_EDGE_DATE = re.compile(rf"^[ \t\u3000]*(?:{_DATE}[ \t\u3000]*)+(?=[ \t\u3000]|$)|"
                        rf"(?:(?<=[ \t\u3000])|^)(?:[ \t\u3000]*{_DATE})+[ \t\u3000]*$")
_CLOCK = re.compile(r"\d{1,2}:\d{2}")
_BYLINE_WORD = re.compile(r"来源|发布|作者|记者|编辑|责编|浏览|阅读|点击|字号|更新|稿源|出处"
                          r"|^\s*[\[【(（]?\s*(时间|日期)\s*[:：]")
BYLINE_REST = 40
# regulators go by several names; copy editors use the short ones (one form each, for matching only)
_ALIASES = [("中国人民银行", "人民银行"), ("央行", "人民银行"), ("国家金融监督管理总局", "金融监管总局"),
            ("国家金融监管总局", "金融监管总局"), ("中国银行保险监督管理委员会", "银保监会"), ("中国银保监会", "银保监会"),
            ("中国证券监督管理委员会", "证监会"), ("中国证监会", "证监会"), ("国家外汇管理局", "外汇局"),
            ("国务院新闻办公室", "国新办"), ("全国银行间同业拆借中心", "外汇交易中心"), ("中国外汇交易中心", "外汇交易中心")]
_UNIT = re.compile(r"[\u3400-\u9fff]|[^\W\u3400-\u9fff_]+")


def _without_byline_times(text: str) -> str:
    """The text without when this copy went up: clock times (with their dates) anywhere, and numeric dates at a
    line's edge or on a byline's line."""
    if _BYLINE_TIME.search(text) is None and _CLOCK.search(text) is None:
        return text
    lines = text.split("\n")
    for i, line in enumerate(lines):
        clocked = _CLOCK.search(line) is not None
        line = _STAMP.sub(" ", line) if clocked else line
        if _BYLINE_TIME.search(line) is not None:
            rest = _BYLINE_TIME.sub("", line).strip()
            if len(rest) <= BYLINE_REST and (clocked or _BYLINE_WORD.search(rest)):
                line = _BYLINE_TIME.sub(" ", line)
            else:
                line = _EDGE_DATE.sub(" ", line)
        lines[i] = line
    return "\n".join(lines)


def canonical_text(text: str) -> str:
    """Text reduced to what two copies of it share: normalized, reprint lines gone, letters and digits only."""
    return Article("", text).canonical


def clean_title(title: str) -> str:
    """A headline without its reprint or column marks (转载：…, …｜独家), as copies share it."""
    return canonical_text(_TITLE_NOISE.sub("", title or ""))


def shingle_hashes_of(units: list[str]) -> list[int]:
    """Hashes of SHINGLE consecutive units in text order (CRC-32 of the units joined by U+001F)."""
    if len(units) < SHINGLE:
        return [zlib.crc32("".join(units).encode())] if units else []
    # the units' bytes from one encoding (units never hold U+001F); each run of SHINGLE joined and hashed
    # in C loops (map, zip): no Python step per shingle
    b = "\x1f".join(units).encode().split(b"\x1f")
    return list(map(zlib.crc32, map(b"\x1f".join, zip(*(b[i:] for i in range(SHINGLE)), strict=False))))


@dataclass(frozen=True, eq=False)
class Article:
    """An article's title, body and attachment text, and every view of them the pipeline reads."""

    title: str
    body: str
    attachment_text: str = ""

    @classmethod
    def known(cls, title: str, body: str, attachment_text: str = "", **views: object) -> Article:
        """An article whose views were computed already (by the extraction worker that read it)."""
        article = cls(title, body, attachment_text)
        vars(article).update(views)         # (each view is a cached_property: read from here first)
        return article

    # -- normalized once --------------------------------------------------------------------

    @cached_property
    def title_text(self) -> str:
        """The normalized title."""
        return normalize(self.title or "")

    @cached_property
    def body_text(self) -> str:
        """The normalized body."""
        return normalize(self.body or "")

    @cached_property
    def text(self) -> str:
        """The normalized body and attachment: what topics are read from and the search index holds."""
        if not self.attachment_text:
            return self.body_text
        return self.body_text + "\n" + normalize(self.attachment_text)

    @cached_property
    def stripped(self) -> str:
        """The normalized body without its reprint and credit lines (转载自…, 责任编辑：…)."""
        drop = boilerplate_lines(self.body or "")
        if not drop:
            return self.body_text
        lines = self.body_text.split("\n")
        for i in drop:
            lines[i] = ""
        return "\n".join(lines)

    # -- the content hash -------------------------------------------------------------------

    @cached_property
    def canonical(self) -> str:
        return _KEEP.sub("", self.stripped)

    @cached_property
    def content_hash(self) -> str:
        """The hash of the body as copies share it: the same for the same words, whatever the spacing,
        punctuation, script or reprint lines."""
        return hashlib.sha1(self.canonical.encode()).hexdigest()

    # -- story matching ---------------------------------------------------------------------

    @cached_property
    def matching(self) -> str:
        """The text as story matching sees it: page furniture, reprint lines and page times gone, one
        name per regulator."""
        t = strip_chrome(self.stripped)
        for long_, short in _ALIASES:
            if long_ in t:
                t = t.replace(long_, short)
        return _without_byline_times(t)

    @cached_property
    def units(self) -> list[str]:
        """Chinese characters, and whole words of other scripts, in text order."""
        return _UNIT.findall(self.matching)

    @cached_property
    def shingle_hashes(self) -> list[int]:
        """Hashes of SHINGLE consecutive units in text order (character shingles of English would be common
        to every English text: "tion", "ther")."""
        return shingle_hashes_of(self.units)

    @cached_property
    def shingles(self) -> frozenset[int]:
        return frozenset(self.shingle_hashes)

    @cached_property
    def clean_title(self) -> str:
        return clean_title(self.title)

    # -- the search index -------------------------------------------------------------------

    @cached_property
    def search_title(self) -> str:
        """What the full-text index stores for the title."""
        return fts_tokens(self.title_text)

    @cached_property
    def search_text(self) -> str:
        """What the full-text index stores for the body and attachment."""
        return fts_tokens(self.text)
