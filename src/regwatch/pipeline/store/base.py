"""What a store engine implements: every query the rest of regwatch makes, as methods.

`Store` is the interface (an abstract base) and the way to open one: `Store("regwatch.db")` returns
the engine for that location: a file path is SQLite (`sqlite/`), a `postgresql://` URL PostgreSQL
(`postgres/`). Code outside the store types its parameter
as `Store`, calls only these methods, and never sees SQL, a connection or an engine's exceptions.

Conventions every engine keeps:
- Times are stored and returned as ISO 8601 strings in UTC with an explicit offset (`timeutil.iso`;
  `iso_ms` where pacing needs microseconds), so that text order is time order. Methods take
  `datetime`s where noted, ISO strings elsewhere.
- Rows are returned as `dict`s keyed by the column names of the README's store tables.
- Statuses are the `statuses` enums (stored as their string values).
- `tx()` is a transaction; a `tx()` inside another is a savepoint: if its block raises, only its own
  writes are undone and the outer transaction goes on.
- A configured URL (a source's list page or feed, which may carry a token) is never stored as text:
  `list_cache.url` and `source_state.url` hold its `url_key()`, a SHA-256 digest, enough to match it again.
- Any number of processes may share one store: what one of them must do alone is claimed through the
  store (a source's lease, a message's claim, the story lock), never assumed.
"""

from __future__ import annotations

import hashlib
import logging
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from dataclasses import fields as dataclass_fields
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from ...defaults import CLOCK_TOLERANCE, READ_PAGE
from .. import timeutil
from .statuses import AlertKind, Failure

URL_KEY = "sha256:"


def url_key(url: str) -> str:
    """How a configured URL is kept in the store: its digest (the URL may carry a secret; matching needs no more)."""
    return URL_KEY + hashlib.sha256(url.encode("utf-8")).hexdigest()

Row = dict[str, Any]


class StoreError(Exception):
    """The store cannot be opened or written; str() is the line shown to the user."""


@dataclass
class ArticleFields:
    """An article as it was fetched: the fields the processor takes in (its `Incoming` adds to them) and the
    store writes (`ArticleRecord` adds what the processor made of them)."""

    url: str
    source: str
    title: str
    body: str
    lang: str
    published_at: datetime | None
    outlet: str | None = None
    attachment_url: str | None = None
    attachment_text: str = ""           # stored as NULL when empty
    baseline: bool = False


@dataclass
class ArticleRecord(ArticleFields):
    """An article to store: its fields, and what the processor made of them."""

    content_hash: str | None = None
    search_title: str | None = None     # what the search index holds (an Article's): made by the store when None
    search_text: str | None = None

    @classmethod
    def of(cls, fields: ArticleFields, **made: Any) -> ArticleRecord:
        """The record of these fields (an `Incoming`'s, say) with what was made of them (`content_hash`, …)."""
        return cls(**{f.name: getattr(fields, f.name) for f in dataclass_fields(ArticleFields)}, **made)


class TopicTag(Protocol):
    """What `set_topics` reads of a classifier's tag."""

    topic: str
    score: float
    evidence: list[dict[str, Any]]


POSTGRES_SCHEMES = ("postgresql", "postgres")

# What `regwatch migrate` copies from one store to another: every table of the README's store, each
# column. (Not the full-text index, rebuilt from the articles, nor `workers`, which only running
# processes fill.) tests/test_migrate.py checks that this names every table and column of the schema.
COPY_TABLES: dict[str, tuple[str, ...]] = {
    "stories": ("id", "first_article_id", "title", "first_seen", "last_seen", "copies", "outlets"),
    "articles": ("id", "url", "source", "title", "body", "lang", "outlet", "published_at", "fetched_at",
                 "content_hash", "story_id", "attachment_url", "baseline", "attachment_text"),
    "article_topics": ("article_id", "topic", "score", "evidence"),
    "story_keys": ("key", "seen", "article_id", "story_id"),
    "messages": ("id", "channel", "kind", "idem_key", "payload", "items", "status", "attempts", "created_at",
                 "next_attempt_at", "claimed_at", "claimed_until", "claimed_by", "last_error", "sent_at", "cut_at",
                 "failure"),
    "alerts": ("id", "kind", "subscription", "channel", "story_id", "article_id", "payload", "status", "attempts",
               "created_at", "next_attempt_at", "last_error", "sent_at", "idem_key", "digest_at", "message_id",
               "cut_at"),
    "source_runs": ("id", "source", "started_at", "finished_at", "state", "found", "new", "errors", "statuses",
                    "duration", "message", "deferred", "skipped", "too_old", "worker", "claimed_at"),
    "source_state": ("source", "state", "state_since", "baselined_at", "last_success_at", "last_new_at",
                     "failing_runs", "last_error", "reported_state", "url", "claimed_by", "claimed_at", "lease_until"),
    "list_cache": ("source", "url", "etag", "last_modified", "body_hash", "children", "checked_at"),
    "source_urls": ("source", "url", "state", "reason", "at"),
    "channel_state": ("channel", "state", "since", "last_error"),
    "labels": ("article_id", "topic", "value", "created_at"),
    "store_meta": ("key", "value"),
}


# The keys of `export_articles`' rows, in order (`regwatch export`'s CSV columns, `body` with `--body`).
EXPORT_FIELDS = ("id", "url", "source", "outlet", "title", "lang", "published_at", "fetched_at", "story_id",
                 "story_size", "body", "topics")


def engine_for(location: str | Path) -> type[Store]:
    """The store class for a location: a file path (or `:memory:`) is SQLite, a `postgresql://` URL PostgreSQL."""
    loc = str(location)
    if "://" in loc:
        scheme = loc.split("://", 1)[0].lower()
        if scheme in POSTGRES_SCHEMES:
            from .postgres import PostgresStore

            return PostgresStore
        raise StoreError(f"{scheme}: no store engine for this URL (use a file path, or a postgresql:// URL)")
    from .sqlite import SQLiteStore

    return SQLiteStore


def open_store(location: str | Path) -> Store:
    """`Store(location)` spelled so a type checker sees the engine's (concrete) class being made; this process's
    times then follow the store's clock (`Store.follow_clock`)."""
    store = engine_for(location)(location)
    store.follow_clock()
    return store


def has_store(location: str | Path) -> bool:
    """Whether a regwatch store is there, without making one (what a command that only reads asks first): an
    SQLite file that exists and is not empty (a zero-byte file is an empty database), a PostgreSQL database
    holding regwatch's tables. A database holding other tables and no record of regwatch's migrations is
    another program's: opening it raises StoreError (`not_a_store`), and so does this on PostgreSQL (where the
    question is a query)."""
    return engine_for(location).exists(str(location))


def not_a_store(where: str, instead: str) -> StoreError:
    """The one line for a database that holds tables but is not a regwatch store: it is left as it is."""
    return StoreError(f"{where}: not a regwatch store (it holds other tables and no record of regwatch's "
                      f"migrations); regwatch leaves it as it is: use {instead}")


class Store(ABC):
    """The regwatch store. `Store(location)` opens (and creates or upgrades) the store there."""

    def __new__(cls, location: str | Path, *args: Any, **kwargs: Any) -> Store:  # noqa: PYI034 - the engine's class
        return super().__new__(engine_for(location) if cls is Store else cls)

    # whether its calls may be made from another thread than the one that opened it, several at once (PostgreSQL: each
    # call borrows a pool connection, a transaction is pinned to its thread); SQLite's is its opener's thread's alone
    threadsafe: bool = False

    @classmethod
    @abstractmethod
    def exists(cls, location: str) -> bool:
        """`has_store(location)`: whether this engine's store is there, without making one."""

    # -- the store itself -------------------------------------------------------------------

    @abstractmethod
    def tx(self) -> AbstractContextManager[Any]:
        """A transaction: `with store.tx(): ...`; nested, a savepoint."""

    @abstractmethod
    def close(self) -> None: ...

    @abstractmethod
    def story_lock(self) -> AbstractContextManager[Any]:
        """Story assignment, one process at a time: a transaction in which no other process looks for an
        article's story or stores an article (SQLite: the write lock; PostgreSQL: an advisory lock)."""

    # -- articles and search ----------------------------------------------------------------

    @abstractmethod
    def has_url(self, url: str) -> bool:
        """Whether an article with this URL is stored."""

    @abstractmethod
    def insert_article(self, a: ArticleRecord, story_id: int | None = None) -> int:
        """Store an article (and its search entry); its id."""

    @abstractmethod
    def set_topics(self, article_id: int, tags: Iterable[TopicTag], new: bool = False) -> None:
        """Replace an article's topics (`new`: an article just stored, which has none yet)."""

    @abstractmethod
    def topics_of(self, article_id: int) -> list[Row]:
        """An article's `topic`, `score`, `evidence` (decoded), highest score first."""

    @abstractmethod
    def topics_by_article(self, ids: list[int]) -> dict[int, list[str]]:
        """For each of these article ids, its topic ids, highest score first."""

    @abstractmethod
    def article(self, article_id: int) -> Row | None: ...

    @abstractmethod
    def find_article(self, url_or_id: str) -> Row | None:
        """An article by its id (`123` or `#123`) or its URL."""

    @abstractmethod
    def search(self, query: str, *, topic: str | None = None, source: str | None = None,
               since: datetime | None = None, until: datetime | None = None, limit: int = 20) -> list[Row]:
        """Full-text search (`searchtext`'s query language; Chinese by character bigrams): the best-ranked
        matches among the newest, each with `id`, `url`, `title`, `source`, `outlet`, `published_at`,
        `fetched_at`, `story_id`, `story_size`, `body`. Raises `searchtext.QueryError` for a query it cannot run."""

    @abstractmethod
    def export_articles(self, since: datetime | None = None, topic: str | None = None) -> Iterator[Row]:
        """Articles in id order with `story_size` and `topics` (their ids), keyed as EXPORT_FIELDS: `regwatch export`."""

    @abstractmethod
    def stored_articles(self, since: str | None = None, *, page: int = READ_PAGE) -> Iterator[Row]:
        """Articles fetched since then (all without), in id order: `id`, `url`, `source`, `outlet`, `title`,
        `body`, `attachment_text`, `published_at`, `fetched_at`, `story_id`, `baseline`, and `topics` (their
        ids, highest score first) — read `page` articles at a time, so that a replay of the whole store holds
        one page in memory (a backtest re-tags them; `subscriptions test` replays them)."""

    @abstractmethod
    def count_articles(self, *, source: str | None = None, since: str | None = None) -> int:
        """Articles stored (from this source; fetched since then)."""

    @abstractmethod
    def load_articles(self, rows: Iterable[tuple[int, str, str, str, str, str, int]]) -> None:
        """Many (id, url, source, title, body, fetched_at, story_id) articles at once, without full-text
        entries or topics: for benchmarks' stores of a million articles."""

    # -- stories ----------------------------------------------------------------------------

    @abstractmethod
    def new_story(self, article_id: int, title: str, outlet: str | None) -> int: ...

    @abstractmethod
    def join_story(self, story_id: int, outlet: str | None) -> None:
        """One more copy of the story (from this outlet)."""

    @abstractmethod
    def set_article_story(self, article_id: int, story_id: int) -> None: ...

    @abstractmethod
    def story_of_identical_text(self, content_hash: str, since: str) -> int | None:
        """The story of an article with exactly this text, fetched since then."""

    @abstractmethod
    def story_key_postings(self, keys: list[int], since: int, per_key: int,
                           newest_first: bool = True) -> dict[int, list[tuple[int, int]]]:
        """For each key, the (article_id, story_id) indexed under it since then (unix time): newest first,
        at most `per_key` of them — one bounded index range per key, whatever the store's size. (Oldest
        first is how regwatch read its sketches before story_keys; bench/stories.py measures that too.)"""

    @abstractmethod
    def story_candidate(self, article_id: int) -> tuple[str, str, int | None] | None:
        """(title, body, story_id) of a stored article."""

    @abstractmethod
    def add_story_keys(self, rows: Iterable[tuple[int, int, int, int]]) -> None:
        """Index (key, seen, article_id, story_id) rows (a row already there is kept)."""

    @abstractmethod
    def load_story_keys(self, rows: Iterable[tuple[int, int, int, int]]) -> None:
        """Index many (key, seen, article_id, story_id) rows at once (a re-index of the window after an
        upgrade; benchmarks' stores)."""

    @abstractmethod
    def prune_story_keys(self, before: int, limit: int | None = None) -> int:
        """Drop index rows of articles seen before `before` (epoch seconds: older than the story window,
        never read again), at most `limit` of them in one short transaction; returns how many went."""

    @abstractmethod
    def story_keys_pruned_at(self) -> float | None:
        """When the story index was last pruned (epoch seconds; None: never)."""

    @abstractmethod
    def set_story_keys_pruned_at(self, when: float) -> None:
        """Remember when the story index was pruned (every process sharing the store reads it)."""

    @abstractmethod
    def legacy_story_sketches(self) -> bool:
        """Whether the store still has `story_bands` (the sketches of regwatch before story_keys)."""

    @abstractmethod
    def drop_legacy_story_sketches(self) -> None: ...

    @abstractmethod
    def articles_for_story_index(self, since: str) -> Iterable[tuple[int, str, str, str, int]]:
        """(id, title, body, fetched_at, story_id) of the articles fetched since then that belong to a story."""

    @abstractmethod
    def story_outlets(self, story_id: int | None) -> list[str]: ...

    @abstractmethod
    def story_started_in_baseline(self, story_id: int) -> bool:
        """Whether a story's first article was stored by a baseline (old news: its copies never alert)."""

    @abstractmethod
    def story(self, story_id: int) -> Row | None:
        """The `stories` row."""

    @abstractmethod
    def story_articles(self, story_id: int) -> list[Row]:
        """The articles of a story in the order they were stored: `id`, `url`, `source`, `outlet`, `title`,
        `body`, `published_at`, `fetched_at`, `content_hash`, `baseline` (`regwatch why`)."""

    @abstractmethod
    def count_stories(self, *, since: str | None = None) -> int:
        """Stories first seen since then (all without)."""

    @abstractmethod
    def count_stories_of_new_articles(self) -> int:
        """Stories that articles stored outside a baseline belong to."""

    @abstractmethod
    def largest_stories(self, since: str, limit: int = 15) -> list[Row]:
        """Stories first seen since then, most copies first: `id`, `title`, `copies`, `outlets` (JSON),
        `first_seen`, `url` and `topics` (comma-separated ids) of the first article."""

    # -- sources: health, runs, list pages, settled URLs --------------------------------------

    @abstractmethod
    def source_state(self, source: str) -> Row:
        """The source's `source_state` row (created in state `new` if it has none)."""

    @abstractmethod
    def update_source_state(self, source: str, **fields: Any) -> None:
        """Set these `source_state` columns."""

    @abstractmethod
    def known_sources(self) -> list[str]:
        """Every source that has run on this store, by name (a source no longer configured keeps its articles)."""

    @abstractmethod
    def baselined_on_url(self, url: str) -> list[str]:
        """The source names that were baselined on this list URL (a renamed source's old name among them)."""

    @abstractmethod
    def record_run(self, **fields: Any) -> int:
        """Add a `source_runs` row (`statuses` may be a dict); its id."""

    @abstractmethod
    def recent_runs(self, source: str, n: int) -> list[Row]:
        """The source's last n runs, newest first."""

    @abstractmethod
    def source_health(self) -> list[Row]:
        """Every source's `source`, `state`, `state_since`, `last_success_at`, `last_error`, by name."""

    @abstractmethod
    def sources_by_state(self) -> dict[str, int]:
        """How many sources are in each state."""

    @abstractmethod
    def list_cache(self, source: str, url: str) -> Row | None:
        """The list page's validators (`etag`, `last_modified`, `body_hash`, `children` decoded)."""

    @abstractmethod
    def save_list_cache(self, source: str, url: str, etag: str | None, last_modified: str | None,
                        body_hash: str | None, children: list[str] | None = None) -> None: ...

    @abstractmethod
    def forget_list_cache(self, source: str, url: str) -> None:
        """The list page must be read in full next time (an entry of it was not stored)."""

    @abstractmethod
    def known_urls(self, source: str, urls: list[str]) -> set[str]:
        """Of these URLs, those stored (by any source) or skipped by this source: never fetched again."""

    @abstractmethod
    def skip_url(self, source: str, url: str, reason: str) -> None:
        """An article the site forbids, has removed or that is not a page: recorded once, not fetched again."""

    @abstractmethod
    def missing_since(self, source: str, url: str) -> str | None:
        """When an article was first found missing (404/410), recording now the first time; None for a URL
        the source's baseline named."""

    @abstractmethod
    def attachment_timed_out(self, source: str, url: str, reason: str) -> bool:
        """An article's attachment took longer than extract_timeout: True when it had on an earlier run (stored
        without its text now); the first time recorded in `source_urls` and False (fetched again next run)."""

    @abstractmethod
    def forget_slow(self, url: str) -> None:
        """The article is stored: a first timeout of its attachment is forgotten (every source's)."""

    @abstractmethod
    def url_states(self, url: str) -> list[Row]:
        """What each source settled about an article URL it did not store: source, state, reason, at."""

    @abstractmethod
    def baseline_named(self, source: str, urls: list[str]) -> set[str]:
        """Those of `urls` the source's baseline named and did not store yet."""

    @abstractmethod
    def mark_baseline_urls(self, source: str, urls: Iterable[str]) -> None:
        """Named by the source's baseline run but not stored then: stored later, they are baseline too."""

    @abstractmethod
    def is_baseline_url(self, source: str, url: str) -> bool: ...

    # -- workers: the sources a process crawls, leased through the store ----------------------

    @abstractmethod
    def claim_sources(self, due: dict[str, str], *, worker: str, now: datetime, lease: float,
                      limit: int | None = None) -> list[str]:
        """Lease sources to this worker for `lease` seconds: of `due` (source → an ISO time; a claim of the
        source since then means it was crawled this cycle), those no worker holds and none claimed since
        their time, least recently claimed first, at most `limit`. Returns the names leased. A row locked
        by another worker's claim is skipped, not waited for."""

    @abstractmethod
    def renew_sources(self, names: list[str], *, worker: str, now: datetime, lease: float) -> list[str]:
        """Extend this worker's leases; the names it still holds (a lease that ran out and was taken over is lost)."""

    @abstractmethod
    def release_sources(self, names: list[str], *, worker: str, crawled: bool = True) -> None:
        """End this worker's leases (its crawl of them is over; `crawled=False`: it never began — given back
        due, as if never claimed this cycle)."""

    @abstractmethod
    def lease_holders(self, now: datetime) -> list[str]:
        """The workers holding a lease on some source at `now`."""

    @abstractmethod
    def free_leases_of(self, worker: str) -> list[str]:
        """A dead worker's unfinished crawls: its leases ended and its claims forgotten, so that its sources
        are due again at once; the sources freed."""

    @abstractmethod
    def worker_seen(self, worker: str, *, tags: list[str], now: datetime, ttl: float) -> int:
        """Record that a daemon is alive (with its tags) for `ttl` seconds (its lease) unless renewed, and remove the
        daemons whose own lease ran out unrenewed (killed); how many daemons with the same tags were seen within
        `ttl` seconds, itself included (they share the sources due at one time)."""

    @abstractmethod
    def worker_gone(self, worker: str) -> None:
        """A daemon stopped: it no longer counts."""

    @abstractmethod
    def clock_behind(self) -> float:
        """Seconds this host's clock is behind the store's (negative: ahead of it): 0 where the store's times are
        this machine's own (SQLite); PostgreSQL: its server's clock, read across the shortest of a few round trips."""

    def follow_clock(self) -> None:
        """Keep this process's times (`timeutil.utcnow`: claims, leases, retries, digests, runs) by the store's clock
        when this host's is off by CLOCK_TOLERANCE or more — processes on several hosts then decide by one clock —
        and say so on the log when that changes."""
        behind = self.clock_behind()
        if not timeutil.follow_clock(behind, CLOCK_TOLERANCE):
            return
        if abs(behind) >= CLOCK_TOLERANCE:
            logging.getLogger("regwatch").warning(
                "regwatch: this host's clock is %.1f s %s the store's server's; regwatch keeps the store's times by "
                "the server's clock (keep this host's clock in step: NTP)", abs(behind),
                "behind" if behind > 0 else "ahead of")
        else:
            logging.getLogger("regwatch").warning("regwatch: this host's clock is in step with the store's server's again")

    # -- copying a whole store (`regwatch migrate`) -------------------------------------------

    @abstractmethod
    def copy_lock(self) -> AbstractContextManager[Any]:
        """The transaction a copy into this store runs in, one copy at a time: another copy into it waits until
        this one ends, so that checking it is empty and filling it are one step (SQLite: the write lock;
        PostgreSQL: an advisory lock, waited for as long as the other copy takes). On PostgreSQL an error of the
        server inside it is a StoreError."""

    @abstractmethod
    def count_rows(self, table: str) -> int:
        """Rows of one of `COPY_TABLES`."""

    @abstractmethod
    def copy_rows(self, table: str, columns: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
        """Every row of one of `COPY_TABLES`, these columns."""

    @abstractmethod
    def load_rows(self, table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> int:
        """Write rows copied from another store as they are (ids kept); how many."""

    @abstractmethod
    def rebuild_after_copy(self) -> None:
        """After `load_rows`: the full-text index of every article, and new ids that follow the copied ones."""

    @abstractmethod
    def skipped_urls(self, source: str, limit: int = 20) -> list[Row]:
        """The source's skipped URLs (`url`, `reason`, `at`), newest first."""

    @abstractmethod
    def count_skipped(self, source: str) -> int: ...

    # -- the outbox: alerts (what to tell) and messages (what went out) ----------------------

    @abstractmethod
    def store_id(self) -> str:
        """A random id of this store, made on first use and kept by `migrate`: alerts' idempotency keys hold it, so
        that a fresh store's story 1 never shares a key with another store's."""

    @abstractmethod
    def enqueue_alert(self, *, subscription: str, channel: str, story_id: int | None, article_id: int | None,
                      kind: str = AlertKind.ARTICLE, payload: dict[str, Any] | None = None,
                      digest_at: datetime | None = None, idem_key: str) -> int | None:
        """Write an alert to the outbox; None when one with this idempotency key (of a story: it names the story
        and the channel) or for this (subscription, channel, story) is there already."""

    @abstractmethod
    def has_alert(self, channel: str, story_id: int) -> bool:
        """Whether the story has an alert to this channel (from any subscription)."""

    @abstractmethod
    def follow_digest_schedules(self, schedules: Mapping[str, Callable[[datetime], datetime | None]],
                                now: datetime) -> list[Row]:
        """Alerts waiting for a digest still to come, of the subscriptions in `schedules` (name → the send time
        its schedule as configured now gives an alert queued at that time; None: at once), moved to that time
        when it is another — to `now` when it is past, out of the digest when None (pending, due now) — in one
        transaction; each alert is moved only from the time it was read with, so that processes doing the same
        at once move it once. One row per move: `subscription`, `was`, `to` (None: at once), `alerts`."""

    @abstractmethod
    def alerts_to_compose(self, now: datetime, channels: Sequence[str]) -> list[Row]:
        """Due alerts to these channels that no message carries yet (new ones, and scheduled digests whose time
        came), and with them the alerts held uncomposed for a channel that has one due, whenever they were held
        until (what gathered over several holds is composed together)."""

    @abstractmethod
    def add_message(self, *, channel: str, kind: str, idem_key: str, payload: dict[str, Any],
                    alert_ids: list[int], now: datetime) -> int:
        """One message carrying these alerts, due now (inside the composing transaction)."""

    @abstractmethod
    def fail_alerts(self, alert_ids: list[int], error: str) -> None: ...

    @abstractmethod
    def messages_since(self, channel: str, since: datetime, now: datetime) -> int:
        """Messages the channel was sent (or is being sent) since then, and those due to go by `now`."""

    @abstractmethod
    def failing_until(self, channel: str) -> datetime | None:
        """When the channel's latest attempt failed for now (a retry; not a send still in flight, nor one regwatch's stop
        cut off, nor one whose `failure` was the message's alone, which say nothing of the channel): the next attempt
        of its messages waiting out such a retry (the alerts that come in meanwhile wait for it); while its probe is
        out (`claim_message`), the probe's (past: they wait for its answer); else None."""

    @abstractmethod
    def told_until(self, channel: str, now: datetime) -> datetime | None:
        """Until when the platform itself said to wait (a retry whose `failure` is a named wait — a rate limit — still
        waiting after `now`: the latest of them), else None. In the store, so every process on it honours it."""

    @abstractmethod
    def channels_due(self, now: datetime) -> list[str]:
        """Channels with a message to send now (or one whose sender's claim expired)."""

    @abstractmethod
    def claim_message(self, channel: str, now: datetime, *, per_minute: int, min_gap: float, window: float,
                      margin: float, lease: float, worker: str) -> tuple[Row | None, float]:
        """Claim the channel's next due message for this sender, if its pacing allows one now: of those due, the
        one made first (after an outage its messages go in the order they were made, whatever their backoffs).
        A failing channel (`failing_until`) gives one message, a probe, once its wait is over (the wait the platform
        named, else its latest failure's retry), and none while that one is out (any sender's): decided in the
        claim's transaction, so of several processes on the store one sends it; the messages it holds are put off
        until it opens (their `next_attempt_at`: the delivery loops wait for it), and are due at once when the channel
        takes the probe.

        Returns (the message, 0) or (None, seconds until the channel may take one; 0 = none due).
        Pacing is counted from the store, so it holds across processes and `run --once` runs.
        """

    @abstractmethod
    def finish_message(self, message: Row, *, status: str, error: str | None = None,
                       next_attempt_at: datetime | None = None, sent_at: datetime | None = None,
                       cut_at: datetime | None = None, named_wait: bool = False) -> Failure | bool:
        """Record an attempt's outcome on the message and its alerts (`cut_at`: when regwatch's own stop cut the
        send off, its mark in `cut_at`; None clears it). A retry's `messages.failure` (`statuses.Failure`) is judged
        here, in the transaction that records it, against the outbox as committed (any number of processes): `alone`
        when the message failed before and either its previous failure was alone (`alone` or `alone-wait`) or the
        channel took another message since its previous attempt — `alone-wait` when the platform named a wait
        (`named_wait`: a gateway's 500 + Retry-After to that payload alone holds its own retry, not the channel) —
        unless another of the channel's messages has failed since the channel last took one, whatever its mark
        (`channel`, `alone`, `alone-wait` or `wait`: one throttle refusing both): then it is the channel's. Any failure
        recorded with a mark (a named wait too) turns every other failure of the channel recorded `alone` since the
        channel last took a message into `channel` (two messages failing are the channel failing); one recorded
        `alone-wait` stays so: the wait the platform named it still holds it when the channel answers (the channel's
        failing is the later one's). The channel's is `wait` when `named_wait` (a rate limit; also
        a first failure's), else `channel`. Cleared by any other status and by a cut send.
        Returns the retry's mark as recorded (True without one); False when the claim was lost
        (it expired and another sender took the message over: that sender's outcome counts). It waits
        at most `finish_wait` on other processes or the server, then raises StoreError."""

    @abstractmethod
    def release_message(self, message: Row, *, note: str) -> bool:
        """Give a claimed message back unsent (`note` its last error): due as it was, in its place in the
        channel's order, its attempt not counted and its pacing slot free; False when the claim was lost."""

    @property
    @abstractmethod
    def finish_wait(self) -> float:
        """Seconds one `finish_message` call may wait — for another process's lock, for the server or a
        connection to it — before it raises StoreError: what a sender allows for each try it starts before
        its claim's lease runs out."""

    @abstractmethod
    def pacing_wait(self, channel: str, now: datetime, *, per_minute: int, min_gap: float, window: float,
                    margin: float) -> float:
        """Seconds until the channel's pacing takes another message (0: now), from its claims in the store."""

    @abstractmethod
    def hold_alerts(self, alert_ids: Sequence[int], until: datetime) -> None:
        """Alerts not yet in a message wait, uncomposed, until then (those a channel cannot take this minute:
        what gathers meanwhile goes out together)."""

    @abstractmethod
    def postpone_messages(self, channel: str, until: datetime) -> None:
        """The channel's pacing will not take a message before then: its due messages wait, and so does one whose
        sender's lease ran out."""

    @abstractmethod
    def hasten_retries(self, channel: str, now: datetime) -> int:
        """The channel answered again: its messages waiting out a retry's backoff are due now, in the order they
        were made (oldest first; the channel's pacing still spaces them); how many. A send a stop cut off (its
        `cut_at` set) keeps its wait (STOP_CUT_RETRY), and so does a message whose failure was its alone."""

    @abstractmethod
    def undelivered(self, since: datetime, channels: Iterable[str]) -> tuple[int, int]:
        """Alerts still on their way out, and those to `channels` given up or refused at an attempt since
        `since`."""

    @abstractmethod
    def reopen_messages(self, *, statuses: Iterable[str], since: datetime, now: datetime,
                        channel: str | None = None) -> int:
        """Messages in `statuses` (failed, broken) created since `since`, of one channel or all, sent again: their
        alerts (and those that failed before they were in a message) composed anew with the channel as configured
        now, due now, attempts afresh, the same idempotency keys; how many alerts."""

    @abstractmethod
    def next_due_at(self, channels: Sequence[str]) -> str | None:
        """When the outbox next has something to do for these channels: a message due, a claim expiring, an
        alert to compose."""

    @abstractmethod
    def set_channel_state(self, channel: str, state: str, error: str | None = None) -> str | None:
        """Record a channel's state; the previous one (None if it never had one), or `state` itself when
        another process recorded this change first (of several seeing it at once, one reports it)."""

    @abstractmethod
    def list_alerts(self, status: str | None = None, limit: int = 50, since: str | None = None,
                    channel: str | None = None) -> list[Row]:
        """The outbox, newest first (created since then; of one channel): `id`, `kind`, `subscription`, `channel`, `status`,
        `attempts`, `created_at`, `sent_at`, `next_attempt_at`, `digest_at`, `last_error`, `story_id`,
        `article_id`, `payload`, and its article's `title`."""

    @abstractmethod
    def story_alerts(self, story_id: int) -> list[Row]:
        """The story's alerts, oldest first: `id`, `subscription`, `channel`, `article_id`, `status`,
        `created_at`, `sent_at`, `digest_at`, `next_attempt_at`, `last_error`, and `message_kind` (the kind of
        message that carried it: `digest` or a single alert; None before it is composed)."""

    @abstractmethod
    def channel_states(self) -> dict[str, Row]:
        """Each channel that ever answered, by name: `channel`, `state` (ok, broken), `since` (when it took that
        state), `last_error` (what it answered when it broke)."""

    @abstractmethod
    def alerts_by_status(self) -> dict[str, int]:
        """How many alerts are in each status."""

    @abstractmethod
    def subscription_counts(self, since: str | None) -> list[Row]:
        """Per subscription, of the article alerts created since then (all without): `stories` matched,
        `alerts`, `sent`, `in_digests` (sent inside a digest), `failed` (failed or broken), `waiting`."""

    @abstractmethod
    def channel_counts(self, since: str | None) -> list[Row]:
        """Per channel, since then: `matches` (article alerts), `alerts_sent`, `messages_sent`, `digests` (sent),
        `failed` (messages failed or broken), `health` (health notices sent: they are not alerts)."""

    @abstractmethod
    def count_alerts(self, *, status: str | None = None, since: str | None = None) -> int:
        """Alerts (in this status; created since then)."""

    # -- labels (a user's corrections) and reports -----------------------------------------

    @abstractmethod
    def set_label(self, article_id: int, topic: str, value: bool) -> None:
        """The article is (True) or is not (False) about the topic."""

    @abstractmethod
    def labels_of(self, article_id: int) -> dict[str, bool]:
        """The article's corrections: topic → is about it (True) or not (False)."""

    @abstractmethod
    def forget_label(self, article_id: int, topic: str) -> bool:
        """Withdraw the correction on that topic (either way); whether there was one."""

    @abstractmethod
    def labelled_articles(self) -> list[Row]:
        """Every labelled article as an evaluation item: `labels` (is about) and `not_labels` (is not)."""

    @abstractmethod
    def topic_times(self, since: str) -> Iterator[tuple[str, str]]:
        """(published, else fetched, time; topic) of every tagged article since then: the report counts them
        per day in the display zone."""
