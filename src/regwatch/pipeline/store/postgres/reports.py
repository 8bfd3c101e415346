"""Read queries of the report (`regwatch report`) and the metrics (`[metrics] listen`): counts and
summaries over the other concerns' tables."""

from __future__ import annotations

from collections.abc import Iterator

from ..base import Row
from ..statuses import AlertKind as K
from ..statuses import AlertStatus as A
from ..statuses import MessageStatus as M
from .connection import PostgresConnection

# statuses as SQL literals (fixed sets): given up (failed, or refused by a broken channel), and still on the way
_GAVE_UP = f"'{A.FAILED}', '{A.BROKEN}'"
_WAITING = ",".join(f"'{s}'" for s in (A.PENDING, A.RETRY, A.SENDING, A.DIGEST))


class Reports(PostgresConnection):
    def topic_times(self, since: str) -> Iterator[tuple[str, str]]:
        return iter(self.all(
            "SELECT coalesce(a.published_at, a.fetched_at), t.topic FROM article_topics t JOIN articles a "
            "ON a.id = t.article_id WHERE coalesce(a.published_at, a.fetched_at) >= ?", (since,)))

    def largest_stories(self, since: str, limit: int = 15) -> list[Row]:
        return self.q("SELECT s.id, s.title, s.copies, s.outlets, s.first_seen, a.url, "
                      "(SELECT string_agg(t.topic, ',') FROM article_topics t WHERE t.article_id = s.first_article_id) "
                      "AS topics FROM stories s JOIN articles a ON a.id = s.first_article_id WHERE s.first_seen >= ? "
                      "ORDER BY s.copies DESC, s.first_seen DESC LIMIT ?", (since, limit))

    def source_health(self) -> list[Row]:
        return self.q("SELECT source, state, state_since, last_success_at, last_error FROM source_state ORDER BY source")

    def sources_by_state(self) -> dict[str, int]:
        return dict(self.all("SELECT state, count(*) FROM source_state GROUP BY state"))

    def alerts_by_status(self) -> dict[str, int]:
        return dict(self.all("SELECT status, count(*) FROM alerts GROUP BY status"))

    def subscription_counts(self, since: str | None) -> list[Row]:
        return self.q(
            "SELECT al.subscription, count(DISTINCT al.story_id) AS stories, count(*) AS alerts, "
            f"count(*) FILTER (WHERE al.status = '{A.SENT}') AS sent, "
            f"count(*) FILTER (WHERE al.status = '{A.SENT}' AND m.kind = '{K.DIGEST}') AS in_digests, "
            f"count(*) FILTER (WHERE al.status IN ({_GAVE_UP})) AS failed, "
            f"count(*) FILTER (WHERE al.status IN ({_WAITING})) AS waiting "
            "FROM alerts al LEFT JOIN messages m ON m.id = al.message_id "
            f"WHERE al.kind = '{K.ARTICLE}' AND al.created_at >= ? GROUP BY al.subscription ORDER BY al.subscription",
            (since or "",))

    def channel_counts(self, since: str | None) -> list[Row]:
        return self.q(
            "SELECT channel, sum(matches)::int AS matches, sum(alerts_sent)::int AS alerts_sent, "
            "sum(messages_sent)::int AS messages_sent, sum(digests)::int AS digests, sum(failed)::int AS failed, "
            "sum(health)::int AS health FROM ("
            f" SELECT channel, count(*) AS matches, count(*) FILTER (WHERE status = '{A.SENT}') AS alerts_sent, "
            "   0 AS messages_sent, 0 AS digests, 0 AS failed, 0 AS health FROM alerts "
            f"   WHERE kind = '{K.ARTICLE}' AND created_at >= ? GROUP BY channel"
            " UNION ALL"
            f" SELECT channel, 0, 0, count(*) FILTER (WHERE status = '{M.SENT}' AND kind != '{K.HEALTH}'), "
            f"   count(*) FILTER (WHERE status = '{M.SENT}' AND kind = '{K.DIGEST}'), "
            f"   count(*) FILTER (WHERE status IN ({_GAVE_UP})), "
            f"   count(*) FILTER (WHERE status = '{M.SENT}' AND kind = '{K.HEALTH}')"
            " FROM messages WHERE created_at >= ? GROUP BY channel) c GROUP BY channel ORDER BY channel",
            (since or "", since or ""))
