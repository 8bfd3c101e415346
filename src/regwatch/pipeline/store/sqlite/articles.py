"""Articles, their topics, and full-text search (FTS5 over the bigram text of `searchtext`): what differs
on SQLite (the shared queries are `shared/articles.py`'s)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Iterator
from datetime import datetime

from ...searchtext import QueryError, fts_query, fts_text
from ..base import ArticleRecord, Row
from ..shared import articles as shared
from ..shared.sql import where
from .connection import SQLiteConnection

IN_CHUNK = 500                                # values bound in one `IN (…)`


class Articles(shared.Articles, SQLiteConnection):
    def insert_article(self, a: ArticleRecord, story_id: int | None = None) -> int:
        aid = int(self.conn.execute(shared.INSERT_ARTICLE, shared.article_values(a, story_id)).lastrowid or 0)
        self.conn.execute(
            "INSERT INTO articles_fts(rowid, title, body) VALUES (?,?,?)",
            (aid, a.search_title if a.search_title is not None else fts_text(a.title or ""),
             a.search_text if a.search_text is not None else fts_text(shared.searched_text(a))),
        )
        return aid

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

    def search(self, query: str, *, topic: str | None = None, source: str | None = None,
               since: datetime | None = None, until: datetime | None = None, limit: int = 20) -> list[Row]:
        cond, params = where(("articles_fts MATCH ?", fts_query(query)), *shared.search_filters(topic, source, since, until))
        sql = f"""WITH hits AS (
                    SELECT a.id AS id, bm25(articles_fts, {shared.TITLE_WEIGHT}, {shared.BODY_WEIGHT}) AS score
                    FROM articles_fts JOIN articles a ON a.id = articles_fts.rowid
                    {cond} ORDER BY articles_fts.rowid DESC LIMIT {max(shared.RANK_WINDOW, int(limit))})
                  {shared.SEARCH_RESULTS} ORDER BY hits.score LIMIT ?"""
        try:
            return self.q(sql, [*params, limit])
        except sqlite3.OperationalError as e:
            raise QueryError(f"cannot search for {query!r}: {e}") from None

    def export_articles(self, since: datetime | None = None, topic: str | None = None) -> Iterator[Row]:
        cond, params = where(*shared.export_filters(since, topic))
        sql = (f"SELECT {shared.EXPORT_COLUMNS}, "
               "(SELECT json_group_array(json_object('topic', t.topic, 'score', t.score)) FROM article_topics t "
               " WHERE t.article_id = a.id) AS topics "
               "FROM articles a LEFT JOIN stories s ON s.id = a.story_id" + cond + " ORDER BY a.id")
        for r in self.rows(sql, params):
            r["topics"] = [t["topic"] for t in json.loads(r["topics"] or "[]")]
            yield r

    def load_articles(self, rows: Iterable[tuple[int, str, str, str, str, str, int]]) -> None:
        with self.tx():
            self.conn.executemany("INSERT INTO articles (id, url, source, title, body, fetched_at, story_id) "
                                  "VALUES (?,?,?,?,?,?,?)", rows)
