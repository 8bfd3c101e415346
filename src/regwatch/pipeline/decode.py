"""Bytes from the web → text: the HTTP header, a BOM, the page's own declaration, then detection.

GB2312 and GBK are decoded as GB18030, their superset: real "gb2312" pages routinely carry
characters outside GB2312 (人名, 生僻字) that a strict GB2312 decoder turns into errors.
"""

from __future__ import annotations

import codecs
import functools
import re

from charset_normalizer import from_bytes

_WIDEN = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "gb_2312-80": "gb18030",
          "cp936": "gb18030", "euc-cn": "gb18030", "hz-gb-2312": "gb18030", "big5": "big5hkscs",
          "iso-8859-1": "cp1252", "latin-1": "cp1252", "ascii": "utf-8", "us-ascii": "utf-8"}

_META = re.compile(rb"""<meta[^<>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.I)
_XML = re.compile(rb"""^\s*<\?xml[^>]+encoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)
# corpus and archive wrappers: <text id="URL" title="…" encoding="gb2312"> around the page
_WRAPPER = re.compile(rb"""^\s*<(?!meta|\?xml)[a-z]+\s[^>]*\bencoding\s*=\s*["']([A-Za-z0-9_.:-]+)""", re.I)
_HEADER = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9_.:-]+)", re.I)
_BOMS = [(codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16")]


def canonical(name: str | None) -> str | None:
    """A Python codec name for a declared charset, widened (GBK → GB18030); None if unknown."""
    if not name:
        return None
    name = name.strip().lower()
    name = _WIDEN.get(name, name)
    try:
        return _WIDEN.get(codecs.lookup(name).name, codecs.lookup(name).name)
    except LookupError:
        return None


def declared_encodings(body: bytes, content_type: str | None = None) -> list[str]:
    """Encodings the response declares, in order of authority: header, BOM, meta / XML declaration."""
    found: list[str] = []
    if content_type:
        m = _HEADER.search(content_type)
        if m:
            found.append(m.group(1))
    for bom, enc in _BOMS:
        if body.startswith(bom):
            found.append(enc)
    head = body[:4096]
    for rx in (_XML, _WRAPPER, _META):
        declared = rx.search(head)
        if declared:
            found.append(declared.group(1).decode("ascii", "ignore"))
    out: list[str] = []
    for enc in found:
        c = canonical(enc)
        if c and c not in out:
            out.append(c)
    return out


@functools.lru_cache(maxsize=64)
def single_byte(enc: str) -> bool:
    """A one-byte-per-character charset (ISO-8859-x, windows-125x, KOI8…): it decodes any bytes at all,
    so decoding without an error says nothing about whether it is right."""
    if enc.startswith(("utf", "gb", "big5", "shift", "euc", "iso2022", "hz", "cp9", "johab")):
        return False
    try:
        return all(len(pair.decode(enc, "replace")) == 2 for pair in (b"\xc4\xe3", b"\xe4\xb8", b"\xa1\xa1"))
    except LookupError:
        return False


def _header_charset(content_type: str | None) -> str | None:
    m = _HEADER.search(content_type or "")
    return canonical(m.group(1)) if m else None


def _tolerant(body: bytes, enc: str) -> str | None:
    """The body in `enc`, allowing a few stray bytes; None when it is not that encoding."""
    try:
        return body.decode(enc)
    except UnicodeDecodeError:
        text = body.decode(enc, errors="replace")
        return text if text.count("\ufffd") <= max(3, len(body) // 2000) else None
    except LookupError:
        return None


def _chinese_instead_of_single_byte(body: bytes, content_type: str | None) -> tuple[str, str] | None:
    """A header's single-byte charset (ISO-8859-1 on a GBK page: it decodes anything, into mojibake)
    loses to the page's own multi-byte declaration, then to a confident reading, when either gives
    Chinese text."""
    header = _header_charset(content_type)
    if not header or not single_byte(header) or body.isascii():
        return None
    own = [e for e in declared_encodings(body, None) if not single_byte(e)]
    for enc in [*own, "utf-8", "gb18030", "big5hkscs"]:
        text = _tolerant(body, enc)
        if text is not None and _mostly_chinese(text):
            return text, enc
    best = from_bytes(body[:200_000]).best()
    if best is not None and best.language == "Chinese" and best.chaos < 0.1:
        enc = canonical(best.encoding) or best.encoding
        text = _tolerant(body, enc)
        if text is not None:
            return text, enc
    return None


def decode_html(body: bytes, content_type: str | None = None, override: str | None = None) -> tuple[str, str]:
    """(text, encoding used). A declared encoding that cannot decode the body is passed over, and a
    header's single-byte charset that contradicts a Chinese page's own declaration is too."""
    if not override:
        chinese = _chinese_instead_of_single_byte(body, content_type)
        if chinese is not None:
            return chinese
    candidates = ([canonical(override)] if override else []) + declared_encodings(body, content_type)
    for enc in candidates:
        if not enc:
            continue
        try:
            return body.decode(enc), enc
        except UnicodeDecodeError:
            # a few stray bytes (a truncated character, a pasted symbol) do not make the declaration wrong
            text = body.decode(enc, errors="replace")
            if text.count("\ufffd") <= max(3, len(body) // 2000):
                return text, enc
        except LookupError:
            continue
    try:
        return body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        pass
    # Undeclared Chinese pages are mostly GBK: a strict GB18030 decode that yields mostly Chinese
    # characters is a far better guess than statistical detection on short pages (which picks
    # Cyrillic code pages for GBK bytes).
    try:
        text = body.decode("gb18030")
        if _mostly_chinese(text):
            return text, "gb18030"
    except UnicodeDecodeError:
        pass
    best = from_bytes(body).best()
    if best is not None:
        enc = canonical(best.encoding) or best.encoding
        return body.decode(enc, errors="replace"), enc
    enc = next((e for e in candidates if e), "utf-8")
    return body.decode(enc, errors="replace"), enc


_MAGIC = (b"%PDF", b"PK\x03\x04", b"\x89PNG", b"\xff\xd8\xff", b"GIF8", b"\x1f\x8b", b"Rar!", b"\x7fELF")


def looks_binary(body: bytes) -> bool:
    """A PDF, archive, image or executable, or anything with NUL bytes near its start: not a page."""
    head = body[:2048]
    return head.startswith(_MAGIC) or b"\x00" in head


def _mostly_chinese(text: str) -> bool:
    sample = re.sub(r"<[^<>]*>|\s", "", text[:200_000])   # [^<>]: linear on "<<<<…" (not quadratic)
    non_ascii = [ch for ch in sample if ord(ch) > 127]
    if not non_ascii:
        return False
    cjk = sum(1 for ch in non_ascii if "\u4e00" <= ch <= "\u9fff" or "\u3000" <= ch <= "\u303f" or "\uff00" <= ch <= "\uffef")
    return cjk / len(non_ascii) > 0.9
