"""What each platform accepts, checked as the platform would: with its own library where one exists
(slack_sdk's Block Kit models for Slack; Standard Webhooks signing is in servers.verify), else with
the documented limits. `problems(kind, payload)` lists what the platform would reject (empty: accepted).

Limits (the platforms' documentation, summarised in the README's "Alerts" section):
Slack blocks as slack_sdk validates them, ≤ 50 blocks, top-level `text` present; Discord `content`
≤ 2000, ≤ 10 embeds, title 256, description 4096, ≤ 25 fields of name 256 / value 1024 (neither
empty), footer 2048, author 256, all of these together ≤ 6000, `allowed_mentions` always sent;
Telegram text 1–4096 characters after entity parsing, in Telegram's HTML subset; Teams a message
envelope with one Adaptive Card of schema version ≤ 1.5 (what Teams renders), ≤ 28 KB; WeCom
markdown ≤ 4096 bytes, text ≤ 2048 bytes (UTF-8); DingTalk ≈ 20000 bytes of text; Feishu ≈ 20 KB.
"""

from __future__ import annotations

import html
import json
import re
import warnings
from typing import Any

from slack_sdk.errors import SlackObjectFormationError
from slack_sdk.models.blocks import Block


def wire(payload: Any) -> bytes:
    """The bytes httpx sends for `json=payload`."""
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def slack(p: dict) -> list[str]:
    out = []
    if not isinstance(p.get("text"), str) or not p["text"].strip():
        out.append("no top-level text (the notification's fallback)")
    blocks = p.get("blocks") or []
    if len(blocks) > 50:
        out.append(f"{len(blocks)} blocks > 50")
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        for i, b in enumerate(blocks):
            block = Block.parse(b)
            if block is None:
                out.append(f"block {i}: unknown type {b.get('type')!r}")
                continue
            try:
                block.validate_json()
            except SlackObjectFormationError as e:
                out.append(f"block {i} ({b.get('type')}): {e}")
            text = (b.get("text") or {}).get("text") if isinstance(b.get("text"), dict) else None
            if text is not None and not text.strip():
                out.append(f"block {i} ({b.get('type')}): empty text")
    out += [f"slack_sdk: {w.message}" for w in seen]
    return out


def discord(p: dict) -> list[str]:
    out = []
    if p.get("allowed_mentions") != {"parse": []}:
        out.append("allowed_mentions is not {'parse': []}")
    content, embeds = p.get("content") or "", p.get("embeds") or []
    if len(content) > 2000:
        out.append(f"content {len(content)} > 2000 characters")
    if not content and not embeds:
        out.append("neither content nor embeds (50006)")
    if len(embeds) > 10:
        out.append(f"{len(embeds)} embeds > 10")
    total = 0
    for i, e in enumerate(embeds):
        for key, limit in (("title", 256), ("description", 4096)):
            n = len(e.get(key) or "")
            total += n
            if n > limit:
                out.append(f"embed {i} {key} {n} > {limit}")
        fields = e.get("fields") or []
        if len(fields) > 25:
            out.append(f"embed {i}: {len(fields)} fields > 25")
        for j, f in enumerate(fields):
            for key, limit in (("name", 256), ("value", 1024)):
                n = len(f.get(key) or "")
                total += n
                if n > limit or n == 0:
                    out.append(f"embed {i} field {j} {key} length {n} not in 1..{limit}")
        for key, sub, limit in (("footer", "text", 2048), ("author", "name", 256)):
            n = len((e.get(key) or {}).get(sub) or "")
            total += n
            if n > limit:
                out.append(f"embed {i} {key}.{sub} {n} > {limit}")
        if "url" in e and not re.match(r"https?://\S+$", e["url"] or ""):
            out.append(f"embed {i}: url {e['url']!r} is not a URL")
    if total > 6000:
        out.append(f"embeds total {total} > 6000 characters")
    return out


# Telegram's HTML subset (Bot API "HTML style"): these tags only, the four named entities, numeric ones.
TELEGRAM_TAGS = {"b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a", "tg-emoji",
                 "code", "pre", "blockquote"}
_TOKEN = re.compile(r"<(/?)([A-Za-z][A-Za-z-]*)((?:\s+[a-z-]+(?:=\"[^\"<>]*\")?)*)\s*>"
                    r"|&(?:lt|gt|amp|quot|#\d+|#x[0-9A-Fa-f]+);|[<>&]")


def telegram_html(text: str) -> tuple[str, list[str]]:
    """The visible text and the entity errors Telegram would answer (400 can't parse entities)."""
    out, stack, visible, pos = [], [], [], 0
    for m in _TOKEN.finditer(text):
        visible.append(text[pos:m.start()])
        pos = m.end()
        tok = m.group(0)
        if m.group(2):
            name = m.group(2).lower()
            if name not in TELEGRAM_TAGS:
                out.append(f"unsupported tag <{name}>")
            elif m.group(1):
                if not stack or stack[-1] != name:
                    out.append(f"can't find end tag for <{stack[-1] if stack else '?'}> at </{name}>")
                else:
                    stack.pop()
            else:
                if name == "a" and 'href="' not in (m.group(3) or ""):
                    out.append("<a> without href")
                stack.append(name)
        elif tok in "<>&":
            out.append(f"unescaped {tok!r} at {m.start()}")
            visible.append(tok)
        else:
            visible.append(html.unescape(tok))
    visible.append(text[pos:])
    if stack:
        out.append(f"unclosed tags {stack}")
    return "".join(visible), out


def telegram(p: dict) -> list[str]:
    out = []
    if not p.get("chat_id"):
        out.append("no chat_id")
    text = p.get("text") or ""
    if p.get("parse_mode") == "HTML":
        text, errors = telegram_html(text)
        out += errors
    elif p.get("parse_mode"):
        out.append(f"parse_mode {p['parse_mode']!r} is not checked here")
    if not 1 <= len(text) <= 4096:
        out.append(f"text {len(text)} characters after entity parsing, not in 1..4096")
    return out


TEAMS_CARD_VERSIONS = ("1.0", "1.1", "1.2", "1.3", "1.4", "1.5")


def teams(p: dict) -> list[str]:
    out = []
    if p.get("type") != "message":
        out.append("type is not 'message'")
    atts = p.get("attachments")
    if not isinstance(atts, list) or not atts:
        return out + ["no attachments (the Workflows template loops over them)"]
    for a in atts:
        if a.get("contentType") != "application/vnd.microsoft.card.adaptive":
            out.append(f"contentType {a.get('contentType')!r}")
        card = a.get("content") or {}
        if card.get("type") != "AdaptiveCard":
            out.append("Property 'type' must be 'AdaptiveCard'")
        if card.get("version") not in TEAMS_CARD_VERSIONS:
            out.append(f"Adaptive Card version {card.get('version')!r} is not one Teams renders (≤ 1.5)")
        if card.get("$schema") != "http://adaptivecards.io/schemas/adaptive-card.json":
            out.append("no Adaptive Card $schema")
        if "entities" in (card.get("msteams") or {}):
            out.append("msteams.entities (mentions) present")
        for b in card.get("body") or []:
            if b.get("type") == "TextBlock" and not isinstance(b.get("text"), str):
                out.append("TextBlock without text")
        for act in card.get("actions") or []:
            if act.get("type") == "Action.OpenUrl" and not re.match(r"https?://", act.get("url") or ""):
                out.append(f"Action.OpenUrl url {act.get('url')!r}")
    if len(wire(p)) > 28 * 1024:
        out.append(f"message {len(wire(p))} bytes > 28 KB")
    return out


def wecom(p: dict) -> list[str]:
    kind = p.get("msgtype")
    limit = {"text": 2048, "markdown": 4096, "markdown_v2": 4096}.get(kind)
    if limit is None:
        return [f"msgtype {kind!r} is not text or markdown"]
    content = (p.get(kind) or {}).get("content") or ""
    out = [] if content else ["empty content"]
    if len(content.encode()) > limit:
        out.append(f"{kind}.content {len(content.encode())} bytes > {limit} (40058)")
    if "<@" in content:
        out.append("<@ in content (a mention)")
    return out


def dingtalk(p: dict) -> list[str]:
    kind = p.get("msgtype")
    if kind not in ("text", "markdown", "link", "actionCard", "feedCard"):
        return [f"msgtype {kind!r}"]
    out = []
    if (p.get("at") or {}).get("isAtAll") is not False:
        out.append("at.isAtAll is not false")
    body = p.get(kind) or {}
    text = body.get("text") or body.get("content") or ""
    if not text:
        out.append("empty text")
    if len(text.encode()) > 20000:
        out.append(f"text {len(text.encode())} bytes > 20000")
    if kind == "markdown" and not body.get("title"):
        out.append("markdown without title")
    return out


def feishu(p: dict) -> list[str]:
    out = []
    kind = p.get("msg_type")
    if kind == "interactive" and not isinstance(p.get("card"), dict):
        out.append("interactive without a `card` object")
    elif kind in ("text", "post") and not isinstance(p.get("content"), dict):
        out.append(f"{kind} without `content`")
    elif kind not in ("interactive", "text", "post", "share_chat", "image"):
        out.append(f"msg_type {kind!r}")
    if re.search(r"<at\b", json.dumps(p, ensure_ascii=False), re.I):
        out.append("<at in the message (a mention)")
    if len(wire(p)) > 20 * 1024:
        out.append(f"request {len(wire(p))} bytes > 20 KB")
    return out


CHECKS = {"slack": slack, "discord": discord, "telegram": telegram, "teams": teams, "wecom": wecom,
          "dingtalk": dingtalk, "feishu": feishu}


def problems(kind: str, payload: Any) -> list[str]:
    """What the platform would reject in this payload ([] for platforms with no rules here)."""
    check = CHECKS.get(kind)
    if check is None:
        return []
    if not isinstance(payload, dict):
        return ["the body is not a JSON object"]
    return check(payload)
