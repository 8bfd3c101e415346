"""The SQLite store's file: opening it, transactions and savepoints, migrations, and the row helpers
the concern modules share. One file, WAL mode, written from one thread (the event loop's)."""

from __future__ import annotations

import secrets
import sqlite3
import time
from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import sqlite_utils

from ....defaults import SQLITE_MIN, STORE_LOCK_WAIT
from ...private import create_private
from ..base import Row, StoreError, not_a_store
from ..shared.sql import Connection, Params
from . import migrations

# What the file or the machine did, not the code: a lock held past STORE_LOCK_WAIT, a full disk, an I/O
# error, a read-only, vanished or damaged file. A statement run through the connection or a cursor of it (all
# of regwatch's own, and sqlite-utils'), a script, and the reading of its rows, raise these as a FileError: a
# StoreError (one line, and retried where a caller retries) that is still the sqlite3.OperationalError it was,
# for code that catches that (sqlite-utils does); any other sqlite3 error is a bug and keeps its type and
# traceback.
TRANSIENT = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED, sqlite3.SQLITE_FULL, sqlite3.SQLITE_IOERR,
                       sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PROTOCOL,
                       sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB})


class FileError(StoreError, sqlite3.OperationalError):
    """The store's file failed (TRANSIENT): a StoreError, and the sqlite3 error it was."""


class _Connection(sqlite3.Connection):
    """sqlite3's connection, whose statements raise a FileError for what the file did (TRANSIENT) — as they
    start, as their rows are read (a damaged page past the first row fails only then), and in a script — through
    the connection or any of its cursors (sqlite-utils runs a script inside a transaction on a cursor of its own)."""

    path = ""

    def _failed(self, e: sqlite3.Error) -> Exception:
        if getattr(e, "sqlite_errorcode", 0) & 0xFF in TRANSIENT:
            failed = FileError(f"{self.path}: {e}")
            failed.sqlite_errorcode = e.sqlite_errorcode
            failed.sqlite_errorname = e.sqlite_errorname
            return failed
        return e

    def cursor(self, factory: Any = None) -> sqlite3.Cursor:  # type: ignore[override]  # (the stub's overloads)
        return super().cursor(factory or _Cursor)

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        return self.cursor().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        return self.cursor().executemany(sql, parameters)

    def executescript(self, script: str, /) -> sqlite3.Cursor:
        return self.cursor().executescript(script)


class _Cursor(sqlite3.Cursor):
    """A cursor whose statements, and rows read one step at a time, raise a FileError for what the file did."""

    connection: _Connection

    def execute(self, sql: str, parameters: Any = (), /) -> Any:
        try:
            return super().execute(sql, parameters)
        except sqlite3.Error as e:
            raise self.connection._failed(e) from None

    def executemany(self, sql: str, parameters: Any, /) -> Any:
        try:
            return super().executemany(sql, parameters)
        except sqlite3.Error as e:
            raise self.connection._failed(e) from None

    def executescript(self, script: str, /) -> Any:
        try:
            return super().executescript(script)
        except sqlite3.Error as e:
            raise self.connection._failed(e) from None

    def __next__(self) -> Any:
        try:
            return super().__next__()
        except sqlite3.Error as e:
            raise self.connection._failed(e) from None

    def fetchone(self) -> Any:
        try:
            return super().fetchone()
        except sqlite3.Error as e:
            raise self.connection._failed(e) from None

    def fetchmany(self, size: int | None = None) -> list[Any]:
        try:
            return super().fetchmany(self.arraysize if size is None else size)
        except sqlite3.Error as e:
            raise self.connection._failed(e) from None

    def fetchall(self) -> list[Any]:
        try:
            return super().fetchall()
        except sqlite3.Error as e:
            raise self.connection._failed(e) from None


def _wal(conn: sqlite3.Connection) -> None:
    """Switch the file to WAL. On a new file two processes may both hold its read lock and want the
    exclusive one: SQLite then fails one at once, without waiting (its deadlock rule, not a timeout),
    so the loser retries until the winner is done or the usual wait is spent."""
    deadline = time.monotonic() + STORE_LOCK_WAIT
    pause = 0.005
    while True:
        try:
            sqlite3.Connection.execute(conn, "PRAGMA journal_mode=WAL")     # its own error, untranslated
            return
        except sqlite3.OperationalError as e:
            if e.sqlite_errorcode & 0xFF != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.2)


def too_old(found: tuple[int, ...]) -> str | None:
    """Why an SQLite library of version `found` cannot run the store (its SQL needs SQLITE_MIN: `UPDATE … RETURNING`
    records every send), or None: every recorded send would fail, and an accepted message be sent again each lease."""
    if tuple(found) >= SQLITE_MIN:
        return None
    shown = ".".join(map(str, found))
    return (f"SQLite {shown} is too old: regwatch's store needs SQLite {'.'.join(map(str, SQLITE_MIN))} or later "
            "(the library Python's sqlite3 is linked against)")


class SQLiteConnection(Connection):
    """Open with `Store(path)` (`:memory:` works for tests)."""

    def __init__(self, path: str | Path):
        self.path = str(path)
        if old := too_old(sqlite3.sqlite_version_info):
            raise StoreError(f"{self.path}: cannot open the store: {old}")
        if self.path != ":memory:":
            try:
                create_private(self.path)     # a new store is its user's alone (its -wal and -shm take its mode)
            except IsADirectoryError:
                pass                          # (SQLite's own error says it below)
            except OSError as e:
                raise StoreError(f"{self.path}: cannot open the store: {e.strerror}") from None
        try:
            conn = sqlite3.connect(self.path, timeout=STORE_LOCK_WAIT, isolation_level=None, factory=_Connection)
            conn.path = self.path
            try:
                if migrations.foreign(sqlite_utils.Database(conn)):    # (read before anything is written)
                    raise not_a_store(self.path, "a new file for store.path")
                _wal(conn)
            except BaseException:
                conn.close()
                raise
        except sqlite3.Error as e:     # (a FileError names the file already)
            raise StoreError(f"{self.path}: cannot open the store: {str(e).removeprefix(self.path + ': ')}") from None
        conn.execute("PRAGMA synchronous=NORMAL")
        # a store of a million articles is a few GB: keep the hot index pages in memory
        conn.execute("PRAGMA cache_size=-65536")
        conn.execute("PRAGMA mmap_size=268435456")
        conn.execute("PRAGMA foreign_keys=OFF")
        self.db = sqlite_utils.Database(conn)
        self.conn = conn
        if migrations.pending(self.db):
            with self.tx():         # a write lock first: another process opening the store waits, then finds it done
                migrations.migrate(self.db)

    @classmethod
    def exists(cls, location: str) -> bool:
        """A file that is there and not empty (a zero-byte file is an empty database: no store yet)."""
        if location == ":memory:":
            return True
        try:
            return Path(location).stat().st_size > 0
        except FileNotFoundError:
            return False

    @contextmanager
    def tx(self) -> Iterator[None]:
        """A transaction (`BEGIN IMMEDIATE`: the write lock from the start, so two processes never
        deadlock upgrading a read); inside another, a savepoint, rolled back alone if its block raises."""
        conn = self.conn
        if conn.in_transaction:
            name = f"rw_{secrets.token_hex(8)}"
            conn.execute(f"SAVEPOINT {name}")
            try:
                yield
            except BaseException:
                if conn.in_transaction:     # an error may have ended the whole transaction already
                    conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                    conn.execute(f"RELEASE SAVEPOINT {name}")
                raise
            conn.execute(f"RELEASE SAVEPOINT {name}")
            return
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:         # a failed COMMIT (the disk full) leaves the transaction open
                conn.execute("ROLLBACK")
            raise

    def close(self) -> None:
        self.conn.close()

    def story_lock(self) -> AbstractContextManager[None]:
        # the write lock from the start (BEGIN IMMEDIATE): another process's story search waits for this one
        return self.tx()

    # -- SQL helpers: for this package's modules, and for tests that read the file ----------------

    def q(self, sql: str, params: Params = ()) -> list[Row]:
        cur = self.conn.execute(sql, params)
        cols = [c[0] for c in cur.description or ()]
        return [dict(zip(cols, row, strict=True)) for row in cur.fetchall()]

    def one(self, sql: str, params: Params = ()) -> Any:
        row = self.conn.execute(sql, params).fetchone()
        return row[0] if row else None

    def all(self, sql: str, params: Params = ()) -> list[tuple[Any, ...]]:
        return self.conn.execute(sql, params).fetchall()

    def x(self, sql: str, params: Params = ()) -> int:
        return self.conn.execute(sql, params).rowcount

    def many(self, sql: str, seq: Sequence[Params]) -> None:
        self.conn.executemany(sql, seq)

    def insert(self, sql: str, params: Params = ()) -> int | None:
        cur = self.conn.execute(sql, params)
        return int(cur.lastrowid or 0) if cur.rowcount else None

    def rows(self, sql: str, params: Params = ()) -> Iterator[Row]:
        """Like q(), a row at a time (an export of the whole store)."""
        cur = self.conn.execute(sql, params)
        cols = [c[0] for c in cur.description or ()]
        for row in cur:
            yield dict(zip(cols, row, strict=True))

    def table_bytes(self, table: str) -> int:
        """Bytes a table (with its indexes) takes in the file (benchmarks)."""
        return int(self.one("SELECT coalesce(sum(pgsize), 0) FROM dbstat WHERE name = ? "
                            "OR name IN (SELECT name FROM sqlite_master WHERE tbl_name = ? AND type = 'index')",
                            (table, table)) or 0)
