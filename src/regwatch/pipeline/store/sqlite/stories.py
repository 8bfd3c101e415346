"""Stories and their candidate index, `story_keys`: what differs on SQLite (the shared queries are
`shared/stories.py`'s)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from ...timeutil import iso, utcnow
from ..shared import stories as shared
from .connection import SQLiteConnection

POSTINGS_CHUNK = 64                           # keys read by one statement (a UNION ALL of bounded ranges)
_POSTINGS_SQL: dict[tuple[int, bool], str] = {}


class Stories(shared.Stories, SQLiteConnection):
    def join_story(self, story_id: int, outlet: str | None) -> None:
        row = self.conn.execute("SELECT outlets FROM stories WHERE id = ?", (story_id,)).fetchone()
        outlets = json.loads(row[0]) if row else []
        if outlet and outlet not in outlets:
            outlets.append(outlet)
        self.conn.execute(
            "UPDATE stories SET copies = copies + 1, last_seen = ?, outlets = ? WHERE id = ?",
            (iso(utcnow()), json.dumps(outlets, ensure_ascii=False), story_id),
        )

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

    def legacy_story_sketches(self) -> bool:
        return self.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'story_bands'") is not None

    def drop_legacy_story_sketches(self) -> None:
        self.conn.execute("DROP TABLE IF EXISTS story_bands")
