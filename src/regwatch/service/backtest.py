"""`regwatch eval --store`: re-tag the stored articles with the current topic packs and show what
would have been tagged, and would have alerted, differently — so a rule can change without fear."""

from __future__ import annotations

from typing import Any

from ..alerts.subscriptions import wants
from ..pipeline.classify import Classifier
from ..pipeline.store import Store


def backtest(store: Store, classifier: Classifier, subscriptions, since: str | None = None) -> dict[str, Any]:
    """Re-tag stored articles with the current packs; what would be tagged, and alert, differently.
    Alerts are counted per story, as they are sent: two copies of one story are one alert."""
    changed: list[dict[str, Any]] = []
    gained: dict[str, set[int]] = {}
    lost: dict[str, set[int]] = {}
    stories: set[int] = set()
    n = 0
    for row in store.stored_articles(since):
        n += 1
        story = row["story_id"] if row["story_id"] is not None else -row["id"]
        stories.add(story)
        old = set(row["topics"])                      # as stored (the store is read a page at a time)
        text = (row["body"] or "") + ("\n" + row["attachment_text"] if row["attachment_text"] else "")
        tags = classifier.classify(row["title"] or "", text)   # as the pipeline did: the attachment counts
        new = {t.topic for t in tags}
        if old == new:
            continue
        entry = {"id": row["id"], "title": row["title"], "url": row["url"], "added": sorted(new - old),
                 "removed": sorted(old - new), "evidence": {t.topic: [e["term"] for e in t.evidence[:4]]
                                                            for t in tags if t.topic in new - old}}
        if not row["baseline"]:
            for sub in subscriptions:
                before = wants(sub, source=row["source"], topics=old, title=row["title"] or "", body=row["body"] or "")
                after = wants(sub, source=row["source"], topics=new, title=row["title"] or "", body=row["body"] or "")
                if after and not before:
                    gained.setdefault(sub.name, set()).add(story)
                    entry.setdefault("would_alert", []).append(sub.name)
                elif before and not after:
                    lost.setdefault(sub.name, set()).add(story)
                    entry.setdefault("would_not_alert", []).append(sub.name)
        changed.append(entry)
    return {"articles": n, "stories": len(stories), "changed": changed,
            "alerts_gained": {k: len(v) for k, v in gained.items()}, "alerts_lost": {k: len(v) for k, v in lost.items()}}
