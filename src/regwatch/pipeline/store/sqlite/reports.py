"""Read queries of the report (`regwatch report`) and the metrics (`[metrics] listen`): what differs
on SQLite, its aggregates (the shared queries are `shared/reports.py`'s)."""

from __future__ import annotations

from ..base import Row
from ..shared import reports as shared
from ..shared.reports import GAVE_UP, ON_THE_WAY
from ..statuses import AlertKind as K
from ..statuses import AlertStatus as A
from ..statuses import MessageStatus as M
from .connection import SQLiteConnection


class Reports(shared.Reports, SQLiteConnection):
    TOPIC_LIST = "group_concat(t.topic)"

    def subscription_counts(self, since: str | None) -> list[Row]:
        return self.q(
            "SELECT al.subscription, count(DISTINCT al.story_id) AS stories, count(*) AS alerts, "
            f"sum(al.status = '{A.SENT}') AS sent, sum(al.status = '{A.SENT}' AND m.kind = '{K.DIGEST}') AS in_digests, "
            f"sum(al.status IN ({GAVE_UP})) AS failed, sum(al.status IN ({ON_THE_WAY})) AS waiting "
            "FROM alerts al LEFT JOIN messages m ON m.id = al.message_id "
            f"WHERE al.kind = '{K.ARTICLE}' AND al.created_at >= ? GROUP BY al.subscription ORDER BY al.subscription",
            (since or "",))

    def channel_counts(self, since: str | None) -> list[Row]:
        return self.q(
            "SELECT channel, sum(matches) AS matches, sum(alerts_sent) AS alerts_sent, sum(messages_sent) AS messages_sent, "
            "sum(digests) AS digests, sum(failed) AS failed, sum(health) AS health FROM ("
            f" SELECT channel, count(*) AS matches, sum(status = '{A.SENT}') AS alerts_sent, 0 AS messages_sent, "
            f"   0 AS digests, 0 AS failed, 0 AS health FROM alerts WHERE kind = '{K.ARTICLE}' AND created_at >= ? "
            "   GROUP BY channel"
            " UNION ALL"
            f" SELECT channel, 0, 0, sum(status = '{M.SENT}' AND kind != '{K.HEALTH}'), "
            f"   sum(status = '{M.SENT}' AND kind = '{K.DIGEST}'), sum(status IN ({GAVE_UP})), "
            f"   sum(status = '{M.SENT}' AND kind = '{K.HEALTH}')"
            " FROM messages WHERE created_at >= ? GROUP BY channel) GROUP BY channel ORDER BY channel",
            (since or "", since or ""))
