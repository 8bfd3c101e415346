"""Slack incoming webhook: `text` and blocks (a plain-text header, mrkdwn sections), `& < >` escaped."""

from __future__ import annotations

from typing import Any

import httpx

from ..message import Message
from .base import ANSWER_CHARS, SENT, Outcome, Platform, cut, http_common, units

HEADER_CHARS = 150
SECTION_CHARS = 3000
MAX_BLOCKS = 50
TEXT_CHARS = 3000


def esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


class Slack(Platform):
    type = "slack"
    per_minute = 60
    min_gap = 1.0                   # one message a second

    def render(self, m: Message) -> dict[str, Any]:
        blocks: list[dict[str, Any]] = [{"type": "header", "text": {"type": "plain_text", "text": cut(m.label, HEADER_CHARS)}}]
        if m.items:
            lines = [f"• <{i.url}|{esc(i.title)}> · {esc(i.tail())}" if i.url else f"• {esc(i.title)} · {esc(i.tail())}"
                     for i in m.items]
            # one section per group of whole lines; a line is never cut (a link would lose its `>` and title): one
            # longer than a section fails `fits`, and the message is shortened (its link left out last)
            section: list[str] = []
            for line in lines:
                if section and units("\n".join([*section, line])) > SECTION_CHARS:
                    blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(section)}})
                    section = []
                section.append(line)
            if section:
                blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(section)}})
            if m.trigger:
                blocks.append({"type": "context", "elements": [{"type": "mrkdwn", "text": esc(f"触发: {m.trigger}")}]})
        else:
            lines = [f"*{k}* {esc(v)}" for k, v in m.fields()]
            if m.lead:
                lines.append(f"> {esc(m.lead)}")
            if m.url:
                lines.append(f"<{m.url}|阅读原文>")
            blocks.append({"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}})
        # the notification's fallback: the label and the link, or the label alone when both are too long (never
        # a cut link; the blocks still carry it)
        text = esc(m.label) + (f" {m.url}" if m.url else "")
        # no previews: Slack links a bare URL a page's title or lead carries, and by default unfurls media (an
        # image URL shown inline in the channel, fetched by Slack: a tracking pixel of each alert); links too
        return {"text": text if units(text) <= TEXT_CHARS else esc(m.label), "blocks": blocks,
                "unfurl_links": False, "unfurl_media": False}

    def fits(self, payload: dict[str, Any]) -> bool:
        """Blocks, sections, the header and the context within Slack's limits (in UTF-16 units: `units`)."""
        blocks = payload["blocks"]
        texts = [(b["text"]["text"], HEADER_CHARS if b["type"] == "header" else SECTION_CHARS)
                 for b in blocks if "text" in b]
        texts += [(e["text"], SECTION_CHARS) for b in blocks for e in b.get("elements", [])]
        return (len(blocks) <= MAX_BLOCKS and units(payload["text"]) <= TEXT_CHARS
                and all(units(t) <= limit for t, limit in texts))

    def classify(self, resp: httpx.Response) -> Outcome:
        common = http_common(resp)
        if common:
            return common
        body = resp.text.strip()[:ANSWER_CHARS]
        if resp.status_code == 200:
            return SENT
        if resp.status_code == 400:
            return Outcome("payload", f"HTTP 400 {body}")
        return Outcome("broken", f"HTTP {resp.status_code} {body}")
