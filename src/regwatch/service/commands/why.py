"""`regwatch why ARTICLE`: why a stored article was tagged, joined its story, and alerted — or did not.

Three answers, from the store and the config: every topic's score against its threshold with the
signals that fired and the required words missing (the current packs, beside the tags stored);
its story and why it belongs there; and for each subscription and channel, the alert it made or
the reason it made none (baseline, too old, a filter, a story whose alert it joined…).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import click

from ...alerts.verdict import UNDELIVERED, Verdict, verdicts
from ...defaults import MISSING_GRACE
from ...pipeline.article import Article
from ...pipeline.store import Store, UrlState
from ...pipeline.stories import nearest_candidate, same_story
from ..output import Clock, Table, echo, json_text, safe
from .common import Setup, UserError, config_option, json_option, user_errors
from .tools import print_explain


@click.command()
@click.argument("article")
@json_option
@config_option
@user_errors
def why(article: str, as_json: bool, config_path: str | None) -> None:
    """Why stored ARTICLE (its id, #id, or URL) was tagged, joined its story, and alerted each
    subscription — or, for each that it did not alert, why not."""
    setup = Setup(config_path)
    store, clock = setup.store, setup.clock
    a = store.find_article(article)
    if a is None:
        said = [_not_stored(r, clock) for r in store.url_states(article)]
        if said:
            raise UserError(f"{safe(article)} is not stored: " + "; ".join(said))
        raise UserError(f"no stored article {article!r} (give its id, as `regwatch search` shows it, or its URL)")
    stored = store.topics_of(a["id"])
    text = (a["body"] or "") + ("\n" + a["attachment_text"] if a.get("attachment_text") else "")
    explained = setup.classifier.explain(a["title"] or "", text)
    now_tagged = {t.topic for t in setup.classifier.classify(a["title"] or "", text)}
    story = store.story(a["story_id"]) if a["story_id"] is not None else None
    nearest = _nearest(store, a, story, setup.cfg.stories.window_days)
    joined = story_reason(store, a, story, nearest)
    results = verdicts(store, setup.cfg, a, {t["topic"] for t in stored})
    for v in results:       # an outbox row's error, stored by an older release too
        if v.alert is not None and v.alert.get("last_error"):
            v.alert = {**v.alert, "last_error": setup.cfg.error_shown(v.alert["last_error"], channel=v.channel)}
    corrections = store.labels_of(a["id"])
    channels = store.channel_states()
    if as_json:
        click.echo(json_text({
            "article": {"id": a["id"], "url": a["url"], "title": a["title"], "source": a["source"], "outlet": a["outlet"],
                        "published_at": clock.iso(a["published_at"]), "stored_at": clock.iso(a["fetched_at"]),
                        "baseline": bool(a["baseline"])},
            "topics_stored": [t["topic"] for t in stored], "topics_now": sorted(now_tagged), "explain": explained,
            "corrections": corrections,
            "story": {"id": a["story_id"], "copies": story["copies"] if story else 1, "reason": joined,
                      "nearest_candidate": nearest and {"id": nearest[0], "title": nearest[1], "copy": nearest[2],
                                                        "reason": nearest[3]}},
            "subscriptions": [{"subscription": v.subscription, "channel": v.channel, "outcome": v.outcome,
                               "reason": v.reason, "alert": _alert_json(v.alert, clock)} for v in results],
        }, indent=1))
        return

    echo((f"#{a['id']} {safe(a['title'] or '(no title)')}", "head"))
    echo(f"  {safe(a['url'])}")
    echo(f"  source {a['source']}" + (f" ({safe(a['outlet'])})" if a["outlet"] else "")
         + f" · published {clock.full(a['published_at'], 'unknown')} · stored {clock.full(a['fetched_at'])}"
         + (" · stored by a baseline" if a["baseline"] else ""))

    echo("")
    names = setup.topic_names
    stored_ids = [t["topic"] for t in stored]
    agree = "the current packs agree" if set(stored_ids) == now_tagged else \
        f"the current packs would tag {', '.join(sorted(now_tagged)) or 'nothing'} (`regwatch eval --store`)"
    echo(("topics", "head"), f" — stored: {', '.join(names.get(t, t) for t in stored_ids) or 'none'}; {agree}")
    if corrections:
        said = [("" if about else "not ") + names.get(t, t) for t, about in corrections.items()]
        wrong = [t for t, about in corrections.items() if about != (t in now_tagged)]
        echo(f"  your corrections (`regwatch label`): {', '.join(said)}"
             + (f" — the current packs disagree on {', '.join(wrong)} (`regwatch train … --labels` learns from them)"
                if wrong else " — the current packs agree"))
    print_explain(None, "", explained, names)

    echo("")
    if story:
        echo(("story", "head"), f" #{story['id']}: {story['copies']} "
             f"{'copy' if story['copies'] == 1 else 'copies'}, first seen {clock.full(story['first_seen'])}")
    else:
        echo(("story", "head"), " none")
    echo(f"  {joined}")

    echo("")
    echo(("subscriptions", "head"))
    if not results:
        echo(("  none configured", "dim"))
    t = Table([("subscription", 24, False), ("channel", 16, False), ("outcome", None, False), ("why", None, False)])
    for v in results:
        style = "ok" if v.alerted else "bad" if v.outcome in UNDELIVERED else "warn" if v.alert is not None else "dim"
        t.add(v.subscription, v.channel, (v.outcome, style), _why(v, clock, channels))
    t.print()


def _why(v: Verdict, clock: Clock, channels: dict[str, Any]) -> str:
    """The reason, with what the outbox says of the alert when there is one (the article's own, or the story's
    alert on the channel that a later copy joined), as `regwatch alerts` shows it: sent when, waiting for its digest,
    refused by a broken channel (broken since when), given up, waiting out a retry (until when), queued."""
    if v.alert is None:
        return v.reason
    a = v.alert
    error = safe(a["last_error"] or "")
    status = a["status"]
    if status == "sent":
        state = f"sent {clock.full(a['sent_at'])}" + (" in a digest" if a["message_kind"] == "digest" else "")
    elif status == "digest":
        state = f"digest pending: it goes out {clock.full(a['digest_at'])}"
    elif status == "broken":
        ch = channels.get(v.channel)
        since = (f"channel broken since {clock.full(ch['since'])}" if ch and ch["state"] == "broken"
                 else "the channel was broken")
        state = f"refused: {since}: {error}" if error else f"refused: {since}"
    elif status == "failed":
        state = f"failed: {error} (retries used up; `regwatch alerts resend` queues it again)"
    elif status == "retry":
        state = f"retrying at {clock.full(a['next_attempt_at'])}" + (f": {error}" if error else "")
    elif status == "sending":
        state = "being sent"
    else:
        state = "queued: the next run or the daemon sends it"
    if not v.own:
        return f"{state} — {v.reason}"
    return f"{state} — matched by {v.reason}" if v.reason else state


def _alert_json(a: dict[str, Any] | None, clock: Clock) -> dict[str, Any] | None:
    if a is None:
        return None
    return {**a, **{k: clock.iso(a[k]) for k in ("created_at", "sent_at", "digest_at", "next_attempt_at")}}


def _nearest(store: Store, a: dict[str, Any], story: dict[str, Any] | None,
             window_days: float) -> tuple[int, str, bool, str] | None:
    """For an article that began its story: the earlier article its story check compared first (id, title,
    whether it is a copy, the reason), judged again now; None when none shared enough text."""
    if story is None or story["first_article_id"] != a["id"]:
        return None
    article = Article(a["title"] or "", a["body"] or "", a.get("attachment_text") or "")
    found = nearest_candidate(store, article, a["id"], datetime.fromisoformat(a["fetched_at"]), window_days)
    if found is None:
        return None
    row = store.find_article(str(found[0]))
    return found[0], (row["title"] if row else None) or "", found[1], found[2]


def story_reason(store: Store, a: dict[str, Any], story: dict[str, Any] | None,
                 nearest: tuple[int, str, bool, str] | None = None) -> str:
    """Why an article is in its story: it began it (and the nearest earlier article it was compared with,
    and why that is not a copy), or which earlier copy it repeats and how (the story check's own reason,
    compared again now)."""
    if story is None:
        return "in no story"
    if story["first_article_id"] == a["id"]:
        if nearest is None:
            return "began this story (no earlier article within the story window was a copy of it)"
        aid, title, copy, reason = nearest
        if copy:
            return (f"began this story; compared again now, it is a copy of #{aid} ({safe(title)}): {reason} "
                    "(the story check of its time refused it)")
        return f"began this story: compared with #{aid} ({safe(title)}), refused: {reason}"
    earlier = [m for m in store.story_articles(story["id"]) if m["id"] < a["id"]]
    for m in earlier:
        if a["content_hash"] and m["content_hash"] == a["content_hash"]:
            return f"joined it: identical text to #{m['id']} ({safe(m['title'])})"
    last = ""
    for m in reversed(earlier):
        ok, reason = same_story(m["title"] or "", m["body"] or "", a["title"] or "", a["body"] or "")
        if ok:
            return f"joined it: {reason} of #{m['id']} ({safe(m['title'])})"
        last = reason
    return f"joined it when it was stored; compared again now with its earlier copies: {last or 'none left'}"


def _not_stored(row, clock) -> str:
    """Why a source did not store an article URL, from its `source_urls` row."""
    since = clock.full(row["at"])
    if row["state"] == UrlState.SKIPPED:
        return f"{row['source']} skipped it for good ({safe(row['reason'] or '')}, {since})"
    if row["state"] == UrlState.MISSING:
        return (f"{row['source']} finds it missing since {since} (HTTP 404/410): it is asked again each run, "
                f"skipped for good after {MISSING_GRACE / 3600:g} h")
    if row["state"] == UrlState.SLOW:
        return (f"{row['source']}: its attachment took longer than {_limit(row['reason'])} once ({since}): it is "
                f"fetched again next run, and stored without the attachment's text if it is over the limit again")
    slow = f"; its attachment took longer than {_limit(row['reason'])} once" if row["reason"] else ""
    return (f"{row['source']}'s baseline named it ({since}): it is stored as baseline, without alerts, when it "
            f"comes{slow}")


def _limit(note: str | None) -> str:
    """The limit a first attachment timeout's note names (`… took longer than 3 s (the limit: extract_timeout) …`)."""
    said = (note or "").partition("took longer than ")[2]
    return said.partition(";")[0] or "extract_timeout"
