"""The `regwatch` command: a thin click layer over the library (the commands are in `commands/`).

A command's module is imported when the command runs (click's lazy-group pattern): `regwatch search`
does not load Scrapy, trafilatura or the learned stage, and starts in about half the time."""

from __future__ import annotations

import importlib
import logging
import sys

import click

from . import early_stop
from .output import readable_anywhere

# a stop signal while `run --once` or `baseline` starts is noted, not fatal (acted on once its handlers exist)
early_stop.hold(sys.argv[1:])

# name → "module:attribute" under regwatch.service.commands, in the order `regwatch --help` lists them
COMMANDS = {
    "init": "service:init", "run": "service:run", "baseline": "service:baseline", "demo": "service:demo",
    "extract": "tools:extract", "classify": "tools:classify", "eval": "tools:eval_", "train": "tools:train",
    "label": "tools:label", "search": "reading:search", "sources": "reading:sources", "alerts": "outbox:alerts",
    "subscriptions": "outbox:subscriptions", "why": "why:why", "export": "reading:export", "report": "reading:report",
    "topics": "tools:topics", "migrate": "migrate:migrate",
}


class LazyGroup(click.Group):
    """A group whose commands are imported by name when they are used (or listed by `--help`)."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return list(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attr = COMMANDS[cmd_name].split(":")
        command: click.Command = getattr(importlib.import_module(f"{__package__}.commands.{module}"), attr)
        return command


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="regwatch")
def main() -> None:
    """Watch finance news and regulators, tag regulatory topics, alert team chats once per story."""
    # a PostgreSQL store that is down is one line from every command, not the pool's every retry
    logging.getLogger("psycopg.pool").setLevel(logging.CRITICAL)
    readable_anywhere()


__all__ = ["main"]
