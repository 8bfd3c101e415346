"""The store boundary: upgrades from regwatch's earlier stores, savepoints, the interface a second
engine implements, the statuses, and no SQL outside the store package."""

import ast
import gzip
import re
import sqlite3
import threading
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from regwatch.pipeline.store import (
    MIGRATIONS,
    AlertStatus,
    ChannelState,
    MessageStatus,
    SourceState,
    SQLiteStore,
    Store,
    StoreError,
    UrlState,
)
from regwatch.pipeline.store.base import url_key
from regwatch.pipeline.store.sqlite.connection import SQLiteConnection

ROOT = Path(__file__).resolve().parent.parent
PACKAGE = ROOT / "src" / "regwatch"
# made by `regwatch demo --keep` at 0e49cad (user_version 9), then a label, a skipped and a baseline URL,
# a pending and a digest alert added with that version's Store
V9 = ROOT / "tests" / "fixtures" / "store-v9.db.gz"


def _dump(path: Path) -> dict[str, list[tuple]]:
    conn = sqlite3.connect(path)
    tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table' "
                                         "AND name NOT LIKE 'articles_fts%' AND name NOT LIKE '\\_%' ESCAPE '\\' "
                                         "AND name NOT LIKE 'sqlite_%'")]
    out = {t: sorted(conn.execute(f"SELECT * FROM [{t}]").fetchall(), key=repr) for t in tables}
    out["articles_fts"] = conn.execute("SELECT rowid, title, body FROM articles_fts ORDER BY rowid").fetchall()
    conn.close()
    return out


def test_a_store_of_the_previous_version_opens_and_upgrades_without_loss(tmp_path):
    path = tmp_path / "regwatch.db"
    path.write_bytes(gzip.decompress(V9.read_bytes()))
    before = _dump(path)
    before_urls = [r[0] for r in sqlite3.connect(path).execute("SELECT url FROM list_cache")]
    assert sqlite3.connect(path).execute("PRAGMA user_version").fetchone()[0] == 9
    assert before["articles"] and before["alerts"] and before["messages"] and before["labels"]

    store = Store(path)
    assert isinstance(store, SQLiteStore)
    applied = [r["name"] for r in store.q("SELECT name FROM _sqlite_migrations WHERE migration_set = 'regwatch' "
                                          "ORDER BY id")]
    assert applied == [m.__name__ for m in MIGRATIONS]
    assert store.one("PRAGMA user_version") == len(MIGRATIONS)
    store.close()
    after = _dump(path)
    # a configured URL is kept as its digest from m11 on (it may carry a token): the same rows, re-keyed
    conn = sqlite3.connect(path)
    for table in ("list_cache", "source_state"):
        at = [r[1] for r in conn.execute(f"PRAGMA table_info({table})")].index("url")
        assert all(r[at].startswith("sha256:") for r in after[table]) and before[table]
        before[table] = sorted((*r[:at], url_key(r[at]), *r[at + 1:]) for r in before[table])
        after[table] = sorted(after[table])
    assert not conn.execute("SELECT 1 FROM list_cache WHERE url LIKE '%127.0.0.1%'").fetchall()
    conn.close()
    # later steps add columns (NULL in old rows) and tables: what the old store held is all there, unchanged
    assert {t: [r[:len(rows[0])] for r in after[t]] if rows else after[t] for t, rows in before.items()} == before

    # and it works as before: search, the outbox, labels, sources
    store = Store(path)
    assert store.search("征信") and store.count_articles() == len(before["articles"])
    made = datetime.fromisoformat(store.one("SELECT max(created_at) FROM alerts"))
    due = store.alerts_to_compose(made + timedelta(minutes=1), ["console", "terminal"])
    assert [a["idem_key"] for a in due] == ["v9-pending"]      # the digest's time (a day later) has not come
    assert store.labelled_articles()[0]["labels"] == ["rate_cap"]
    assert store.count_skipped("demo-feed") == 1 and store.is_baseline_url("demo-feed", "http://127.0.0.1:1/a/later.html")
    list_url = next(u for u in before_urls if u.endswith("/feed.xml"))
    assert store.list_cache("demo-feed", list_url) is not None and store.baselined_on_url(list_url) == ["demo-feed"]
    assert store.q("SELECT count(*) AS n FROM _sqlite_migrations")[0]["n"] == len(MIGRATIONS)   # not applied twice


def test_a_store_between_versions_gets_only_its_missing_steps(tmp_path):
    import sqlite_utils

    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    for step in MIGRATIONS[:5]:
        step(sqlite_utils.Database(conn))
    conn.execute("PRAGMA user_version=5")
    conn.execute("INSERT INTO source_state (source, state) VALUES ('s', 'ok')")
    conn.close()
    store = Store(path)
    assert store.source_state("s")["state"] == SourceState.OK
    assert store.labelled_articles() == [] and store.list_cache("s", "http://x/") is None     # m7, m8 ran
    assert store.one("SELECT count(*) FROM _sqlite_migrations") == len(MIGRATIONS)


def test_processes_opening_a_new_store_at_once_migrate_it_once(tmp_path):
    # the race (two openers both wanting the new file's exclusive lock to switch it to WAL; SQLite
    # fails one at once) lost about one round in eight before the retry: 30 rounds find it
    for round_ in range(30):
        path = tmp_path / f"new{round_}.db"
        start = threading.Barrier(4)
        errors = []

        def open_it(path=path, start=start, errors=errors):
            start.wait()
            try:
                Store(path).close()
            except Exception as e:     # noqa: BLE001 - reported below
                errors.append(e)

        threads = [threading.Thread(target=open_it) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors, round_
        assert Store(path).one("SELECT count(*) FROM _sqlite_migrations") == len(MIGRATIONS)


# savepoints, and the rest of the interface on both engines: tests/test_store_engines.py


def test_statuses_are_stored_as_their_strings(tmp_path):
    from datetime import datetime

    store = Store(tmp_path / "s.db")
    now = datetime.now(UTC)
    aid = store.enqueue_alert(subscription="sub", channel="ch", story_id=1, article_id=None, idem_key="k")
    store.add_message(channel="ch", kind="article", idem_key="k", payload={}, alert_ids=[aid], now=now)
    msg, _ = store.claim_message("ch", now, per_minute=10, min_gap=0, window=60, margin=0, lease=60, worker="w")
    assert msg["status"] == MessageStatus.SENDING == "sending"
    store.finish_message(msg, status=MessageStatus.SENT, sent_at=now)
    assert store.q("SELECT status, typeof(status) AS t FROM alerts") == [{"status": "sent", "t": "text"}]
    assert store.alerts_by_status() == {"sent": 1} and store.count_alerts(status=AlertStatus.SENT) == 1
    assert store.set_channel_state("ch", ChannelState.BROKEN, "gone") is None
    assert store.q("SELECT state, typeof(state) AS t FROM channel_state") == [{"state": "broken", "t": "text"}]
    store.update_source_state("src", state=SourceState.STALE)
    assert store.sources_by_state() == {"stale": 1}
    assert [s.value for s in UrlState] == ["skipped", "baseline", "missing", "slow"]
    with pytest.raises(ValueError):
        store.finish_message(msg, status="delivered")           # not a status


def test_a_sqlite_file_locked_past_the_wait_is_a_store_error_and_a_bug_is_not(tmp_path):
    """What the file did (a lock held past the wait, a full disk) is a StoreError — one line, and retried where
    the dispatcher retries recording an answer —; an error of regwatch's own SQL keeps its type and traceback."""
    store = Store(tmp_path / "s.db")
    store.conn.execute("PRAGMA busy_timeout = 50")
    other = sqlite3.connect(tmp_path / "s.db", isolation_level=None)
    other.execute("BEGIN IMMEDIATE")
    with pytest.raises(StoreError, match=r"s\.db: database is locked") as failed:
        store.set_channel_state("ch", ChannelState.BROKEN, "gone")
    assert isinstance(failed.value, sqlite3.OperationalError)       # what sqlite-utils' own code catches, still
    assert not store.conn.in_transaction
    other.execute("ROLLBACK")
    store.set_channel_state("ch", ChannelState.BROKEN, "gone")
    assert store.q("SELECT state FROM channel_state") == [{"state": "broken"}]
    with pytest.raises(sqlite3.OperationalError, match="no such column"), store.tx():
        store.x("UPDATE channel_state SET nosuch = 1")
    other.close()


@pytest.mark.parametrize("engine", ["sqlite", "postgres"])
def test_the_interface_lists_every_method_of_the_engine(engine):
    """What a store engine implements: every public method of each engine, but for its SQL helpers (for
    its own modules, tests and benchmarks), is a method of the interface, and the other way round (and so is
    a value the interface declares as a property, as `finish_wait`)."""
    from regwatch.pipeline.store.postgres import PostgresStore
    from regwatch.pipeline.store.postgres.connection import PostgresConnection

    store, connection = {"sqlite": (SQLiteStore, SQLiteConnection), "postgres": (PostgresStore, PostgresConnection)}[engine]
    helpers = {"q", "one", "rows", "table_bytes", "all", "x", "many", "insert"}
    sql_helpers = {n for n in vars(connection) if not n.startswith("_")} - {"tx", "close", "story_lock", "exists"}
    public = {n for c in store.__mro__ if c.__module__.startswith((store.__module__, "regwatch.pipeline.store.shared"))
              for n in vars(c) if not n.startswith("_")
              and (callable(getattr(store, n)) or isinstance(getattr(Store, n, None), property))}
    assert sql_helpers == helpers
    assert public - sql_helpers == set(Store.__abstractmethods__)


def test_an_unknown_store_url_is_one_clear_error():
    with pytest.raises(StoreError, match="mysql: no store engine"):
        Store("mysql://user@host/regwatch")


def test_a_postgresql_store_that_cannot_be_reached_is_one_clear_error():
    import socket

    with socket.socket() as s:          # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(StoreError, match=rf"postgresql://rw:\*\*\*@127.0.0.1:{port}/regwatch: cannot open the store: .*refused"):
        Store(f"postgresql://rw:s3cret@127.0.0.1:{port}/regwatch")


SQL = re.compile(r"^\s*(SELECT \S|INSERT (OR \w+ )?INTO|UPDATE \w+ SET|DELETE FROM|(CREATE|DROP) (TABLE|INDEX|VIEW|TRIGGER)"
                 r"|ALTER TABLE|PRAGMA \w|WITH \w+ AS|BEGIN|COMMIT|SAVEPOINT)")
SQL_CALLS = {"q", "one", "rows", "execute", "executemany", "executescript", "conn", "db"}


def _names_store(node: ast.expr) -> bool:
    """`store`, `self.store`, `ctx.store`, `app.store`…"""
    return (isinstance(node, ast.Name) and node.id == "store") or (isinstance(node, ast.Attribute) and node.attr == "store")


def test_no_module_outside_the_store_runs_sql():
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        rel = path.relative_to(PACKAGE).as_posix()
        if rel.startswith("pipeline/store/"):
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                names = [a.name for a in node.names] + [getattr(node, "module", None) or ""]
                if any(n.split(".")[0] in ("sqlite3", "sqlite_utils", "psycopg", "psycopg_pool") for n in names):
                    offenders.append(f"{rel}:{node.lineno} imports {names}")
            elif isinstance(node, ast.Attribute) and node.attr in SQL_CALLS and _names_store(node.value):
                offenders.append(f"{rel}:{node.lineno} store.{node.attr}")
            elif isinstance(node, ast.Constant) and isinstance(node.value, str) and SQL.match(node.value):
                offenders.append(f"{rel}:{node.lineno} SQL text {node.value[:40]!r}")
    assert not offenders, "\n".join(offenders)


def test_a_damaged_page_read_past_a_query_s_first_row_is_a_store_error(tmp_path):
    """SQLite reads a table's pages as its rows are stepped: a page damaged past the first row fails only
    then, while the rows are read — a StoreError naming the file too, not a traceback."""
    path = tmp_path / "s.db"
    store = Store(path)
    store.x("CREATE TABLE filler (id INTEGER PRIMARY KEY, t TEXT)")
    store.many("INSERT INTO filler (t) VALUES (?)", [("x" * 2000,) for _ in range(400)])
    store.close()
    conn = sqlite3.connect(path)
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    root = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = 'filler'").fetchone()[0]
    size = conn.execute("PRAGMA page_size").fetchone()[0]
    conn.close()
    with open(path, "r+b") as f:          # the table's pages after its root: overflow and leaf pages, wiped
        f.seek(root * size + 20 * size)
        f.write(b"\xff" * 200 * size)
    store = Store(path)
    with pytest.raises(StoreError, match=r"s\.db: .*malformed"):
        store.q("SELECT length(t) FROM filler")                             # fetchall
    with pytest.raises(StoreError, match=r"s\.db: "):
        list(store.conn.execute("SELECT length(t) FROM filler"))             # a row at a time
    with pytest.raises(StoreError, match=r"s\.db: "):
        store.conn.executescript("SELECT sum(length(t)) FROM filler;")
    with pytest.raises(StoreError, match=r"s\.db: "), store.tx():           # a migration's script: sqlite-utils' cursor
        store.db.executescript("CREATE TABLE t2 AS SELECT * FROM filler;")
    store.close()
