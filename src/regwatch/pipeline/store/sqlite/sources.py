"""Sources: what differs on SQLite (the shared queries are `shared/sources.py`'s)."""

from __future__ import annotations

from ..shared import sources as shared
from ..statuses import UrlState
from .articles import IN_CHUNK
from .connection import SQLiteConnection


class Sources(shared.Sources, SQLiteConnection):
    def known_urls(self, source: str, urls: list[str]) -> set[str]:
        out: set[str] = set()
        for i in range(0, len(urls), IN_CHUNK):
            chunk = urls[i : i + IN_CHUNK]
            marks = ",".join("?" * len(chunk))
            out.update(r[0] for r in self.conn.execute(f"SELECT url FROM articles WHERE url IN ({marks})", chunk))
            out.update(r[0] for r in self.conn.execute(
                f"SELECT url FROM source_urls WHERE source = ? AND state = ? AND url IN ({marks})",
                [source, UrlState.SKIPPED, *chunk]))
        return out
