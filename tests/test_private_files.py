"""What regwatch creates is its user's alone, whatever the umask: the store (and its -wal and -shm), `report
--out`, `init`'s config and `demo --keep`'s folder, store and config (0600, folders 0700). A file that exists
keeps its mode."""

import os
import stat

import pytest

from regwatch.pipeline.store import Store


@pytest.fixture(autouse=True)
def loose_umask():
    old = os.umask(0o022)            # the usual one: files 644 unless regwatch says otherwise
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_a_new_store_and_its_wal_are_private(tmp_path):
    path = tmp_path / "new" / "rw.db"
    store = Store(str(path))
    store.set_story_keys_pruned_at(1_767_600_000.0)      # (a write: the -wal and -shm are there while it is open)
    try:
        for name in ("rw.db", "rw.db-wal", "rw.db-shm"):
            assert mode(path.parent / name) == 0o600, name
        assert mode(path.parent) == 0o700
    finally:
        store.close()


def test_every_folder_regwatch_creates_for_the_store_is_private_and_one_that_exists_keeps_its_mode(tmp_path):
    """`path = "data/deep/regwatch.db"`: both missing folders are 0700 (`data` was 0755: only the last folder had the
    mode); the folder that was there is not touched."""
    os.chmod(tmp_path, 0o755)
    Store(str(tmp_path / "data" / "deep" / "rw.db")).close()
    assert (mode(tmp_path / "data"), mode(tmp_path / "data" / "deep")) == (0o700, 0o700)
    assert mode(tmp_path) == 0o755


def test_an_existing_file_keeps_its_mode(tmp_path, rw):
    cfg = tmp_path / "mine.toml"
    cfg.write_text("# mine\n", encoding="utf-8")
    os.chmod(cfg, 0o640)
    assert rw("init", cfg, "--force").returncode == 0
    assert mode(cfg) == 0o640


def test_init_and_report_write_private_files(tmp_path, rw):
    cfg = tmp_path / "regwatch.toml"
    r = rw("init", cfg)
    assert r.returncode == 0, r.stderr
    assert mode(cfg) == 0o600
    Store(str(tmp_path / "regwatch.db")).close()
    out = tmp_path / "report.html"
    r = rw("report", "--out", out, "-c", cfg)
    assert r.returncode == 0, r.stderr
    assert mode(out) == 0o600 and mode(tmp_path / "regwatch.db") == 0o600


def test_demo_keep_is_private(tmp_path, rw):
    kept = tmp_path / "kept"
    r = rw("demo", "--keep", kept / "deep", env={"TMPDIR": str(tmp_path)})
    assert r.returncode == 0, r.stderr
    assert mode(kept) == 0o700
    kept = kept / "deep"
    assert mode(kept) == 0o700
    assert mode(kept / "regwatch.toml") == 0o600 and mode(kept / "regwatch.db") == 0o600
    assert not [p.name for p in kept.iterdir() if mode(p) & 0o077]
