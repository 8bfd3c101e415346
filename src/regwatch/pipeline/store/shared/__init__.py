"""The queries both engines run alike, written once: one module per concern (as `sqlite/` and
`postgres/`), each a class over `sql.Connection`, the helpers every engine's connection has. An
engine's concern class adds to its shared one only what differs on that engine (full-text search,
COPY, locks, `IN (…)` lists or arrays)."""
