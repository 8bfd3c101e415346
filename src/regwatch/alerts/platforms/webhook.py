"""Any HTTP endpoint, signed the Standard Webhooks way over the exact bytes sent."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from typing import Any

import httpx

from ..message import Message, clip
from .base import SENT, Outcome, Platform, http_common

BODY_BYTES = 20000              # the specification's recommendation

EVENT_TYPES = {"article": "article.matched", "digest": "articles.digest", "test": "regwatch.test"}
# the texts of an event that are cut when it would be over `BODY_BYTES` (each string under these keys, at any depth)
CUT_KEYS = frozenset({"title", "lead", "outlet", "also_reported_by", "terms", "detail"})

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
    """Standard Webhooks 1.0: `v1,` + base64 HMAC-SHA256 of `msg_id.timestamp.body`."""
    signed = f"{msg_id}.{timestamp_s}.".encode() + body
    return "v1," + base64.b64encode(hmac.new(standard_webhook_key(secret), signed, hashlib.sha256).digest()).decode()


class Webhook(Platform):
    type = "webhook"
    signs = True

    @classmethod
    def check_secret(cls, secret: str) -> str | None:
        try:
            standard_webhook_key(secret)
        except ValueError:
            return ("`secret` is not a Standard Webhooks secret: write it in base64, with or without "
                    "`whsec_` (e.g. whsec_ followed by the output of `openssl rand -base64 32`)")
        return None

    def render(self, m: Message) -> dict[str, Any]:
        """The event: the alert's structured data (a digest: its subscription and each item's data), every text as the
        page (or the config) wrote it — data for a program, not markup: nothing of it is made inert."""
        if m.kind == "digest":
            data = {"subscription": m.data.get("subscription", m.subscription), "items": [i.data for i in m.items]}
        else:
            data = m.data
        return {"type": EVENT_TYPES.get(m.kind, "source.health"), "data": data}

    def render_fitted(self, m: Message) -> dict[str, Any]:
        """The event within `BODY_BYTES`: the longest of its page texts (`CUT_KEYS`) are cut, all to the same
        ever smaller length, until the whole signed body fits."""
        payload = self.render(m)
        n = max((len(s) for s in _texts(payload)), default=0)
        fitted = payload
        while not self.fits(fitted):
            if n == 0:
                raise ValueError("the event does not fit 20,000 bytes even with its texts cut")
            n = n * 7 // 10
            fitted = _cut(payload, n)
        return fitted

    def fits(self, payload: dict[str, Any]) -> bool:
        """Measured on the body as sent: compact JSON with the `timestamp` signing adds."""
        return len(self.body(self.sign(dict(payload), "", 0.0)[0])) <= BODY_BYTES

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
        common = http_common(resp)      # 429 and 5xx retry; a redirect, 404 or 410 (Standard Webhooks: disable) is broken
        if common:
            return common
        if 200 <= resp.status_code < 300:
            return SENT
        if resp.status_code in (400, 413, 422):
            return Outcome("payload", f"HTTP {resp.status_code}")
        return Outcome("broken", f"HTTP {resp.status_code}")


def _texts(value: Any, cut: bool = False) -> list[str]:
    """The strings of an event that may be cut (under `CUT_KEYS`)."""
    if isinstance(value, str):
        return [value] if cut else []
    if isinstance(value, list):
        return [s for v in value for s in _texts(v, cut)]
    if isinstance(value, dict):
        return [s for k, v in value.items() for s in _texts(v, cut or k in CUT_KEYS)]
    return []


def _cut(value: Any, n: int, cut: bool = False) -> Any:
    """The event with each string under `CUT_KEYS` cut to `n` characters (whole grapheme clusters, "…")."""
    if isinstance(value, str):
        return clip(value, n) if cut else value
    if isinstance(value, list):
        return [_cut(v, n, cut) for v in value]
    if isinstance(value, dict):
        return {k: _cut(v, n, cut or k in CUT_KEYS) for k, v in value.items()}
    return value
