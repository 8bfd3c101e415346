"""Signatures per platform: DingTalk 加签, Feishu 签名校验, Standard Webhooks 1.0 (see the README's "Alerts")."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re


def dingtalk_sign(secret: str, timestamp_ms: int) -> str:
    """Raw base64; let httpx's `params=` URL-encode it exactly once."""
    msg = f"{timestamp_ms}\n{secret}".encode()
    return base64.b64encode(hmac.new(secret.encode(), msg, hashlib.sha256).digest()).decode()


def feishu_sign(secret: str, timestamp_s: int) -> str:
    """The key is `timestamp\\nsecret` and the message is empty — not DingTalk's recipe."""
    key = f"{timestamp_s}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


WHSEC_PREFIX = "whsec_"
_BASE64 = re.compile(r"[A-Za-z0-9+/]+={0,2}")


def standard_webhook_key(secret: str) -> bytes:
    """The key of a Standard Webhooks secret, read as the reference library `standardwebhooks` reads it:
    base64 (padded or not), with or without the `whsec_` prefix. ValueError when it is not base64."""
    text = secret.strip().removeprefix(WHSEC_PREFIX)
    if not _BASE64.fullmatch(text):
        raise ValueError("is not base64")
    data = text.rstrip("=")
    try:
        return base64.b64decode(data + "=" * (-len(data) % 4), validate=True)
    except binascii.Error:   # a length no base64 text has
        raise ValueError("is not base64") from None


def standard_webhook_sign(secret: str, msg_id: str, timestamp_s: int, body: bytes) -> str:
    signed = f"{msg_id}.{timestamp_s}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(standard_webhook_key(secret), signed, hashlib.sha256).digest()).decode()
