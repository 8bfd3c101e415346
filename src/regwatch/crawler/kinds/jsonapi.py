"""JSON APIs: JMESPath to the list, then field paths (or `{field}` URL templates) per item."""

from __future__ import annotations

import json
import re
from collections import Counter
from urllib.parse import quote, quote_plus, unquote

import jmespath

from ...pipeline.dates import parse_any_date
from ...pipeline.decode import decode_html
from . import Entries, Entry, ListError, web_url

_FIELD = re.compile(r"\{([^{}]+)\}")
_JSONP = re.compile(r"(?<![\w$.])[\w$.]+\s*\(")


class MissingField(ListError):
    """An item without a field its template names (or not an object at all)."""


# What a value keeps as written in a URL template: RFC 3986's sub-delimiters, `:`, `@`, `/` and its own `%XX` escapes
# (an API's ids and paths often come already encoded); a query also keeps `?`. Encoded: `?` in a path, `#` anywhere,
# a `%` that begins no escape, and what is never a URL's (spaces, controls, non-ASCII, `"<>[]\\^`{|}`).
_PATH_SAFE = "!$&'()*+,;=:@/%"
_QUERY_SAFE = _PATH_SAFE + "?"
_STRAY_PERCENT = re.compile(r"%(?![0-9A-Fa-f]{2})")


def _in_url(template: str, m: re.Match, v) -> str:
    """A field's value as it stands in a URL template, encoded only where it would change the URL's shape at its
    place (a path's `?` and `#`, a query's `#`) or is no URL character: its `;`, `=`, `&`, `+` and valid `%XX`
    stay as written (a `{path}` of `news/%E9%80%9A.html` or a query given whole, `?{q}` = `id=5&cat=2`, is the
    URL it names). A value with a `.` or `..` segment (`%2e%2e` too) is no article's (it would climb out of the
    template's path: the item is skipped). A field that begins the template (`{url}` alone, `{base}/n/{id}`) is a
    URL's start, kept as it is: the address guard judges it."""
    text = str(v)
    if m.start() == 0:
        return text
    text = _STRAY_PERCENT.sub("%25", text)
    if "?" in template[:m.start()]:
        return quote_plus(text, safe=_QUERY_SAFE)
    if any(part in (".", "..") for part in unquote(text).split("/")):
        raise MissingField(f"the item's {m.group(1)!r} ({str(v)[:60]!r}) would climb out of the template's path")
    text = quote(text, safe=_PATH_SAFE)
    why = _authority_change(template, m, text)
    if why:
        raise MissingField(f"the item's {m.group(1)!r} ({str(v)[:60]!r}) would change the URL's {why}")
    return text


_HOST_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.")


def _authority_change(template: str, m: re.Match, text: str) -> str | None:
    """What of the URL's scheme and authority a field's (encoded) value would change, else None. In the scheme
    (`http{s}://`) a value is letters only (or empty); in the authority (no `/` yet after `://`) it brings no user name, port or
    other character a host has not (`@`, `:`, an escape); right after the template's host (`https://h{path}`) it
    starts the path (a `/`), or it would lengthen the host (`.evil.example/x`)."""
    before, after = template[:m.start()], template[m.end():]
    start = before.find("://")
    if start < 0:
        return "scheme" if "://" in after and text and not (text.isascii() and text.isalpha()) else None
    authority = before[start + 3:]
    if any(c in authority for c in "/?#"):
        return None
    head = text.split("/", 1)[0]
    if not head:
        return None
    if not set(head) <= _HOST_CHARS:
        return "authority (user name, host or port)"
    if authority and authority[-1] not in ".-" and after[:1] in ("", "/", "?", "#"):
        return "host (a value right after it must begin the path with '/')"
    return None


def value(item, path: str | None, url: bool = False):
    """A field of the item: a JMESPath, or a template with `{path}` parts (`https://x/{docId}.html`; with `url`,
    each part encoded for its place in the URL)."""
    if not path:
        return None
    if "{" in path:
        def sub(m):
            v = jmespath.search(m.group(1), item)
            if v is None:
                if not isinstance(item, dict):
                    raise MissingField(f"the item is {_a(item)}, not an object")
                raise MissingField(f"the item has no {m.group(1)!r} for the template {path!r}")
            return _in_url(path, m, v) if url else str(v)
        return _FIELD.sub(sub, path)
    try:
        return jmespath.search(path, item)
    except jmespath.exceptions.JMESPathError as e:
        raise ListError(f"bad JMESPath {path!r}: {e}") from None


def check_path(path: str, template: bool = True) -> str | None:
    """Why a path can never be read (the config's error), or None: each JMESPath compiled as `value` (or, without
    `template`, `parse` for `items`) will read it."""
    if template and "{" in path:
        left = _FIELD.sub("", path)          # what `value` keeps as written: a brace there is no {field}
        if "{" in left or "}" in left:
            return (f"template {path!r} has a {{ or }} that is not part of a {{field}}: write each field whole, "
                    "e.g. \"https://x.example/view?id={docId}\", or a field path alone (\"url\")")
    for expr in _FIELD.findall(path) if template and "{" in path else [path]:
        try:
            jmespath.compile(expr)
        except jmespath.exceptions.JMESPathError as e:
            said = str(e).splitlines()[0].removesuffix(", for expression:").rstrip(":")
            return f"bad JMESPath {expr!r}: {said}"
    return None


def _json_int(digits: str) -> int | None:
    """A JSON integer; one past Python's digit limit (4,300) is a bad value: None, like an absent one."""
    try:
        return int(digits)
    except ValueError:
        return None


def load_json(body: bytes, content_type: str | None, what: str = "response"):
    text, _ = decode_html(body, content_type)
    text = text.strip()
    if text.startswith(("<", "<!")):
        raise ListError(f"the {what} is HTML, not JSON (an error page or a gate?)")
    m = _JSONP.match(text)   # JSONP: callback(...); (no pattern over the body: `(.*)\)\s*;?\s*$` is quadratic)
    if m:
        inner = text[m.end():].rstrip().removesuffix(";").rstrip()
        if inner.endswith(")"):
            text = inner[:-1]
    try:
        return json.loads(text, parse_int=_json_int)
    except json.JSONDecodeError as e:
        raise ListError(f"the {what} is not valid JSON ({e.msg} at character {e.pos})") from None
    except RecursionError:
        raise ListError(f"the {what} nests its JSON deeper than regwatch reads") from None


def parse(body: bytes, url: str, source, content_type: str | None = None) -> list[Entry]:
    data = load_json(body, content_type)
    try:
        items = jmespath.search(source.items, data)
    except jmespath.exceptions.JMESPathError as e:
        raise ListError(f"bad `items` path {source.items!r}: {e}") from None
    if items is None:
        raise ListError(f"`items` path {source.items!r} finds nothing in the response (top-level keys: "
                        f"{sorted(data)[:8] if isinstance(data, dict) else type(data).__name__})")
    if not isinstance(items, list):
        raise ListError(f"`items` path {source.items!r} is a {type(items).__name__}, not a list")
    out, skipped = Entries(), Counter[str]()
    for item in items:
        missing: list[str] = []
        link = web_url(url, _field(item, source.link, missing, True))
        detail = web_url(url, _field(item, source.detail, missing, True))
        entry_url = link or detail
        if not entry_url:
            if missing or not isinstance(item, dict):
                skipped[missing[0] if missing else f"the item is {_a(item)}, not an object"] += 1
            continue
        title = _field(item, source.title, missing)
        when = _field(item, source.date, missing)
        body_html = _field(item, source.body, missing) if not source.detail else None
        attach = _field(item, source.attachment, missing, True)
        out.append(Entry(url=entry_url, title=str(title) if title else None,
                         published_at=parse_any_date(when, source.timezone()),
                         detail_url=detail,
                         body_html=str(body_html) if body_html else None,
                         attachment_url=web_url(url, attach) if attach else None))
    if skipped and not out:
        raise ListError(next(iter(skipped)) + (f" (and {sum(skipped.values()) - 1} more items skipped)"
                                               if sum(skipped.values()) > 1 else ""))
    if skipped:
        out.notes.append(f"{sum(skipped.values())} of {len(items)} items skipped: "
                         + "; ".join(f"{n} × {why}" for why, n in skipped.items()))
    return out


def _field(item, path: str | None, missing: list[str], as_url: bool = False):
    """The item's field; a template's field it lacks leaves it None, as a plain path's does (`missing` says why)."""
    try:
        return value(item, path, url=as_url) if path else None
    except MissingField as e:
        missing.append(str(e))
        return None


def _a(item) -> str:
    """What a JSON value is, in a line: `a string`, `a number` …"""
    return {str: "a string", int: "a number", float: "a number", bool: "true or false", list: "a list",
            type(None): "null"}.get(type(item), type(item).__name__)


def detail_body(body: bytes, content_type: str | None, source) -> tuple[str | None, str | None, object]:
    """(html body, title, date) from a detail response that is JSON; (None, None, None) when it is HTML."""
    head = body[:64].lstrip()
    if not head.startswith((b"{", b"[")):
        return None, None, None
    data = load_json(body, content_type, "detail response")
    html = value(data, source.body) if source.body else None
    if source.body and html is None:
        raise ListError(f"`body` path {source.body!r} finds nothing in the detail response")
    title = value(data, source.title) if source.title else None
    when = value(data, source.date) if source.date else None
    return (str(html) if html else None), (str(title) if title else None), when
