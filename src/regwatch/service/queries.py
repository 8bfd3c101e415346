"""What the read commands show of the store: search results with snippets, export, sources, the outbox."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from ..pipeline.store import NEVER_RUN, Store, shown_state


def search(store: Store, query: str, *, topic: str | None = None, source: str | None = None,
           since: datetime | None = None, until: datetime | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Ranked full-text results with a highlighted snippet, topics and story size."""
    rows = store.search(query, topic=topic, source=source, since=since, until=until, limit=limit)
    topics = store.topics_by_article([r["id"] for r in rows])
    for r in rows:
        r["topics"] = topics[r["id"]]
        r["snippet"] = make_snippet(r.pop("body") or "", query_terms(query))
    return rows


def query_terms(query: str) -> list[str]:
    """The words and phrases of a query, without its operators (for highlighting)."""
    terms = re.findall(r'"([^"]+)"|([^\s()"]+)', query)
    return [p or w for p, w in terms if (p or w) not in ("AND", "OR", "NOT")]


def make_snippet(text: str, terms: list[str], width: int = 40) -> str:
    """A window of the text around the first term found, the term in [brackets]."""
    low = text.lower()
    hits = [(low.find(t.lower()), t) for t in terms if t and low.find(t.lower()) >= 0]
    if not hits:
        return text[: width * 2].replace("\n", " ") + ("…" if len(text) > width * 2 else "")
    pos, term = min(hits)
    s, e = max(0, pos - width), min(len(text), pos + len(term) + width)
    out = text[s:pos] + "[" + text[pos : pos + len(term)] + "]" + text[pos + len(term) : e]
    return ("…" if s else "") + out.replace("\n", " ") + ("…" if e < len(text) else "")


def sources_overview(store: Store | None, names: list[str]) -> list[dict[str, Any]]:
    """Each source's state and last run (and the worker that ran it), as `regwatch sources` shows them (without a
    store: never run)."""
    out = []
    for name in names:
        if store is None:
            out.append({"source": name, "state": NEVER_RUN, "baselined": False, "baselined_at": None, "last_run": None,
                        "last_success": None, "found": None, "new": None, "errors": None, "deferred": None,
                        "too_old": None, "statuses": {}, "last_error": None, "last_message": None, "skipped": 0,
                        "articles": 0, "worker": None})
            continue
        st = store.source_state(name)
        last = store.recent_runs(name, 1)
        run = last[0] if last else {}
        out.append({"source": name, "state": shown_state(st["state"]) if last else NEVER_RUN,
                     "baselined": st["baselined_at"] is not None, "baselined_at": st["baselined_at"],
                     "last_run": run.get("finished_at"), "last_success": st["last_success_at"],
                     "found": run.get("found"), "new": run.get("new"), "errors": run.get("errors"),
                     "deferred": run.get("deferred"), "too_old": run.get("too_old"),
                     "statuses": json.loads(run.get("statuses") or "{}"), "last_error": st["last_error"],
                     "last_message": run.get("message"),
                     "skipped": store.count_skipped(name),
                     "articles": store.count_articles(source=name),
                     "worker": run.get("worker")})       # the worker that ran it last (`worker_id`)
    return out

