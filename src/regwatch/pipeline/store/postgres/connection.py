"""The PostgreSQL store's connections: a pool (psycopg_pool), transactions and savepoints, migrations,
and the row helpers the concern modules share.

Outside a transaction each call borrows a connection from the pool (autocommit); `tx()` pins one to
the calling thread until it ends, and a `tx()` inside it is a savepoint. A connection the server
dropped (a restart, a failover) is replaced by the pool, so the next call works again.

Queries are written with `?` placeholders, as on SQLite (the shared queries are the same text on both
engines): the helpers hand psycopg `%s` for each `?` and `%%` for a literal `%` (a `LIKE` pattern),
converted once per distinct query. A query run without parameters goes as it is (psycopg reads no
placeholder in it), and so does one composed with `psycopg.sql` (identifiers, in copying).
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import psycopg
from psycopg.conninfo import conninfo_to_dict
from psycopg_pool import ConnectionPool

from ....defaults import (
    PG_ANSWER_WAIT,
    PG_CONNECT_TIMEOUT,
    PG_IDLE_IN_TRANSACTION,
    PG_KEEPALIVE_IDLE,
    PG_POOL_SIZE,
    PG_POOL_WAIT,
    STORE_LOCK_WAIT,
)
from ...redact import redact
from ..base import Row, StoreError, not_a_store
from ..shared.sql import Connection, Params
from . import migrations

if TYPE_CHECKING:     # (not in every psycopg this package allows: annotations only)
    from psycopg.abc import QueryNoTemplate as Query

# advisory lock keys: (namespace, key) pairs; the namespace is regwatch's own
LOCK_NS = 0x7277          # "rw"
LOCK_MIGRATE = 1
LOCK_STORIES = 2
LOCK_COPY = 3             # a store copied into this one (`regwatch migrate`)
LOCK_CHANNEL_NS = 0x7278  # with hashtext(channel): one channel's pacing


# a URL's password: up to its last @ (a password written as it is may hold `/`, `@`, `:`)
_PASSWORD = re.compile(r"(://[^:/@\s]*):(\S*)@")
_QUERY_PASSWORD = re.compile(r"(?i)(password=)([^&\s]*)")


def shown(url: str) -> str:
    """The URL as the user may see it: its password (`user:password@`, `?password=`) masked."""
    return _QUERY_PASSWORD.sub(r"\1***", _PASSWORD.sub(r"\1:***@", url))


def _password_parts(url: str) -> list[str]:
    """The URL's password and the pieces a parser may cut it into (an error may quote one as a host or port)."""
    out: list[str] = []
    for m in (*_PASSWORD.finditer(url), *_QUERY_PASSWORD.finditer(url)):
        out += [m.group(2), *re.split(r"[/@:?#&=]", m.group(2))]
    return out


@lru_cache(maxsize=1024)
def psycopg_sql(sql: str) -> str:
    """A query written with `?` placeholders as psycopg reads it: `%s` for each `?`, `%%` for a literal `%`.
    (No SQL of regwatch has a `?` that is not a placeholder: no jsonb `?` operator, none in a literal.)"""
    return sql.replace("%", "%%").replace("?", "%s")


def _query(sql: Query, params: Params) -> tuple[Query, Params | None]:
    """What psycopg runs: without parameters, the query as it is (psycopg then reads no placeholder in it)."""
    if not params:
        return sql, None
    return (psycopg_sql(sql) if isinstance(sql, str) else sql), params


NOT_OURS = "an empty database"     # what to use instead of another program's


def has_store(url: str) -> bool:
    """Whether the database holds a regwatch store (its migrations' table), without making one; StoreError for
    one that holds other tables and not regwatch's."""
    try:
        with psycopg.connect(url, connect_timeout=PG_CONNECT_TIMEOUT) as conn:
            ours, tables = conn.execute(migrations.STATE).fetchone() or (False, False)
    except psycopg.Error as e:
        raise StoreError(f"{shown(url)}: cannot open the store: {_reason(e, url)}") from None
    if migrations.foreign((ours, tables)):
        raise not_a_store(shown(url), NOT_OURS)
    return bool(ours)


# … and this side's: a call waiting on a server the network silently lost ends within about a minute (libpq's
# defaults: the system's, two hours) — keepalives while its query waits for an answer, TCP's user timeout while
# what it sent is not acknowledged (else retransmissions, about 15 minutes). What the store's URL sets itself wins.
CLIENT_KEEPALIVES = {"keepalives": 1, "keepalives_idle": PG_KEEPALIVE_IDLE,
                     "keepalives_interval": PG_KEEPALIVE_IDLE // 3, "keepalives_count": 3,
                     "tcp_user_timeout": PG_KEEPALIVE_IDLE * 2 * 1000}


def _session(conn: psycopg.Connection) -> None:
    """Each connection's session: a worker that hangs (stopped, swapped out, cut off by the network) inside a
    transaction holding the story or a channel's lock is ended by the server after PG_IDLE_IN_TRANSACTION, and
    a dead peer is found by TCP keepalives within a minute (the defaults: two hours), so the other workers go on."""
    conn.execute(f"SET idle_in_transaction_session_timeout = '{int(PG_IDLE_IN_TRANSACTION * 1000)}ms'")
    # another process's lock (a table locked by a schema change, a row, the story lock) is waited for as long as
    # on SQLite (its busy timeout), then the statement fails: one line, as there, not a wait without end
    conn.execute(f"SET lock_timeout = '{int(STORE_LOCK_WAIT * 1000)}ms'")
    conn.execute(f"SET tcp_keepalives_idle = {PG_KEEPALIVE_IDLE}")
    conn.execute(f"SET tcp_keepalives_interval = {PG_KEEPALIVE_IDLE // 3}")
    conn.execute("SET tcp_keepalives_count = 3")


class _Watchdog:
    """Cuts the connection of a statement whose answer has not come within PG_ANSWER_WAIT (its socket shut down: libpq
    reads the end, the call fails, the pool drops the connection). On a network partition nothing else ends such a
    wait when a proxy, pooler or load balancer on the way still acknowledges what is sent (TCP's keepalives and user
    timeout then never fire), and TCP's own end, where it comes, takes a minute. One thread, started with the first
    statement, looks twice a second."""

    TICK = 0.5

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._waiting: dict[object, tuple[float, psycopg.Connection[Any]]] = {}
        self._cut: set[object] = set()
        self._work = threading.Event()
        self._thread: threading.Thread | None = None
        self.cuts = 0                     # statements cut (tests)

    @contextmanager
    def watch(self, conn: psycopg.Connection[Any], bound: float) -> Iterator[None]:
        key = object()
        with self._lock:
            self._waiting[key] = (time.monotonic() + bound, conn)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True, name="regwatch-pg-watchdog")
                self._thread.start()
        self._work.set()
        try:
            yield
        except psycopg.OperationalError:
            if self._done(key):
                raise psycopg.OperationalError(f"no answer from the server within {bound:g} s "
                                               "(the network or the server is down): connection cut") from None
            raise
        if self._done(key):       # cut as its answer came: the connection is of no more use
            conn.close()

    def _done(self, key: object) -> bool:
        """Whether the statement was cut (it is no longer watched)."""
        with self._lock:
            self._waiting.pop(key, None)
            if key in self._cut:
                self._cut.discard(key)
                return True
        return False

    def _run(self) -> None:
        while True:
            self._work.wait()
            with self._lock:
                now = time.monotonic()
                for key, (deadline, conn) in self._waiting.items():
                    if deadline <= now and key not in self._cut:
                        self._cut.add(key)
                        self.cuts += 1
                        _shut(conn)
                if not self._waiting:
                    self._work.clear()
            time.sleep(self.TICK)


def _shut(conn: psycopg.Connection[Any]) -> None:
    """Shut the connection's socket down (both ways): the statement waiting on it fails at once."""
    try:
        with socket.socket(fileno=os.dup(conn.pgconn.socket)) as sock:
            sock.shutdown(socket.SHUT_RDWR)
    except (OSError, psycopg.Error):
        pass                # (closed meanwhile)


_WATCHDOG = _Watchdog()
_BOUND = threading.local()       # `seconds`: this thread's bound on an answer, where not PG_ANSWER_WAIT (None: none)


class _Connection(psycopg.Connection[Any]):
    """A pool connection whose every wait on the server (a statement, BEGIN and COMMIT, a row of a stream, a COPY's
    write, the pool's checks) is watched: see _Watchdog."""

    def wait(self, gen: Any, *args: Any, **kwargs: Any) -> Any:
        bound = getattr(_BOUND, "seconds", PG_ANSWER_WAIT)
        if bound is None:
            return super().wait(gen, *args, **kwargs)
        with _WATCHDOG.watch(self, bound):
            return super().wait(gen, *args, **kwargs)


@contextmanager
def answers_within(seconds: float | None) -> Iterator[None]:
    """This thread's statements are cut after `seconds` without an answer (None: they wait as long as they take)."""
    missing = object()
    before = getattr(_BOUND, "seconds", missing)
    _BOUND.seconds = seconds
    try:
        yield
    finally:
        if before is missing:
            del _BOUND.seconds
        else:
            _BOUND.seconds = before


def unbounded() -> AbstractContextManager[None]:
    """This thread's statements wait as long as they take: one that waits for another process's migration or copy."""
    return answers_within(None)


class PostgresConnection(Connection):
    """Open with `Store("postgresql://user@host/db")`; the password from the URL, `PGPASSWORD` or ~/.pgpass."""

    def __init__(self, url: str):
        self.url = url
        self._local = threading.local()
        try:       # one connection first: its error says what is wrong (the pool's would only time out)
            psycopg.connect(url, connect_timeout=PG_CONNECT_TIMEOUT).close()
        except psycopg.Error as e:
            raise StoreError(f"{shown(url)}: cannot open the store: {_reason(e, url)}") from None
        own = conninfo_to_dict(url)            # (what the URL sets itself wins)
        keepalives = {k: v for k, v in CLIENT_KEEPALIVES.items() if k not in own}
        self.pool = ConnectionPool(url, min_size=1, max_size=PG_POOL_SIZE, open=False, name="regwatch", timeout=PG_POOL_WAIT,
                                   connection_class=_Connection,
                                   kwargs={"autocommit": True, "connect_timeout": PG_CONNECT_TIMEOUT, **keepalives},
                                   configure=_session)
        self.pool.open(wait=True, timeout=PG_CONNECT_TIMEOUT)
        try:
            with unbounded(), self.tx():
                self.x("SET LOCAL lock_timeout = 0")    # (another process's migration may take longer than a call's wait)
                self.x("SELECT pg_advisory_xact_lock(?, ?)", (LOCK_NS, LOCK_MIGRATE))    # one process migrates
                if migrations.foreign(self.all(migrations.STATE)[0]):       # (read before anything is written)
                    raise not_a_store(shown(url), NOT_OURS)
                migrations.migrate(self)
        except psycopg.errors.InsufficientPrivilege as e:   # (a user that may not create in the schema: PostgreSQL 15+)
            refused = self._not_permitted(e)
            self.pool.close()
            raise StoreError(refused) from None
        except BaseException:
            self.pool.close()
            raise

    def _not_permitted(self, e: psycopg.Error) -> str:
        """The one line for a database whose schema regwatch's user may not create or change tables in: since
        PostgreSQL 15 only the database's owner may create in its `public` schema, so a database made by the
        superuser for another user (`createdb regwatch`, without `-O`) refuses regwatch's first statement."""
        try:
            user, db, schema = (_ident(n) for n in self.all(
                "SELECT current_user, current_database(), coalesce(current_schema(), 'public')")[0])
        except (psycopg.Error, StoreError):       # (the server gone meanwhile: the advice without the names)
            user, db, schema = "USER", "DATABASE", "public"
        why = redact(" ".join((e.diag.message_primary or str(e)).split()), _password_parts(self.url))
        return (f"{shown(self.url)}: cannot create regwatch's tables: {why} (user {user} must own database {db}: "
                f"make it with `createdb -O {user} …`, or as a superuser connected to it run "
                f"`ALTER DATABASE {db} OWNER TO {user}; ALTER SCHEMA {schema} OWNER TO {user}`)")

    @classmethod
    def exists(cls, location: str) -> bool:
        return has_store(location)

    # -- connections and transactions ---------------------------------------------------------

    @contextmanager
    def _conn(self) -> Iterator[psycopg.Connection]:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            yield conn
            return
        try:
            with self.pool.connection() as conn:
                yield conn
        except psycopg.OperationalError as e:
            raise self._lost(e) from None

    @contextmanager
    def tx(self) -> Iterator[None]:
        """A transaction; inside another, a savepoint, rolled back alone if its block raises."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            with conn.transaction():
                yield
            return
        try:
            with self.pool.connection() as conn:
                self._local.conn = conn
                try:
                    with conn.transaction():
                        yield
                finally:
                    self._local.conn = None
        except psycopg.OperationalError as e:
            raise self._lost(e) from None

    def _lost(self, e: psycopg.OperationalError) -> StoreError:
        """The store's error for a call whose connection failed. The server ended it (a restart, a failover, an
        administrator) or cannot be reached: the pool's idle connections were most likely ended with it, and each
        would fail a later call in turn (a daemon's delivery pass half a minute after the server was back) — they are
        closed now and replaced by the pool's own threads (psycopg_pool's `drain`; one in use when it comes back).
        Not checked one by one here: on a network partition each check would wait for its answer in turn
        (PG_ANSWER_WAIT each), holding this call for minutes. A statement the server refused on a live connection (a
        lock not had within `lock_timeout`, a `statement_timeout`) leaves the pool as it is."""
        if _ended(e):
            self.pool.drain()
        return StoreError(f"{shown(self.url)}: {_reason(e, self.url)}")

    def story_lock(self) -> AbstractContextManager[None]:
        return self._locked(LOCK_NS, LOCK_STORIES)

    @contextmanager
    def _locked(self, ns: int, key: int) -> Iterator[None]:
        """A transaction holding an advisory lock until it ends: another process's waits."""
        with self.tx():
            self.x("SELECT pg_advisory_xact_lock(?, ?)", (ns, key))
            yield

    def close(self) -> None:
        self.pool.close()

    # -- SQL helpers: for this package's modules, and for tests ---------------------------------

    def q(self, sql: Query, params: Params = ()) -> list[Row]:
        with self._conn() as conn:
            cur = conn.execute(*_query(sql, params))
            cols = [c.name for c in cur.description or ()]
            return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def one(self, sql: Query, params: Params = ()) -> Any:
        with self._conn() as conn:
            row = conn.execute(*_query(sql, params)).fetchone()
            return row[0] if row else None

    def all(self, sql: Query, params: Params = ()) -> list[tuple[Any, ...]]:
        with self._conn() as conn:
            return conn.execute(*_query(sql, params)).fetchall()

    def x(self, sql: Query, params: Params = ()) -> int:
        """Run a statement; the rows it changed."""
        with self._conn() as conn:
            return conn.execute(*_query(sql, params)).rowcount

    def many(self, sql: Query, seq: Sequence[Params]) -> None:
        if not seq:
            return
        with self._conn() as conn, conn.cursor() as cur:
            cur.executemany(psycopg_sql(sql) if isinstance(sql, str) else sql, seq)

    def insert(self, sql: str, params: Params = ()) -> int | None:
        new_id = self.one(sql + " RETURNING id", params)
        return None if new_id is None else int(new_id)

    def rows(self, sql: Query, params: Params = ()) -> Iterator[Row]:
        """Like q(), a row at a time (an export of the whole store)."""
        with self._conn() as conn, conn.cursor() as cur:
            cols: list[str] | None = None
            for row in cur.stream(*_query(sql, params)):
                if cols is None:
                    cols = [c.name for c in cur.description or ()]
                yield dict(zip(cols, row, strict=True))

    def table_bytes(self, table: str) -> int:
        """Bytes a table (with its indexes) takes (benchmarks)."""
        return int(self.one("SELECT pg_total_relation_size(?::regclass)", (table,)) or 0)


def _ended(e: psycopg.OperationalError) -> bool:
    """Whether the error is the connection's end: no answer (the connection lost or cut, none to be had from the pool),
    or the server's own word that it ends it (class 08, or 57: a shutdown, a restart, an administrator), not a
    statement it cancelled (57014) or refused on a connection that goes on."""
    state = e.sqlstate
    return state is None or (state[:2] in ("08", "57") and state != "57014")


def _ident(name: str) -> str:
    """A name as SQL reads it: quoted unless it is a plain lower-case identifier."""
    return name if re.fullmatch(r"[a-z_][a-z0-9_$]*", name) else '"' + name.replace('"', '""') + '"'


def _reason(e: psycopg.Error, url: str) -> str:
    text = " ".join(str(e).split()) or type(e).__name__
    return redact(text, _password_parts(url))
