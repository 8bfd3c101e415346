"""Datasette plugin for a regwatch store.

- `rw_query(text)` turns a user's search (Chinese of any length, English, AND/OR/NOT) into a MATCH
  string for regwatch's bigram index, so the canned `search` query and SQL can use it.
- The `regwatch` database block of `../metadata.yml` (table descriptions, full-text search settings,
  canned queries) applies to every database Datasette serves, whatever its file is called:
  Datasette names a database after its file, so without this only `regwatch.db` would get them.
"""

import copy
from functools import lru_cache
from pathlib import Path

import yaml
from datasette import hookimpl

from regwatch.pipeline.searchtext import QueryError, fts_query

METADATA = Path(__file__).resolve().parent.parent / "metadata.yml"


def _rw_query(text):
    try:
        return fts_query(text or "")
    except QueryError:
        return '""'


@hookimpl
def prepare_connection(conn):
    conn.create_function("rw_query", 1, _rw_query)


@lru_cache(maxsize=1)
def _store_metadata():
    data = yaml.safe_load(METADATA.read_text(encoding="utf-8")) or {}
    return (data.get("databases") or {}).get("regwatch") or {}


@hookimpl
def get_metadata(datasette, key, database, table):
    block = _store_metadata()
    names = [name for name in datasette.databases if not name.startswith("_")]
    return {"databases": {name: copy.deepcopy(block) for name in names}}
