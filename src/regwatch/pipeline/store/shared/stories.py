"""Stories (copies of one event) and their candidate index, `story_keys`: the queries both engines share."""

from __future__ import annotations

import json
from collections.abc import Iterable

from ...timeutil import iso, utcnow
from ..base import Row
from .sql import Connection, where

PRUNED_AT = "story_keys_pruned_at"      # store_meta: when the story index was last pruned (epoch seconds)


class Stories(Connection):
    def new_story(self, article_id: int, title: str, outlet: str | None) -> int:
        now = iso(utcnow())
        return int(self.insert(
            "INSERT INTO stories (first_article_id, title, first_seen, last_seen, copies, outlets) VALUES (?,?,?,?,1,?)",
            (article_id, title, now, now, json.dumps([outlet] if outlet else [], ensure_ascii=False))) or 0)

    def set_article_story(self, article_id: int, story_id: int) -> None:
        self.x("UPDATE articles SET story_id = ? WHERE id = ?", (story_id, article_id))

    def story_of_identical_text(self, content_hash: str, since: str) -> int | None:
        sid: int | None = self.one("SELECT story_id FROM articles WHERE content_hash = ? AND fetched_at >= ? "
                                   "AND story_id IS NOT NULL ORDER BY id LIMIT 1", (content_hash, since))
        return sid

    def story_candidate(self, article_id: int) -> tuple[str, str, int | None] | None:
        rows = self.all("SELECT title, body, story_id FROM articles WHERE id = ?", (article_id,))
        return (rows[0][0] or "", rows[0][1] or "", rows[0][2]) if rows else None

    def prune_story_keys(self, before: int, limit: int | None = None) -> int:
        with self.tx():
            if limit is None:
                return self.x("DELETE FROM story_keys WHERE seen < ?", (before,))
            return self.x("DELETE FROM story_keys WHERE (key, seen, article_id) IN "
                          "(SELECT key, seen, article_id FROM story_keys WHERE seen < ? LIMIT ?)", (before, limit))

    def story_keys_pruned_at(self) -> float | None:
        value = self.one("SELECT value FROM store_meta WHERE key = ?", (PRUNED_AT,))
        return float(value) if value is not None else None

    def set_story_keys_pruned_at(self, when: float) -> None:
        with self.tx():
            self.x("INSERT INTO store_meta (key, value) VALUES (?, ?) "
                   "ON CONFLICT (key) DO UPDATE SET value = excluded.value", (PRUNED_AT, repr(when)))

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
        cond, params = where(("first_seen >= ?", since))
        return int(self.one("SELECT count(*) FROM stories" + cond, params) or 0)

    def count_stories_of_new_articles(self) -> int:
        return int(self.one("SELECT count(DISTINCT story_id) FROM articles WHERE baseline = 0") or 0)
