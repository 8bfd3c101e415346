"""Telegram bot: HTML parse mode (escaped), link previews off, 4096 characters."""

from __future__ import annotations

import html
from typing import Any

import httpx

from ...defaults import RATE_LIMIT_DEFAULT_WAIT
from ..message import Message
from .base import ANSWER_CHARS, SENT, Outcome, Platform, json_body, retry_after, units

TEXT_CHARS = 4096               # after entity parsing; the markup counts here too, so it is a safe bound (and in
                                # UTF-16 units, `units`: an emoji counts two)


def esc(s: str) -> str:
    return html.escape(s, quote=True)


class Telegram(Platform):
    type = "telegram"
    per_minute = 20                 # per group
    min_gap = 1.0                   # per chat
    needs_chat_id = True

    def render(self, m: Message) -> dict[str, Any]:
        parts = [f"<b>{esc(m.label)}</b>"]
        if m.items:
            parts += [f'• <a href="{esc(i.url)}">{esc(i.title)}</a> · {esc(i.tail())}' if i.url
                      else f"• {esc(i.title)} · {esc(i.tail())}" for i in m.items]
            if m.trigger:
                parts.append(f"触发: {esc(m.trigger)}")
        else:
            parts += [f"{k}: {esc(v)}" for k, v in m.fields()]
            if m.lead:
                parts.append(esc(m.lead))
            if m.url:
                parts.append(f'<a href="{esc(m.url)}">阅读原文</a>')
        return {"chat_id": self.channel.chat_id, "text": "\n".join(parts), "parse_mode": "HTML",
                "link_preview_options": {"is_disabled": True}}

    def fits(self, payload: dict[str, Any]) -> bool:
        return units(payload["text"]) <= TEXT_CHARS

    def classify(self, resp: httpx.Response) -> Outcome:
        data = json_body(resp) or {}
        if resp.status_code == 200 and data.get("ok"):
            return SENT
        desc = str(data.get("description", resp.text[:ANSWER_CHARS]))[:ANSWER_CHARS]
        if resp.status_code == 429:
            try:
                wait = float((data.get("parameters") or {}).get("retry_after") or RATE_LIMIT_DEFAULT_WAIT)
            except (AttributeError, TypeError, ValueError):       # `parameters` not an object
                wait = RATE_LIMIT_DEFAULT_WAIT
            return Outcome("retry", desc, wait)
        if resp.status_code >= 500:
            return Outcome("retry", f"HTTP {resp.status_code} {desc}", retry_after(resp))
        if resp.status_code == 400 and "chat not found" not in desc:
            return Outcome("payload", f"HTTP 400 {desc}")
        return Outcome("broken", f"HTTP {resp.status_code} {desc}")
