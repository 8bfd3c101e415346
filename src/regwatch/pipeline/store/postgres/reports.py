"""Read queries of the report (`regwatch report`) and the metrics (`[metrics] listen`): what differs
on PostgreSQL, its aggregates (the shared queries are `shared/reports.py`'s)."""

from __future__ import annotations

from ..base import Row
from ..shared import reports as shared
from ..shared.reports import GAVE_UP, ON_THE_WAY
from ..statuses import AlertKind as K
from ..statuses import AlertStatus as A
from ..statuses import MessageStatus as M
from .connection import PostgresConnection


class Reports(shared.Reports, PostgresConnection):
    TOPIC_LIST = "string_agg(t.topic, ',')"

    def subscription_counts(self, since: str | None) -> list[Row]:
        return self.q(
            "SELECT al.subscription, count(DISTINCT al.story_id) AS stories, count(*) AS alerts, "
            f"count(*) FILTER (WHERE al.status = '{A.SENT}') AS sent, "
            f"count(*) FILTER (WHERE al.status = '{A.SENT}' AND m.kind = '{K.DIGEST}') AS in_digests, "
            f"count(*) FILTER (WHERE al.status IN ({GAVE_UP})) AS failed, "
            f"count(*) FILTER (WHERE al.status IN ({ON_THE_WAY})) AS waiting "
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
            f"   count(*) FILTER (WHERE status IN ({GAVE_UP})), "
            f"   count(*) FILTER (WHERE status = '{M.SENT}' AND kind = '{K.HEALTH}')"
            " FROM messages WHERE created_at >= ? GROUP BY channel) c GROUP BY channel ORDER BY channel",
            (since or "", since or ""))
