"""Read queries of the report (`regwatch report`) and the metrics (`[metrics] listen`): the ones both
engines share (the per-subscription and per-channel tallies are the engines', and the largest stories' list of
topics their `TOPIC_LIST`)."""

from __future__ import annotations

from collections.abc import Iterator

from ..base import Row
from ..statuses import AlertStatus as A
from .sql import Connection

# statuses as SQL literals (fixed sets): given up (failed, or refused by a broken channel), and still on the way
GAVE_UP = f"'{A.FAILED}', '{A.BROKEN}'"
ON_THE_WAY = ",".join(f"'{s}'" for s in (A.PENDING, A.RETRY, A.SENDING, A.DIGEST))


class Reports(Connection):
    TOPIC_LIST = ""             # the engine's aggregate of `t.topic` into one text, the topics joined by commas

    def largest_stories(self, since: str, limit: int = 15) -> list[Row]:
        return self.q("SELECT s.id, s.title, s.copies, s.outlets, s.first_seen, a.url, "
                      f"(SELECT {self.TOPIC_LIST} FROM article_topics t WHERE t.article_id = s.first_article_id) "
                      "AS topics FROM stories s JOIN articles a ON a.id = s.first_article_id WHERE s.first_seen >= ? "
                      "ORDER BY s.copies DESC, s.first_seen DESC LIMIT ?", (since, limit))

    def topic_times(self, since: str) -> Iterator[tuple[str, str]]:
        return iter(self.all(
            "SELECT coalesce(a.published_at, a.fetched_at), t.topic FROM article_topics t JOIN articles a "
            "ON a.id = t.article_id WHERE coalesce(a.published_at, a.fetched_at) >= ?", (since,)))

    def source_health(self) -> list[Row]:
        return self.q("SELECT source, state, state_since, last_success_at, last_error FROM source_state ORDER BY source")

    def sources_by_state(self) -> dict[str, int]:
        return dict(self.all("SELECT state, count(*) FROM source_state GROUP BY state"))

    def channel_states(self) -> dict[str, Row]:
        return {r["channel"]: r for r in self.q("SELECT channel, state, since, last_error FROM channel_state "
                                                 "ORDER BY channel")}

    def alerts_by_status(self) -> dict[str, int]:
        return dict(self.all("SELECT status, count(*) FROM alerts GROUP BY status"))
