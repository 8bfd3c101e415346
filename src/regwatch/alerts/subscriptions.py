"""Which stories each subscription wants, written to the outbox (one alert per story and channel).

A story alerts a channel once, whichever of its copies first passes the filters of a subscription
routed to it (two subscriptions on one channel send one message; the one that tells it soonest names
itself in it): a subscription limited to one source still hears of a story first
carried by another, when that source's copy arrives. What keeps an article from alerting at all
(`held_back`: a baseline, its age, a story that began in a baseline) is decided here too, as it is
stored and when `regwatch why` reads it back.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

from ..pipeline.dates import too_old
from ..pipeline.normalize import normalize
from ..pipeline.process import Processed
from ..pipeline.store import AlertKind, Store
from ..pipeline.timeutil import utcnow
from .digest import next_digest_time
from .message import local_time

log = logging.getLogger("regwatch.alerts")


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


def enqueue_health(store: Store, channels: Iterable[str], payload: dict[str, Any], *about: object) -> None:
    """A health notice (sources' or a channel's change of state, `about` naming it) to each of `channels`: an
    alert of its own, with no story and never in a digest."""
    now = utcnow().isoformat()
    for ch in channels:
        store.enqueue_alert(subscription="health", channel=ch, story_id=None, article_id=None, kind=AlertKind.HEALTH,
                            payload=payload, idem_key=idem_key(*about, ch, now))


def held_back(store: Store, cfg: Any, *, baseline: bool, source: str, published: datetime | None,
              stored: datetime | None, story_id: int | None, first_of_story: bool) -> tuple[str, str] | None:
    """(outcome, reason) when an article may alert no subscription at all, else None (its subscriptions'
    filters decide) — the rules applied as it is stored (`enqueue_for`, `stored` None: now) and read back by
    `regwatch why`, in this order: an article stored by a baseline never alerts; nor one older than
    `crawl.max_article_age` when it was stored; nor a copy joining a story that began in a baseline."""
    if baseline:
        return "baseline", (f"stored by the baseline of {source} (a source's first run stores what is "
                            "already there and alerts nothing)")
    if too_old(published, cfg.crawl.max_article_age, stored):
        days = ((stored or utcnow()) - published).total_seconds() / 86400 if published else 0
        return "too old", (f"published {days:.1f} days before it was stored, more than crawl.max_article_age: "
                           "stored, never alerted")
    if not first_of_story and story_id is not None and store.story_started_in_baseline(story_id):
        return "baseline story", ("joined a story that began in a baseline (old news when regwatch started watching): "
                                  "its copies never alert")
    return None


def enqueue_for(store: Store, cfg: Any, processed: Processed, source: str, title: str, body: str,
                published_at: datetime | None, *, baseline: bool = False) -> tuple[int, str | None]:
    """Write the alerts a newly stored article calls for: (how many were queued, the outcome of `held_back`
    when it may alert none)."""
    held = held_back(store, cfg, baseline=baseline, source=source, published=published_at, stored=None,
                     story_id=processed.story_id, first_of_story=processed.new_story)
    if held:
        return 0, held[0]
    topics = {t.topic for t in processed.tags}
    # one alert per story per channel: of the subscriptions that want the article on a channel, the one that
    # tells it soonest (at once before a digest, then the earlier digest; then the config's order)
    chosen: dict[str, tuple[datetime | None, Any, str | None]] = {}
    for sub in cfg.subscriptions:
        ok, keyword = match(sub, source=source, topics=topics, title=title, body=body)
        if not ok:
            continue
        digest_at = next_digest_time(sub.digest, tz=cfg.display.tz) if sub.digest else None
        for ch in sub.channels:
            had = chosen.get(ch)
            if had is None or (had[0] is not None and (digest_at is None or digest_at < had[0])):
                chosen[ch] = (digest_at, sub, keyword)
    n = 0
    sid: str | None = None
    for ch, (digest_at, sub, keyword) in chosen.items():
        if not processed.new_story and store.has_alert(ch, processed.story_id):
            continue
        if sid is None:
            # a story's id is unique only in its store (a fresh store's story 1 is not the last one's): the store's
            # own id makes the key unique across stores too, or a receiver that drops a repeated key (DingTalk's
            # msgUuid, a Standard Webhooks webhook-id) would drop another story's alert
            sid = store.store_id()
        # the key names the story and the channel, not the subscription: the store takes one alert per key, so
        # two subscriptions (or two processes) never queue one story twice to a channel
        if store.enqueue_alert(subscription=sub.name, channel=ch, story_id=processed.story_id,
                               article_id=processed.article_id, digest_at=digest_at,
                               payload={"keyword": keyword} if keyword else None,
                               idem_key=idem_key(ch, processed.story_id, sid)):
            n += 1
    return n, None


def follow_schedules(store: Store, cfg: Any) -> int:
    """Alerts waiting for a digest follow their subscription's schedule as configured now (a run or the daemon
    starting, after a config change): each goes at the schedule's next time after it was queued — at once when
    that is past, or when the subscription sends at once now; a line says what moved. A subscription no longer
    configured keeps its alerts' times (they go out at the digest time they were queued for). How many moved."""
    def schedule(spec: str) -> Any:
        return lambda queued: next_digest_time(spec, now=queued, tz=cfg.display.tz) if spec else None

    moved = store.follow_digest_schedules({sub.name: schedule(sub.digest) for sub in cfg.subscriptions}, utcnow())
    for m in moved:
        to = local_time(m["to"], cfg.display.tz) if m["to"] else "at once (the subscription sends at once now)"
        log.warning("digest %s: %d waiting alert(s) moved from %s to %s (the schedule changed)",
                    m["subscription"], m["alerts"], local_time(m["was"], cfg.display.tz), to)
    return sum(m["alerts"] for m in moved)
