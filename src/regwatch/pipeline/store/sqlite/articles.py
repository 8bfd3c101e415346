"""Articles, their topics, and full-text search (FTS5 over the bigram text of `searchtext`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from ...searchtext import QueryError, fts_query, fts_text
from ...timeutil import iso, utcnow
from ..base import ArticleRecord, Row, TopicTag
from .connection import SQLiteConnection

# Relevance is ranked among this many newest matches: FTS5 walks its index newest-first cheaply, while
# ranking every match of a common two-character word (征信: a tenth of a finance store) costs ~1 µs each.
RANK_WINDOW = 500
TITLE_WEIGHT, BODY_WEIGHT = 3.0, 1.0          # bm25 weights of the index's columns
IN_CHUNK = 500                                # values bound in one `IN (…)`


class Articles(SQLiteConnection):
    def has_url(self, url: str) -> bool:
        return self.conn.execute("SELECT 1 FROM articles WHERE url = ?", (url,)).fetchone() is not None

    def insert_article(self, a: ArticleRecord, story_id: int | None = None) -> int:
        cur = self.conn.execute(
            """INSERT INTO articles (url, source, title, body, lang, outlet, published_at, fetched_at,
                   content_hash, story_id, attachment_url, attachment_text, baseline)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            (a.url, a.source, a.title, a.body, a.lang, a.outlet, iso(a.published_at), iso(utcnow()),
             a.content_hash, story_id, a.attachment_url, a.attachment_text, int(a.baseline)),
        )
        aid = int(cur.lastrowid or 0)
        self.conn.execute(
            "INSERT INTO articles_fts(rowid, title, body) VALUES (?,?,?)",
            (aid, a.search_title if a.search_title is not None else fts_text(a.title or ""),
             a.search_text if a.search_text is not None else fts_text((a.body or "") + "\n" + (a.attachment_text or ""))),
        )
        return aid

    def set_topics(self, article_id: int, tags: Iterable[TopicTag], new: bool = False) -> None:
        if not new:
            self.conn.execute("DELETE FROM article_topics WHERE article_id = ?", (article_id,))
        self.conn.executemany(
            "INSERT INTO article_topics (article_id, topic, score, evidence) VALUES (?,?,?,?)",
            [(article_id, t.topic, round(t.score, 3), json.dumps(t.evidence, ensure_ascii=False)) for t in tags],
        )

    def topics_of(self, article_id: int) -> list[Row]:
        rows = self.q("SELECT topic, score, evidence FROM article_topics WHERE article_id = ? ORDER BY score DESC",
                      (article_id,))
        for r in rows:
            r["evidence"] = json.loads(r["evidence"])
        return rows

    def topics_by_article(self, ids: list[int]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {i: [] for i in ids}
        for i in range(0, len(ids), IN_CHUNK):
            chunk = ids[i:i + IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            for aid, topic in self.conn.execute(
                    f"SELECT article_id, topic FROM article_topics WHERE article_id IN ({marks}) ORDER BY score DESC",
                    chunk):
                out[aid].append(topic)
        return out

    def article(self, article_id: int) -> Row | None:
        rows = self.q("SELECT * FROM articles WHERE id = ?", (article_id,))
        return rows[0] if rows else None

    def find_article(self, url_or_id: str) -> Row | None:
        key = url_or_id.strip().lstrip("#")
        rows = self.q("SELECT * FROM articles WHERE id = ?", (int(key),)) if key.isdigit() else []
        rows = rows or self.q("SELECT * FROM articles WHERE url = ?", (url_or_id.strip(),))
        return rows[0] if rows else None

    def search(self, query: str, *, topic: str | None = None, source: str | None = None,
               since: datetime | None = None, until: datetime | None = None, limit: int = 20) -> list[Row]:
        where, params = ["articles_fts MATCH ?"], [fts_query(query)]
        if topic:
            where.append("a.id IN (SELECT article_id FROM article_topics WHERE topic = ?)")
            params.append(topic)
        if source:
            where.append("a.source = ?")
            params.append(source)
        if since:
            where.append("coalesce(a.published_at, a.fetched_at) >= ?")
            params.append(iso(since) or "")
        if until:
            where.append("coalesce(a.published_at, a.fetched_at) < ?")
            params.append(iso(until) or "")
        sql = f"""WITH hits AS (
                    SELECT a.id AS id, bm25(articles_fts, {TITLE_WEIGHT}, {BODY_WEIGHT}) AS score
                    FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid
                    WHERE {' AND '.join(where)} ORDER BY articles_fts.rowid DESC LIMIT {RANK_WINDOW})
                  SELECT a.id, a.url, a.title, a.source, a.outlet, a.published_at, a.fetched_at, a.story_id,
                         coalesce(s.copies, 1) AS story_size, a.body
                  FROM hits JOIN articles a ON a.id = hits.id LEFT JOIN stories s ON s.id = a.story_id
                  ORDER BY hits.score LIMIT ?"""
        try:
            return self.q(sql, [*params, limit])
        except sqlite3.OperationalError as e:
            raise QueryError(f"cannot search for {query!r}: {e}") from None

    def export_articles(self, since: datetime | None = None, topic: str | None = None) -> Iterator[Row]:
        where: list[str] = []
        params: list[Any] = []
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
        for r in self.rows(sql, params):
            r["topics"] = [t["topic"] for t in json.loads(r["topics"] or "[]")]
            yield r

    def stored_articles(self, since: str | None = None) -> Iterator[Row]:
        sql = ("SELECT id, url, source, outlet, title, body, attachment_text, published_at, fetched_at, story_id, "
               "baseline FROM articles")
        params: tuple[Any, ...] = ()
        if since:
            sql += " WHERE fetched_at >= ?"
            params = (since,)
        return iter(self.q(sql + " ORDER BY id", params))

    def count_articles(self, *, source: str | None = None, since: str | None = None) -> int:
        where, params = [], []
        if source is not None:
            where.append("source = ?")
            params.append(source)
        if since is not None:
            where.append("fetched_at >= ?")
            params.append(since)
        return int(self.one("SELECT count(*) FROM articles" + (" WHERE " + " AND ".join(where) if where else ""),
                            params) or 0)

    def load_articles(self, rows: Iterable[tuple[int, str, str, str, str, str, int]]) -> None:
        with self.tx():
            self.conn.executemany("INSERT INTO articles (id, url, source, title, body, fetched_at, story_id) "
                                  "VALUES (?,?,?,?,?,?,?)", rows)
