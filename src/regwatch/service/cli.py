"""The `regwatch` command: a thin click layer over the library (the commands are in `commands/`)."""

from __future__ import annotations

import logging

import click

from .commands.common import UserError
from .commands.migrate import migrate
from .commands.outbox import alerts, subscriptions
from .commands.reading import export, report, search, sources
from .commands.service import baseline, demo, init, run
from .commands.tools import classify, eval_, extract, label, topics, train
from .commands.why import why

COMMANDS = [init, run, baseline, demo, extract, classify, eval_, train, label, search, sources, alerts, subscriptions, why,
            export, report, topics, migrate]


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="regwatch")
def main() -> None:
    """Watch finance news and regulators, tag regulatory topics, alert team chats once per story."""
    # a PostgreSQL store that is down is one line from every command, not the pool's every retry
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)


for command in COMMANDS:
    main.add_command(command)

__all__ = ["UserError", "main"]
