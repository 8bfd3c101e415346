"""Microsoft Teams (Workflows): an Adaptive Card in the message envelope, no mention entities."""

from __future__ import annotations

import json
from typing import Any

import httpx

from ..message import Message
from .base import SENT, Outcome, Platform, http_common, markdown_items, utf8_len

CARD_VERSION = "1.4"            # what Teams renders in a Workflows post
MESSAGE_BYTES = 27000           # documented 28 KB a message


class Teams(Platform):
    type = "teams"
    per_minute = 120
    min_gap = 0.3                   # more than four a second is throttled

    def render(self, m: Message) -> dict[str, Any]:
        body: list[dict[str, Any]] = [{"type": "TextBlock", "text": m.label, "weight": "Bolder", "size": "Medium", "wrap": True}]
        if m.items:
            body.append({"type": "TextBlock", "text": "\n".join(markdown_items(m.items)), "wrap": True})
            if m.trigger:
                body.append({"type": "TextBlock", "text": f"触发: {m.trigger}", "isSubtle": True, "wrap": True})
        else:
            body += [{"type": "TextBlock", "text": f"{k}: {v}", "isSubtle": k == "来源", "wrap": True} for k, v in m.fields()]
            if m.lead:
                body.append({"type": "TextBlock", "text": m.lead, "wrap": True})
        card: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                                "version": CARD_VERSION, "body": body, "msteams": {"width": "full"}}
        if m.url:
            card["actions"] = [{"type": "Action.OpenUrl", "title": "阅读原文", "url": m.url}]
        return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                    "contentUrl": None, "content": card}]}

    def fits(self, payload: dict[str, Any]) -> bool:
        return utf8_len(json.dumps(payload, ensure_ascii=False)) <= MESSAGE_BYTES

    def classify(self, resp: httpx.Response) -> Outcome:
        common = http_common(resp)
        if common:
            return common
        if resp.status_code in (200, 202):
            return SENT
        if resp.status_code in (400, 413):
            return Outcome("payload", f"HTTP {resp.status_code}")
        return Outcome("broken", f"HTTP {resp.status_code}")
