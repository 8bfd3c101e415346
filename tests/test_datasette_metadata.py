"""deploy/datasette/metadata.yml describes every table and column of the store (README, "The store"): compared
with a freshly migrated SQLite store, so a new table or column cannot go undescribed, nor a dropped one linger."""

import sqlite3
from pathlib import Path

import yaml

from regwatch.pipeline.store import Store

ROOT = Path(__file__).resolve().parent.parent
# the full-text index's own shadow tables (Datasette hides them and has nothing to say about them)
FTS_SHADOWS = ("articles_fts_config", "articles_fts_content", "articles_fts_data", "articles_fts_docsize",
               "articles_fts_idx")


def test_metadata_describes_every_table_and_column_of_a_fresh_store(tmp_path):
    Store(tmp_path / "rw.db").close()
    conn = sqlite3.connect(tmp_path / "rw.db")
    schema = {t: [r[1] for r in conn.execute(f"PRAGMA table_info({t})")]
              for (t,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
              if not t.startswith("sqlite_") and t not in FTS_SHADOWS}
    conn.close()
    meta = yaml.safe_load((ROOT / "deploy/datasette/metadata.yml").read_text(encoding="utf-8"))
    tables = meta["databases"]["regwatch"]["tables"]
    assert sorted(tables) == sorted(schema), "tables described ≠ the store's tables"
    for table, columns in schema.items():
        described = tables[table]
        assert str(described.get("description") or "").strip(), f"{table}: no description"
        assert list(described.get("columns") or {}) == columns, f"{table}: columns described ≠ the store's, in order"
        for column, text in described["columns"].items():
            assert isinstance(text, str) and text.strip(), f"{table}.{column}: no description"
