"""Articles, their topics, and full-text search: the bigram text of `searchtext` as a `tsvector` with a
GIN index (title weight A, body D), queried with the same query language as a `tsquery`: what differs on
PostgreSQL (the shared queries are `shared/articles.py`'s)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from datetime import datetime

import psycopg

from ...searchtext import QueryError, fold, fts_text, ts_lexeme, ts_query
from ..base import ArticleRecord, Row
from ..shared import articles as shared
from ..shared.sql import where
from .connection import PostgresConnection

# ts_rank's weights of D (body), C, B, A (title)
RANK_WEIGHTS = [shared.BODY_WEIGHT / shared.TITLE_WEIGHT, 0.0, 0.0, 1.0]
MAX_POSITION = 16383                          # a tsvector's largest position (later terms still match, not as phrases)
MAX_POSITIONS = 255                           # positions kept per term
MAX_DOC_CHARS = 900_000                       # a tsvector is at most 1 MB: a longer text's rarest terms are left out


def ts_doc(title: str, body: str, *, search_title: str | None = None, search_text: str | None = None) -> str:
    """The `tsvector` of an article, written out: its title's terms (weight A), then its body's (D). The
    terms are `fts_text`'s of title and body, or the ones given (an `Article`'s, made once)."""
    positions: dict[str, list[str]] = {}
    pos = 0
    for terms, weight in ((search_title if search_title is not None else fts_text(title), "A"),
                          (search_text if search_text is not None else fts_text(body), "")):
        for term in terms.split():
            pos = min(pos + 1, MAX_POSITION)
            at = positions.setdefault(fold(term), [])
            entry = f"{pos}{weight}"
            if len(at) < MAX_POSITIONS and (not at or at[-1] != entry):
                at.append(entry)
    out: list[str] = []
    size = 0
    for term, at in positions.items():
        entry = f"{ts_lexeme(term)}:{','.join(at)}"
        size += len(entry) + 1
        if size > MAX_DOC_CHARS:
            break
        out.append(entry)
    return " ".join(out)


class Articles(shared.Articles, PostgresConnection):
    def insert_article(self, a: ArticleRecord, story_id: int | None = None) -> int:
        return int(self.one(
            f"""WITH a AS ({shared.INSERT_ARTICLE} RETURNING id)
                INSERT INTO articles_fts (article_id, doc) SELECT id, ?::tsvector FROM a RETURNING article_id""",
            (*shared.article_values(a, story_id),
             ts_doc(a.title or "", shared.searched_text(a), search_title=a.search_title, search_text=a.search_text))))

    def topics_by_article(self, ids: list[int]) -> dict[int, list[str]]:
        out: dict[int, list[str]] = {i: [] for i in ids}
        for aid, topic in self.all("SELECT article_id, topic FROM article_topics WHERE article_id = ANY(?) "
                                   "ORDER BY score DESC", (list(ids),)):
            out[aid].append(topic)
        return out

    def search(self, query: str, *, topic: str | None = None, source: str | None = None,
               since: datetime | None = None, until: datetime | None = None, limit: int = 20) -> list[Row]:
        cond, params = where("f.doc @@ q.q", *shared.search_filters(topic, source, since, until))
        sql = f"""WITH q AS (SELECT ?::tsquery AS q),
                  hits AS (
                    SELECT a.id AS id, ts_rank(?::real[], f.doc, q.q) AS score
                    FROM q, articles_fts f JOIN articles a ON a.id = f.article_id
                    {cond} ORDER BY f.article_id DESC LIMIT {max(shared.RANK_WINDOW, int(limit))})
                  {shared.SEARCH_RESULTS} ORDER BY hits.score DESC, a.id DESC LIMIT ?"""
        try:
            return self.q(sql, [ts_query(query), RANK_WEIGHTS, *params, limit])
        except (psycopg.errors.SyntaxError, psycopg.errors.DataException) as e:
            raise QueryError(f"cannot search for {query!r}: {' '.join(str(e).split())}") from None

    def export_articles(self, since: datetime | None = None, topic: str | None = None) -> Iterator[Row]:
        cond, params = where(*shared.export_filters(since, topic))
        sql = (f"SELECT {shared.EXPORT_COLUMNS}, "
               "ARRAY(SELECT t.topic FROM article_topics t WHERE t.article_id = a.id ORDER BY t.topic) AS topics "
               "FROM articles a LEFT JOIN stories s ON s.id = a.story_id" + cond + " ORDER BY a.id")
        return self.rows(sql, params)

    def load_articles(self, rows: Iterable[tuple[int, str, str, str, str, str, int]]) -> None:
        with self.tx(), self._conn() as conn, conn.cursor() as cur:
            with cur.copy("COPY articles (id, url, source, title, body, fetched_at, story_id) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute("SELECT setval(pg_get_serial_sequence('articles', 'id'), coalesce(max(id), 1)) FROM articles")
