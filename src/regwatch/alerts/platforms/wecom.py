"""WeCom group robot (企业微信群机器人): markdown of at most 4096 bytes; the key is in the URL."""

from __future__ import annotations

from typing import Any

import httpx

from ..message import Message
from .base import Outcome, Platform, code_verdict, json_code, markdown, utf8_len

CONTENT_BYTES = 4096

# errcodes: a rate limit; a message it refuses (93000, a wrong key, is read on its own below)
RATE_LIMITED = (45009,)
PAYLOAD = (40058, 40008, 40035)


class WeCom(Platform):
    type = "wecom"
    per_minute = 20
    takes_keyword = True

    def render(self, m: Message) -> dict[str, Any]:
        text = markdown(m)
        text += self.keyword_line(text)
        return {"msgtype": "markdown", "markdown": {"content": text}}

    def fits(self, payload: dict[str, Any]) -> bool:
        return utf8_len(payload["markdown"]["content"]) <= CONTENT_BYTES

    def classify(self, resp: httpx.Response) -> Outcome:
        answer = json_code(resp)
        if isinstance(answer, Outcome):
            return answer
        code, msg = answer
        if code == 93000:
            return Outcome("broken", "errcode 93000 invalid webhook url (check the key)")
        return code_verdict("errcode", code, msg, rate_limited=RATE_LIMITED, payload=PAYLOAD)
