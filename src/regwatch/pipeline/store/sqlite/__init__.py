"""The SQLite engine: one file (WAL), FTS5 for search. One module per concern, each a class over
the engine's connection (`connection.py`: opening, transactions, migrations) that adds to the
concern's shared queries (`../shared/`) what SQLite does its own way, composed here."""

from __future__ import annotations

from ..base import Store
from ..shared.labels import Labels
from .articles import Articles
from .connection import SQLiteConnection
from .copying import Copying
from .migrations import MIGRATIONS
from .outbox import Outbox
from .reports import Reports
from .sources import Sources
from .stories import Stories
from .workers import Workers


class SQLiteStore(Articles, Stories, Sources, Workers, Outbox, Labels, Reports, Copying, SQLiteConnection, Store):
    """The store in one SQLite file (`:memory:` works for tests)."""


__all__ = ["MIGRATIONS", "SQLiteStore"]
