"""A whole store copied in or out (`regwatch migrate`) on SQLite: rows as they are, ids kept; the
full-text index rebuilt from the articles afterwards."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from typing import Any

from ...searchtext import fts_text
from ..shared import copying as shared
from ..shared.copying import copied_table
from .connection import SQLiteConnection

BATCH = 5000


class Copying(shared.Copying, SQLiteConnection):
    def copy_lock(self) -> AbstractContextManager[None]:
        return self.tx()        # BEGIN IMMEDIATE: the write lock from the start, another copy into the file waits

    def copy_rows(self, table: str, columns: tuple[str, ...]) -> Iterator[tuple[Any, ...]]:
        return iter(self.conn.execute(f"SELECT {', '.join(columns)} FROM {copied_table(table)}"))

    def load_rows(self, table: str, columns: tuple[str, ...], rows: Iterable[tuple[Any, ...]]) -> int:
        sql = f"INSERT INTO {copied_table(table)} ({', '.join(columns)}) VALUES ({','.join('?' * len(columns))})"
        n = 0
        with self.tx():
            batch: list[tuple[Any, ...]] = []
            for row in rows:
                batch.append(tuple(row))
                if len(batch) >= BATCH:
                    self.conn.executemany(sql, batch)
                    n += len(batch)
                    batch = []
            self.conn.executemany(sql, batch)
        return n + len(batch)

    def rebuild_after_copy(self) -> None:
        with self.tx():
            self.conn.execute("DELETE FROM articles_fts")
            self.conn.executemany(
                "INSERT INTO articles_fts(rowid, title, body) VALUES (?,?,?)",
                ((aid, fts_text(title or ""), fts_text((body or "") + "\n" + (att or "")))
                 for aid, title, body, att in self.conn.execute(
                     "SELECT id, title, body, attachment_text FROM articles ORDER BY id")))
