"""A PostgreSQL database regwatch's user may not create tables in — since PostgreSQL 15 the `public` schema of a
database made by the superuser (`createdb regwatch`, without `-O`) is writable by its owner only — is refused by
the commands that make the store in one line that says what to do, not a traceback; following that line (or the
README's `createdb -O regwatch …`) makes a database regwatch runs on."""

import itertools
import os

import psycopg
import pytest
from conftest import regwatch

from regwatch.pipeline.store import Store, StoreError

_n = itertools.count(1)


def role_and_database(pg_server, owner: bool) -> tuple[str, str, str]:
    """A login role and a database made by the superuser for it (its owner or not); the role's URL."""
    role = f"rwuser{os.getpid()}_{next(_n)}"
    db = f"{role}_db"
    with psycopg.connect(f"{pg_server.url}/postgres", autocommit=True) as pg:
        pg.execute(f"CREATE ROLE {role} LOGIN")
        pg.execute(f"CREATE DATABASE {db}" + (f" OWNER {role}" if owner else ""))
    with psycopg.connect(f"{pg_server.url}/{db}", autocommit=True) as pg:
        pg.execute("REVOKE CREATE ON SCHEMA public FROM PUBLIC")  # (PostgreSQL 15's default, on any server)
    return role, db, f"postgresql://{role}@127.0.0.1:{pg_server.port}/{db}"


def tables(pg_server, db: str) -> set[str]:
    with psycopg.connect(f"{pg_server.url}/{db}") as pg:
        return {r[0] for r in pg.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}


def config(tmp_path, store: str):
    cfg = tmp_path / "regwatch.toml"
    key = "url" if "://" in store else "path"
    cfg.write_text(
        f'[store]\n{key} = "{store}"\n[[sources]]\nname = "s"\nkind = "feed"\nurl = "http://127.0.0.1:9/feed"\n', encoding="utf-8"
    )
    return cfg


def refused_in_one_line(r, role: str, db: str) -> None:
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and "Traceback" not in r.stderr, r.stderr
    assert "cannot create regwatch's tables: permission denied for schema public" in r.stderr, r.stderr
    assert f"user {role} must own database {db}" in r.stderr and f"createdb -O {role}" in r.stderr, r.stderr
    assert f"ALTER DATABASE {db} OWNER TO {role}; ALTER SCHEMA public OWNER TO {role}" in r.stderr, r.stderr


def test_a_database_the_user_may_not_create_tables_in_is_refused_in_one_line(pg_server, tmp_path):
    role, db, url = role_and_database(pg_server, owner=False)
    with pytest.raises(StoreError, match="permission denied for schema public") as refused:
        Store(url)
    assert "\n" not in str(refused.value)
    refused_in_one_line(regwatch("run", "--once", "-c", config(tmp_path, url), timeout=120), role, db)
    source = tmp_path / "rw.db"
    Store(str(source)).close()
    refused_in_one_line(regwatch("migrate", "--to", url, "-c", config(tmp_path, str(source))), role, db)
    assert tables(pg_server, db) == set()
    # what the line says to do is enough
    with psycopg.connect(f"{pg_server.url}/{db}", autocommit=True) as pg:
        pg.execute(f"ALTER DATABASE {db} OWNER TO {role}")
        pg.execute(f"ALTER SCHEMA public OWNER TO {role}")
    r = regwatch("migrate", "--to", url, "-c", config(tmp_path, str(source)))
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert "articles" in tables(pg_server, db)


def test_a_database_made_for_its_user_as_the_readme_says_takes_the_store(pg_server, tmp_path):
    _, db, url = role_and_database(pg_server, owner=True)  # createdb -O ROLE …
    r = regwatch("run", "--once", "-c", config(tmp_path, url), timeout=120)
    assert r.returncode == 0 and "Traceback" not in r.stderr, r.stderr
    assert {"articles", "regwatch_migrations"} <= tables(pg_server, db)
