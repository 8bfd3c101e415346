"""Sending one rendered payload to one channel with httpx, and classifying what came back.

Every platform's verdict is read from the body as well as the status (DingTalk, WeCom and
Feishu answer HTTP 200 to rejected messages), and each outcome becomes one action:
`sent`, `retry` (after `retry_after` seconds, or backoff), `broken` (the channel needs fixing:
bad signature, revoked token — retrying cannot help), or `payload` (this message is rejected).
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from dataclasses import dataclass
from typing import Any, Callable
from urllib.parse import urlencode

import httpx

from .signing import dingtalk_sign, feishu_sign, standard_webhook_sign


@dataclass
class Outcome:
    action: str                       # sent | retry | broken | payload
    error: str = ""
    retry_after: float | None = None

    @property
    def ok(self) -> bool:
        return self.action == "sent"


SENT = Outcome("sent")


def redact(text: str, secrets: list[str | None] = ()) -> str:
    """Remove secrets and URL credentials (tokens, keys, signatures) from a message meant for people."""
    for s in secrets:
        if s and len(s) >= 4:
            text = text.replace(s, "***")
    text = re.sub(r"(access_token|key|token|sig|sign|secret)=([^&\s\"']+)", r"\1=***", text, flags=re.I)
    text = re.sub(r"/(bot)[0-9]+:[\w-]+", r"/\1***", text)
    text = re.sub(r"(hooks\.slack\.com/services|/api/webhooks|/hook)/[\w/-]+", r"\1/***", text)
    return text


def _retry_after(resp: httpx.Response, default: float | None = None) -> float | None:
    v = resp.headers.get("Retry-After")
    if v:
        try:
            return max(0.0, float(v))
        except ValueError:
            pass
    return default


def _json(resp: httpx.Response) -> dict[str, Any] | None:
    try:
        data = resp.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def _http_common(resp: httpx.Response) -> Outcome | None:
    """What every platform means by these statuses."""
    if resp.status_code == 429:
        return Outcome("retry", f"HTTP 429 rate limited", _retry_after(resp, 60.0))
    if resp.status_code >= 500:
        return Outcome("retry", f"HTTP {resp.status_code}", _retry_after(resp))
    if 300 <= resp.status_code < 400:
        return Outcome("broken", f"HTTP {resp.status_code} redirect: update the channel's url")
    return None


def _verdict_body(resp: httpx.Response) -> Outcome | dict[str, Any]:
    """For platforms that answer HTTP 200 with a verdict in JSON: the status's own meaning, or the body."""
    common = _http_common(resp)
    if common:
        return common
    data = _json(resp)
    if data is None:
        return Outcome("retry", f"HTTP {resp.status_code}, unreadable answer")
    return data


def classify_dingtalk(resp: httpx.Response) -> Outcome:
    data = _verdict_body(resp)
    if isinstance(data, Outcome):
        return data
    code, msg = data.get("errcode"), str(data.get("errmsg", ""))
    if code == 0:
        return SENT
    if code in (130101, 410100):
        return Outcome("retry", f"errcode {code} {msg}: robot throttled", 600.0)
    if code == -1:
        return Outcome("retry", f"errcode -1 {msg}")
    if code in (310000, 300001, 300005, 400101, 400102, 400013, 40035, 43002):
        return Outcome("broken", f"errcode {code} {msg}")
    if code in (400105, 460101, 40044):
        return Outcome("payload", f"errcode {code} {msg}")
    return Outcome("retry", f"errcode {code} {msg}")


def classify_wecom(resp: httpx.Response) -> Outcome:
    data = _verdict_body(resp)
    if isinstance(data, Outcome):
        return data
    code, msg = data.get("errcode"), str(data.get("errmsg", ""))[:200]
    if code == 0:
        return SENT
    if code == 45009:
        return Outcome("retry", f"errcode 45009 {msg}", 60.0)
    if code == 93000:
        return Outcome("broken", f"errcode 93000 invalid webhook url (check the key)")
    if code in (40058, 40008, 40035):
        return Outcome("payload", f"errcode {code} {msg}")
    return Outcome("retry", f"errcode {code} {msg}")


def classify_feishu(resp: httpx.Response) -> Outcome:
    data = _verdict_body(resp)
    if isinstance(data, Outcome):
        return data
    code = data.get("code", data.get("StatusCode"))
    msg = str(data.get("msg", data.get("StatusMessage", "")))[:200]
    if code == 0:
        return SENT
    if code == 11232 or (code == 9499 and "too many" in msg.lower()):
        return Outcome("retry", f"code {code} {msg}", 60.0)
    if code in (19021, 19022, 19024):
        return Outcome("broken", f"code {code} {msg}")
    if code == 9499 or (400 <= resp.status_code < 500):
        return Outcome("payload", f"code {code} {msg}")
    return Outcome("retry", f"code {code} {msg}")


def classify_slack(resp: httpx.Response) -> Outcome:
    common = _http_common(resp)
    if common:
        return common
    body = resp.text.strip()[:200]
    if resp.status_code == 200:
        return SENT
    if resp.status_code == 400:
        return Outcome("payload", f"HTTP 400 {body}")
    return Outcome("broken", f"HTTP {resp.status_code} {body}")


def classify_discord(resp: httpx.Response) -> Outcome:
    if resp.status_code == 429:
        data = _json(resp) or {}
        return Outcome("retry", "HTTP 429 rate limited", float(data.get("retry_after") or _retry_after(resp, 5.0)))
    common = _http_common(resp)
    if common:
        return common
    if resp.status_code in (200, 204):
        return SENT
    if resp.status_code in (400, 413):
        return Outcome("payload", f"HTTP {resp.status_code} {resp.text[:200]}")
    return Outcome("broken", f"HTTP {resp.status_code} {resp.text[:200]}")


def classify_teams(resp: httpx.Response) -> Outcome:
    common = _http_common(resp)
    if common:
        return common
    if resp.status_code in (200, 202):
        return SENT
    if resp.status_code in (400, 413):
        return Outcome("payload", f"HTTP {resp.status_code}")
    return Outcome("broken", f"HTTP {resp.status_code}")


def classify_telegram(resp: httpx.Response) -> Outcome:
    data = _json(resp) or {}
    if resp.status_code == 200 and data.get("ok"):
        return SENT
    desc = str(data.get("description", resp.text[:200]))
    if resp.status_code == 429:
        return Outcome("retry", desc, float((data.get("parameters") or {}).get("retry_after") or 5))
    if resp.status_code >= 500:
        return Outcome("retry", f"HTTP {resp.status_code} {desc}")
    if resp.status_code == 400 and "chat not found" not in desc:
        return Outcome("payload", f"HTTP 400 {desc}")
    return Outcome("broken", f"HTTP {resp.status_code} {desc}")


def classify_webhook(resp: httpx.Response) -> Outcome:
    if resp.status_code in (429, 502, 503, 504) or resp.status_code >= 500:
        return Outcome("retry", f"HTTP {resp.status_code}", _retry_after(resp))
    if 200 <= resp.status_code < 300:
        return SENT
    if resp.status_code == 410:
        return Outcome("broken", "HTTP 410: the endpoint is gone")
    if 300 <= resp.status_code < 400:
        return Outcome("broken", f"HTTP {resp.status_code} redirect: update the channel's url")
    if resp.status_code in (400, 413, 422):
        return Outcome("payload", f"HTTP {resp.status_code}")
    return Outcome("broken", f"HTTP {resp.status_code}")


CLASSIFIERS: dict[str, Callable[[httpx.Response], Outcome]] = {
    "dingtalk": classify_dingtalk, "wecom": classify_wecom, "feishu": classify_feishu, "slack": classify_slack,
    "discord": classify_discord, "teams": classify_teams, "telegram": classify_telegram, "webhook": classify_webhook,
}


def prepare(channel, payload: dict[str, Any], idem_key: str, now: float | None = None) -> tuple[str, dict, bytes, dict]:
    """(url, params, body bytes, headers) for one attempt: signed now, with the alert's idempotency key."""
    now = time.time() if now is None else now
    url, params = channel.url, {}
    headers = {"Content-Type": "application/json; charset=utf-8"}
    payload = dict(payload)
    if channel.type == "dingtalk":
        payload["msgUuid"] = idem_key
        if channel.secret:
            ts = int(now * 1000)
            params = {"timestamp": str(ts), "sign": dingtalk_sign(channel.secret, ts)}
    elif channel.type == "feishu" and channel.secret:
        ts = int(now)
        payload = {"timestamp": str(ts), "sign": feishu_sign(channel.secret, ts), **payload}
    elif channel.type == "discord":
        params = {"wait": "true"}
    elif channel.type == "webhook":
        payload["timestamp"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(now))
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    if channel.type == "webhook":
        ts = int(now)
        headers.update({"webhook-id": idem_key, "webhook-timestamp": str(ts)})
        if channel.secret:
            headers["webhook-signature"] = standard_webhook_sign(channel.secret, idem_key, ts, body)
    return url, params, body, headers


def request_url(url: str, params: dict[str, str]) -> httpx.URL:
    """The channel URL exactly as configured, with what signing adds merged into its query.

    httpx's `params=` *replaces* a URL's query string: DingTalk's `access_token`, WeCom's `key`
    or Discord's `thread_id` would be dropped. Merging keeps them, and encodes each value once.
    """
    u = httpx.URL(url)
    if not params:
        return u
    added = urlencode(params).encode("ascii")      # "+", "/" and "=" of a signature: %2B %2F %3D, once
    return u.copy_with(query=u.query + b"&" + added if u.query else added)


async def send_apprise(channel, payload: dict[str, Any]) -> Outcome:
    """Any Apprise URL (email, ntfy, Matrix, …), for platforms regwatch does not sign itself (optional extra)."""
    try:
        import apprise
    except ImportError:
        return Outcome("broken", "apprise is not installed: pip install 'regwatch[apprise]'")
    ap = apprise.Apprise()
    if not ap.add(channel.url):
        return Outcome("broken", "not a URL Apprise understands (see its documentation for the service)")
    # Apprise's senders block (requests): off the event loop
    ok = await asyncio.to_thread(ap.notify, body=payload["body"], title=payload["title"])
    return SENT if ok else Outcome("retry", "Apprise reported a failed delivery (it does not say why)")


async def send(client: httpx.AsyncClient, channel, payload: dict[str, Any], idem_key: str) -> Outcome:
    if channel.type == "apprise":
        return await send_apprise(channel, payload)
    url, params, body, headers = prepare(channel, payload, idem_key)
    secrets = [channel.secret, channel.url]
    try:
        resp = await client.post(request_url(url, params), content=body, headers=headers)
    except (httpx.ConnectError, httpx.ConnectTimeout) as e:
        return Outcome("retry", redact(f"cannot connect: {type(e).__name__}", secrets))
    except httpx.TimeoutException as e:
        return Outcome("retry", f"no answer in time ({type(e).__name__}); the message may have arrived")
    except httpx.HTTPError as e:
        return Outcome("retry", redact(f"{type(e).__name__}: {e}", secrets)[:300])
    return CLASSIFIERS[channel.type](resp)
