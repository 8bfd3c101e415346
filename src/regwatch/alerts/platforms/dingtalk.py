"""DingTalk custom robot (钉钉自定义机器人): markdown, 加签 in the query, 20 messages a minute."""

from __future__ import annotations

import base64
import hashlib
import hmac
from typing import Any

import httpx

from ..message import Message
from .base import Outcome, Platform, code_verdict, cut, json_code, markdown, utf8_len

TEXT_BYTES = 18000      # documented ≈ 20,000 bytes (unconfirmed): kept under it
THROTTLE = 600.0        # seconds: DingTalk throttles a robot for ten minutes after 130101

# errcodes: the robot throttled; a bad signature, keyword, IP rule or token; a message it refuses
THROTTLED = (130101, 410100)
BROKEN = (310000, 300001, 300005, 400101, 400102, 400013, 40035, 43002)
PAYLOAD = (400105, 460101, 40044)

# 310000 covers four causes, told apart by its errmsg: what to fix for each (the newer Chinese wording too)
HINTS = (
    (("sign", "签名"), "check that the channel's `secret` is the robot's 加签 secret (starting with SEC), "
                       "and that this machine's clock is right"),
    (("timestamp", "时间戳"), "this machine's clock is off by more than an hour: set it right (NTP)"),
    (("keyword", "关键词"), "the robot only takes messages containing one of its 自定义关键词: set the channel's "
                           "`keyword` to one of them (regwatch adds it to every message)"),
    (("whitelist", "白名单"), "this machine's IP is not in the robot's IP whitelist (IP地址段): add it"),
)


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """加签: HMAC-SHA256 of `timestamp\\nsecret`, keyed by the secret. Raw base64; let the query
    encode it exactly once."""
    msg = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), msg, hashlib.sha256).digest()).decode()


class DingTalk(Platform):
    type = "dingtalk"
    signs = True
    takes_keyword = True
    per_minute = 20                 # more throttles the robot for ten minutes (130101)

    @classmethod
    def check_secret(cls, secret: str) -> str | None:
        if not secret.startswith("SEC"):      # the robot's 加签 secret as its settings page shows it
            return ("`secret` is not a DingTalk 加签 secret: write the whole secret the robot's security settings "
                    "show, starting with SEC")
        return None

    def render(self, m: Message) -> dict[str, Any]:
        text = markdown(m)
        text += self.keyword_line(text)
        return {"msgtype": "markdown", "markdown": {"title": cut(m.label, 60), "text": text},
                "at": {"atMobiles": [], "atUserIds": [], "isAtAll": False}}

    def fits(self, payload: dict[str, Any]) -> bool:
        return utf8_len(payload["markdown"]["text"]) <= TEXT_BYTES

    def sign(self, payload: dict[str, Any], key: str, now: float) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
        payload["msgUuid"] = key                       # DingTalk drops a repeated msgUuid
        if not self.channel.secret:
            return payload, {}, {}
        ts = int(now * 1000)
        return payload, {"timestamp": str(ts), "sign": dingtalk_sign(self.channel.secret, ts)}, {}

    def classify(self, resp: httpx.Response) -> Outcome:
        answer = json_code(resp)
        if isinstance(answer, Outcome):
            return answer
        code, msg = answer
        if code in THROTTLED:
            return Outcome("retry", f"errcode {code} {msg}: robot throttled", THROTTLE)
        verdict = code_verdict("errcode", code, msg, broken=BROKEN, payload=PAYLOAD)
        if code == 310000:
            low = msg.lower()
            hint = next((h for words, h in HINTS if any(w in low for w in words)), None)
            if hint:
                return Outcome(verdict.action, f"{verdict.error}: {hint}", verdict.retry_after)
        return verdict
