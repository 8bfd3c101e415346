"""Datasette plugin: `rw_query(text)` turns a user's search (Chinese of any length, English, AND/OR/NOT)
into a MATCH string for regwatch's bigram index, so the canned `search` query and SQL can use it."""

from datasette import hookimpl

from regwatch.pipeline.searchtext import QueryError, fts_query


def _rw_query(text):
    try:
        return fts_query(text or "")
    except QueryError:
        return '""'


@hookimpl
def prepare_connection(conn):
    conn.create_function("rw_query", 1, _rw_query)
