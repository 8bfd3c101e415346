"""Read queries of the report (`regwatch report`) and the metrics (`[metrics] listen`): counts and
summaries over the other concerns' tables."""

from __future__ import annotations

from ..base import Row
from .connection import PostgresConnection


class Reports(PostgresConnection):
    def topic_volume_per_day(self, since: str) -> list[Row]:
        return self.q(
            "SELECT substr(coalesce(a.published_at, a.fetched_at), 1, 10) AS day, t.topic, count(*) AS n "
            "FROM article_topics t JOIN articles a ON a.id = t.article_id "
            "WHERE coalesce(a.published_at, a.fetched_at) >= %s GROUP BY 1, 2 ORDER BY 1, 2", (since,))

    def largest_stories(self, since: str, limit: int = 15) -> list[Row]:
        return self.q("SELECT s.id, s.title, s.copies, s.outlets, s.first_seen, a.url FROM stories s "
                      "JOIN articles a ON a.id = s.first_article_id WHERE s.first_seen >= %s "
                      "ORDER BY s.copies DESC, s.first_seen DESC LIMIT %s", (since, limit))

    def source_health(self) -> list[Row]:
        return self.q("SELECT source, state, state_since, last_success_at, last_error FROM source_state ORDER BY source")

    def sources_by_state(self) -> dict[str, int]:
        return dict(self.all("SELECT state, count(*) FROM source_state GROUP BY state"))

    def alerts_by_status(self) -> dict[str, int]:
        return dict(self.all("SELECT status, count(*) FROM alerts GROUP BY status"))

    def alerts_per_channel(self, since: str) -> list[Row]:
        return self.q("SELECT channel, status, count(*) AS n FROM alerts WHERE created_at >= %s "
                      "GROUP BY channel, status ORDER BY channel, status", (since,))
