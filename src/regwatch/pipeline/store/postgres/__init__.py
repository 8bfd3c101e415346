"""The PostgreSQL engine: one database shared by any number of regwatch processes (psycopg 3 and a
connection pool), full-text search as a `tsvector` with a GIN index. One module per concern, as
the SQLite engine, each a class over the engine's connection pool (`connection.py`) that adds to the
concern's shared queries (`../shared/`) what PostgreSQL does its own way, composed here."""

from __future__ import annotations

from ..base import Store
from ..shared.labels import Labels
from .articles import Articles
from .connection import PostgresConnection
from .copying import Copying
from .migrations import MIGRATIONS
from .outbox import Outbox
from .reports import Reports
from .sources import Sources
from .stories import Stories
from .workers import Workers


class PostgresStore(Articles, Stories, Sources, Workers, Outbox, Labels, Reports, Copying, PostgresConnection, Store):
    """The store in a PostgreSQL database (`postgresql://user@host:5432/regwatch`)."""

    threadsafe = True


__all__ = ["MIGRATIONS", "PostgresStore"]
