"""Articles and their topics: the queries both engines share (storing an article, search, export and
bulk loads are the engines', over the statement, filters and result columns defined here)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from datetime import datetime
from typing import Any

from ....defaults import READ_PAGE
from ...timeutil import iso, utcnow
from ..base import ArticleRecord, Row, TopicTag
from .sql import Connection, where

# Relevance is ranked among this many newest matches (or --limit of them, if more): both engines walk their index
# newest-first cheaply, while
# ranking every match of a common two-character word (征信: a tenth of a finance store) costs ~1 µs each.
RANK_WINDOW = 500
TITLE_WEIGHT, BODY_WEIGHT = 3.0, 1.0          # how much a match in the title and in the body weigh in the ranking
MAX_ID_DIGITS = 18                  # an id written with more digits is no id of this store (nor a 64-bit integer)

# what `search` returns of each hit, the engines' ranked `hits (id, score)` joined to its article and story
SEARCH_RESULTS = ("SELECT a.id, a.url, a.title, a.source, a.outlet, a.published_at, a.fetched_at, a.story_id, "
                  "coalesce(s.copies, 1) AS story_size, a.body "
                  "FROM hits JOIN articles a ON a.id = hits.id LEFT JOIN stories s ON s.id = a.story_id")
# what `export_articles` returns of each article, but for its `topics` (each engine aggregates them its way)
EXPORT_COLUMNS = ("a.id, a.url, a.source, a.outlet, a.title, a.lang, a.published_at, a.fetched_at, a.story_id, "
                  "coalesce(s.copies, 1) AS story_size, a.body")

# how an article is stored (`insert_article`: each engine adds its search entry), with `article_values`' values
INSERT_ARTICLE = ("INSERT INTO articles (url, source, title, body, lang, outlet, published_at, fetched_at, content_hash, "
                  "story_id, attachment_url, attachment_text, baseline) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)")


def article_values(a: ArticleRecord, story_id: int | None) -> tuple[Any, ...]:
    """`INSERT_ARTICLE`'s values: the article, fetched now (an empty attachment text is stored as NULL)."""
    return (a.url, a.source, a.title, a.body, a.lang, a.outlet, iso(a.published_at), iso(utcnow()),
            a.content_hash, story_id, a.attachment_url, a.attachment_text or None, int(a.baseline))


def searched_text(a: ArticleRecord) -> str:
    """What the search index holds of an article's body: the body and its attachment's text."""
    return (a.body or "") + "\n" + (a.attachment_text or "")


def search_filters(topic: str | None, source: str | None, since: datetime | None,
                   until: datetime | None) -> tuple[tuple[str, Any], ...]:
    """`search`'s filters, as `where()` conditions over `articles a`."""
    return (("a.id IN (SELECT article_id FROM article_topics WHERE topic = ?)", topic or None),
            ("a.source = ?", source or None),
            ("coalesce(a.published_at, a.fetched_at) >= ?", (iso(since) or "") if since else None),
            ("coalesce(a.published_at, a.fetched_at) < ?", (iso(until) or "") if until else None))


def export_filters(since: datetime | None, topic: str | None) -> tuple[tuple[str, Any], ...]:
    """`export_articles`' filters, as `where()` conditions over `articles a`."""
    return (("a.fetched_at >= ?", iso(since) if since else None),
            ("a.id IN (SELECT article_id FROM article_topics WHERE topic = ?)", topic or None))


class Articles(Connection):
    def has_url(self, url: str) -> bool:
        return self.one("SELECT 1 FROM articles WHERE url = ?", (url,)) is not None

    def set_topics(self, article_id: int, tags: Iterable[TopicTag], new: bool = False) -> None:
        rows = [(article_id, t.topic, round(t.score, 3), json.dumps(t.evidence, ensure_ascii=False)) for t in tags]
        with self.tx():
            if not new:
                self.x("DELETE FROM article_topics WHERE article_id = ?", (article_id,))
            self.many("INSERT INTO article_topics (article_id, topic, score, evidence) VALUES (?,?,?,?)", rows)

    def topics_of(self, article_id: int) -> list[Row]:
        rows = self.q("SELECT topic, score, evidence FROM article_topics WHERE article_id = ? ORDER BY score DESC",
                      (article_id,))
        for r in rows:
            r["evidence"] = json.loads(r["evidence"])
        return rows

    def article(self, article_id: int) -> Row | None:
        rows = self.q("SELECT * FROM articles WHERE id = ?", (article_id,))
        return rows[0] if rows else None

    def find_article(self, url_or_id: str) -> Row | None:
        key = url_or_id.strip().lstrip("#")
        rows = self.q("SELECT * FROM articles WHERE id = ?", (int(key),)) if key.isdigit() and len(key) <= MAX_ID_DIGITS else []
        rows = rows or self.q("SELECT * FROM articles WHERE url = ?", (url_or_id.strip(),))
        return rows[0] if rows else None

    def topics_by_article(self, ids: list[int]) -> dict[int, list[str]]:
        """Each engine's (SQLite binds the ids in chunks, PostgreSQL as one array)."""
        raise NotImplementedError

    def stored_articles(self, since: str | None = None, *, page: int = READ_PAGE) -> Iterator[Row]:
        # a page at a time, each read after the last one's id (no cursor held open between pages: the caller
        # queries the store meanwhile), with the page's topics in one query
        after = 0
        while True:
            cond, params = where(("fetched_at >= ?", since or None), ("id > ?", after))
            rows = self.q("SELECT id, url, source, outlet, title, body, attachment_text, published_at, fetched_at, "
                          "story_id, baseline FROM articles" + cond + " ORDER BY id LIMIT ?", [*params, page])
            if not rows:
                return
            topics = self.topics_by_article([r["id"] for r in rows])
            for r in rows:
                r["topics"] = topics[r["id"]]
            yield from rows
            after = rows[-1]["id"]

    def count_articles(self, *, source: str | None = None, since: str | None = None) -> int:
        cond, params = where(("source = ?", source), ("fetched_at >= ?", since))
        return int(self.one("SELECT count(*) FROM articles" + cond, params) or 0)
