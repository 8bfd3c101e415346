"""The store: every query regwatch makes, behind `Store` methods.

- `base.py`: `Store`, the interface every engine implements (and `Store(location)` opens the engine
  for a location), with `ArticleFields` (an article as fetched), `ArticleRecord` (as stored) and `StoreError`.
- `statuses.py`: the named states kept in the store (alert, message, source, channel, URL), as enums.
- `shared/`: the queries both engines run alike, written once with `?` placeholders, one module per
  concern (articles, stories, sources and list caches, workers, the outbox, labels, reports, copying),
  each a class over `shared/sql.py`'s `Connection` (the SQL helpers every engine's connection has),
  with `where()`, the `WHERE … AND …` of optional filters.
- `sqlite/`: the SQLite engine, one module per concern (the same concerns but labels), each adding to
  the shared class what SQLite does its own way (FTS5, `IN (…)` lists, `INSERT OR IGNORE` bulk loads),
  its migrations in `sqlite/migrations.py`.
- `postgres/`: the PostgreSQL engine for several workers on one store, the same modules over psycopg 3
  (a `tsvector`, arrays, COPY, row and advisory locks); its connection turns `?` into psycopg's `%s`.
- `copy.py`: a whole store copied into another (`regwatch migrate`).

No module outside this package runs SQL or imports `sqlite3` or `psycopg`.
"""

from __future__ import annotations

from ...defaults import NEVER_RUN
from .base import (
           COPY_TABLES,
           EXPORT_FIELDS,
           ArticleFields,
           ArticleRecord,
           Row,
           Store,
           StoreError,
           engine_for,
           has_store,
           not_a_store,
           open_store,
)
from .sqlite import MIGRATIONS, SQLiteStore
from .statuses import (
           FAILED_ALONE,
           AlertKind,
           AlertStatus,
           ChannelState,
           Failure,
           MessageStatus,
           SourceState,
           UrlState,
           shown_state,
)

__all__ = ["COPY_TABLES", "EXPORT_FIELDS", "FAILED_ALONE", "MIGRATIONS", "NEVER_RUN", "AlertKind", "AlertStatus", "ArticleFields",
           "ArticleRecord", "ChannelState", "Failure", "MessageStatus", "Row", "SQLiteStore", "SourceState", "Store",
           "StoreError", "UrlState", "engine_for", "has_store", "not_a_store", "open_store", "shown_state"]
