"""A store that is another program's database is left as it is: an SQLite file or a PostgreSQL database
holding tables and no record of regwatch's migrations is refused in one line naming it — by every command,
read or write — and nothing is written to it. A zero-byte file is an empty database: no store yet for a
command that reads, a new store for one that writes."""

import sqlite3

import pytest
from conftest import regwatch

from regwatch.pipeline.store import Store, StoreError

READS = (["sources"], ["search", "征信"], ["alerts"], ["export"], ["label", "1", "--topic", "rate_cap"], ["why", "1"])


def foreign(location: str, table: str = "articles(x int)") -> None:
    """Another program's database: one table of its own (an `articles` whose name clashes with regwatch's)."""
    if location.startswith("postgresql"):
        import psycopg

        with psycopg.connect(location, autocommit=True) as pg:
            pg.execute(f"CREATE TABLE {table}")
            pg.execute("INSERT INTO articles VALUES (7)" if table.startswith("articles") else "SELECT 1")
        return
    with sqlite3.connect(location) as db:
        db.execute(f"CREATE TABLE {table}")
        if table.startswith("articles"):
            db.execute("INSERT INTO articles VALUES (7)")
    db.close()


def tables(location: str) -> set[str]:
    if location.startswith("postgresql"):
        import psycopg

        with psycopg.connect(location) as pg:
            return {r[0] for r in pg.execute("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()")}
    db = sqlite3.connect(location)
    try:
        return {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    finally:
        db.close()


@pytest.mark.parametrize("table", ["articles(x int)", "notes(a text)"])
def test_another_programs_database_is_refused_and_left_as_it_is(store_location, table):
    from regwatch.pipeline.store import has_store

    foreign(store_location, table)
    before = tables(store_location)
    with pytest.raises(StoreError, match="not a regwatch store") as refused:
        Store(store_location)
    assert "\n" not in str(refused.value) and "***" not in store_location
    if store_location.startswith("postgresql"):      # (a file is looked into when it is opened)
        with pytest.raises(StoreError, match="not a regwatch store"):
            has_store(store_location)
    assert tables(store_location) == before


def test_a_regwatch_store_and_an_empty_database_are_not_refused(store_location):
    from regwatch.pipeline.store import has_store

    assert not has_store(store_location)
    Store(store_location).close()       # an empty database: the store is made
    assert has_store(store_location)
    Store(store_location).close()       # and opened again
    assert "articles" in tables(store_location)


def test_a_database_holding_only_an_extensions_own_relations_is_empty_to_regwatch(pg_url):
    """A fresh database on an image that installs extensions in it (PostGIS's spatial_ref_sys,
    pg_stat_statements' views) was refused as another program's."""
    import psycopg

    from regwatch.pipeline.store import has_store

    with psycopg.connect(pg_url, autocommit=True) as pg:
        pg.execute("CREATE EXTENSION pg_stat_statements")      # (two views in the current schema)
        assert pg.execute("SELECT count(*) FROM pg_views WHERE schemaname = current_schema()").fetchone()[0] >= 1
    assert not has_store(pg_url)
    Store(pg_url).close()
    assert has_store(pg_url) and "articles" in tables(pg_url)


def config(tmp_path, location: str):
    cfg = tmp_path / "regwatch.toml"
    key = "url" if "://" in location else "path"
    cfg.write_text(f'[store]\n{key} = "{location}"\n[[sources]]\nname = "s"\nkind = "feed"\n'
                   f'url = "http://127.0.0.1:9/feed"\n', encoding="utf-8")
    return cfg


def one_line(r, *words):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("regwatch: ") and "Traceback" not in r.stderr, r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


def test_every_command_refuses_another_programs_database_in_one_line(store_location, tmp_path):
    foreign(store_location)
    before = tables(store_location)
    cfg = config(tmp_path, store_location)
    shown = store_location if "://" not in store_location else store_location.split("@")[1]
    for args in (*READS, ["run", "--once"]):
        one_line(regwatch(*args, "-c", cfg, timeout=120), "not a regwatch store", shown)
    assert tables(store_location) == before


def test_migrate_into_another_programs_database_is_refused(store_location, tmp_path):
    source = tmp_path / "rw.db"
    Store(str(source)).close()
    foreign(store_location)
    before = tables(store_location)
    r = regwatch("migrate", "--to", store_location, "-c", config(tmp_path, str(source)))
    one_line(r, "not a regwatch store")
    assert tables(store_location) == before


def test_a_zero_byte_file_is_no_store_to_read_and_a_new_store_to_write(tmp_path):
    empty = tmp_path / "empty.db"
    empty.touch()
    cfg = config(tmp_path, str(empty))
    for args in READS[1:]:
        one_line(regwatch(*args, "-c", cfg), "no store at", "yet")
    r = regwatch("sources", "-c", cfg)
    assert r.returncode == 0 and "never run" in r.stdout and "no store at" in r.stderr
    assert empty.stat().st_size == 0
    r = regwatch("run", "--once", "-c", cfg, timeout=120)         # a write: the store is made in it
    assert "Traceback" not in r.stderr and "articles" in tables(str(empty)), r.stderr
