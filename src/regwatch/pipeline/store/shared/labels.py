"""A user's corrections of the tagging (`regwatch label`), for `eval --labels` and `train`: the same on
both engines."""

from __future__ import annotations

from typing import Any

from ...timeutil import iso, utcnow
from ..base import Row
from .sql import Connection


class Labels(Connection):
    def set_label(self, article_id: int, topic: str, value: bool) -> None:
        self.x("INSERT INTO labels (article_id, topic, value, created_at) VALUES (?,?,?,?) "
               "ON CONFLICT (article_id, topic) DO UPDATE SET value = excluded.value, created_at = excluded.created_at",
               (article_id, topic, int(value), iso(utcnow())))

    def labels_of(self, article_id: int) -> dict[str, bool]:
        return {r["topic"]: bool(r["value"]) for r in self.q(
            "SELECT topic, value FROM labels WHERE article_id = ? ORDER BY topic", (article_id,))}

    def forget_label(self, article_id: int, topic: str) -> bool:
        return self.x("DELETE FROM labels WHERE article_id = ? AND topic = ?", (article_id, topic)) > 0

    def labelled_articles(self) -> list[Row]:
        out: dict[int, dict[str, Any]] = {}
        for r in self.q("SELECT l.article_id, l.topic, l.value, a.title, a.body, a.attachment_text, a.lang, a.url "
                        "FROM labels l JOIN articles a ON a.id = l.article_id ORDER BY l.article_id, l.topic"):
            item = out.setdefault(r["article_id"], {
                "id": r["article_id"], "url": r["url"], "title": r["title"] or "", "lang": r["lang"], "labels": [],
                "not_labels": [], "text": (r["body"] or "") + ("\n" + r["attachment_text"] if r["attachment_text"] else "")})
            item["labels" if r["value"] else "not_labels"].append(r["topic"])
        return list(out.values())
