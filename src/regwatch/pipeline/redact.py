"""Secrets out of every message meant for people or stored: the one place that knows how.

What is removed: the secrets of what the message is about, given by the caller (a source's or a channel's own
`${VAR}` values; a channel's signing secret and URL key parts, `url_secrets`), and the credentials that URLs
carry by their shape — query values named like a token, key, signature or secret; `user:password@`; Telegram
bot tokens; Slack, Discord and generic webhook paths.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import overload
from urllib.parse import unquote, urlsplit

from ..defaults import MIN_SECRET

MASK = "***"
# a query name that says its value is a key (bounded prefix: no pattern here is superlinear on a long run of letters)
_KEY_NAME = r"[\w-]{0,24}?(?:token|key|sig|sign|signature|secret|password|passwd)"
_QUERY = re.compile(rf"((?<![\w-]){_KEY_NAME})=([^&\s\"'<>#]+)", re.I)
# what may end a URL in a sentence rather than its query value: `…?token=SECRET: Connection refused`
_AFTER_URL = ".,;:!?)]}"
_USERINFO = re.compile(r"((?<![a-z0-9+.-])[a-z][a-z0-9+.-]{0,30}://)[^/\s@\"'<>]+@", re.I)
# `user:password@host` without its scheme (Twisted's "invalid hostname: admin:hunter2@10.0.0.1")
_BARE_USERINFO = re.compile(r"(?<![\w.%+:/*-])[\w.%+-]{0,64}:[^/\s@\"'<>]{1,256}@(?=[\w\[])")
_TELEGRAM = re.compile(r"/(bot)[0-9]+:[\w-]+")
_HOOK = re.compile(r"(hooks\.slack\.com/services|/api/webhooks|/hook)/[\w/-]+")


def key_like(value: str) -> bool:
    """A URL part that looks like a key: 8 or more characters with a digit in it, or 16 or more."""
    return len(value) >= 16 or (len(value) >= 8 and any(c.isdigit() for c in value))


def url_secrets(url: str | None) -> list[str]:
    """The parts of a channel's webhook URL that are its key, to redact wherever they turn up alone (a receiver
    that echoes its token): each query value that is key-like or whose name says it is a key (DingTalk's
    `access_token`, WeCom's `key`, Teams' `sig`; not `format=json`) and each key-like path segment (Slack's
    `T…/B…/secret`, Feishu's hook token, Discord's id and token, Telegram's `bot<token>`), each as written and
    percent-decoded, none shorter than MIN_SECRET."""
    if not url:
        return []
    try:
        parts = urlsplit(url)
    except ValueError:
        return []
    found: list[str] = []
    for pair in parts.query.split("&"):
        name, _, value = pair.partition("=")
        if key_like(value) or re.fullmatch(_KEY_NAME, unquote(name), re.I):
            found += [value, unquote(value)]
    for seg in parts.path.split("/"):
        if key_like(seg):
            found += [seg, unquote(seg)]
            if seg.startswith("bot"):       # Telegram's `bot<token>`: a receiver echoes the token without `bot`
                found += [seg[3:], unquote(seg[3:])]
    return list(dict.fromkeys(v for v in found if len(v) >= MIN_SECRET))


def _masked_value(m: re.Match[str]) -> str:
    """A query secret masked, not the punctuation of the sentence after it (`token=***: Connection refused`)."""
    value = m.group(2)
    kept = value.rstrip(_AFTER_URL)
    return f"{m.group(1)}={MASK}{value[len(kept):]}" if kept else m.group()


@overload
def redact(text: str, secrets: Iterable[str | None] = ()) -> str: ...
@overload
def redact(text: None, secrets: Iterable[str | None] = ()) -> None: ...


def redact(text: str | None, secrets: Iterable[str | None] = ()) -> str | None:
    """`text` with secrets and URL credentials replaced by `***` (None stays None)."""
    if not text:
        return text
    for s in sorted((s for s in secrets if s and len(s) >= MIN_SECRET), key=len, reverse=True):
        text = text.replace(s, MASK)
    text = _QUERY.sub(_masked_value, text)
    text = _USERINFO.sub(rf"\1{MASK}@", text)
    text = _BARE_USERINFO.sub(f"{MASK}@", text)
    text = _TELEGRAM.sub(rf"/\1{MASK}", text)
    return _HOOK.sub(rf"\1/{MASK}", text)
