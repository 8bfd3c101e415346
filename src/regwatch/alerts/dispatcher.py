"""Delivery from the outbox: at-least-once, paced below each platform's limits, retried with backoff.

An alert is in the store before it is sent, marked `sending` while in flight, and `sent` after;
a crash leaves at most the in-flight alert to repeat (with the same idempotency key).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import random
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Callable

import httpx

from ..pipeline.store import Store
from ..pipeline.timeutil import iso, utcnow
from .message import Message, build_message, digest_message, health_message
from .render import RENDERERS
from .senders import Outcome, redact, send
from .subscriptions import idem_key

log = logging.getLogger("regwatch.alerts")

# (messages per minute, minimum seconds between two messages) below each platform's documented limits
PACE = {"dingtalk": (20, 0.0), "wecom": (20, 0.0), "feishu": (100, 0.25), "slack": (60, 1.0),
        "discord": (30, 0.5), "teams": (120, 0.3), "telegram": (20, 1.0), "webhook": (600, 0.0),
        "console": (100000, 0.0), "apprise": (30, 0.5)}


DIGEST_ITEMS = 10   # articles per digest message


@dataclass
class DeliveryStats:
    sent: int = 0
    retried: int = 0
    failed: int = 0
    errors: list[str] = field(default_factory=list)


class Dispatcher:
    def __init__(self, store: Store, channels: list, topic_names: dict[str, str], alerts_cfg,
                 client: httpx.AsyncClient | None = None, echo: Callable[[str], None] | None = None):
        self.store = store
        self.channels = {c.name: c for c in channels}
        self.topic_names = topic_names
        self.cfg = alerts_cfg
        self.client = client
        self.echo = echo or (lambda s: print(s, flush=True))
        self._last_send: dict[str, float] = {}
        self.on_attempt: Callable[[float], None] = lambda seconds: None   # delivery-duration metric
        self.wake = asyncio.Event()
        # alerts in flight when the last process died are due again
        store.conn.execute("UPDATE alerts SET status = 'retry' WHERE status = 'sending'")

    async def __aenter__(self) -> "Dispatcher":
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=5.0), follow_redirects=False,
                                            headers={"User-Agent": "regwatch/0.1"})
            self._own_client = True
        return self

    async def __aexit__(self, *exc) -> None:
        if getattr(self, "_own_client", False) and self.client is not None:
            await self.client.aclose()

    # -- rendering --------------------------------------------------------------------------

    def message_for(self, alert: dict[str, Any]) -> tuple[Message, dict[str, Any]]:
        if alert["kind"] == "health":
            p = json.loads(alert["payload"] or "{}")
            return health_message(p.get("source", "?"), p.get("state", "?"), p.get("detail"), p.get("recovered", False)), p
        article = self.store.article(alert["article_id"]) or {}
        topics = self.store.topics_of(alert["article_id"])
        # copies that joined the story before the alert went out: "also reported by …", never alerts of their own
        outlets = json.loads(self.store.one("SELECT outlets FROM stories WHERE id = ?", (alert["story_id"],)) or "[]")
        own = article.get("outlet") or article.get("source")
        also = [o for o in outlets if o and o != own]
        m = build_message(article, topics, self.topic_names, alert["subscription"], self.cfg.lead_chars, also=also)
        data = {"subscription": alert["subscription"], "story_id": alert["story_id"],
                "article": {k: article.get(k) for k in ("url", "title", "source", "outlet", "published_at", "lang")},
                "topics": [{"id": t["topic"], "score": t["score"], "terms": [e["term"] for e in t["evidence"]]}
                           for t in topics],
                "lead": m.lead, "also_reported_by": also}
        return m, data

    def render(self, alert: dict[str, Any]) -> dict[str, Any]:
        channel = self.channels[alert["channel"]]
        m, data = self.message_for(alert)
        if channel.type == "webhook":
            return RENDERERS["webhook"](m, data=data)
        if channel.type == "telegram":
            return RENDERERS["telegram"](m, channel.keyword, chat_id=channel.chat_id)
        return RENDERERS[channel.type](m, channel.keyword)

    # -- pacing -----------------------------------------------------------------------------

    def _pace_wait(self, channel) -> float:
        """Seconds to wait before this channel may take another message (0 = now)."""
        per_min, gap = PACE[channel.type]
        per_min = channel.per_minute or per_min
        wait = 0.0
        last = self._last_send.get(channel.name)
        if last is not None and gap:
            wait = max(wait, last + gap - time.monotonic())
        now = utcnow()
        if self.store.sent_since(channel.name, now - timedelta(seconds=60)) >= per_min:
            oldest = self.store.one(
                "SELECT min(sent_at) FROM (SELECT max(sent_at) AS sent_at FROM alerts WHERE channel = ? AND status = 'sent' "
                "AND sent_at >= ? GROUP BY coalesce(message_id, id) ORDER BY sent_at DESC LIMIT ?)",
                (channel.name, iso(now - timedelta(seconds=60)), per_min))
            if oldest:
                free_at = datetime.fromisoformat(oldest) + timedelta(seconds=60.5)
                wait = max(wait, (free_at - now).total_seconds())
        return max(0.0, wait)

    # -- delivery ---------------------------------------------------------------------------

    async def deliver_one(self, alert: dict[str, Any]) -> Outcome:
        channel = self.channels.get(alert["channel"])
        if channel is None:
            self.store.mark_alert(alert["id"], status="failed", last_error="channel no longer in the config")
            return Outcome("broken", "channel no longer in the config")
        try:
            payload = self.render(alert)
        except Exception as e:  # a broken article record must not stop the outbox
            self.store.mark_alert(alert["id"], status="failed", last_error=f"cannot render: {e}"[:300])
            return Outcome("payload", str(e))
        self.store.mark_alert(alert["id"], status="sending", attempts=alert["attempts"] + 1)
        if channel.type == "console":
            self.echo(payload["text"] + "\n")
            outcome = Outcome("sent")
        else:
            started = time.monotonic()
            outcome = await send(self.client, channel, payload, alert["idem_key"])
            self.on_attempt(time.monotonic() - started)
        self._last_send[channel.name] = time.monotonic()
        self._record(alert, channel, outcome)
        return outcome

    def _record(self, alert, channel, outcome: Outcome, message_id: int | None = None) -> None:
        attempts = alert["attempts"] + 1
        err = redact(outcome.error, [channel.secret, channel.url])
        if outcome.ok:
            self.store.mark_alert(alert["id"], status="sent", sent_at=iso(utcnow()), last_error=None,
                                  message_id=message_id or alert["id"])
        elif outcome.action == "retry" and attempts < self.cfg.max_attempts:
            delay = outcome.retry_after if outcome.retry_after is not None else backoff(attempts)
            self.store.mark_alert(alert["id"], status="retry", last_error=err,
                                  next_attempt_at=iso(utcnow() + timedelta(seconds=delay)))
        else:
            status = "broken" if outcome.action == "broken" else "failed"
            self.store.mark_alert(alert["id"], status=status, last_error=err)
            log.warning("alert %s to %s %s: %s", alert["id"], channel.name, status, err)
        self._channel_health(channel, outcome, err)

    def _channel_health(self, channel, outcome: Outcome, err: str) -> None:
        """A channel that turns broken (bad signature, revoked token) is reported once on the health
        channels, and so is its recovery."""
        if outcome.action == "broken":
            state = "broken"
        elif outcome.ok:
            state = "ok"
        else:
            return
        prev = self.store.set_channel_state(channel.name, state, err or None)
        if prev == state or (prev is None and state == "ok"):
            return
        payload = {"source": f"channel {channel.name}", "state": state, "detail": err, "recovered": state == "ok"}
        for ch in self.cfg.health_channels:
            if ch != channel.name:
                self.store.enqueue_alert(subscription="health", channel=ch, story_id=None, article_id=None,
                                         kind="health", payload=payload,
                                         idem_key=idem_key("channel", channel.name, state, iso(utcnow())))

    def _batches(self, due: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
        """What to send now: one alert a message, except scheduled digests and bursts larger than
        what the channel may take this minute, which go as digests of several alerts."""
        by_channel: dict[str, list[dict[str, Any]]] = {}
        for a in due:
            by_channel.setdefault(a["channel"], []).append(a)
        out: list[list[dict[str, Any]]] = []
        for name, alerts in by_channel.items():
            scheduled = [a for a in alerts if a["digest_at"] and a["kind"] == "article"]
            rest = [a for a in alerts if a not in scheduled]
            by_sub: dict[str, list] = {}
            for a in scheduled:
                by_sub.setdefault(a["subscription"], []).append(a)
            for group in by_sub.values():
                out += [group[i : i + DIGEST_ITEMS] for i in range(0, len(group), DIGEST_ITEMS)]
            articles = [a for a in rest if a["kind"] == "article"]
            channel = self.channels.get(name)
            if channel is not None and len(articles) > self._budget(channel):
                out += [articles[i : i + DIGEST_ITEMS] for i in range(0, len(articles), DIGEST_ITEMS)]
                rest = [a for a in rest if a["kind"] != "article"]
            out += [[a] for a in rest]
        return out

    def _budget(self, channel) -> int:
        per_min = channel.per_minute or PACE[channel.type][0]
        return max(0, per_min - self.store.sent_since(channel.name, utcnow() - timedelta(seconds=60)))

    async def deliver_digest(self, batch: list[dict[str, Any]]) -> Outcome:
        channel = self.channels.get(batch[0]["channel"])
        if channel is None:
            for a in batch:
                self.store.mark_alert(a["id"], status="failed", last_error="channel no longer in the config")
            return Outcome("broken", "channel no longer in the config")
        parts = [self.message_for(a) for a in batch]
        m = digest_message([p[0] for p in parts], batch[0]["subscription"])
        if channel.type == "webhook":
            payload = RENDERERS["webhook"](m, data={"subscription": batch[0]["subscription"], "items": [p[1] for p in parts]})
        elif channel.type == "telegram":
            payload = RENDERERS["telegram"](m, channel.keyword, chat_id=channel.chat_id)
        else:
            payload = RENDERERS[channel.type](m, channel.keyword)
        for a in batch:
            self.store.mark_alert(a["id"], status="sending", attempts=a["attempts"] + 1)
        if channel.type == "console":
            self.echo(payload["text"] + "\n")
            outcome = Outcome("sent")
        else:
            key = "msg_" + hashlib.sha256(",".join(a["idem_key"] for a in batch).encode()).hexdigest()[:24]
            outcome = await send(self.client, channel, payload, key)
        self._last_send[channel.name] = time.monotonic()
        for a in batch:
            self._record(a, channel, outcome, message_id=batch[0]["id"])
        return outcome

    async def deliver_due(self, wait_until: float | None = None) -> DeliveryStats:
        """Send what is due; then, until `wait_until` (a time.time()), wait out short backoffs and limits."""
        stats = DeliveryStats()
        while True:
            progressed = False
            for batch in self._batches(self.store.due_alerts(utcnow())):
                channel = self.channels.get(batch[0]["channel"])
                wait = self._pace_wait(channel) if channel else 0.0
                if wait > 0:
                    if wait <= 1.5:
                        await asyncio.sleep(wait)
                    else:
                        for a in batch:
                            self.store.mark_alert(a["id"], next_attempt_at=iso(utcnow() + timedelta(seconds=wait)))
                        continue
                single = len(batch) == 1 and not batch[0]["digest_at"]
                outcome = await (self.deliver_one(batch[0]) if single else self.deliver_digest(batch))
                progressed = True
                if outcome.ok:
                    stats.sent += len(batch)
                elif outcome.action == "retry":
                    stats.retried += len(batch)
                else:
                    stats.failed += len(batch)
                    secrets = [channel.secret, channel.url] if channel else []
                    stats.errors.append(f"{batch[0]['channel']}: {redact(outcome.error, secrets)}")
            if progressed:
                continue
            nxt = self.store.next_due_at()
            if nxt is None or wait_until is None:
                return stats
            pause = (datetime.fromisoformat(nxt) - utcnow()).total_seconds()
            if time.time() + max(pause, 0) > wait_until:
                return stats
            await asyncio.sleep(max(0.05, min(pause, wait_until - time.time())))

    async def run_forever(self) -> None:
        """The daemon's delivery loop: woken by new alerts, or at the next due time."""
        while True:
            await self.deliver_due()
            nxt = self.store.next_due_at()
            timeout = 30.0
            if nxt:
                timeout = min(timeout, max(0.05, (datetime.fromisoformat(nxt) - utcnow()).total_seconds()))
            try:
                await asyncio.wait_for(self.wake.wait(), timeout)
            except asyncio.TimeoutError:
                pass
            self.wake.clear()


def backoff(attempts: int) -> float:
    """2, 4, 8 … seconds, capped at an hour, with jitter so that retries do not arrive together."""
    base = min(3600.0, 2.0 ** attempts)
    return base * random.uniform(0.8, 1.2)
