"""`regwatch migrate --to URL`: the config's store copied into another (an SQLite file into PostgreSQL,
or back), nothing lost."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click

from .common import Setup, UserError, config_option, user_errors


@click.command()
@click.option("--to", "target", required=True, metavar="URL",
              help="The new store: postgresql://user@host/db (an empty database), or an SQLite file (read from the "
                   "current folder). ${VAR} is read from the environment as in the config: write a password "
                   "as ${PG_PASSWORD} (or leave it out for PGPASSWORD / ~/.pgpass), never on the command line.")
@config_option
@user_errors
def migrate(target: str, config_path: str | None) -> None:
    """Copy the config's store into a new one: articles, stories, topics, the outbox, source health,
    labels, list caches, skipped URLs, story keys. Stop regwatch first; the source is left as it is."""
    from ...pipeline.store import StoreError, open_store
    from ...pipeline.store.copy import copy_store
    from ...pipeline.store.postgres.connection import shown
    from ...pipeline.stories import StoryIndex
    from ..config import ConfigError, expand_env

    written, found = target, list[tuple[str, str]]()
    try:       # `${VAR}` as in the config's `store.url` (a password's value percent-encoded): no password in `ps`
        target = expand_env(written, "store.url", found)
    except ConfigError as e:
        raise UserError(f"--to: {str(e).removeprefix('store.url: ')}") from None
    setup = Setup(config_path)
    cfg = setup.cfg
    sqlite = "://" not in target
    if target == cfg.store.location or (sqlite and Path(target).resolve() == Path(cfg.store.location).resolve()):
        raise StoreError("--to names the config's own store: give a new one")
    source = setup.store
    StoryIndex(source, cfg.stories.window_days)     # a store from before story_keys is re-indexed first
    counts = copy_store(source, open_store(target), lambda table, n: click.echo(f"{table:15} {n:>9} rows", err=True))
    key, value = ("path", as_written(target, cfg.path)) if sqlite else ("url", written if found else shown(target))
    click.echo(f"copied {counts['articles']} articles, {counts['alerts']} alerts and {sum(counts.values())} rows in "
               f"all into {shown(target)}; point regwatch at it: [store] {key} = {json.dumps(value, ensure_ascii=False)}")


def as_written(target: str, config: str | None) -> str:
    """An SQLite file named by `--to` (read from the current folder) as the config must write it: `store.path` is
    read from the config file's folder, so relative to that folder when the file lies in it, else absolute."""
    path = Path(os.path.abspath(target))
    folder = Path(os.path.abspath(config)).parent if config and Path(config).is_file() else Path.cwd()
    return str(path.relative_to(folder)) if path.is_relative_to(folder) else str(path)
