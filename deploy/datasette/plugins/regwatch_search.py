"""Datasette plugin for a regwatch store.

- `rw_query(text)` turns a user's search (as `regwatch search` reads it: Chinese words of two characters
  or more, English, AND/OR/NOT) into a MATCH string for regwatch's bigram index, so the canned `search`
  query and SQL can use it; a query it cannot search matches nothing, and `rw_query_error(text)` says
  why (NULL for a query it can search, or none): the canned `search` query shows that as its one row.
- `rw_time(iso)` shows a stored (UTC) time as people read it, `2026-12-01 09:30 北京时间`, and
  `rw_local(iso)` as ISO 8601 in that zone (for grouping by day or week); `rw_utc(date)` reads a
  date a user types (`2026-12-01`) in that zone, for comparing with stored times. The zone is
  Beijing time, or `$REGWATCH_DISPLAY_TZ` — the canned queries use them, so Datasette shows the
  same clock as the CLI and the report.
- The `regwatch` database block of `../metadata.yml` (table descriptions, full-text search settings,
  canned queries) applies to every database Datasette serves, whatever its file is called:
  Datasette names a database after its file, so without this only `regwatch.db` would get them.
"""

import copy
import os
from datetime import datetime, timezone
from functools import lru_cache
from pathlib import Path
from zoneinfo import ZoneInfo

import yaml
from datasette import hookimpl

from regwatch.defaults import DISPLAY_TZ, display_zone_label
from regwatch.pipeline.searchtext import QueryError, fts_query

TZ = os.environ.get("REGWATCH_DISPLAY_TZ") or DISPLAY_TZ

METADATA = Path(__file__).resolve().parent.parent / "metadata.yml"


def _rw_query(text):
    try:
        return fts_query(text or "")
    except QueryError:
        return '""'


def _rw_query_error(text):
    if not (text or "").strip():
        return None
    try:
        fts_query(text)
    except QueryError as e:
        return f"cannot search: {e}"
    return None


def _local(value):
    try:
        dt = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return None
    return (dt if dt.tzinfo else dt.replace(tzinfo=timezone.utc)).astimezone(ZoneInfo(TZ))


def _rw_local(value):
    dt = _local(value)
    return dt.isoformat(timespec="seconds") if dt else value


def _rw_time(value):
    dt = _local(value)
    return f"{dt.strftime('%Y-%m-%d %H:%M')} {display_zone_label(TZ, dt)}" if dt else value


def _rw_utc(value):
    try:
        dt = datetime.fromisoformat(value)
    except (TypeError, ValueError):
        return value
    dt = dt if dt.tzinfo else dt.replace(tzinfo=ZoneInfo(TZ))
    return dt.astimezone(timezone.utc).isoformat(timespec="seconds")


@hookimpl
def prepare_connection(conn):
    conn.create_function("rw_query", 1, _rw_query)
    conn.create_function("rw_query_error", 1, _rw_query_error)
    conn.create_function("rw_time", 1, _rw_time, deterministic=True)
    conn.create_function("rw_local", 1, _rw_local, deterministic=True)
    conn.create_function("rw_utc", 1, _rw_utc, deterministic=True)


@lru_cache(maxsize=1)
def _store_metadata():
    data = yaml.safe_load(METADATA.read_text(encoding="utf-8")) or {}
    return (data.get("databases") or {}).get("regwatch") or {}


@hookimpl
def get_metadata(datasette, key, database, table):
    block = _store_metadata()
    names = [name for name in datasette.databases if not name.startswith("_")]
    return {"databases": {name: copy.deepcopy(block) for name in names}}
