"""JSON APIs: JMESPath to the list, then field paths (or `{field}` URL templates) per item."""

from __future__ import annotations

import json
import re

import jmespath

from ...pipeline.dates import parse_any_date
from ...pipeline.decode import decode_html
from . import Entry, ListError, web_url

_FIELD = re.compile(r"\{([^{}]+)\}")
_JSONP = re.compile(r"(?<![\w$.])[\w$.]+\s*\(")


def value(item, path: str | None):
    """A field of the item: a JMESPath, or a template with `{path}` parts (`https://x/{docId}.html`)."""
    if not path:
        return None
    if "{" in path:
        def sub(m):
            v = jmespath.search(m.group(1), item)
            if v is None:
                raise ListError(f"the item has no {m.group(1)!r} for the template {path!r}")
            return str(v)
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
    out = []
    for item in items:
        link = value(item, source.link) if source.link else None
        detail = value(item, source.detail) if source.detail else None
        link, detail = web_url(url, link), web_url(url, detail)
        entry_url = link or detail
        if not entry_url:
            continue
        title = value(item, source.title) if source.title else None
        when = value(item, source.date) if source.date else None
        body_html = value(item, source.body) if source.body and not source.detail else None
        attach = value(item, source.attachment) if source.attachment else None
        out.append(Entry(url=entry_url, title=str(title) if title else None,
                         published_at=parse_any_date(when, source.timezone()),
                         detail_url=detail,
                         body_html=str(body_html) if body_html else None,
                         attachment_url=web_url(url, attach) if attach else None))
    return out


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
