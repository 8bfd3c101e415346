"""Sources: what differs on PostgreSQL (the shared queries are `shared/sources.py`'s)."""

from __future__ import annotations

from ..shared import sources as shared
from ..statuses import UrlState
from .connection import PostgresConnection


class Sources(shared.Sources, PostgresConnection):
    def known_urls(self, source: str, urls: list[str]) -> set[str]:
        if not urls:
            return set()
        return {r[0] for r in self.all(
            "SELECT url FROM articles WHERE url = ANY(?) UNION "
            "SELECT url FROM source_urls WHERE source = ? AND state = ? AND url = ANY(?)",
            (list(urls), source, UrlState.SKIPPED, list(urls)))}
