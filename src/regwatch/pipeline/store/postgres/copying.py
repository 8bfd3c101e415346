"""A whole store copied in or out (`regwatch migrate`) on PostgreSQL: rows as they are with COPY, ids
kept; then the full-text index built from the articles and the id sequences moved past the copied ids."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

from ..base import StoreError
from ..shared import copying as shared
from ..shared.copying import copied_table
from .articles import ts_doc
from .connection import LOCK_COPY, LOCK_NS, PostgresConnection, _reason, shown, unbounded

BATCH = 2000
IDENTITY_TABLES = ("stories", "articles", "messages", "alerts", "source_runs")


def _table(table: str) -> sql.Identifier:
    return sql.Identifier(copied_table(table))


class Copying(shared.Copying, PostgresConnection):
    @contextmanager
    def copy_lock(self) -> Iterator[None]:
        try:
            with self.tx():
                wait = self.one("SELECT current_setting('lock_timeout')")
                self.x("SET LOCAL lock_timeout = 0")        # (another copy may take longer than a call's wait)
                with unbounded():
                    self.x("SELECT pg_advisory_xact_lock(?, ?)", (LOCK_NS, LOCK_COPY))
                self.x("SELECT set_config('lock_timeout', ?, true)", (wait,))
                yield
        except psycopg.Error as e:      # (a row the copy cannot write, a commit refused: one line, not a traceback)
            raise StoreError(f"{shown(self.url)}: cannot copy into the store: {_reason(e, self.url)}") from None

    def copy_rows(self, table: str, columns: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
        query = sql.SQL("SELECT {} FROM {}").format(sql.SQL(", ").join(map(sql.Identifier, columns)), _table(table))
        try:
            for row in self.rows(query):
                yield tuple(row.values())
        except psycopg.Error as e:
            raise StoreError(f"{shown(self.url)}: cannot read {table}: {_reason(e, self.url)}") from None

    def load_rows(self, table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> int:
        n = 0
        query = sql.SQL("COPY {} ({}) FROM STDIN").format(_table(table), sql.SQL(", ").join(map(sql.Identifier, columns)))
        with self.tx(), self._conn() as conn, conn.cursor() as cur, cur.copy(query) as copy:
            for row in rows:
                copy.write_row(row)
                n += 1
        return n

    def rebuild_after_copy(self) -> None:
        with self.tx():
            self.x("DELETE FROM articles_fts")
            last = 0
            while True:
                batch = self.all("SELECT id, title, body, attachment_text FROM articles WHERE id > ? ORDER BY id LIMIT ?",
                                 (last, BATCH))
                if not batch:
                    break
                self.many("INSERT INTO articles_fts (article_id, doc) VALUES (?, ?::tsvector)",
                          [(aid, ts_doc(title or "", (body or "") + "\n" + (att or ""))) for aid, title, body, att in batch])
                last = batch[-1][0]
            for table in IDENTITY_TABLES:        # (names of this module's own: put into the SQL as they are)
                self.x(f"SELECT setval(pg_get_serial_sequence(?, 'id'), coalesce(max(id), 0) + 1, false) FROM {table}",
                       (table,))
