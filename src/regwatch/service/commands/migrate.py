"""`regwatch migrate --to URL`: the config's store copied into another (an SQLite file into PostgreSQL,
or back), nothing lost."""

from __future__ import annotations

import click

from .common import Setup, config_option, user_errors


@click.command()
@click.option("--to", "target", required=True, metavar="URL",
              help="The new store: postgresql://user@host/db (an empty database), or an SQLite file.")
@config_option
@user_errors
def migrate(target: str, config_path: str | None) -> None:
    """Copy the config's store into a new one: articles, stories, topics, the outbox, source health,
    labels, list caches, skipped URLs, story keys. Stop regwatch first; the source is left as it is."""
    from ...pipeline.store import StoreError, open_store
    from ...pipeline.store.copy import copy_store
    from ...pipeline.store.postgres.connection import shown
    from ...pipeline.stories import StoryIndex

    setup = Setup(config_path)
    cfg = setup.cfg
    if target == cfg.store.location:
        raise StoreError("--to names the config's own store: give a new one")
    source = setup.store
    StoryIndex(source, cfg.stories.window_days)     # a store from before story_keys is re-indexed first
    counts = copy_store(source, open_store(target), lambda table, n: click.echo(f"{table:15} {n:>9} rows", err=True))
    key = "url" if "://" in target else "path"
    click.echo(f"copied {counts['articles']} articles, {counts['alerts']} alerts and {sum(counts.values())} rows in "
               f"all into {shown(target)}; point regwatch at it: [store] {key} = \"{shown(target)}\"")
