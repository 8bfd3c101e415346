"""`regwatch eval --store`: re-tag the stored articles with the current topic packs and show what
would have been tagged, and would have alerted, differently — so a rule can change without fear."""

from __future__ import annotations

from typing import Any

from ..alerts.subscriptions import wants
from ..pipeline.classify import Classifier
from ..pipeline.store import Store


def backtest(store: Store, classifier: Classifier, subscriptions, since: str | None = None) -> dict[str, Any]:
    """Re-tag stored articles with the current packs; what would be tagged, and alert, differently."""
    changed: list[dict[str, Any]] = []
    alerts_gained: dict[str, int] = {}
    alerts_lost: dict[str, int] = {}
    n = 0
    for row in store.stored_articles(since):
        n += 1
        old = set(store.topics_by_article([row["id"]])[row["id"]])
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
                    alerts_gained[sub.name] = alerts_gained.get(sub.name, 0) + 1
                    entry.setdefault("would_alert", []).append(sub.name)
                elif before and not after:
                    alerts_lost[sub.name] = alerts_lost.get(sub.name, 0) + 1
                    entry.setdefault("would_not_alert", []).append(sub.name)
        changed.append(entry)
    return {"articles": n, "changed": changed, "alerts_gained": alerts_gained, "alerts_lost": alerts_lost}
