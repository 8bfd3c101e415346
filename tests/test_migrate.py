"""`regwatch migrate --to postgresql://…`: an SQLite store copied into PostgreSQL without loss — every
table row for row (articles, stories, topics, outbox alerts and messages, health, labels, list caches,
skipped URLs, story keys), search working there, and new ids after the copied ones."""

import gzip
import json
import sqlite3
import subprocess
import sys
from pathlib import Path
from urllib.parse import quote

import pytest

from regwatch.pipeline.classify import Classifier, load_topics
from regwatch.pipeline.process import Processor
from regwatch.pipeline.store import COPY_TABLES, Store, StoreError
from regwatch.pipeline.timeutil import utcnow
from regwatch.service.config import load_config

ROOT = Path(__file__).resolve().parent.parent
V9 = ROOT / "tests" / "fixtures" / "store-v9.db.gz"
REGWATCH = str(Path(sys.executable).parent / "regwatch")
INTERNAL = {"_sqlite_migrations", "workers", "story_bands", "regwatch_migrations", "articles_fts"}


def test_the_copied_tables_are_every_table_and_column_of_both_schemas(tmp_path, pg_url):
    Store(tmp_path / "s.db").close()
    conn = sqlite3.connect(tmp_path / "s.db")
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
              if not r[0].startswith(("sqlite_", "articles_fts"))} - INTERNAL
    sqlite_schema = {t: tuple(r[1] for r in conn.execute(f"PRAGMA table_info({t})")) for t in tables}
    pg = Store(pg_url)
    pg_schema: dict[str, list[str]] = {}
    for r in pg.q("SELECT table_name, column_name FROM information_schema.columns WHERE table_schema = 'public' "
                  "ORDER BY table_name, ordinal_position"):
        if r["table_name"] not in INTERNAL:
            pg_schema.setdefault(r["table_name"], []).append(r["column_name"])
    assert sqlite_schema == dict(COPY_TABLES)
    assert {t: tuple(c) for t, c in pg_schema.items()} == dict(COPY_TABLES)


def _sqlite_store(tmp_path) -> Path:
    """The store of an earlier regwatch (a demo run, a label, a skipped and a baseline URL, a pending and a
    digest alert), upgraded, with more of what a running regwatch writes."""
    path = tmp_path / "regwatch.db"
    path.write_bytes(gzip.decompress(V9.read_bytes()))
    store = Store(path)
    proc = Processor(store, Classifier(load_topics()))
    for i in range(3):
        proc.process(url=f"http://x/{i}", source="src", title=f"征信修复骗局频发（{i}）", outlet="财经网",
                     body=f"不法中介宣称可以修复征信，收取高额费用，编号{i}。O'Brien \\ 'quoted'", lang="zh",
                     published_at=utcnow(), attachment_text="附件：征信管理办法" if i == 0 else "")
    store.save_list_cache("src", "http://x/feed.xml", '"etag"', "Mon, 05 Jan 2026 08:00:00 GMT", "h", ["http://x/c.xml"])
    store.set_channel_state("gw", "broken", "HTTP 410")
    store.record_run(source="src", started_at="2026-01-05T08:00:00+00:00", state="ok", found=3, new=3, worker="w1")
    store.claim_sources({"src": "2026-01-05T08:00:00+00:00"}, worker="w1", now=utcnow(), lease=60)
    store.set_story_keys_pruned_at(1_767_600_000.0)
    store.close()
    return path


def test_migrate_copies_an_sqlite_store_into_postgresql_without_loss(tmp_path, pg_url, rw):
    path = _sqlite_store(tmp_path)
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{path}"\n', encoding="utf-8")
    r = rw("migrate", "--to", pg_url, "-c", cfg)
    assert r.returncode == 0, r.stderr
    assert "copied" in r.stdout and "[store] url" in r.stdout

    src, dst = Store(path), Store(pg_url)
    for table, columns in COPY_TABLES.items():
        rows = sorted(src.copy_rows(table, columns), key=repr)
        assert rows, f"{table}: the test store should have rows of every kind"
        assert sorted(dst.copy_rows(table, columns), key=repr) == rows, table
        assert f"{table} " in r.stderr and dst.count_rows(table) == len(rows)

    # the same answers from the copy: search (two-character Chinese too), export, the outbox, health
    for q in ("征信", "管理办法", "O'Brien", '"quoted"'):
        assert [a["url"] for a in dst.search(q)] == [a["url"] for a in src.search(q)], q
        assert dst.search(q)
    assert [dict(a) for a in dst.export_articles()] == [dict(a) for a in src.export_articles()]
    assert dst.list_alerts() == src.list_alerts() and dst.source_health() == src.source_health()
    assert dst.labelled_articles() == src.labelled_articles()
    # and it goes on from there: new rows get new ids
    aid = Processor(dst, Classifier(load_topics())).process(
        url="http://x/new", source="src", title="小贷公司牌照被注销", body="多地注销小额贷款公司试点资格。", lang="zh",
        published_at=None).article_id
    assert aid > max(a["id"] for a in src.export_articles())

    pg_cfg = tmp_path / "pg.toml"
    pg_cfg.write_text(f'[store]\nurl = "{pg_url}"\n', encoding="utf-8")
    out = rw("search", "征信", "--json", "-c", pg_cfg)
    assert out.returncode == 0 and {json.loads(line)["url"] for line in out.stdout.splitlines()} >= {"http://x/0", "http://x/1"}
    out = rw("export", "--format", "csv", "-c", pg_cfg)
    assert out.returncode == 0 and "http://x/new" in out.stdout

    again = rw("migrate", "--to", pg_url, "-c", cfg)             # never into a store that has data
    assert again.returncode == 2 and "not empty" in again.stderr and "Traceback" not in again.stderr


def test_migrate_to_an_unreachable_server_is_one_clear_line(tmp_path, rw):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n', encoding="utf-8")
    r = rw("migrate", "--to", f"postgresql://rw:pw@127.0.0.1:{port}/regwatch", "-c", cfg)
    assert r.returncode == 2 and "no store at" in r.stderr and "Traceback" not in r.stderr   # nothing to copy yet
    Store(str(tmp_path / "rw.db")).close()
    r = rw("migrate", "--to", f"postgresql://rw:pw@127.0.0.1:{port}/regwatch", "-c", cfg)
    assert r.returncode == 2 and "cannot open the store" in r.stderr and "Traceback" not in r.stderr
    assert "pw@" not in r.stderr


def test_migrate_to_an_sqlite_file_says_the_store_path_as_the_config_reads_it(tmp_path, rw):
    """`--to` is read from the current folder, `store.path` from the config's: the line to write names the file
    `--to` made, relative to the config's folder when it lies there, else absolute (not `--to` as typed)."""
    _sqlite_store(_mkdir(tmp_path / "c1"))
    cfg = tmp_path / "c1" / "regwatch.toml"
    cfg.write_text("", encoding="utf-8")         # its store: c1/regwatch.db, beside it
    _mkdir(tmp_path / "c2")
    for to, said in (("c2/new.db", f'[store] path = "{tmp_path / "c2" / "new.db"}"'),
                     ("c1/moved.db", '[store] path = "moved.db"')):
        r = rw("migrate", "--to", to, "-c", "c1/regwatch.toml", cwd=tmp_path)
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip().endswith(f"point regwatch at it: {said}"), r.stdout
        cfg.write_text(said.replace("[store] ", "[store]\n") + "\n", encoding="utf-8")   # as the line says
        assert Path(load_config(cfg).store.path) == tmp_path / to                           # the copy it made
        assert rw("alerts", "-c", cfg).returncode == 0                                     # (which has the alerts)
        cfg.write_text("", encoding="utf-8")
    r = rw("migrate", "--to", "./c1/regwatch.db", "-c", "c1/regwatch.toml", cwd=tmp_path)
    assert r.returncode == 2 and "--to names the config's own store" in r.stderr


def _mkdir(path: Path) -> Path:
    path.mkdir()
    return path


def test_two_migrates_into_one_empty_database_at_once_copy_it_once_and_the_other_says_so_in_one_line(tmp_path, pg_url):
    """Two `migrate` runs started together into the same new database (a second terminal, a deploy script run
    twice): the check that the target is empty and the copy are one step, so one copies and the other is told the
    target is not empty — one line, exit 2, as after a finished migrate —, never a traceback; the copy is there once."""
    path = _sqlite_store(tmp_path)
    with sqlite3.connect(path) as conn:      # a copy that takes a while: the two runs overlap
        conn.executemany("INSERT INTO source_urls (source, url, state, reason, at) VALUES (?, ?, 'skipped', 'x', ?)",
                         [("src", f"http://x/s/{i}", "2026-01-05T08:00:00+00:00") for i in range(100_000)])
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{path}"\n', encoding="utf-8")
    runs = [subprocess.Popen([REGWATCH, "migrate", "--to", pg_url, "-c", str(cfg)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True) for _ in range(2)]
    done = sorted(((p.returncode, out, err) for p in runs for out, err in [p.communicate(timeout=180)]),
                  key=lambda r: r[0])
    (won, out, _), (lost, _, err) = done
    assert (won, lost) == (0, 2), done
    assert "copied" in out
    assert err.splitlines() == [err.strip()] and err.startswith("regwatch: the target store is not empty ("), err
    assert err.rstrip().endswith("): migrate into a new, empty database"), err
    src, dst = Store(path), Store(pg_url)
    for table in COPY_TABLES:
        assert dst.count_rows(table) == src.count_rows(table), table


def test_a_server_error_inside_a_copy_into_postgresql_is_a_store_error(pg_url):
    """Whatever the server refuses inside the copy (here a duplicate key) is one line (a StoreError), not a
    psycopg traceback, and nothing of the copy is kept."""
    dst = Store(pg_url)
    with pytest.raises(StoreError, match=r"cannot copy into the store: .*duplicate key"):
        with dst.copy_lock():
            dst.load_rows("store_meta", ("key", "value"), [("k", "v"), ("k", "v")])
    assert dst.count_rows("store_meta") == 0


def test_migrate_reads_the_password_from_a_variable_not_the_command_line(tmp_path, pg_server, rw):
    """`--to 'postgresql://user:${PGPW}@…'` expands the variable as the config does (percent-encoded in the
    userinfo): the password never goes on the command line (visible in `ps`). The server checks this user's
    password (scram), so the literal `${PGPW}` would be refused."""
    import psycopg

    password = "pw/with@odd:chars"
    with psycopg.connect(f"{pg_server.url}/postgres", autocommit=True) as conn:
        conn.execute("DROP DATABASE IF EXISTS rwpwdb")
        conn.execute("DROP ROLE IF EXISTS rwpw")
        conn.execute(f"CREATE ROLE rwpw LOGIN PASSWORD '{password}'")
        conn.execute("CREATE DATABASE rwpwdb OWNER rwpw")
        hba = pg_server.data / "pg_hba.conf"
        hba.write_text("host all rwpw 127.0.0.1/32 scram-sha-256\n" + hba.read_text())
        conn.execute("SELECT pg_reload_conf()")
    path = _sqlite_store(tmp_path)
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{path}"\n', encoding="utf-8")
    to = f"postgresql://rwpw:${{PGPW}}@127.0.0.1:{pg_server.port}/rwpwdb"
    wrong = rw("migrate", "--to", to, "-c", cfg, env={"PGPW": "not-it"})
    assert wrong.returncode == 2 and "not-it" not in wrong.stderr and "Traceback" not in wrong.stderr, wrong.stderr
    unset = rw("migrate", "--to", to.replace("PGPW", "RW_NOT_SET_PGPW"), "-c", cfg)
    assert unset.returncode == 2 and unset.stderr.strip() == (
        "regwatch: --to: environment variable RW_NOT_SET_PGPW is not set (export it, or write the value)"), unset.stderr
    r = rw("migrate", "--to", to, "-c", cfg, env={"PGPW": password})
    assert r.returncode == 0, r.stderr
    assert password not in r.stdout + r.stderr
    assert f'[store] url = "{to}"' in r.stdout               # the config's line keeps the variable
    assert Store(f"postgresql://rwpw:{quote(password, safe='')}@127.0.0.1:{pg_server.port}/rwpwdb").count_rows("articles")
