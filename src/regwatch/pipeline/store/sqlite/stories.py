"""Stories (copies of one event) and their candidate index, `story_keys`."""

from __future__ import annotations

import json
from collections.abc import Iterable

from ...timeutil import iso, utcnow
from ..base import Row
from .connection import SQLiteConnection

POSTINGS_CHUNK = 64                           # keys read by one statement (a UNION ALL of bounded ranges)
_POSTINGS_SQL: dict[tuple[int, bool], str] = {}


class Stories(SQLiteConnection):
    def new_story(self, article_id: int, title: str, outlet: str | None) -> int:
        now = iso(utcnow())
        cur = self.conn.execute(
            "INSERT INTO stories (first_article_id, title, first_seen, last_seen, copies, outlets) VALUES (?,?,?,?,1,?)",
            (article_id, title, now, now, json.dumps([outlet] if outlet else [], ensure_ascii=False)),
        )
        return int(cur.lastrowid or 0)

    def join_story(self, story_id: int, outlet: str | None) -> None:
        row = self.conn.execute("SELECT outlets FROM stories WHERE id = ?", (story_id,)).fetchone()
        outlets = json.loads(row[0]) if row else []
        if outlet and outlet not in outlets:
            outlets.append(outlet)
        self.conn.execute(
            "UPDATE stories SET copies = copies + 1, last_seen = ?, outlets = ? WHERE id = ?",
            (iso(utcnow()), json.dumps(outlets, ensure_ascii=False), story_id),
        )

    def set_article_story(self, article_id: int, story_id: int) -> None:
        self.conn.execute("UPDATE articles SET story_id = ? WHERE id = ?", (story_id, article_id))

    def story_of_identical_text(self, content_hash: str, since: str) -> int | None:
        sid: int | None = self.one("SELECT story_id FROM articles WHERE content_hash = ? AND fetched_at >= ? "
                                   "AND story_id IS NOT NULL ORDER BY id LIMIT 1", (content_hash, since))
        return sid

    def story_key_postings(self, keys: list[int], since: int, per_key: int,
                           newest_first: bool = True) -> dict[int, list[tuple[int, int]]]:
        out: dict[int, list[tuple[int, int]]] = {}
        for i in range(0, len(keys), POSTINGS_CHUNK):
            chunk = keys[i:i + POSTINGS_CHUNK]
            sql = _POSTINGS_SQL.get((len(chunk), newest_first))
            if sql is None:
                sql = _POSTINGS_SQL[len(chunk), newest_first] = " UNION ALL ".join(
                    [("SELECT * FROM (SELECT key, article_id, story_id FROM story_keys WHERE key = ? AND seen >= ? "
                      f"ORDER BY seen {'DESC' if newest_first else 'ASC'} LIMIT ?)")] * len(chunk))
            for key, aid, sid in self.conn.execute(sql, [v for k in chunk for v in (k, since, per_key)]):
                out.setdefault(key, []).append((aid, sid))
        return out

    def story_candidate(self, article_id: int) -> tuple[str, str, int | None] | None:
        row = self.conn.execute("SELECT title, body, story_id FROM articles WHERE id = ?", (article_id,)).fetchone()
        return (row[0] or "", row[1] or "", row[2]) if row else None

    def add_story_keys(self, rows: Iterable[tuple[int, int, int, int]]) -> None:
        self.conn.executemany("INSERT OR IGNORE INTO story_keys (key, seen, article_id, story_id) VALUES (?,?,?,?)", rows)

    def load_story_keys(self, rows: Iterable[tuple[int, int, int, int]]) -> None:
        # staged, then written in key order
        with self.tx():
            self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS story_keys_load "
                              "(key INTEGER, seen INTEGER, article_id INTEGER, story_id INTEGER)")
            self.conn.executemany("INSERT INTO temp.story_keys_load VALUES (?,?,?,?)", rows)
            self.conn.execute("INSERT OR IGNORE INTO story_keys SELECT key, seen, article_id, story_id "
                              "FROM temp.story_keys_load ORDER BY key, seen, article_id")
            self.conn.execute("DROP TABLE temp.story_keys_load")

    def prune_story_keys(self, before: int) -> int:
        with self.tx():
            return self.conn.execute("DELETE FROM story_keys WHERE seen < ?", (before,)).rowcount

    def legacy_story_sketches(self) -> bool:
        return self.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'story_bands'") is not None

    def drop_legacy_story_sketches(self) -> None:
        self.conn.execute("DROP TABLE IF EXISTS story_bands")

    def articles_for_story_index(self, since: str) -> Iterable[tuple[int, str, str, str, int]]:
        return self.conn.execute("SELECT id, coalesce(title, ''), coalesce(body, ''), fetched_at, story_id FROM articles "
                                 "WHERE fetched_at >= ? AND story_id IS NOT NULL", (since,))

    def story_outlets(self, story_id: int | None) -> list[str]:
        return list(json.loads(self.one("SELECT outlets FROM stories WHERE id = ?", (story_id,)) or "[]"))

    def story_started_in_baseline(self, story_id: int) -> bool:
        return bool(self.one("SELECT a.baseline FROM stories s JOIN articles a ON a.id = s.first_article_id "
                             "WHERE s.id = ?", (story_id,)))

    def story(self, story_id: int) -> Row | None:
        rows = self.q("SELECT * FROM stories WHERE id = ?", (story_id,))
        return rows[0] if rows else None

    def story_articles(self, story_id: int) -> list[Row]:
        return self.q("SELECT id, url, source, outlet, title, body, published_at, fetched_at, content_hash, baseline "
                      "FROM articles WHERE story_id = ? ORDER BY id", (story_id,))

    def count_stories(self, *, since: str | None = None) -> int:
        if since is None:
            return int(self.one("SELECT count(*) FROM stories") or 0)
        return int(self.one("SELECT count(*) FROM stories WHERE first_seen >= ?", (since,)) or 0)

    def count_stories_of_new_articles(self) -> int:
        return int(self.one("SELECT count(DISTINCT story_id) FROM articles WHERE baseline = 0") or 0)
