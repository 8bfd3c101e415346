"""Feishu / Lark custom bot (飞书自定义机器人): an interactive card, signed in the body."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from typing import Any

import httpx

from ..message import Message
from .base import Outcome, Platform, code_verdict, cut, json_code, markdown_items, utf8_len

REQUEST_BYTES = 18000   # documented ≈ 20 KB a request (unconfirmed): kept under it

# codes: a rate limit; a bad signature, IP rule or keyword; a message it refuses. 9499 is both "too many
# request" and a bad request: its message says which
RATE_LIMITED = (11232,)
BROKEN = (19021, 19022, 19024)
PAYLOAD = (9499,)


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """签名校验: the key is `timestamp\\nsecret` and the message is empty — not DingTalk's recipe."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def _text(content: str) -> dict[str, Any]:
    return {"tag": "div", "text": {"tag": "plain_text", "content": content}}


class Feishu(Platform):
    type = "feishu"
    signs = True
    takes_keyword = True
    per_minute = 100
    min_gap = 0.25                  # 5 a second

    def render(self, m: Message) -> dict[str, Any]:
        elements: list[dict[str, Any]] = []
        if m.items:
            # regwatch's own link markup around inert titles: the only markdown in the card
            elements.append({"tag": "markdown", "content": "\n".join(markdown_items(m.items))})
            if m.trigger:
                elements.append(_text(f"触发: {m.trigger}"))
        else:
            elements += [_text(f"{k}: {v}") for k, v in m.fields()]
            if m.lead:
                elements.append(_text(m.lead))
            if m.url:
                elements.append({"tag": "action", "actions": [{"tag": "button", "type": "primary", "url": m.url,
                                                               "text": {"tag": "plain_text", "content": "阅读原文"}}]})
        if self.keyword:
            # the robot rejects any message without its keyword (19024), digests and health notices too
            elements.append({"tag": "note", "elements": [{"tag": "plain_text", "content": self.keyword}]})
        return {"msg_type": "interactive", "card": {
            "config": {"wide_screen_mode": True},
            "header": {"title": {"tag": "plain_text", "content": cut(m.label, 200)},
                       "template": "red" if m.kind == "health" else "blue"},
            "elements": elements}}

    def fits(self, payload: dict[str, Any]) -> bool:
        return utf8_len(json.dumps(payload, ensure_ascii=False)) <= REQUEST_BYTES

    def sign(self, payload: dict[str, Any], key: str, now: float) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
        if not self.channel.secret:
            return payload, {}, {}
        ts = int(now)
        return {"timestamp": str(ts), "sign": feishu_sign(self.channel.secret, ts), **payload}, {}, {}

    def classify(self, resp: httpx.Response) -> Outcome:
        answer = json_code(resp, ("code", "StatusCode"), ("msg", "StatusMessage"))
        if isinstance(answer, Outcome):
            return answer
        code, msg = answer
        rate_limited = (*RATE_LIMITED, 9499) if "too many" in msg.lower() else RATE_LIMITED
        return code_verdict("code", code, msg, rate_limited=rate_limited, broken=BROKEN, payload=PAYLOAD,
                            otherwise="payload" if 400 <= resp.status_code < 500 else "retry")
