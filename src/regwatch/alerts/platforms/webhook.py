"""Any HTTP endpoint, signed the Standard Webhooks way over the exact bytes sent."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx

from ..message import Message
from ..signing import standard_webhook_sign
from .base import SENT, Outcome, Platform, retry_after, utf8_len

BODY_BYTES = 20000              # the specification's recommendation

EVENT_TYPES = {"article": "article.matched", "digest": "articles.digest", "test": "regwatch.test"}


class Webhook(Platform):
    type = "webhook"

    def render(self, m: Message) -> dict[str, Any]:
        """The event: the alert's structured data (a digest: its subscription and each item's data)."""
        data = {"subscription": m.subscription, "items": [i.data for i in m.items]} if m.kind == "digest" else m.data
        return {"type": EVENT_TYPES.get(m.kind, "source.health"), "data": data}

    def fits(self, payload: dict[str, Any]) -> bool:
        return utf8_len(json.dumps(payload, ensure_ascii=False)) <= BODY_BYTES

    def sign(self, payload: dict[str, Any], key: str, now: float) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
        payload["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
        return payload, {}, {}

    def body_headers(self, body: bytes, key: str, now: float) -> dict[str, str]:
        ts = int(now)
        headers = {"webhook-id": key, "webhook-timestamp": str(ts)}
        if self.channel.secret:
            headers["webhook-signature"] = standard_webhook_sign(self.channel.secret, key, ts, body)
        return headers

    def classify(self, resp: httpx.Response) -> Outcome:
        if resp.status_code == 429 or resp.status_code >= 500:
            return Outcome("retry", f"HTTP {resp.status_code}", retry_after(resp))
        if 200 <= resp.status_code < 300:
            return SENT
        if resp.status_code == 410:
            return Outcome("broken", "HTTP 410: the endpoint is gone")
        if 300 <= resp.status_code < 400:
            return Outcome("broken", f"HTTP {resp.status_code} redirect: update the channel's url")
        if resp.status_code in (400, 413, 422):
            return Outcome("payload", f"HTTP {resp.status_code}")
        return Outcome("broken", f"HTTP {resp.status_code}")
