"""The SQLite store refuses a library older than its SQL needs (`UPDATE … RETURNING`: 3.35), in one line, when it
opens — not at every recorded send, which would fail and leave an accepted message to be sent again every lease."""

import sqlite3

from regwatch.defaults import SQLITE_MIN
from regwatch.pipeline.store import Store
from regwatch.pipeline.store.sqlite.connection import too_old


def test_an_sqlite_older_than_the_stores_sql_needs_is_named_with_the_version_needed():
    # RHEL/Rocky 8's Python links SQLite 3.26: no RETURNING
    assert too_old((3, 26, 0)) == ("SQLite 3.26.0 is too old: regwatch's store needs SQLite 3.35.0 or later "
                                   "(the library Python's sqlite3 is linked against)")
    assert too_old((3, 34, 1)) is not None
    assert too_old(SQLITE_MIN) is None
    assert too_old((3, 35, 5)) is None
    assert too_old((3, 40, 1)) is None


def test_the_store_opens_on_this_machines_sqlite_and_records_with_returning(tmp_path):
    assert too_old(sqlite3.sqlite_version_info) is None
    store = Store(str(tmp_path / "regwatch.db"))
    try:
        assert store.all("UPDATE store_meta SET value = value WHERE 0 RETURNING key") == []
    finally:
        store.close()

