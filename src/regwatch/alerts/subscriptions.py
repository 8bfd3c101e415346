"""Which new stories each subscription wants, written to the outbox (one alert per story, subscription, channel)."""

from __future__ import annotations

import hashlib
from datetime import datetime, timedelta, timezone

from ..pipeline.normalize import normalize
from ..pipeline.store import Store
from .digest import next_digest_time


def wants(sub, *, source: str, topics: set[str], title: str, body: str) -> bool:
    """Whether a subscription wants an article: its sources, then its topics, then its keywords."""
    if sub.sources and source not in sub.sources:
        return False
    if sub.topics:
        if "*" in sub.topics:
            if not topics:
                return False
        elif not topics & set(sub.topics):
            return False
    if sub.keywords:
        text = normalize(f"{title}\n{body}")
        if not any(normalize(k) in text for k in sub.keywords):
            return False
    return True


def idem_key(*parts: object) -> str:
    """A stable id for an alert (DingTalk `msgUuid`, Standard Webhooks `webhook-id`): no dots."""
    return "msg_" + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:24]


def alertable(published_at: datetime | None, max_age_s: float, now: datetime | None = None) -> bool:
    """Articles older than `max_article_age` are stored but never alert."""
    if published_at is None:
        return True
    now = now or datetime.now(timezone.utc)
    return published_at >= now - timedelta(seconds=max_age_s)


def enqueue_for(store: Store, cfg, processed, source: str, title: str, body: str,
                published_at: datetime | None) -> int:
    """Write the alerts a newly processed article calls for; returns how many were queued."""
    if not processed.new_story or not alertable(published_at, cfg.crawl.max_article_age):
        return 0
    topics = {t.topic for t in processed.tags}
    n = 0
    for sub in cfg.subscriptions:
        if not wants(sub, source=source, topics=topics, title=title, body=body):
            continue
        for ch in sub.channels:
            digest_at = next_digest_time(sub.digest) if sub.digest else None
            if store.enqueue_alert(subscription=sub.name, channel=ch, story_id=processed.story_id,
                                   article_id=processed.article_id, digest_at=digest_at,
                                   idem_key=idem_key(sub.name, ch, processed.story_id)):
                n += 1
    return n
