"""Why a stored article alerted a subscription, or why not; and what a subscription would send.

The rules are those `enqueue_for` applied when the article was stored, from the same functions
(`subscriptions.held_back`, then `judge`), read back from the store: an article stored by a baseline
never alerts; nor one older than `crawl.max_article_age` when it was stored; nor a copy joining a
story that began in a baseline; then the subscription's filters (sources, topics, keywords); then one
alert per story and channel, whichever subscriptions route it there — a later copy joins the story's alert. The topics are
those stored with the article (what the classifier said then; `regwatch eval --store` re-tags).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..pipeline.store import Store
from .subscriptions import held_back, judge


def _when(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _held_back(store: Store, cfg: Any, article: dict[str, Any], first_of_story: bool) -> tuple[str, str] | None:
    return held_back(store, cfg, baseline=bool(article["baseline"]), source=article["source"],
                     published=_when(article["published_at"]), stored=_when(article["fetched_at"]),
                     story_id=article["story_id"], first_of_story=first_of_story)


# an alert's outcome by its status: `alerted` only once the channel took it (sent, or a copy joining the story's alert
# once that was sent: `already alerted`); else where it is: waiting for its digest, refused by a broken channel,
# given up, waiting out a retry, or queued
DELIVERY = {"sent": "alerted", "digest": "pending in digest", "broken": "refused", "failed": "failed",
            "retry": "retrying", "pending": "queued", "sending": "queued"}
DELIVERED = ("alerted", "already alerted")
UNDELIVERED = ("refused", "failed")


def delivery(alert: dict[str, Any], joined: bool = False) -> str:
    """The outcome of the article's own alert (or, `joined`, of a copy that joined its story's alert on the channel):
    what the outbox says of it now."""
    said = DELIVERY.get(alert["status"], str(alert["status"]))
    return "already alerted" if joined and said == "alerted" else said


@dataclass
class Verdict:
    """One subscription and channel, for one article."""

    subscription: str
    channel: str
    outcome: str                      # alerted | pending in digest | refused | failed | retrying | queued |
                                      # already alerted | baseline | too old | baseline story | source filtered |
                                      # topic not matched | keyword not matched | not queued
    reason: str
    alert: dict[str, Any] | None = None    # the outbox row that carried it (its own, or the story's)
    own: bool = False                       # the alert is the article's own (not the story's that it joined)

    @property
    def alerted(self) -> bool:
        """The channel took it (the article's own alert, or the story's that a copy joined)."""
        return self.outcome in DELIVERED


def verdicts(store: Store, cfg: Any, article: dict[str, Any], topics: set[str]) -> list[Verdict]:
    """For each configured subscription and channel: did this stored article alert it, and if not, why."""
    story = store.story(article["story_id"]) if article["story_id"] is not None else None
    first = story is None or story["first_article_id"] == article["id"]
    alerts = store.story_alerts(article["story_id"]) if story else []
    held = _held_back(store, cfg, article, first)
    out = []
    for sub in cfg.subscriptions:
        j = judge(sub, source=article["source"], topics=topics, title=article["title"] or "", body=article["body"] or "")
        for ch in sub.channels:
            theirs = [a for a in alerts if a["channel"] == ch]      # one alert per story per channel, of any subscription
            own = next((a for a in theirs if a["article_id"] == article["id"] and a["subscription"] == sub.name), None)
            if own is not None:
                out.append(Verdict(sub.name, ch, delivery(own), j.reason if j.wants else "", own, own=True))
            elif held:
                out.append(Verdict(sub.name, ch, held[0], held[1]))
            elif not j.wants:
                outcome, _, reason = j.reason.partition(": ")
                out.append(Verdict(sub.name, ch, outcome, reason))
            elif theirs and theirs[0]["subscription"] == sub.name:
                a = theirs[0]
                out.append(Verdict(sub.name, ch, delivery(a, joined=True),
                                   f"joined the story's alert (alert #{a['id']}, from article #{a['article_id']})", a))
            elif theirs:
                a = theirs[0]
                out.append(Verdict(sub.name, ch, delivery(a, joined=True),
                                   f"the channel has this story from subscription {a['subscription']} (alert #{a['id']}, "
                                   f"from article #{a['article_id']}): one alert per story per channel", a))
            else:
                out.append(Verdict(sub.name, ch, "not queued",
                                   "it matches now, but no alert was queued when it was stored: the subscription, its "
                                   "channels or the topic packs changed since"))
    return out


_NOT_KEPT = ("body", "attachment_text")      # what a story listed by `would_send` does not keep of its copy's row


@dataclass
class WouldSend:
    """A story a subscription would have alerted, from the copy that alerts it (the first matching copy that
    `held_back` lets through, as `enqueue_for` decides each copy as it is stored); or, with `everything`, a
    story none of whose copies could alert, from its first matching copy."""

    story_id: int
    article: dict[str, Any]
    keyword: str | None
    copies: int = 1                                   # matching copies in the period
    held: str | None = None                           # why it would not alert (with `everything`)
    alerts: list[dict[str, Any]] = field(default_factory=list)   # what the outbox holds for it on the subscription's channels


def would_send(store: Store, cfg: Any, sub: Any, since: str | None, everything: bool = False,
               limit: int | None = None) -> tuple[list[WouldSend], int]:
    """The stories a subscription would have alerted from what was stored since then, newest first,
    without sending anything; and how many more matched but could not alert (baseline, too old).
    With `everything`, those are listed too, each with its reason. The store is read a page at a time and
    a story keeps its copy's row without its text; the outbox is read for the first `limit` stories.

    Every copy is judged as it was when stored (`held_back`, then the subscription's filters: what
    `enqueue_for` applies to each copy): a story alerts when any of its copies passes both, so a story
    whose first copy was too old alerts with a later, fresh copy."""
    by_story: dict[int, WouldSend] = {}
    held_only: dict[int, int] = {}                    # stories matched so far only by copies that cannot alert: how many
    for a in store.stored_articles(since):                 # a page at a time; `topics` as stored: what the classifier said then
        j = judge(sub, source=a["source"], topics=set(a["topics"]), title=a["title"] or "", body=a["body"] or "")
        if not j.wants:
            continue
        sid = a["story_id"] if a["story_id"] is not None else -a["id"]
        known = by_story.get(sid)
        if known is not None and known.held is None:
            known.copies += 1                         # the story alerts already: a later copy joins it
            continue
        story = store.story(a["story_id"]) if a["story_id"] is not None else None
        held = _held_back(store, cfg, a, story is None or story["first_article_id"] == a["id"])
        a = {k: v for k, v in a.items() if k not in _NOT_KEPT}
        if held is None:                              # this copy alerts the story
            copies = (known.copies if known is not None else held_only.pop(sid, 0)) + 1
            by_story[sid] = WouldSend(sid, a, j.keyword, copies=copies)
        elif known is not None:
            known.copies += 1
        elif everything:
            by_story[sid] = WouldSend(sid, a, j.keyword, held=held[1])
        else:
            held_only[sid] = held_only.get(sid, 0) + 1
    out = sorted(by_story.values(), key=lambda w: w.article["fetched_at"] or "", reverse=True)
    for w in out[:limit]:
        if w.story_id > 0:
            # its channels' (one alert per story per channel: another subscription's may carry it there)
            w.alerts = [x for x in store.story_alerts(w.story_id) if x["channel"] in sub.channels]
    return out, len(held_only)
