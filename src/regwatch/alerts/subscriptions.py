"""Which stories each subscription wants, written to the outbox (one alert per story, subscription, channel).

A story alerts once per subscription and channel, whichever of its copies first passes the
subscription's filters: a subscription limited to one source still hears of a story first
carried by another, when that source's copy arrives. Copies of a story that began in a
baseline (old news when regwatch started watching) never alert.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from ..pipeline.dates import too_old
from ..pipeline.normalize import normalize
from ..pipeline.store import Store
from .digest import next_digest_time


@lru_cache(maxsize=1024)
def _keyword_pattern(keyword: str) -> re.Pattern[str]:
    """A keyword as it is matched in normalized text: Latin words whole (`APR` is not in "April"),
    Chinese anywhere (Chinese has no spaces between words)."""
    k = normalize(keyword).strip()
    start = r"(?<![a-z0-9])" if k[:1].isascii() and k[:1].isalnum() else ""
    end = r"(?![a-z0-9])" if k[-1:].isascii() and k[-1:].isalnum() else ""
    return re.compile(start + re.escape(k) + end)


def matched_keyword(keywords: list[str], title: str, body: str) -> str | None:
    """The first of `keywords` found in the title or body, or None."""
    text = normalize(f"{title}\n{body}")
    for k in keywords:
        if k.strip() and _keyword_pattern(k).search(text):
            return k
    return None


@dataclass
class Judgement:
    """Whether a subscription's filters want an article, the keyword that matched, and why (not)."""

    wants: bool
    keyword: str | None
    reason: str


def judge(sub: Any, *, source: str, topics: set[str], title: str, body: str) -> Judgement:
    """A subscription's filters on an article, in order: its sources, its topics, its keywords."""
    if sub.sources and source not in sub.sources:
        return Judgement(False, None, f"source filtered: {source} is not one of its sources ({', '.join(sub.sources)})")
    if sub.topics:
        has = ", ".join(sorted(topics)) or "no topic"
        if "*" in sub.topics:
            if not topics:
                return Judgement(False, None, "topic not matched: it wants any topic, the article has none")
        elif not topics & set(sub.topics):
            return Judgement(False, None, f"topic not matched: it wants {', '.join(sub.topics)}; the article has {has}")
    if sub.keywords:
        kw = matched_keyword(sub.keywords, title, body)
        if kw is None:
            return Judgement(False, None, f"keyword not matched: none of {', '.join(sub.keywords)} in the title or body")
        return Judgement(True, kw, f"keyword {kw}")
    return Judgement(True, None, "topic " + ", ".join(sorted(topics & set(sub.topics or [])) or sorted(topics)))


def match(sub: Any, *, source: str, topics: set[str], title: str, body: str) -> tuple[bool, str | None]:
    """(whether a subscription wants an article, the keyword that matched)."""
    j = judge(sub, source=source, topics=topics, title=title, body=body)
    return j.wants, j.keyword


def wants(sub: Any, *, source: str, topics: set[str], title: str, body: str) -> bool:
    return match(sub, source=source, topics=topics, title=title, body=body)[0]


def idem_key(*parts: object) -> str:
    """A stable id for an alert (DingTalk `msgUuid`, Standard Webhooks `webhook-id`): no dots."""
    return "msg_" + hashlib.sha256("|".join(map(str, parts)).encode()).hexdigest()[:24]


def alertable(published_at: datetime | None, max_age_s: float, now: datetime | None = None) -> bool:
    """Articles older than `max_article_age` are stored but never alert."""
    return not too_old(published_at, max_age_s, now)


def enqueue_for(store: Store, cfg: Any, processed: Any, source: str, title: str, body: str,
                published_at: datetime | None) -> int:
    """Write the alerts a newly processed article calls for; returns how many were queued."""
    if not alertable(published_at, cfg.crawl.max_article_age):
        return 0
    if not processed.new_story and store.story_started_in_baseline(processed.story_id):
        return 0
    topics = {t.topic for t in processed.tags}
    n = 0
    for sub in cfg.subscriptions:
        ok, keyword = match(sub, source=source, topics=topics, title=title, body=body)
        if not ok:
            continue
        for ch in sub.channels:
            if not processed.new_story and store.has_alert(sub.name, ch, processed.story_id):
                continue
            digest_at = next_digest_time(sub.digest, tz=cfg.display.tz) if sub.digest else None
            if store.enqueue_alert(subscription=sub.name, channel=ch, story_id=processed.story_id,
                                   article_id=processed.article_id, digest_at=digest_at,
                                   payload={"keyword": keyword} if keyword else None,
                                   idem_key=idem_key(sub.name, ch, processed.story_id)):
                n += 1
    return n
