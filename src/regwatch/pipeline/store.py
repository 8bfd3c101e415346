"""The SQLite store: schema and migrations, and the queries every other part uses.

One file, WAL mode, written from one thread (the event loop's). Times are UTC ISO 8601 strings.
"""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Iterable

import sqlite_utils

from .searchtext import fts_text
from .timeutil import iso, iso_ms, utcnow


def _m1_initial(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE IF NOT EXISTS stories (
            id INTEGER PRIMARY KEY,
            first_article_id INTEGER,
            title TEXT,
            first_seen TEXT,
            last_seen TEXT,
            copies INTEGER NOT NULL DEFAULT 1,
            outlets TEXT NOT NULL DEFAULT '[]'
        );
        CREATE TABLE IF NOT EXISTS articles (
            id INTEGER PRIMARY KEY,
            url TEXT NOT NULL UNIQUE,
            source TEXT NOT NULL,
            title TEXT,
            body TEXT,
            lang TEXT,
            outlet TEXT,
            published_at TEXT,
            fetched_at TEXT NOT NULL,
            content_hash TEXT,
            story_id INTEGER REFERENCES stories(id),
            attachment_url TEXT,
            baseline INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX IF NOT EXISTS articles_story ON articles(story_id);
        CREATE INDEX IF NOT EXISTS articles_published ON articles(published_at);
        CREATE INDEX IF NOT EXISTS articles_source ON articles(source, fetched_at);
        CREATE INDEX IF NOT EXISTS articles_hash ON articles(content_hash);
        CREATE TABLE IF NOT EXISTS article_topics (
            article_id INTEGER NOT NULL REFERENCES articles(id),
            topic TEXT NOT NULL,
            score REAL NOT NULL,
            evidence TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (article_id, topic)
        );
        CREATE INDEX IF NOT EXISTS article_topics_topic ON article_topics(topic);
        CREATE TABLE IF NOT EXISTS story_bands (
            band INTEGER NOT NULL,
            hash INTEGER NOT NULL,
            article_id INTEGER NOT NULL,
            seen_at TEXT NOT NULL
        );
        CREATE INDEX IF NOT EXISTS story_bands_key ON story_bands(band, hash);
        CREATE TABLE IF NOT EXISTS alerts (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL DEFAULT 'article',
            subscription TEXT NOT NULL,
            channel TEXT NOT NULL,
            story_id INTEGER,
            article_id INTEGER,
            payload TEXT,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            sent_at TEXT,
            idem_key TEXT NOT NULL,
            digest_at TEXT
        );
        CREATE UNIQUE INDEX IF NOT EXISTS alerts_once
            ON alerts(subscription, channel, story_id) WHERE story_id IS NOT NULL;
        CREATE INDEX IF NOT EXISTS alerts_due ON alerts(status, next_attempt_at);
        CREATE TABLE IF NOT EXISTS source_runs (
            id INTEGER PRIMARY KEY,
            source TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT,
            state TEXT,
            found INTEGER NOT NULL DEFAULT 0,
            new INTEGER NOT NULL DEFAULT 0,
            errors INTEGER NOT NULL DEFAULT 0,
            statuses TEXT NOT NULL DEFAULT '{}',
            duration REAL,
            message TEXT
        );
        CREATE INDEX IF NOT EXISTS source_runs_source ON source_runs(source, started_at);
        CREATE TABLE IF NOT EXISTS source_state (
            source TEXT PRIMARY KEY,
            state TEXT NOT NULL DEFAULT 'new',
            state_since TEXT,
            baselined_at TEXT,
            last_success_at TEXT,
            last_new_at TEXT,
            failing_runs INTEGER NOT NULL DEFAULT 0,
            last_error TEXT,
            reported_state TEXT
        );
        CREATE TABLE IF NOT EXISTS list_cache (
            url TEXT PRIMARY KEY,
            etag TEXT,
            last_modified TEXT,
            body_hash TEXT,
            checked_at TEXT
        );
        CREATE VIRTUAL TABLE IF NOT EXISTS articles_fts USING fts5(
            title, body, tokenize = 'unicode61 remove_diacritics 2'
        );
        """
    )


def _m2_covering_story_index(db: sqlite_utils.Database) -> None:
    # story candidates are read from the index alone: flat cost as the store grows
    db.executescript("""
        DROP INDEX IF EXISTS story_bands_key;
        CREATE INDEX IF NOT EXISTS story_bands_key ON story_bands(band, hash, seen_at, article_id);
    """)


def _m3_message_of_alert(db: sqlite_utils.Database) -> None:
    # a digest carries several alerts in one message: pacing counts messages, not alerts
    db.executescript("ALTER TABLE alerts ADD COLUMN message_id INTEGER;")


def _m4_channel_state(db: sqlite_utils.Database) -> None:
    db.executescript("""
        CREATE TABLE IF NOT EXISTS channel_state (
            channel TEXT PRIMARY KEY, state TEXT NOT NULL, since TEXT, last_error TEXT
        );
    """)


def _m5_attachment_text(db: sqlite_utils.Database) -> None:
    db.executescript("ALTER TABLE articles ADD COLUMN attachment_text TEXT;")


def _m6_messages(db: sqlite_utils.Database) -> None:
    # what went out, apart from what to tell: a digest is one message of several alerts, claimed
    # by one sender at a time and retried whole under one idempotency key
    db.executescript("""
        CREATE TABLE IF NOT EXISTS messages (
            id INTEGER PRIMARY KEY,
            channel TEXT NOT NULL,
            kind TEXT NOT NULL,
            idem_key TEXT NOT NULL UNIQUE,
            payload TEXT NOT NULL,
            items INTEGER NOT NULL DEFAULT 1,
            status TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            created_at TEXT NOT NULL,
            next_attempt_at TEXT NOT NULL,
            claimed_at TEXT,
            claimed_until TEXT,
            claimed_by TEXT,
            last_error TEXT,
            sent_at TEXT
        );
        CREATE INDEX IF NOT EXISTS messages_due ON messages(channel, status, next_attempt_at);
        CREATE INDEX IF NOT EXISTS messages_claimed ON messages(channel, claimed_at);
        CREATE INDEX IF NOT EXISTS alerts_message ON alerts(message_id);
        UPDATE alerts SET status = 'retry' WHERE status = 'sending';
        UPDATE alerts SET message_id = NULL WHERE status IN ('pending', 'retry', 'digest');
    """)


def _m7_labels(db: sqlite_utils.Database) -> None:
    # a user's corrections of the tagging (`regwatch label`), for `eval --labels` and `train`
    db.executescript("""
        CREATE TABLE IF NOT EXISTS labels (
            article_id INTEGER NOT NULL REFERENCES articles(id),
            topic TEXT NOT NULL,
            value INTEGER NOT NULL,          -- 1: is about the topic; 0: is not
            created_at TEXT NOT NULL,
            PRIMARY KEY (article_id, topic)
        );
    """)


def _m8_per_source_lists(db: sqlite_utils.Database) -> None:
    # List validators per source and URL: two sources on one list URL never share an ETag (the old
    # rows, keyed by URL alone, cannot be attributed and are dropped: one full fetch per list, no
    # article fetched again). `children`: a sitemap index's child sitemaps, fetched on its 304.
    # `source_urls`: articles a source will not fetch again (`skipped`: robots.txt, 404/410, a
    # binary file) or whose later storing is a baseline (`baseline`: named in the baseline run).
    db.executescript("""
        DROP TABLE IF EXISTS list_cache;
        CREATE TABLE list_cache (
            source TEXT NOT NULL,
            url TEXT NOT NULL,
            etag TEXT,
            last_modified TEXT,
            body_hash TEXT,
            children TEXT,
            checked_at TEXT,
            PRIMARY KEY (source, url)
        );
        CREATE TABLE IF NOT EXISTS source_urls (
            source TEXT NOT NULL,
            url TEXT NOT NULL,
            state TEXT NOT NULL,
            reason TEXT,
            at TEXT NOT NULL,
            PRIMARY KEY (source, url)
        );
        ALTER TABLE source_runs ADD COLUMN deferred INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE source_runs ADD COLUMN skipped INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE source_runs ADD COLUMN too_old INTEGER NOT NULL DEFAULT 0;
        ALTER TABLE source_state ADD COLUMN url TEXT;
    """)


def _m9_story_keys(db: sqlite_utils.Database) -> None:
    # the story candidate index: an article's winnowed shingle fingerprints (and its headline's key),
    # one compact row each, read newest first within the window. `story_bands` (the bottom-k sketches
    # it replaces) is dropped by the first StoryIndex, after it has re-indexed the window's articles.
    db.executescript("""
        CREATE TABLE IF NOT EXISTS story_keys (
            key INTEGER NOT NULL,
            seen INTEGER NOT NULL,           -- unix time the article was indexed
            article_id INTEGER NOT NULL,
            story_id INTEGER NOT NULL,
            PRIMARY KEY (key, seen, article_id)
        ) WITHOUT ROWID;
    """)
    if db.execute("SELECT 1 FROM articles LIMIT 1").fetchone() is None:
        db.execute("DROP TABLE IF EXISTS story_bands")     # a new store: nothing to re-index


MIGRATIONS = [_m1_initial, _m2_covering_story_index, _m3_message_of_alert, _m4_channel_state, _m5_attachment_text,
              _m6_messages, _m7_labels, _m8_per_source_lists, _m9_story_keys]


@dataclass
class ArticleRecord:
    url: str
    source: str
    title: str
    body: str
    lang: str
    published_at: datetime | None
    outlet: str | None = None
    content_hash: str | None = None
    attachment_url: str | None = None
    attachment_text: str | None = None
    baseline: bool = False


class Store:
    """The regwatch database. Open with `Store(path)`; `:memory:` works for tests."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        if self.path != ":memory:":
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        try:
            conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
            conn.execute("PRAGMA journal_mode=WAL")
        except sqlite3.Error as e:
            raise StoreError(f"{self.path}: cannot open the store: {e}") from None
        conn.execute("PRAGMA synchronous=NORMAL")
        # a store of a million articles is a few GB: keep the hot index pages in memory
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute("PRAGMA mmap_size=268435456")
        conn.execute("PRAGMA foreign_keys=OFF")
        self.db = sqlite_utils.Database(conn)
        self.conn = conn
        self._migrate()

    def _migrate(self) -> None:
        version = self.conn.execute("PRAGMA user_version").fetchone()[0]
        for n, step in enumerate(MIGRATIONS[version:], start=version + 1):
            with self.tx():
                step(self.db)
                self.conn.execute(f"PRAGMA user_version={n}")

    def tx(self):
        """A transaction: `with store.tx(): ...` (nested calls join the outer one)."""
        return _Tx(self.conn)

    def close(self) -> None:
        self.conn.close()

    def q(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> list[dict[str, Any]]:
        cur = self.conn.execute(sql, params)
        cols = [c[0] for c in cur.description or ()]
        return [dict(zip(cols, row)) for row in cur.fetchall()]

    def one(self, sql: str, params: Iterable[Any] | dict[str, Any] = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    # -- articles ---------------------------------------------------------------------------

    def has_url(self, url: str) -> bool:
        return self.conn.execute("SELECT 1 FROM articles WHERE url = ?", (url,)).fetchone() is not None

    def insert_article(self, a: ArticleRecord, story_id: int | None = None) -> int:
        cur = self.conn.execute(
            """INSERT INTO articles (url, source, title, body, lang, outlet, published_at, fetched_at,
                   content_hash, story_id, attachment_url, attachment_text, baseline)
               VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)""",
            (a.url, a.source, a.title, a.body, a.lang, a.outlet, iso(a.published_at), iso(utcnow()),
             a.content_hash, story_id, a.attachment_url, a.attachment_text, int(a.baseline)),
        )
        aid = int(cur.lastrowid)
        self.conn.execute(
            "INSERT INTO articles_fts(rowid, title, body) VALUES (?,?,?)",
            (aid, fts_text(a.title or ""), fts_text((a.body or "") + "\n" + (a.attachment_text or ""))),
        )
        return aid

    def set_topics(self, article_id: int, tags: Iterable[Any]) -> None:
        self.conn.execute("DELETE FROM article_topics WHERE article_id = ?", (article_id,))
        self.conn.executemany(
            "INSERT INTO article_topics (article_id, topic, score, evidence) VALUES (?,?,?,?)",
            [(article_id, t.topic, round(t.score, 3), json.dumps(t.evidence, ensure_ascii=False)) for t in tags],
        )

    def topics_of(self, article_id: int) -> list[dict[str, Any]]:
        rows = self.q("SELECT topic, score, evidence FROM article_topics WHERE article_id = ? ORDER BY score DESC", (article_id,))
        for r in rows:
            r["evidence"] = json.loads(r["evidence"])
        return rows

    def article(self, article_id: int) -> dict[str, Any] | None:
        rows = self.q("SELECT * FROM articles WHERE id = ?", (article_id,))
        return rows[0] if rows else None

    # -- stories ----------------------------------------------------------------------------

    def new_story(self, article_id: int, title: str, outlet: str | None) -> int:
        now = iso(utcnow())
        cur = self.conn.execute(
            "INSERT INTO stories (first_article_id, title, first_seen, last_seen, copies, outlets) VALUES (?,?,?,?,1,?)",
            (article_id, title, now, now, json.dumps([outlet] if outlet else [], ensure_ascii=False)),
        )
        return int(cur.lastrowid)

    def join_story(self, story_id: int, outlet: str | None) -> None:
        row = self.conn.execute("SELECT outlets FROM stories WHERE id = ?", (story_id,)).fetchone()
        outlets = json.loads(row[0]) if row else []
        if outlet and outlet not in outlets:
            outlets.append(outlet)
        self.conn.execute(
            "UPDATE stories SET copies = copies + 1, last_seen = ?, outlets = ? WHERE id = ?",
            (iso(utcnow()), json.dumps(outlets, ensure_ascii=False), story_id),
        )

    def set_article_story(self, article_id: int, story_id: int) -> None:
        self.conn.execute("UPDATE articles SET story_id = ? WHERE id = ?", (story_id, article_id))

    def story_of_identical_text(self, content_hash: str, since: str) -> int | None:
        """The story of an article with exactly this text, fetched since then."""
        return self.one("SELECT story_id FROM articles WHERE content_hash = ? AND fetched_at >= ? "
                        "AND story_id IS NOT NULL LIMIT 1", (content_hash, since))

    def story_key_postings(self, keys: list[int], since: int, per_key: int,
                           newest_first: bool = True) -> dict[int, list[tuple[int, int]]]:
        """For each key, the (article_id, story_id) indexed under it since then (unix time): newest first,
        at most `per_key` of them — one bounded index range per key, whatever the store's size. (Oldest
        first is how regwatch read its sketches before story_keys; bench/stories.py measures that too.)"""
        out: dict[int, list[tuple[int, int]]] = {}
        for i in range(0, len(keys), 64):
            chunk = keys[i:i + 64]
            sql = _POSTINGS_SQL.get((len(chunk), newest_first))
            if sql is None:
                sql = _POSTINGS_SQL[len(chunk), newest_first] = " UNION ALL ".join(
                    ["SELECT * FROM (SELECT key, article_id, story_id FROM story_keys WHERE key = ? AND seen >= ? "
                     f"ORDER BY seen {'DESC' if newest_first else 'ASC'} LIMIT ?)"] * len(chunk))
            for key, aid, sid in self.conn.execute(sql, [v for k in chunk for v in (k, since, per_key)]):
                out.setdefault(key, []).append((aid, sid))
        return out

    def story_candidate(self, article_id: int) -> tuple[str, str, int | None] | None:
        """(title, body, story_id) of a stored article."""
        row = self.conn.execute("SELECT title, body, story_id FROM articles WHERE id = ?", (article_id,)).fetchone()
        return (row[0] or "", row[1] or "", row[2]) if row else None

    def add_story_keys(self, rows: Iterable[tuple[int, int, int, int]]) -> None:
        """Index (key, seen, article_id, story_id) rows."""
        self.conn.executemany("INSERT OR IGNORE INTO story_keys (key, seen, article_id, story_id) VALUES (?,?,?,?)", rows)

    def load_story_keys(self, rows: Iterable[tuple[int, int, int, int]]) -> None:
        """Index many (key, seen, article_id, story_id) rows at once: staged, then written in key order (a
        re-index of the window after an upgrade; benchmarks' stores)."""
        with self.tx():
            self.conn.execute("CREATE TEMP TABLE IF NOT EXISTS story_keys_load "
                              "(key INTEGER, seen INTEGER, article_id INTEGER, story_id INTEGER)")
            self.conn.executemany("INSERT INTO temp.story_keys_load VALUES (?,?,?,?)", rows)
            self.conn.execute("INSERT OR IGNORE INTO story_keys SELECT key, seen, article_id, story_id "
                              "FROM temp.story_keys_load ORDER BY key, seen, article_id")
            self.conn.execute("DROP TABLE temp.story_keys_load")

    def load_articles(self, rows: Iterable[tuple[int, str, str, str, str, str, int]]) -> None:
        """Many (id, url, source, title, body, fetched_at, story_id) articles at once, without full-text
        entries or topics: for benchmarks' stores of a million articles."""
        with self.tx():
            self.conn.executemany("INSERT INTO articles (id, url, source, title, body, fetched_at, story_id) "
                                  "VALUES (?,?,?,?,?,?,?)", rows)

    def legacy_story_sketches(self) -> bool:
        """Whether the store still has `story_bands` (the sketches of regwatch before story_keys)."""
        return self.one("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'story_bands'") is not None

    def articles_for_story_index(self, since: str) -> Iterable[tuple[int, str, str, str, int]]:
        """(id, title, body, fetched_at, story_id) of the articles fetched since then that belong to a story."""
        return self.conn.execute("SELECT id, coalesce(title, ''), coalesce(body, ''), fetched_at, story_id FROM articles "
                                 "WHERE fetched_at >= ? AND story_id IS NOT NULL", (since,))

    def table_bytes(self, table: str) -> int:
        """Bytes a table (with its indexes) takes in the file."""
        return int(self.one("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = ? "
                            "OR name IN (SELECT name FROM sqlite_master WHERE tbl_name = ? AND type = 'index')",
                            (table, table)) or 0)

    def drop_legacy_story_sketches(self) -> None:
        self.conn.execute("DROP TABLE IF EXISTS story_bands")

    # -- list pages (conditional GET), per source ------------------------------------------

    def list_cache(self, source: str, url: str) -> dict[str, Any] | None:
        rows = self.q("SELECT * FROM list_cache WHERE source = ? AND url = ?", (source, url))
        if not rows:
            return None
        rows[0]["children"] = json.loads(rows[0]["children"]) if rows[0]["children"] else None
        return rows[0]

    def save_list_cache(self, source: str, url: str, etag: str | None, last_modified: str | None,
                        body_hash: str | None, children: list[str] | None = None) -> None:
        self.conn.execute(
            """INSERT INTO list_cache (source, url, etag, last_modified, body_hash, children, checked_at)
               VALUES (?,?,?,?,?,?,?)
               ON CONFLICT(source, url) DO UPDATE SET etag=excluded.etag, last_modified=excluded.last_modified,
               body_hash=excluded.body_hash, children=excluded.children, checked_at=excluded.checked_at""",
            (source, url, etag, last_modified, body_hash,
             json.dumps(children) if children is not None else None, iso(utcnow())),
        )

    def forget_list_cache(self, source: str, url: str) -> None:
        """The list page must be read in full next time (an entry of it was not stored)."""
        self.conn.execute("DELETE FROM list_cache WHERE source = ? AND url = ?", (source, url))

    # -- article URLs a source has settled without storing ----------------------------------

    def known_urls(self, source: str, urls: list[str]) -> set[str]:
        """Of these URLs, those stored (by any source) or skipped by this source: never fetched again."""
        out: set[str] = set()
        for i in range(0, len(urls), 500):
            chunk = urls[i : i + 500]
            marks = ",".join("?" * len(chunk))
            out.update(r[0] for r in self.conn.execute(f"SELECT url FROM articles WHERE url IN ({marks})", chunk))
            out.update(r[0] for r in self.conn.execute(
                f"SELECT url FROM source_urls WHERE source = ? AND state = 'skipped' AND url IN ({marks})",
                [source, *chunk]))
        return out

    def skip_url(self, source: str, url: str, reason: str) -> None:
        """An article the site forbids, has removed or that is not a page: recorded once, not fetched again."""
        self.conn.execute(
            "INSERT INTO source_urls (source, url, state, reason, at) VALUES (?,?,'skipped',?,?) "
            "ON CONFLICT(source, url) DO UPDATE SET state = 'skipped', reason = excluded.reason, at = excluded.at",
            (source, url, reason[:300], iso(utcnow())))

    def mark_baseline_urls(self, source: str, urls: Iterable[str]) -> None:
        """Named by the source's baseline run but not stored then: stored later, they are baseline too."""
        now = iso(utcnow())
        self.conn.executemany(
            "INSERT OR IGNORE INTO source_urls (source, url, state, at) VALUES (?,?,'baseline',?)",
            [(source, u, now) for u in urls])

    def is_baseline_url(self, source: str, url: str) -> bool:
        return self.conn.execute("SELECT 1 FROM source_urls WHERE source = ? AND url = ? AND state = 'baseline'",
                                 (source, url)).fetchone() is not None

    def skipped_urls(self, source: str, limit: int = 20) -> list[dict[str, Any]]:
        return self.q("SELECT url, reason, at FROM source_urls WHERE source = ? AND state = 'skipped' "
                      "ORDER BY at DESC LIMIT ?", (source, limit))

    def count_skipped(self, source: str) -> int:
        return int(self.one("SELECT count(*) FROM source_urls WHERE source = ? AND state = 'skipped'", (source,)) or 0)

    # -- sources ----------------------------------------------------------------------------

    def source_state(self, source: str) -> dict[str, Any]:
        rows = self.q("SELECT * FROM source_state WHERE source = ?", (source,))
        if rows:
            return rows[0]
        self.conn.execute("INSERT OR IGNORE INTO source_state (source) VALUES (?)", (source,))
        return self.q("SELECT * FROM source_state WHERE source = ?", (source,))[0]

    def update_source_state(self, source: str, **fields: Any) -> None:
        self.source_state(source)
        sets = ", ".join(f"{k} = ?" for k in fields)
        self.conn.execute(f"UPDATE source_state SET {sets} WHERE source = ?", (*fields.values(), source))

    def baselined_on_url(self, url: str) -> list[str]:
        """The source names that were baselined on this list URL (a renamed source's old name among them)."""
        return [r[0] for r in self.conn.execute(
            "SELECT source FROM source_state WHERE url = ? AND baselined_at IS NOT NULL ORDER BY baselined_at DESC",
            (url,))]

    def record_run(self, **fields: Any) -> int:
        if isinstance(fields.get("statuses"), dict):
            fields["statuses"] = json.dumps(fields["statuses"])
        cols = ", ".join(fields)
        marks = ", ".join("?" for _ in fields)
        cur = self.conn.execute(f"INSERT INTO source_runs ({cols}) VALUES ({marks})", tuple(fields.values()))
        return int(cur.lastrowid)

    def recent_runs(self, source: str, n: int) -> list[dict[str, Any]]:
        return self.q("SELECT * FROM source_runs WHERE source = ? ORDER BY id DESC LIMIT ?", (source, n))

    # -- alerts (the outbox) ----------------------------------------------------------------
    #
    # An alert is what to tell (a story, to a subscription's channel); a message is what went out
    # (one alert, or a digest of several). Alerts are composed into messages once; a message is
    # claimed by one sender at a time (a lease, so a crashed sender's message is taken over), and
    # retried whole with its own idempotency key. Alerts mirror their message's status.

    def enqueue_alert(self, *, subscription: str, channel: str, story_id: int | None, article_id: int | None,
                      kind: str = "article", payload: dict[str, Any] | None = None,
                      digest_at: datetime | None = None, idem_key: str) -> int | None:
        """Write an alert to the outbox; None when this story already has one for (subscription, channel)."""
        now = iso(utcnow())
        cur = self.conn.execute(
            """INSERT OR IGNORE INTO alerts (kind, subscription, channel, story_id, article_id, payload, status,
                   created_at, next_attempt_at, idem_key, digest_at)
               VALUES (?,?,?,?,?,?,?,?,?,?,?)""",
            (kind, subscription, channel, story_id, article_id,
             json.dumps(payload, ensure_ascii=False) if payload is not None else None,
             "digest" if digest_at else "pending", now, iso(digest_at) if digest_at else now, idem_key, iso(digest_at)),
        )
        return int(cur.lastrowid) if cur.rowcount else None

    def has_alert(self, subscription: str, channel: str, story_id: int) -> bool:
        return self.one("SELECT 1 FROM alerts WHERE subscription = ? AND channel = ? AND story_id = ?",
                        (subscription, channel, story_id)) is not None

    def alerts_to_compose(self, now: datetime) -> list[dict[str, Any]]:
        """Due alerts that no message carries yet (new ones, and scheduled digests whose time came)."""
        return self.q("SELECT * FROM alerts WHERE message_id IS NULL AND status IN ('pending','retry','digest') "
                      "AND next_attempt_at <= ? ORDER BY id", (iso_ms(now),))

    def add_message(self, *, channel: str, kind: str, idem_key: str, payload: dict[str, Any],
                    alert_ids: list[int], now: datetime) -> int:
        """One message carrying these alerts, due now (inside the composing transaction)."""
        cur = self.conn.execute(
            "INSERT INTO messages (channel, kind, idem_key, payload, items, status, created_at, next_attempt_at) "
            "VALUES (?,?,?,?,?, 'pending', ?, ?)",
            (channel, kind, idem_key, json.dumps(payload, ensure_ascii=False), len(alert_ids), iso_ms(now), iso_ms(now)))
        mid = int(cur.lastrowid)
        self.conn.executemany("UPDATE alerts SET message_id = ?, status = 'pending', next_attempt_at = ? "
                              "WHERE id = ? AND message_id IS NULL", [(mid, iso_ms(now), a) for a in alert_ids])
        return mid

    def fail_alerts(self, alert_ids: list[int], error: str) -> None:
        self.conn.executemany("UPDATE alerts SET status = 'failed', last_error = ? WHERE id = ?",
                              [(error, a) for a in alert_ids])

    def messages_since(self, channel: str, since: datetime) -> int:
        """Messages the channel was sent (or is being sent) since then, and those waiting to go."""
        return int(self.one("SELECT count(*) FROM messages WHERE channel = ? AND "
                            "(claimed_at >= ? OR status = 'pending')", (channel, iso_ms(since))) or 0)

    def channels_due(self, now: datetime) -> list[str]:
        """Channels with a message to send now (or one whose sender's claim expired)."""
        rows = self.conn.execute(
            "SELECT DISTINCT channel FROM messages WHERE (status IN ('pending','retry') AND next_attempt_at <= ?) "
            "OR (status = 'sending' AND claimed_until <= ?)", (iso_ms(now), iso_ms(now))).fetchall()
        return [r[0] for r in rows]

    def claim_message(self, channel: str, now: datetime, *, per_minute: int, min_gap: float, window: float,
                      margin: float, lease: float, worker: str) -> tuple[dict[str, Any] | None, float]:
        """Claim the channel's next due message for this sender, if its pacing allows one now.

        Returns (the message, 0) or (None, seconds until the channel may take one; 0 = none due).
        Pacing is counted from the store, so it holds across processes and `run --once` runs.
        """
        with self.tx():
            recent = [r[0] for r in self.conn.execute(
                "SELECT claimed_at FROM messages WHERE channel = ? AND claimed_at >= ? ORDER BY claimed_at DESC LIMIT ?",
                (channel, iso_ms(now - timedelta(seconds=window)), per_minute)).fetchall()]
            wait = 0.0
            if recent and min_gap:
                wait = (datetime.fromisoformat(recent[0]) + timedelta(seconds=min_gap) - now).total_seconds()
            if len(recent) >= per_minute:
                free_at = datetime.fromisoformat(recent[-1]) + timedelta(seconds=window + margin)
                wait = max(wait, (free_at - now).total_seconds())
            row = self.conn.execute(
                "SELECT * FROM messages WHERE channel = ? AND ((status IN ('pending','retry') AND next_attempt_at <= ?) "
                "OR (status = 'sending' AND claimed_until <= ?)) ORDER BY next_attempt_at, id LIMIT 1",
                (channel, iso_ms(now), iso_ms(now))).fetchone()
            if row is None:
                return None, 0.0
            if wait > 0:
                return None, wait
            mid = row[0]
            token = f"{worker}@{iso_ms(now)}"
            self.conn.execute(
                "UPDATE messages SET status = 'sending', attempts = attempts + 1, claimed_at = ?, claimed_until = ?, "
                "claimed_by = ? WHERE id = ?", (iso_ms(now), iso_ms(now + timedelta(seconds=lease)), token, mid))
            self.conn.execute("UPDATE alerts SET status = 'sending', attempts = attempts + 1 WHERE message_id = ?", (mid,))
            return self.q("SELECT * FROM messages WHERE id = ?", (mid,))[0], 0.0

    def finish_message(self, message: dict[str, Any], *, status: str, error: str | None = None,
                       next_attempt_at: datetime | None = None, sent_at: datetime | None = None) -> bool:
        """Record an attempt's outcome on the message and its alerts; False when the claim was lost
        (it expired and another sender took the message over: that sender's outcome counts)."""
        with self.tx():
            cur = self.conn.execute(
                "UPDATE messages SET status = ?, last_error = ?, next_attempt_at = coalesce(?, next_attempt_at), "
                "sent_at = ?, claimed_until = NULL WHERE id = ? AND claimed_by = ?",
                (status, error, iso_ms(next_attempt_at) if next_attempt_at else None,
                 iso_ms(sent_at) if sent_at else None, message["id"], message["claimed_by"]))
            if not cur.rowcount:
                return False
            self.conn.execute(
                "UPDATE alerts SET status = ?, last_error = ?, next_attempt_at = coalesce(?, next_attempt_at), sent_at = ? "
                "WHERE message_id = ?",
                (status, error, iso_ms(next_attempt_at) if next_attempt_at else None,
                 iso_ms(sent_at) if sent_at else None, message["id"]))
            return True

    def postpone_messages(self, channel: str, until: datetime) -> None:
        """The channel's pacing will not take a message before then: its due messages wait."""
        self.conn.execute("UPDATE messages SET next_attempt_at = ? WHERE channel = ? AND status IN ('pending','retry') "
                          "AND next_attempt_at < ?", (iso_ms(until), channel, iso_ms(until)))

    def fail_messages_of_channel(self, channel: str, error: str) -> None:
        with self.tx():
            self.conn.execute("UPDATE alerts SET status = 'failed', last_error = ? WHERE message_id IN "
                              "(SELECT id FROM messages WHERE channel = ? AND status IN ('pending','retry','sending'))",
                              (error, channel))
            self.conn.execute("UPDATE messages SET status = 'failed', last_error = ? WHERE channel = ? "
                              "AND status IN ('pending','retry','sending')", (error, channel))

    def next_due_at(self) -> str | None:
        """When the outbox next has something to do: a message due, a claim expiring, an alert to compose."""
        return self.one(
            "SELECT min(t) FROM (SELECT min(next_attempt_at) AS t FROM messages WHERE status IN ('pending','retry') "
            "UNION ALL SELECT min(claimed_until) FROM messages WHERE status = 'sending' "
            "UNION ALL SELECT min(next_attempt_at) FROM alerts WHERE message_id IS NULL "
            "AND status IN ('pending','retry','digest'))")

    # -- labels (a user's corrections) -------------------------------------------------------

    def find_article(self, url_or_id: str) -> dict[str, Any] | None:
        """An article by its id (`123` or `#123`) or its URL."""
        key = url_or_id.strip().lstrip("#")
        rows = self.q("SELECT * FROM articles WHERE id = ?", (int(key),)) if key.isdigit() else []
        return rows[0] if rows else (self.q("SELECT * FROM articles WHERE url = ?", (url_or_id.strip(),)) or [None])[0]

    def set_label(self, article_id: int, topic: str, value: bool) -> None:
        self.conn.execute(
            "INSERT INTO labels (article_id, topic, value, created_at) VALUES (?,?,?,?) ON CONFLICT(article_id, topic) "
            "DO UPDATE SET value = excluded.value, created_at = excluded.created_at",
            (article_id, topic, int(value), iso(utcnow())))

    def labelled_articles(self) -> list[dict[str, Any]]:
        """Every labelled article as an evaluation item: `labels` (is about) and `not_labels` (is not)."""
        out: dict[int, dict[str, Any]] = {}
        for r in self.q("SELECT l.article_id, l.topic, l.value, a.title, a.body, a.attachment_text, a.lang, a.url "
                        "FROM labels l JOIN articles a ON a.id = l.article_id ORDER BY l.article_id, l.topic"):
            item = out.setdefault(r["article_id"], {
                "id": r["article_id"], "url": r["url"], "title": r["title"] or "", "lang": r["lang"], "labels": [],
                "not_labels": [], "text": (r["body"] or "") + ("\n" + r["attachment_text"] if r["attachment_text"] else "")})
            item["labels" if r["value"] else "not_labels"].append(r["topic"])
        return list(out.values())

    def story_outlets(self, story_id: int | None) -> list[str]:
        return json.loads(self.one("SELECT outlets FROM stories WHERE id = ?", (story_id,)) or "[]")

    def story_started_in_baseline(self, story_id: int) -> bool:
        """Whether a story's first article was stored by a baseline (old news: its copies never alert)."""
        return bool(self.one("SELECT a.baseline FROM stories s JOIN articles a ON a.id = s.first_article_id "
                             "WHERE s.id = ?", (story_id,)))

    def set_channel_state(self, channel: str, state: str, error: str | None = None) -> str | None:
        """Record a channel's state; the previous one (None if it never had one)."""
        prev = self.one("SELECT state FROM channel_state WHERE channel = ?", (channel,))
        if prev != state:
            self.conn.execute(
                "INSERT INTO channel_state (channel, state, since, last_error) VALUES (?,?,?,?) ON CONFLICT(channel) "
                "DO UPDATE SET state = excluded.state, since = excluded.since, last_error = excluded.last_error",
                (channel, state, iso(utcnow()), error))
        return prev


_POSTINGS_SQL: dict[tuple[int, bool], str] = {}


class StoreError(Exception):
    """The store cannot be opened or written; str() is the line shown to the user."""


class _Tx:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn
        self.outer = False

    def __enter__(self) -> "_Tx":
        self.outer = not self.conn.in_transaction
        if self.outer:
            self.conn.execute("BEGIN IMMEDIATE")
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if not self.outer:
            return
        if exc_type is None:
            self.conn.execute("COMMIT")
        else:
            self.conn.execute("ROLLBACK")
