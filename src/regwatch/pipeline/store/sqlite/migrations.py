"""The SQLite store's schema, as sqlite-utils migrations: append a step, never edit one that shipped.

Each step runs in a savepoint with the record of it (`_sqlite_migrations`), all pending steps in one
write transaction, so two processes opening one store never both migrate it. A store from before
this table (regwatch counted its steps in `PRAGMA user_version`) has its first `user_version` steps
recorded as applied; `user_version` is kept equal to the number of steps, for users' tools.
"""

from __future__ import annotations

from datetime import UTC, datetime

import sqlite_utils
from sqlite_utils.migrations import Migrations

from ....defaults import CUT_SEND_BEFORE_CUT_AT
from ..base import URL_KEY, url_key


def m1_initial(db: sqlite_utils.Database) -> None:
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


def m2_covering_story_index(db: sqlite_utils.Database) -> None:
    # story candidates are read from the index alone: flat cost as the store grows
    db.executescript("""
        DROP INDEX IF EXISTS story_bands_key;
        CREATE INDEX IF NOT EXISTS story_bands_key ON story_bands(band, hash, seen_at, article_id);
    """)


def m3_message_of_alert(db: sqlite_utils.Database) -> None:
    # a digest carries several alerts in one message: pacing counts messages, not alerts
    db.executescript("ALTER TABLE alerts ADD COLUMN message_id INTEGER;")


def m4_channel_state(db: sqlite_utils.Database) -> None:
    db.executescript("""
        CREATE TABLE IF NOT EXISTS channel_state (
            channel TEXT PRIMARY KEY, state TEXT NOT NULL, since TEXT, last_error TEXT
        );
    """)


def m5_attachment_text(db: sqlite_utils.Database) -> None:
    db.executescript("ALTER TABLE articles ADD COLUMN attachment_text TEXT;")


def m6_messages(db: sqlite_utils.Database) -> None:
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


def m7_labels(db: sqlite_utils.Database) -> None:
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


def m8_per_source_lists(db: sqlite_utils.Database) -> None:
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


def m9_story_keys(db: sqlite_utils.Database) -> None:
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


def m10_workers(db: sqlite_utils.Database) -> None:
    # several processes on one store: a source is leased to the worker crawling it (`claimed_by` until
    # `lease_until`; `claimed_at` tells the next worker whether this cycle's crawl happened), each run
    # names its worker and when it leased the source, and running daemons say they are alive (they share the sources due at once)
    db.executescript("""
        ALTER TABLE source_state ADD COLUMN claimed_by TEXT;
        ALTER TABLE source_state ADD COLUMN claimed_at TEXT;
        ALTER TABLE source_state ADD COLUMN lease_until TEXT;
        ALTER TABLE source_runs ADD COLUMN worker TEXT;
        ALTER TABLE source_runs ADD COLUMN claimed_at TEXT;
        CREATE TABLE IF NOT EXISTS workers (
            worker TEXT PRIMARY KEY, host TEXT, pid INTEGER, tags TEXT NOT NULL DEFAULT '[]',
            started_at TEXT NOT NULL, seen_at TEXT NOT NULL
        );
    """)


def m11_url_digests(db: sqlite_utils.Database) -> None:
    # a configured URL may carry a token: list pages' validators and a source's last list URL are keyed by
    # its digest instead (`base.url_key`), so the store file holds no secret of the config
    plain = URL_KEY + "%"
    for source, url in db.execute("SELECT source, url FROM list_cache WHERE url NOT LIKE ?", (plain,)).fetchall():
        db.execute("UPDATE list_cache SET url = ? WHERE source = ? AND url = ?", (url_key(url), source, url))
    for source, url in db.execute("SELECT source, url FROM source_state WHERE url NOT LIKE ?", (plain,)).fetchall():
        db.execute("UPDATE source_state SET url = ? WHERE source = ?", (url_key(url), source))


def m12_store_meta(db: sqlite_utils.Database) -> None:
    # what the store itself must remember across processes: when the story index was last pruned (a daemon
    # restarted daily and `run --once` from cron prune it when due, not only a daemon up for a whole day)
    db.execute("CREATE TABLE IF NOT EXISTS store_meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)")


def m13_cut_sends(db: sqlite_utils.Database) -> None:
    # a send regwatch's own stop cut off is marked in the data (`cut_at`: when), not told by its error text;
    # those of an earlier version are marked from that text (when claimed: when the send started)
    db.executescript("""
        ALTER TABLE messages ADD COLUMN cut_at TEXT;
        ALTER TABLE alerts ADD COLUMN cut_at TEXT;
    """)
    db.execute("UPDATE messages SET cut_at = coalesce(claimed_at, next_attempt_at) WHERE last_error = ?",
               [CUT_SEND_BEFORE_CUT_AT])
    db.execute("UPDATE alerts SET cut_at = coalesce((SELECT m.cut_at FROM messages m WHERE m.id = alerts.message_id), "
               "next_attempt_at) WHERE last_error = ? AND message_id IS NOT NULL", [CUT_SEND_BEFORE_CUT_AT])


def m14_worker_leases(db: sqlite_utils.Database) -> None:
    # a running daemon's row holds until when it counts as alive unless renewed (its `seen_at` + its own
    # `[worker] lease`): a killed daemon's row is removed after that, not a day later
    db.execute("ALTER TABLE workers ADD COLUMN lease_until TEXT")


def m15_one_alert_per_story_channel(db: sqlite_utils.Database) -> None:
    # one alert per story per channel, whichever subscriptions route it there: a story alert's idempotency key
    # names its story and channel (and the store), and the store takes one alert per key — also from two
    # processes at once, or a run cut off and run again. (The keys of older alerts named their subscription too:
    # all distinct, so the index builds on any store.)
    db.execute("CREATE UNIQUE INDEX IF NOT EXISTS alerts_story_channel ON alerts(idem_key) WHERE story_id IS NOT NULL")


def m16_failure_of_a_retry(db: sqlite_utils.Database) -> None:
    # whose a failed attempt was (`statuses.Failure`: the channel's, the message's alone, or a wait the platform
    # named), kept with the message so that every process on the store reads it (a daemon, `run --once`, another
    # daemon): a message the channel refuses alone does not hold the channel's alerts, a named wait holds them all
    db.execute("ALTER TABLE messages ADD COLUMN failure TEXT")


def m17_slow_urls_by_url(db: sqlite_utils.Database) -> None:
    # an article stored forgets every source's first attachment timeout of its URL (`slow`): found by URL through a
    # partial index — the few `slow` rows only, not every URL every source listed
    db.execute("CREATE INDEX IF NOT EXISTS source_urls_slow ON source_urls(url) WHERE state = 'slow'")


# In order; the position of a step is its old `user_version` number.
MIGRATIONS = [m1_initial, m2_covering_story_index, m3_message_of_alert, m4_channel_state, m5_attachment_text,
              m6_messages, m7_labels, m8_per_source_lists, m9_story_keys, m10_workers, m11_url_digests,
              m12_store_meta, m13_cut_sends, m14_worker_leases,
              m15_one_alert_per_story_channel, m16_failure_of_a_retry, m17_slow_urls_by_url]

migrations = Migrations("regwatch")
for _step in MIGRATIONS:
    migrations(name=_step.__name__)(_step)


def foreign(db: sqlite_utils.Database) -> bool:
    """Whether the file is another program's: it holds tables, and no record of regwatch's steps (neither in
    `_sqlite_migrations` nor, for a store from before that table, a `user_version` beside regwatch's tables).
    Read before anything is written to the file: regwatch never adds its tables to another program's."""
    tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view') "
                                       "AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\'").fetchall()}
    if not tables:
        return False
    if migrations.migrations_table in tables and db.execute(
            f"SELECT 1 FROM [{migrations.migrations_table}] WHERE migration_set = ? LIMIT 1",
            [migrations.name]).fetchone():
        return False
    legacy = 0 < db.execute("PRAGMA user_version").fetchone()[0] <= len(MIGRATIONS)
    return not (legacy and {"articles", "stories", "article_topics"} <= tables)


def pending(db: sqlite_utils.Database) -> bool:
    """Whether the store lacks a step (a read: no lock taken)."""
    if not db[migrations.migrations_table].exists():
        return True
    return len(migrations.pending(db)) > 0


def migrate(db: sqlite_utils.Database) -> None:
    """Apply the pending steps; call inside a write transaction."""
    if not db[migrations.migrations_table].exists():
        done = db.execute("PRAGMA user_version").fetchone()[0]
        migrations.ensure_migrations_table(db)
        # a store of regwatch before sqlite-utils migrations: its first `user_version` steps are applied
        now = str(datetime.now(UTC))
        db.table(migrations.migrations_table).insert_all(
            {"migration_set": migrations.name, "name": step.__name__, "applied_at": now} for step in MIGRATIONS[:done])
    migrations.apply(db)
    db.execute(f"PRAGMA user_version={len(MIGRATIONS)}")
