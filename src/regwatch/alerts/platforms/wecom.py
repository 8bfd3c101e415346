"""WeCom group robot (企业微信群机器人): markdown of at most 4096 bytes; the key is in the URL."""

from __future__ import annotations

from typing import Any

import httpx

from ...defaults import RATE_LIMIT_DEFAULT_WAIT
from ..message import Message
from .base import ANSWER_CHARS, SENT, Outcome, Platform, json_verdict, markdown, utf8_len

CONTENT_BYTES = 4096


class WeCom(Platform):
    type = "wecom"
    per_minute = 20

    def render(self, m: Message) -> dict[str, Any]:
        text = markdown(m)
        text += self.keyword_line(text)
        return {"msgtype": "markdown", "markdown": {"content": text}}

    def fits(self, payload: dict[str, Any]) -> bool:
        return utf8_len(payload["markdown"]["content"]) <= CONTENT_BYTES

    def classify(self, resp: httpx.Response) -> Outcome:
        data = json_verdict(resp)
        if isinstance(data, Outcome):
            return data
        code, msg = data.get("errcode"), str(data.get("errmsg", ""))[:ANSWER_CHARS]
        if code == 0:
            return SENT
        if code == 45009:
            return Outcome("retry", f"errcode 45009 {msg}", RATE_LIMIT_DEFAULT_WAIT)
        if code == 93000:
            return Outcome("broken", "errcode 93000 invalid webhook url (check the key)")
        if code in (40058, 40008, 40035):
            return Outcome("payload", f"errcode {code} {msg}")
        return Outcome("retry", f"errcode {code} {msg}")
