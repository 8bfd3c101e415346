"""Discord webhook: one embed, no mentions parsed, `?wait=true` so that the answer says what happened."""

from __future__ import annotations

from typing import Any

import httpx

from ...defaults import RATE_LIMIT_DEFAULT_WAIT
from ..message import Message
from .base import ANSWER_CHARS, SENT, Outcome, Platform, cut, http_common, json_body, markdown_items, retry_after, units

TITLE_CHARS = 256
DESCRIPTION_CHARS = 4096
FIELD_CHARS = 1024
EMBED_TOTAL_CHARS = 6000
CONTENT_CHARS = 2000


class Discord(Platform):
    type = "discord"
    per_minute = 30
    min_gap = 0.5

    def render(self, m: Message) -> dict[str, Any]:
        if m.items:
            desc = "\n".join(markdown_items(m.items) + ([f"**触发** {m.trigger}"] if m.trigger else []))
        else:
            lines = [f"**{k}** {v}" for k, v in m.fields() if k != "来源"]
            desc = "\n".join(lines + ([m.lead] if m.lead else []))
        embed: dict[str, Any] = {"title": cut(m.title, TITLE_CHARS), "description": desc,
                                 "fields": [{"name": "来源", "value": cut(m.outlet or "-", FIELD_CHARS), "inline": True},
                                            {"name": "时间", "value": m.published or "-", "inline": True}]}
        if m.url:
            embed["url"] = m.url
        return {"content": cut(f"【{m.heading}】", CONTENT_CHARS), "embeds": [embed], "allowed_mentions": {"parse": []}}

    def fits(self, payload: dict[str, Any]) -> bool:
        """The embed's title, description, fields and total within Discord's limits (in UTF-16 units: `units`)."""
        e = payload["embeds"][0]
        total = units(e["title"]) + units(e["description"]) + sum(units(f["name"]) + units(f["value"]) for f in e["fields"])
        return (units(e["title"]) <= TITLE_CHARS and units(e["description"]) <= DESCRIPTION_CHARS
                and all(units(f["value"]) <= FIELD_CHARS for f in e["fields"]) and total <= EMBED_TOTAL_CHARS
                and units(payload["content"]) <= CONTENT_CHARS)

    def sign(self, payload: dict[str, Any], key: str, now: float) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
        return payload, {"wait": "true"}, {}

    def classify(self, resp: httpx.Response) -> Outcome:
        if resp.status_code == 429:
            given = (json_body(resp) or {}).get("retry_after")     # the body's seconds, else Retry-After's
            if isinstance(given, int | float) and not isinstance(given, bool) and 0 <= given < float("inf"):
                wait: float | None = float(given)
            else:
                wait = retry_after(resp, RATE_LIMIT_DEFAULT_WAIT)
            return Outcome("retry", "HTTP 429 rate limited", wait)
        common = http_common(resp)
        if common:
            return common
        if resp.status_code in (200, 204):
            return SENT
        if resp.status_code in (400, 413):
            return Outcome("payload", f"HTTP {resp.status_code} {resp.text[:ANSWER_CHARS]}")
        return Outcome("broken", f"HTTP {resp.status_code} {resp.text[:ANSWER_CHARS]}")
