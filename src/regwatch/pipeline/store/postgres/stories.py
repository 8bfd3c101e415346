"""Stories (copies of one event) and their candidate index, `story_keys`."""

from __future__ import annotations

import json
from collections.abc import Iterable

from ...timeutil import iso, utcnow
from ..base import Row
from .connection import PostgresConnection


class Stories(PostgresConnection):
    def new_story(self, article_id: int, title: str, outlet: str | None) -> int:
        now = iso(utcnow())
        return int(self.one(
            "INSERT INTO stories (first_article_id, title, first_seen, last_seen, copies, outlets) "
            "VALUES (?,?,?,?,1,?) RETURNING id",
            (article_id, title, now, now, json.dumps([outlet] if outlet else [], ensure_ascii=False))))

    def join_story(self, story_id: int, outlet: str | None) -> None:
        with self.tx():
            outlets = json.loads(self.one("SELECT outlets FROM stories WHERE id = ? FOR UPDATE", (story_id,)) or "[]")
            if outlet and outlet not in outlets:
                outlets.append(outlet)
            self.x("UPDATE stories SET copies = copies + 1, last_seen = ?, outlets = ? WHERE id = ?",
                   (iso(utcnow()), json.dumps(outlets, ensure_ascii=False), story_id))

    def set_article_story(self, article_id: int, story_id: int) -> None:
        self.x("UPDATE articles SET story_id = ? WHERE id = ?", (story_id, article_id))

    def story_of_identical_text(self, content_hash: str, since: str) -> int | None:
        sid: int | None = self.one("SELECT story_id FROM articles WHERE content_hash = ? AND fetched_at >= ? "
                                   "AND story_id IS NOT NULL ORDER BY id LIMIT 1", (content_hash, since))
        return sid

    def story_key_postings(self, keys: list[int], since: int, per_key: int,
                           newest_first: bool = True) -> dict[int, list[tuple[int, int]]]:
        # one bounded index range per key, all keys in one statement
        order = "DESC" if newest_first else "ASC"
        out: dict[int, list[tuple[int, int]]] = {}
        for key, aid, sid in self.all(
                "SELECT k.key, p.article_id, p.story_id FROM unnest(?::bigint[]) AS k(key) CROSS JOIN LATERAL "
                f"(SELECT article_id, story_id FROM story_keys WHERE key = k.key AND seen >= ? ORDER BY seen {order} "
                "LIMIT ?) p", (list(keys), since, per_key)):
            out.setdefault(key, []).append((aid, sid))
        return out

    def story_candidate(self, article_id: int) -> tuple[str, str, int | None] | None:
        rows = self.all("SELECT title, body, story_id FROM articles WHERE id = ?", (article_id,))
        return (rows[0][0] or "", rows[0][1] or "", rows[0][2]) if rows else None

    def add_story_keys(self, rows: Iterable[tuple[int, int, int, int]]) -> None:
        cols: list[list[int]] = [[], [], [], []]
        for row in rows:
            for col, v in zip(cols, row, strict=True):
                col.append(v)
        if cols[0]:
            self.x("INSERT INTO story_keys (key, seen, article_id, story_id) "
                   "SELECT * FROM unnest(?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[]) ON CONFLICT DO NOTHING",
                   cols)

    def load_story_keys(self, rows: Iterable[tuple[int, int, int, int]]) -> None:
        # staged, then written in key order
        with self.tx(), self._conn() as conn, conn.cursor() as cur:
            cur.execute("CREATE TEMP TABLE story_keys_load (key BIGINT, seen BIGINT, article_id BIGINT, story_id BIGINT) "
                        "ON COMMIT DROP")
            with cur.copy("COPY story_keys_load FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
            cur.execute("INSERT INTO story_keys SELECT * FROM story_keys_load ORDER BY key, seen, article_id "
                        "ON CONFLICT DO NOTHING")

    def prune_story_keys(self, before: int) -> int:
        return self.x("DELETE FROM story_keys WHERE seen < ?", (before,))

    def legacy_story_sketches(self) -> bool:
        return False                # a PostgreSQL store began with story_keys

    def drop_legacy_story_sketches(self) -> None:
        pass

    def articles_for_story_index(self, since: str) -> Iterable[tuple[int, str, str, str, int]]:
        return self.all("SELECT id, coalesce(title, ''), coalesce(body, ''), fetched_at, story_id FROM articles "
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
