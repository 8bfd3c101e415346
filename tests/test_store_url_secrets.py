"""The store URL's password is never shown, whatever characters it has (a generated password has `/`,
`+`, `@`, written into the URL as they are)."""

import socket

import pytest


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("password", ["Zq9/xKp2+Ww=", "Zq9@xKp2", "Zq9xKp2"])
def test_a_store_password_is_masked_in_errors(tmp_path, rw, password):
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\nurl = "postgresql://rw:{password}@127.0.0.1:{closed_port()}/rw"\n', encoding="utf-8")
    r = rw("search", "征信", "-c", cfg)
    assert r.returncode == 2, r.stderr
    out = r.stdout + r.stderr
    assert "Zq9" not in out and "xKp2" not in out, out


def test_a_command_that_only_reads_makes_no_postgresql_store(tmp_path, rw, pg_url):
    """As with an SQLite file that is not there: a reading command on an empty database says so and
    leaves it empty (a typo in the database name must not create regwatch's tables there)."""
    import psycopg

    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\nurl = "{pg_url}"\n', encoding="utf-8")
    r = rw("search", "征信", "-c", cfg)
    assert r.returncode == 2 and "regwatch run --once" in r.stderr, r.stderr
    with psycopg.connect(pg_url) as conn:
        assert conn.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()[0] == 0
