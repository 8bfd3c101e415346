"""Sources: their health (`source_state`, `source_runs`), their list pages' validators (`list_cache`)
and the article URLs they settled without storing (`source_urls`): the queries both engines share."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from ....defaults import ERROR_CHARS
from ...timeutil import iso, utcnow
from ..base import COPY_TABLES, Row, url_key
from ..statuses import UrlState
from .sql import Connection


def _columns(table: str, fields: dict[str, Any]) -> list[str]:
    """The fields' columns, quoted: each must be one of the table's."""
    unknown = set(fields) - set(COPY_TABLES[table])
    if unknown:
        raise ValueError(f"{table} has no column {', '.join(sorted(unknown))}")
    return [f'"{k}"' for k in fields]


class Sources(Connection):
    def source_state(self, source: str) -> Row:
        rows = self.q("SELECT * FROM source_state WHERE source = ?", (source,))
        if rows:
            return rows[0]
        self.x("INSERT INTO source_state (source) VALUES (?) ON CONFLICT DO NOTHING", (source,))
        return self.q("SELECT * FROM source_state WHERE source = ?", (source,))[0]

    def update_source_state(self, source: str, **fields: Any) -> None:
        if not fields:
            return
        if fields.get("url"):
            fields["url"] = url_key(fields["url"])
        sets = ", ".join(f"{c} = ?" for c in _columns("source_state", fields))
        with self.tx():
            self.x("INSERT INTO source_state (source) VALUES (?) ON CONFLICT DO NOTHING", (source,))
            self.x(f"UPDATE source_state SET {sets} WHERE source = ?", [*fields.values(), source])

    def known_sources(self) -> list[str]:
        return [r[0] for r in self.all("SELECT source FROM source_state ORDER BY source")]

    def baselined_on_url(self, url: str) -> list[str]:
        return [r[0] for r in self.all(
            "SELECT source FROM source_state WHERE url = ? AND baselined_at IS NOT NULL ORDER BY baselined_at DESC",
            (url_key(url),))]

    def record_run(self, **fields: Any) -> int:
        if isinstance(fields.get("statuses"), dict):
            fields["statuses"] = json.dumps(fields["statuses"])
        cols = _columns("source_runs", fields)
        with self.tx():
            return int(self.insert(f"INSERT INTO source_runs ({', '.join(cols)}) VALUES ({', '.join('?' * len(cols))})",
                                   list(fields.values())) or 0)

    def recent_runs(self, source: str, n: int) -> list[Row]:
        return self.q("SELECT * FROM source_runs WHERE source = ? ORDER BY id DESC LIMIT ?", (source, n))

    # -- list pages (conditional GET), per source ------------------------------------------

    def list_cache(self, source: str, url: str) -> Row | None:
        rows = self.q("SELECT * FROM list_cache WHERE source = ? AND url = ?", (source, url_key(url)))
        if not rows:
            return None
        rows[0]["children"] = json.loads(rows[0]["children"]) if rows[0]["children"] else None
        return rows[0]

    def save_list_cache(self, source: str, url: str, etag: str | None, last_modified: str | None,
                        body_hash: str | None, children: list[str] | None = None) -> None:
        self.x("""INSERT INTO list_cache (source, url, etag, last_modified, body_hash, children, checked_at)
                  VALUES (?,?,?,?,?,?,?)
                  ON CONFLICT (source, url) DO UPDATE SET etag = excluded.etag, last_modified = excluded.last_modified,
                  body_hash = excluded.body_hash, children = excluded.children, checked_at = excluded.checked_at""",
               (source, url_key(url), etag, last_modified, body_hash,
                json.dumps(children) if children is not None else None, iso(utcnow())))
        # a row an older regwatch wrote under the URL itself (during a rolling upgrade) goes with this write
        self.x("DELETE FROM list_cache WHERE source = ? AND url = ?", (source, url))

    def forget_list_cache(self, source: str, url: str) -> None:
        self.x("DELETE FROM list_cache WHERE source = ? AND url IN (?, ?)", (source, url_key(url), url))

    # -- article URLs a source has settled without storing ----------------------------------

    def skip_url(self, source: str, url: str, reason: str) -> None:
        self.x("INSERT INTO source_urls (source, url, state, reason, at) VALUES (?,?,?,?,?) "
               "ON CONFLICT (source, url) DO UPDATE SET state = excluded.state, reason = excluded.reason, at = excluded.at",
               (source, url, UrlState.SKIPPED, reason[:ERROR_CHARS], iso(utcnow())))

    def missing_since(self, source: str, url: str) -> str | None:
        """When the article was first found missing (404/410), recording now if this is the first time; None
        for a URL its source's baseline named (it would never alert: skipped at once, as before)."""
        with self.tx():
            row = self.all("SELECT state, at FROM source_urls WHERE source = ? AND url = ?", (source, url))
            if not row:
                now = iso(utcnow())
                self.x("INSERT INTO source_urls (source, url, state, at) VALUES (?,?,?,?)",
                       (source, url, UrlState.MISSING, now))
                return now
            state, at = row[0]
            if state == UrlState.SLOW:       # answered before, with a slow attachment: missing from now
                now = iso(utcnow())
                self.x("UPDATE source_urls SET state = ?, reason = NULL, at = ? WHERE source = ? AND url = ?",
                       (UrlState.MISSING, now, source, url))
                return now
            return at if state == UrlState.MISSING else None

    def attachment_timed_out(self, source: str, url: str, reason: str) -> bool:
        """An article's attachment took longer than extract_timeout: True when it already had on an earlier run
        (the article is stored without its text now); the first time is recorded (`slow`; a baseline-named URL
        keeps its state, the time recorded in its `reason`) and False (fetched again next run)."""
        with self.tx():
            row = self.all("SELECT state, reason FROM source_urls WHERE source = ? AND url = ?", (source, url))
            state, said = row[0] if row else (None, None)
            if state == UrlState.SLOW or state == UrlState.SKIPPED or (state == UrlState.BASELINE and said):
                return True
            if state == UrlState.BASELINE:
                self.x("UPDATE source_urls SET reason = ? WHERE source = ? AND url = ?",
                       (reason[:ERROR_CHARS], source, url))
            else:
                self.x("INSERT INTO source_urls (source, url, state, reason, at) VALUES (?,?,?,?,?) "
                       "ON CONFLICT (source, url) DO UPDATE SET state = excluded.state, reason = excluded.reason, "
                       "at = excluded.at", (source, url, UrlState.SLOW, reason[:ERROR_CHARS], iso(utcnow())))
            return False

    def forget_slow(self, url: str) -> None:
        """The article is stored (by any source, with or without an `attachment` setting): a first timeout of its
        attachment (`slow`) is forgotten, for every source holding one — whether or not it has a `source_state` row
        (renamed, or its first run not ended). Found through the partial index of `slow` rows by URL
        (`source_urls_slow`; the state spelt in the statement, so that both engines' planners use that index)."""
        self.x(f"DELETE FROM source_urls WHERE url = ? AND state = '{UrlState.SLOW.value}'", (url,))

    def url_states(self, url: str) -> list[Row]:
        """What each source settled about an article URL it did not store (skipped, missing, baseline, slow)."""
        return self.q("SELECT source, state, reason, at FROM source_urls WHERE url = ? ORDER BY source", (url,))

    def mark_baseline_urls(self, source: str, urls: Iterable[str]) -> None:
        now = iso(utcnow())
        # a URL found missing (404) while its baseline ran is the baseline's too: it must never alert; one whose
        # attachment was too slow (`slow`) too, its reason kept (the first timeout: stored without it next time)
        self.many("INSERT INTO source_urls (source, url, state, at) VALUES (?,?,?,?) ON CONFLICT (source, url) "
                  "DO UPDATE SET state = excluded.state, at = excluded.at WHERE source_urls.state IN (?, ?)",
                  [(source, u, UrlState.BASELINE, now, UrlState.MISSING, UrlState.SLOW) for u in urls])

    def baseline_named(self, source: str, urls: list[str]) -> set[str]:
        """Those of `urls` the source's baseline named and did not store yet."""
        out: set[str] = set()
        for i in range(0, len(urls), 500):
            chunk = urls[i:i + 500]
            out.update(r[0] for r in self.all(
                f"SELECT url FROM source_urls WHERE source = ? AND state = ? AND url IN ({','.join('?' * len(chunk))})",
                (source, UrlState.BASELINE, *chunk)))
        return out

    def is_baseline_url(self, source: str, url: str) -> bool:
        return self.one("SELECT 1 FROM source_urls WHERE source = ? AND url = ? AND state = ?",
                        (source, url, UrlState.BASELINE)) is not None

    def skipped_urls(self, source: str, limit: int = 20) -> list[Row]:
        return self.q("SELECT url, reason, at FROM source_urls WHERE source = ? AND state = ? "
                      "ORDER BY at DESC LIMIT ?", (source, UrlState.SKIPPED, limit))

    def count_skipped(self, source: str) -> int:
        return int(self.one("SELECT count(*) FROM source_urls WHERE source = ? AND state = ?",
                            (source, UrlState.SKIPPED)) or 0)
