"""Read-side queries of the store: search, export, sources, the outbox."""

from __future__ import annotations

import json
import re
import sqlite3
from datetime import datetime
from typing import Any, Iterator

from .searchtext import QueryError, fts_query
from .store import Store
from .timeutil import iso


def _topics_by_article(store: Store, ids: list[int]) -> dict[int, list[str]]:
    out: dict[int, list[str]] = {i: [] for i in ids}
    if ids:
        marks = ",".join("?" * len(ids))
        for r in store.q(f"SELECT article_id, topic FROM article_topics WHERE article_id IN ({marks}) ORDER BY score DESC", ids):
            out[r["article_id"]].append(r["topic"])
    return out


RANK_WINDOW = 500


def search(store: Store, query: str, *, topic: str | None = None, source: str | None = None,
           since: datetime | None = None, until: datetime | None = None, limit: int = 20) -> list[dict[str, Any]]:
    """Ranked full-text results with a highlighted snippet, topics and story size."""
    match = fts_query(query)
    where, params = ["articles_fts MATCH ?"], [match]
    if topic:
        where.append("a.id IN (SELECT article_id FROM article_topics WHERE topic = ?)")
        params.append(topic)
    if source:
        where.append("a.source = ?")
        params.append(source)
    if since:
        where.append("coalesce(a.published_at, a.fetched_at) >= ?")
        params.append(iso(since))
    if until:
        where.append("coalesce(a.published_at, a.fetched_at) < ?")
        params.append(iso(until))
    # Relevance among the newest matches: FTS5 walks its index newest-first cheaply, while ranking
    # every match of a common two-character word (征信: a tenth of a finance store) costs ~1 µs each.
    sql = f"""WITH hits AS (
                SELECT a.id AS id, bm25(articles_fts, 3.0, 1.0) AS score
                FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid
                WHERE {' AND '.join(where)} ORDER BY articles_fts.rowid DESC LIMIT {RANK_WINDOW})
              SELECT a.id, a.url, a.title, a.source, a.outlet, a.published_at, a.story_id,
                     coalesce(s.copies, 1) AS story_size, a.body
              FROM hits JOIN articles a ON a.id = hits.id LEFT JOIN stories s ON s.id = a.story_id
              ORDER BY hits.score LIMIT ?"""
    try:
        rows = store.q(sql, [*params, limit])
    except sqlite3.OperationalError as e:
        raise QueryError(f"cannot search for {query!r}: {e}") from None
    topics = _topics_by_article(store, [r["id"] for r in rows])
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


def export_rows(store: Store, since: datetime | None = None, topic: str | None = None) -> Iterator[dict[str, Any]]:
    where, params = [], []
    if since:
        where.append("a.fetched_at >= ?")
        params.append(iso(since))
    if topic:
        where.append("a.id IN (SELECT article_id FROM article_topics WHERE topic = ?)")
        params.append(topic)
    sql = ("SELECT a.id, a.url, a.source, a.outlet, a.title, a.lang, a.published_at, a.fetched_at, a.story_id, "
           "coalesce(s.copies, 1) AS story_size, a.body, "
           "(SELECT json_group_array(json_object('topic', t.topic, 'score', t.score)) FROM article_topics t "
           " WHERE t.article_id = a.id) AS topics "
           "FROM articles a LEFT JOIN stories s ON s.id = a.story_id"
           + (" WHERE " + " AND ".join(where) if where else "") + " ORDER BY a.id")
    cur = store.conn.execute(sql, params)
    cols = [c[0] for c in cur.description]
    for row in cur:
        r = dict(zip(cols, row))
        r["topics"] = [t["topic"] for t in json.loads(r["topics"] or "[]")]
        yield r


def sources_overview(store: Store, names: list[str]) -> list[dict[str, Any]]:
    out = []
    for name in names:
        st = store.source_state(name)
        last = store.recent_runs(name, 1)
        run = last[0] if last else {}
        out.append({"source": name, "state": st["state"] if last else "never run",
                     "baselined": st["baselined_at"] is not None, "baselined_at": st["baselined_at"],
                     "last_run": run.get("finished_at"), "last_success": st["last_success_at"],
                     "found": run.get("found"), "new": run.get("new"), "errors": run.get("errors"),
                     "deferred": run.get("deferred"), "too_old": run.get("too_old"),
                     "statuses": json.loads(run.get("statuses") or "{}"), "last_error": st["last_error"],
                     "skipped": store.count_skipped(name),
                     "articles": store.one("SELECT count(*) FROM articles WHERE source = ?", (name,))})
    return out


def outbox(store: Store, status: str | None = None, limit: int = 50) -> list[dict[str, Any]]:
    sql = ("SELECT al.id, al.kind, al.subscription, al.channel, al.status, al.attempts, al.created_at, al.sent_at, "
           "al.next_attempt_at, al.last_error, a.title FROM alerts al LEFT JOIN articles a ON a.id = al.article_id")
    params: list[Any] = []
    if status:
        sql += " WHERE al.status = ?"
        params.append(status)
    sql += " ORDER BY al.id DESC LIMIT ?"
    return store.q(sql, [*params, limit])
