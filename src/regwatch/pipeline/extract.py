"""What regwatch reads from an article page: title, body, published time, language.

trafilatura finds the main text on *decoded* text; regwatch reconciles the title candidates
(og:title, h1, <title> without the site name), reads Chinese bylines (发布时间 / 来源 lines) and
the page's metadata for the publication time, and lets per-source CSS selectors win.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

import lxml.html
import trafilatura
from htmldate import find_date
from lxml import etree
from trafilatura.settings import Document, Extractor, use_config

from ..defaults import ATTACHMENT_CHARS, ATTACHMENT_PAGES, ERROR_CHARS, OUTLET_CHARS, TITLE_CHARS, too_slow
from .dates import dates_in, parse_any_date, parse_cn_date, sane, zone
from .decode import decode_html, looks_binary
from .density import densest_text
from .limits import JobTimeout, out_of_memory, run_limited
from .normalize import clip, web_text


@dataclass
class Extracted:
    title: str
    body: str
    published_at: datetime | None
    lang: str
    encoding: str
    outlet: str | None = None
    # where the time was read: "meta" (the page's metadata), "selector" (the source's override),
    # "byline" (a date the page prints outside its headline and text, or in a byline line at the start of
    # the text), "text" (only in the headline or the article's text: a list's date is better), "yearless"
    # (no date with a year on the page, only one without, given this year: a list's date is better)
    date_from: str | None = None
    # the source's `[sources.extract] date` selector found no date on the page: the page's own was looked for
    date_missed: bool = False

    def to_json(self) -> dict:
        return {"title": self.title, "body": self.body,
                "published_at": self.published_at.isoformat() if self.published_at else None,
                "lang": self.lang, "encoding": self.encoding, "outlet": self.outlet, "date_from": self.date_from}


class ExtractError(ValueError):
    """The page holds no article text; str() says why."""


# trafilatura falls back to "all the text of the page" when its main-text pass finds under 250
# characters; short Chinese notices and 快讯 are often that short, and the fallback brings in the
# navigation and the sidebar's hot-topic headlines. For short results, a second pass with a lower
# floor keeps the main text (the lower floor everywhere would hurt long pages: it also steers
# trafilatura's comparison with its other algorithms).
_SHORT = 400
_SPACE_RE = re.compile(r"\s+")
_LINE_SPACE_RE = re.compile(r"[^\S\n]+")    # spaces within a line
_LOW_FLOOR = use_config()
_LOW_FLOOR.set("DEFAULT", "MIN_EXTRACTED_SIZE", "40")
_LOW_FLOOR.set("DEFAULT", "MIN_OUTPUT_SIZE", "10")
# no metadata pass: regwatch reads title, time and outlet itself (it doubles trafilatura's cost)
_KW: dict[str, Any] = dict(output_format="python", with_metadata=False, comments=False, tables=True, dedup=False)
_OPTIONS = Extractor(**_KW)
_LOW_FLOOR_OPTIONS = Extractor(config=_LOW_FLOOR, **_KW)

_TITLE_SEP = re.compile(r"(?<!\s)\s*(?:[_|｜—–·]|-{1,2}|::)\s*")   # (?<!\s): linear on runs of spaces
_META_TIME_KEYS = (
    "article:published_time", "og:article:published_time", "og:published_time", "publishdate", "pubdate",
    "publish_date", "datepublished", "dc.date.issued", "dc.date", "sailthru.date", "parsely-pub-date",
    "weibo:article:create_at", "og:release_date", "releasedate", "createdate", "firstpublishedtime",
)
_BYLINE = re.compile(r"(?<!施行)(?<!生效)(?<!实施)(?<!截止)(?<!有效)(?<!到期)"
                     r"(?:发布时间|发表时间|发布日期|时间|日期|来源|Published|Posted|Date)\s*[:：]?\s*")


_NOT_CJK = re.compile(r"[^\u4e00-\u9fff]+")
_NOT_ASCII_LETTER = re.compile(r"[^A-Za-z]+")
_ASCII_OR_CJK = re.compile(r"[\x00-\x7f\u4e00-\u9fff]+")


def detect_lang(text: str) -> str:
    """`zh` when a tenth of the letters (`str.isalpha`) are Chinese characters, else `en`."""
    sample = text[:4000]
    # counted by regexes (C loops): Chinese characters and ASCII letters are letters, other ASCII is not;
    # only what is left (full-width punctuation, accented letters…) is looked at one by one
    cjk = len(_NOT_CJK.sub("", sample))
    letters = cjk + len(_NOT_ASCII_LETTER.sub("", sample)) + sum(map(str.isalpha, _ASCII_OR_CJK.sub("", sample)))
    return "zh" if letters and cjk / letters > 0.1 else "en"


def _text(el) -> str:
    return re.sub(r"\s+", " ", el.text_content() if hasattr(el, "text_content") else str(el)).strip()


def pick_title(tree, fallback: str | None = None) -> str:
    """The article's headline: an h1 that the <title> or og:title confirms, else <title> without the site name."""
    og = (tree.xpath("//meta[@property='og:title' or @name='og:title']/@content") or [""])[0].strip()
    raw_title = _text(tree.find(".//title")) if tree.find(".//title") is not None else ""
    h1s = [t for t in (_text(h) for h in tree.xpath("//h1")) if 4 <= len(t) <= 200]
    page_title = og or raw_title
    for h in h1s:
        if page_title and (h in page_title or page_title in h):
            return h
    parts = [p for p in _TITLE_SEP.split(raw_title) if p]
    stripped = max(parts, key=len) if parts else raw_title
    for h in h1s:
        if h in raw_title or stripped in h:
            return h
    if og:
        return og
    if stripped and len(stripped) >= 4:
        return stripped
    return h1s[0] if h1s else (fallback or raw_title)


def _meta_time(tree, tz: str | None) -> datetime | None:
    for meta in tree.xpath("//meta[@content]"):
        key = (meta.get("property") or meta.get("name") or meta.get("itemprop") or "").lower()
        if key in _META_TIME_KEYS:
            dt = parse_any_date(meta.get("content"), tz)
            if dt:
                return dt
    for script in tree.xpath("//script[@type='application/ld+json']/text()"):
        m = re.search(r'"datePublished"\s*:\s*"([^"]+)"', script)
        if m:
            dt = parse_any_date(m.group(1), tz)
            if dt:
                return dt
    return None


def _after_title(body_text: str, title: str, tz: str | None, yearless: bool = True) -> datetime | None:
    """A date printed just after the headline (the byline), at any of the headline's occurrences."""
    key = title[:20]
    pos = body_text.find(key) if key else -1
    seen = 0
    while pos >= 0 and seen < 6:
        # after the whole headline where it is printed whole: a date in the headline is not its byline
        start = pos + (len(title) if body_text.startswith(title, pos) else len(key))
        window = body_text[start : pos + len(title) + 160]
        dt = parse_cn_date(window, tz, yearless=yearless)
        if dt:
            return dt
        pos = body_text.find(key, pos + 1)
        seen += 1
    return None


def _page_text(tree) -> str:
    """The text of the page's body, spaces folded."""
    return _SPACE_RE.sub(" ", tree.body.text_content()) if tree.body is not None else ""


# elements named for a time, a date or a source: where pages print their byline
_DATELINE = ("contains(@class,'time') or contains(@class,'date') or contains(@id,'time') or contains(@id,'date')"
             " or contains(@class,'info') or contains(@class,'source') or contains(@class,'pub')")
_DATELINES = 20


def _datelines(tree, title: str) -> list:
    """The elements named for a time or a source, nearest the headline first: those after it, then those
    before it (a "hot list" or a forum's other threads before the article print other articles' times);
    in page order when no heading prints the headline."""
    key = title.strip()[:20]
    heading = next((h for h in tree.xpath("//h1|//h2|//h3") if key and key in _text(h)), None)
    if heading is None:
        return tree.xpath(f"//*[{_DATELINE}]")[:_DATELINES]
    after = heading.xpath(f"following::*[{_DATELINE}]")[:_DATELINES]
    before = heading.xpath(f"preceding::*[{_DATELINE}]")[::-1][:_DATELINES]
    return after + before


def _byline_time(tree, title: str, tz: str | None, body_text: str, yearless: bool = True) -> datetime | None:
    """The publication time from the byline: after the headline, else an element named for time or source
    (nearest the headline first), else after a byline label (发布时间：…). `yearless=False`: only a date that
    writes its year."""
    dt = _after_title(body_text, title, tz, yearless)
    if dt:
        return dt
    for el in _datelines(tree, title):
        t = _text(el)
        if len(t) < 120:
            dt = parse_cn_date(t, tz, yearless=yearless)
            if dt:
                return dt
    m = _BYLINE.search(body_text[:5000])
    return parse_cn_date(body_text[m.end() : m.end() + 40], tz, yearless=yearless) if m else None


def _htmldate(tree, html: str, tz: str | None) -> datetime | None:
    """Last resort: htmldate's guess, kept only when the page writes that day (it can invent one from a year)."""
    try:
        found = find_date(tree, extensive_search=True, original_date=True, outputformat="%Y-%m-%d")
    except Exception:  # htmldate on hostile markup: a missing date, not a failed page
        return None
    guess = parse_any_date(found, tz) if found else None
    return guess if guess and _on_page(guess, html) else None


def _on_page(dt: datetime, text: str) -> bool:
    """Whether the page writes this day somewhere (htmldate can guess a day from a bare year)."""
    y, m, d = dt.year, dt.month, dt.day
    return re.search(rf"{y}\s*[-/.年]\s*0?{m}\s*[-/.月]\s*0?{d}(?!\d)", text) is not None


_SOURCE_LINE = re.compile(r"(?:来源|来自|稿源|出处|Source)\s*[:：]\s*(.{2,40})")
_OUTLET_END = re.compile(r"\s{2,}|[|｜/·]|(?:时间|作者|编辑|发布|日期|记者)|\d{4}[-/年]")


def pick_outlet(tree) -> str | None:
    """Who published it: og:site_name, else the byline's 来源."""
    site = (tree.xpath("//meta[@property='og:site_name' or @name='og:site_name']/@content") or [""])[0].strip()
    if site:
        return site
    for el in tree.xpath("//*[contains(@class,'source') or contains(@class,'info') or contains(@class,'from')]")[:10]:
        m = _SOURCE_LINE.search(el.text_content())
        if m:
            name = _OUTLET_END.split(m.group(1), 1)[0].strip()
            if len(name) >= 2:
                return name
    return None


def _select(tree, css: str) -> str:
    try:
        els = tree.cssselect(css)
    except Exception as e:  # cssselect raises several kinds of syntax errors
        raise ExtractError(f"bad CSS selector {css!r}: {e}") from None
    return "\n".join(t for t in (el.text_content().strip() for el in els) if t)


def _options(template: Extractor, url: str | None) -> Extractor:
    """trafilatura's options for one page: a copy of ones built once (building them reads its config)."""
    options = copy.copy(template)
    options.url = url
    options.source = url and url.encode("utf-8", "replace").decode("utf-8")
    return options


# a site's standing notice under every article: 【免责声明】本文仅代表作者本人观点…, 版权声明：…, 风险提示：…
_NOTICE = re.compile(r"^\W{0,2}(?:免责声明|版权声明|风险提示|disclaimer\b)", re.I)


def _notice_only(text: str) -> bool:
    """Text whose every paragraph is a site's disclaimer or copyright notice: never an article's text."""
    paras = [p.strip() for p in text.split("\n") if p.strip()]
    return bool(paras) and all(_NOTICE.match(p) for p in paras)


def _trafilatura(tree, url: str | None):
    # trafilatura works on a copy of a tree it is given (regwatch reads the page after it)
    # (a Document: a dict only with as_dict=True)
    doc = cast("Document | None", trafilatura.bare_extraction(tree, options=_options(_OPTIONS, url)))
    if doc is not None and len(doc.text or "") < _SHORT:
        short = cast("Document | None", trafilatura.bare_extraction(tree, options=_options(_LOW_FLOOR_OPTIONS, url)))
        if short is not None and short.text and len(short.text) < len(doc.text or "") and not _notice_only(short.text):
            doc.text = short.text
        # a sentence or two: trafilatura returns the whole page; the densest block is the article
        dense = densest_text(tree)
        text = doc.text or ""
        if dense and len(text) >= 1.5 * len(dense) and _SPACE_RE.sub("", dense) in _SPACE_RE.sub("", text):
            doc.text = dense
    return doc


def _layout_junk(text: str) -> bool:
    """Text that is mostly a layout table's cells (`|`-separated)."""
    lines = [line for line in text.split("\n") if line.strip()]
    cells = sum(len(line) for line in lines if "|" in line)
    return cells > 0.3 * max(1, sum(len(line) for line in lines))


def _main_text(tree, doc) -> str:
    """trafilatura's main text; from a layout table (old sites, forums) only the cells that hold prose."""
    text = (doc.text if doc else "") or ""
    if not _layout_junk(text) or detect_lang(text) != "zh":  # (data tables in English articles are content)
        return text
    # the first run of prose cells: a forum thread's or a blog page's first post, not the replies
    # and later posts that follow it after a row of short cells (author, time, links)
    kept: list[str] = []
    for line in text.split("\n"):
        cells = [c.strip() for c in line.split("|")] if "|" in line else [line.strip()]
        prose = [c for c in cells if len(c) >= 20]
        if prose:
            kept.extend(prose)
        elif kept and sum(len(c) for c in kept) >= 60 and re.search(r"\d{1,2}:\d{2}", line):
            break   # a post's header row (author, time) starts the next post
    return "\n".join(kept)


def _published(tree, html: str, title: str, body: str, tz: str | None,
               overrides: dict) -> tuple[datetime | None, str | None]:
    """The publication time and where it was read (see `Extracted.date_from`). A `date` selector that finds no
    (sane) date leaves the page's own: a redesign that breaks it must not leave every article undated (an
    undated article is never too old to alert)."""
    if overrides.get("date"):
        dt = sane(parse_cn_date(_select(tree, overrides["date"]), tz))
        if dt:
            return dt, "selector"
    dt = _meta_time(tree, tz)
    if dt:
        return dt, "meta"
    page = _page_text(tree)
    # a date that writes its year first, anywhere: one without (12-03 10:00) is as often another article's,
    # in a hot list or a forum's other threads, and given this year it makes an old notice new
    # (but a byline without its year just after the headline — `12-01 10:00 来源：…`, as mobile pages and forums
    # print it — is the article's own: a related-news list's dated items further down never replace it)
    near = None if _after_title(page, title, tz, False) else _after_title(page, title, tz, True)
    if near:
        return near, "yearless"
    dt = _byline_time(tree, title, tz, page, yearless=False) or _htmldate(tree, html, tz)
    if dt is None:
        dt = _byline_time(tree, title, tz, page)
        return (dt, "yearless") if dt else (None, None)
    return dt, ("byline" if _printed_outside_text(dt, page, title, body, tz) else "text")


_OUTSIDE_SCAN = 50_000
_BYLINE_LINES = 12          # a byline inside the text is among its first lines (after a breadcrumb, the headline)
_AFTER_HEADLINE = 3         # … the few lines after the headline
_BYLINE_LINE_CHARS = 80
_SENTENCE = re.compile(r"[，。；！？,;]")


def _byline_lines(lines: list[str], title: str) -> set[int]:
    """The indexes of the text's lines that are its byline, not its prose: among its first lines, short,
    without sentence punctuation, and just after the headline or starting with a byline label (发布时间：…)."""
    key = title.strip()[:20]
    out: set[int] = set()
    headline = -1
    for i, line in enumerate(lines[:_BYLINE_LINES]):
        if key and key in line:
            headline = i
            continue
        near = 0 <= headline and i - headline <= _AFTER_HEADLINE
        if len(line) <= _BYLINE_LINE_CHARS and not _SENTENCE.search(line) and (near or _BYLINE.match(line)):
            out.add(i)
    return out


def _printed_outside_text(dt: datetime, page_text: str, title: str, body: str, tz: str | None) -> bool:
    """Whether the page prints this day somewhere besides its headline and its article text (a byline,
    a dateline element, a byline line at the start of the text), rather than only inside them (an
    effective date, a date the text mentions)."""
    page = page_text[:_OUTSIDE_SCAN]
    rest = page.replace(title.strip(), " ") if title.strip() else page
    lines = [line.strip() for line in _LINE_SPACE_RE.sub(" ", body).split("\n")[:2000]]
    lines = [line for line in lines if line]
    byline = _byline_lines(lines, title)
    for i, line in enumerate(lines):
        if len(line) >= 8 and i not in byline:
            rest = rest.replace(line, " ")
    day = dt.astimezone(zone(tz)).date()
    return any(d.date() == day for d in dates_in(rest, tz))


def extract_html(html: str, url: str | None = None, tz: str | None = None, overrides: dict | None = None,
                 list_title: str | None = None, encoding: str = "utf-8") -> Extracted:
    overrides = overrides or {}
    # control characters out before anything parses the page (lxml keeps them in a fragment, a JSON item's body,
    # and extraction then turns them into U+FFFD) and out of the list's title (a feed's, a JSON item's)
    html, list_title = web_text(html), list_title and web_text(list_title)
    try:
        # trafilatura's own parse (its results depend on it); it refuses documents that do not
        # start like HTML (archive wrappers), which lxml still reads
        tree = trafilatura.load_html(html)
        if tree is None:
            tree = lxml.html.fromstring(html)
    except (etree.ParserError, ValueError) as e:
        raise ExtractError(f"not an HTML page: {e}") from None
    doc = _trafilatura(tree, url)
    body = _select(tree, overrides["body"]) if overrides.get("body") else _main_text(tree, doc)
    title = _select(tree, overrides["title"]) if overrides.get("title") else pick_title(tree, list_title)
    published, date_from = _published(tree, html, title, body, tz, overrides)
    if not body.strip():
        raise ExtractError("no article text found on the page")
    published = sane(published)
    title, body = web_text(title), web_text(body)        # (and those a character reference wrote: `&#27;`)
    title = clip(title.strip(), TITLE_CHARS)             # a hostile <h1> or feed title is no 10 MB line anywhere
    outlet = pick_outlet(tree)
    return Extracted(title=title, body=body.strip(), published_at=published,
                     lang=detect_lang(title + " " + body), encoding=encoding,
                     outlet=outlet and clip(web_text(outlet).strip(), OUTLET_CHARS),
                     date_from=date_from if published else None,
                     date_missed=bool(overrides.get("date")) and date_from != "selector")


def extract_bytes(body: bytes, url: str | None = None, content_type: str | None = None, tz: str | None = None,
                  overrides: dict | None = None, encoding: str | None = None, list_title: str | None = None) -> Extracted:
    """Extract from raw bytes as the crawler gets them (decoding included)."""
    if looks_binary(body):
        raise ExtractError("binary content (a PDF, image or archive?), not an HTML page")
    text, enc = decode_html(body, content_type, encoding)
    return extract_html(text, url=url, tz=tz, overrides=overrides, list_title=list_title, encoding=enc)


class AttachmentError(Exception):
    """An attachment whose text cannot be read; str() says why, in a line."""


def attachment_text(data: bytes) -> tuple[str, str | None]:
    """The text of a PDF attachment (a regulator's notice), of its first `ATTACHMENT_PAGES` pages and at most
    `ATTACHMENT_CHARS`, with a note of what was left out (else None); AttachmentError when it cannot be read
    (not a PDF, a broken one, a stream that inflates past pypdf's limit, memory past `extract_memory`)."""
    if b"%PDF-" not in data[:1024]:
        raise AttachmentError("not a PDF (no %PDF- header)")
    import io

    from pypdf import PdfReader

    try:
        reader = PdfReader(io.BytesIO(data))
        pages = len(reader.pages)
        out: list[str] = []
        for page in reader.pages[:ATTACHMENT_PAGES]:
            out.append(page.extract_text() or "")
            if sum(map(len, out)) > ATTACHMENT_CHARS:
                break
        text = "\n".join(out)
    except MemoryError:
        raise AttachmentError("reading it needed more memory than the limit (extract_memory)") from None
    except Exception as e:  # untrusted input: whatever pypdf raised is the reason, never an empty text said nothing of
        if out_of_memory(e):
            raise AttachmentError("reading it needed more memory than the limit (extract_memory)") from None
        raise AttachmentError(f"the PDF cannot be read ({type(e).__name__}: {e})".splitlines()[0][:ERROR_CHARS]) from None
    note = None
    if len(text) > ATTACHMENT_CHARS:
        note = f"its text cut to the first {ATTACHMENT_CHARS:,} characters"
    elif pages > ATTACHMENT_PAGES:
        note = f"the text of its first {ATTACHMENT_PAGES} pages of {pages:,} read"
    return text[:ATTACHMENT_CHARS].strip(), note


def attachment_job(data: bytes) -> dict:
    """Process-pool entry point for an attachment, a job of its own (never the article's: a PDF slow to read costs
    only its text): `text`, and a `note` of the run, or the `error` it cannot be read for."""
    try:
        text, note = attachment_text(data)
        return {"text": text, "note": note, "error": None}
    except AttachmentError as e:
        return {"text": "", "note": None, "error": str(e)}
    except MemoryError:
        return {"text": "", "note": None, "error": "reading it needed more memory than the limit (extract_memory)"}


def limited_attachment_job(data: bytes, seconds: float) -> dict:
    """`attachment_job` under a time limit; over it is a note of the run, the article stored without its text."""
    try:
        return run_limited(attachment_job, (data,), seconds)
    except JobTimeout:
        return {"text": "", "note": attachment_too_slow(seconds), "error": None, "timed_out": True}


def attachment_too_slow(seconds: float) -> str:
    """An attachment over the time limit a second time (on a later run): the article stored without its text."""
    return f"reading it {too_slow(seconds, 'extract_timeout')}; stored without it"


def attachment_died() -> str:
    """An attachment whose extraction worker died reading it, and again on the worker it was tried again on (the OOM
    killer): the article stored without its text."""
    return "its worker died reading it, twice (out of memory? the limit: extract_memory); stored without it"


def attachment_retried(seconds: float) -> str:
    """An attachment over the time limit the first time: the article not stored, fetched again next run."""
    return f"its attachment {too_slow(seconds, 'extract_timeout')}; tried again next run"


def limited_extract_job(args: dict, seconds: float, then=None) -> dict:
    """`extract_job` (and `then(args, result)` on a page read) under a time limit; over it, or over the
    worker's memory limit, is the page's error."""
    def job(a: dict) -> dict:
        result = extract_job(a)
        if then is not None and result["ok"]:
            then(a, result)
        return result

    try:
        return run_limited(job, (args,), seconds)
    except JobTimeout:
        return {"ok": False, "error": f"extraction {too_slow(seconds, 'extract_timeout')}", "timed_out": True}


def extract_job(args: dict) -> dict:
    """Process-pool entry point: plain dict in, plain dict out (`error` set when nothing was read). An attachment's
    text, read before by a job of its own (`attachment_job`), comes in `attachment_text` and goes out with the
    page's, for its reading."""
    try:
        ex = extract_bytes(args["body"], url=args.get("url"), content_type=args.get("content_type"),
                           tz=args.get("tz"), overrides=args.get("overrides"), encoding=args.get("encoding"),
                           list_title=args.get("list_title"))
        return {"ok": True, **ex.to_json(), "attachment_text": args.get("attachment_text") or "",
                "date_missed": ex.date_missed}
    except ExtractError as e:
        return {"ok": False, "error": str(e)}
    except MemoryError:
        return {"ok": False, "error": "extraction needed more memory than its limit (extract_memory)"}
    except Exception as e:  # untrusted input: one page never takes the flow down
        if out_of_memory(e):
            return {"ok": False, "error": "extraction needed more memory than its limit (extract_memory)"}
        return {"ok": False, "error": f"{type(e).__name__}: {e}"[:ERROR_CHARS]}
