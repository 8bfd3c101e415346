"""Stories and their candidate index, `story_keys`: what differs on PostgreSQL (the shared queries are
`shared/stories.py`'s)."""

from __future__ import annotations

import json
from collections.abc import Iterable

from ...timeutil import iso, utcnow
from ..shared import stories as shared
from .connection import PostgresConnection


class Stories(shared.Stories, PostgresConnection):
    def join_story(self, story_id: int, outlet: str | None) -> None:
        with self.tx():
            outlets = json.loads(self.one("SELECT outlets FROM stories WHERE id = ? FOR UPDATE", (story_id,)) or "[]")
            if outlet and outlet not in outlets:
                outlets.append(outlet)
            self.x("UPDATE stories SET copies = copies + 1, last_seen = ?, outlets = ? WHERE id = ?",
                   (iso(utcnow()), json.dumps(outlets, ensure_ascii=False), story_id))

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

    def legacy_story_sketches(self) -> bool:
        return False                # a PostgreSQL store began with story_keys

    def drop_legacy_story_sketches(self) -> None:
        pass
