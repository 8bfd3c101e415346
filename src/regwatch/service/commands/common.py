"""What every command shares: its options, one line (exit 2) for a user's mistake, and `Setup`.

As sqlite-utils' `cli.py` does, an option used by several commands is written once here and put
on each command as a decorator (`@config_option`, `@json_option`, `@since_option()`,
`@limit_option(20)`), and library errors become one line by one decorator (`@user_errors`).
"""

from __future__ import annotations

import functools
import os
import select
import stat
import sys
from collections.abc import Callable
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar

import click

from ...defaults import LIMIT_MAX
from ...pipeline.classify import Classifier, PackError, Topic, load_topics
from ...pipeline.searchtext import QueryError
from ...pipeline.store import Store, StoreError, has_store, open_store
from ...pipeline.timeutil import iso
from ..config import Config, ConfigError, check_topics, check_zone, load_config
from ..output import Clock
from ..topics import load_classifier

F = TypeVar("F", bound=Callable[..., Any])


class UserError(click.ClickException):
    """One clear line for the user, exit 2; never a traceback."""

    exit_code = 2

    def show(self, file: Any = None) -> None:
        click.echo(f"regwatch: {self.format_message()}", err=True)


# what a user can get wrong (a config, a file, a query, a store path), said in one line
USER_MISTAKES = (ConfigError, PackError, QueryError, StoreError)


def reader_left(stream: Any) -> bool:
    """Whether `stream` (stdout, stderr) is a pipe or socket whose reader has gone (`| head` done): its end reports
    an error or a hang-up. A broken pipe met anywhere else (a socket of the command's own) is not this."""
    try:
        fd = stream.fileno()
        if not (stat.S_ISFIFO(os.fstat(fd).st_mode) or stat.S_ISSOCK(os.fstat(fd).st_mode)):
            return False
        poll = select.poll()
        poll.register(fd, select.POLLOUT)
        return any(events & (select.POLLERR | select.POLLHUP) for _, events in poll.poll(0))
    except (AttributeError, ValueError, OSError):      # no stream, or not a file
        return False


def user_errors(fn: F) -> F:
    """Turn what users can get wrong into one line and exit code 2. A closed pipe (`| head`) on stdout or
    stderr is no error: the command ends quietly with 141, and stdout is flushed here, where this still
    sees it, rather than at exit. A broken pipe elsewhere (a socket) is the error it is: one line, exit 2."""
    @functools.wraps(fn)
    def wrapper(*a: Any, **kw: Any) -> Any:
        try:
            result = fn(*a, **kw)
            sys.stdout.flush()
            return result
        except BrokenPipeError as e:
            gone = [s for s in (sys.stdout, sys.stderr) if reader_left(s)]
            if not gone:
                raise UserError(f"{e.filename}: {e.strerror}" if e.filename and e.strerror
                                else f"broken pipe: {e.strerror or e} (the other end closed the connection)") from None
            # what a shell expects of a writer whose reader left (`set -o pipefail`): 128 + SIGPIPE, quietly
            for s in gone:
                os.dup2(os.open(os.devnull, os.O_WRONLY), s.fileno())
            raise SystemExit(141) from None
        except USER_MISTAKES as e:
            raise UserError(str(e)) from None
        except OSError as e:      # a file that cannot be read or written
            raise UserError(f"{e.filename}: {e.strerror}" if e.filename and e.strerror else str(e)) from None
        except KeyboardInterrupt:
            raise SystemExit(130) from None
    return wrapper  # type: ignore[return-value]


# -- shared options -------------------------------------------------------------------------------

config_option = click.option(
    "-c", "--config", "config_path", type=click.Path(dir_okay=False), default=None,
    help="Config file (default: $REGWATCH_CONFIG, else ./regwatch.toml, else the embedded default).")

json_option = click.option(
    "--json", "as_json", is_flag=True,
    help="One JSON object per line instead of columns (times: ISO 8601 with the display zone's offset).")


def since_option(default: str | None = None, what: str = "stored or published") -> Callable[[F], F]:
    return click.option("--since", default=default, show_default=default is not None,
                        help=f"Only what was {what} since: a duration back from now (7d, 12h) or a date "
                             "(2026-12-01, read in the display zone, Beijing time by default).")


def limit_option(default: int, what: str = "rows") -> Callable[[F], F]:
    return click.option("--limit", default=default, show_default=True, type=click.IntRange(1, LIMIT_MAX),
                        help=f"At most this many {what} (1 to {LIMIT_MAX:,}).")


def zone_value(ctx: click.Context, param: click.Parameter, value: str) -> str:
    """An option naming a time zone (`--tz`), checked as the config's zones are, before the command runs: a typo is
    one line and exit 2, not a traceback at the first time read, nor nothing said when no time needs it."""
    try:
        return check_zone(value)
    except ValueError as e:
        raise UserError(f"--{param.name}: {e}") from None


# -- what a command works on ------------------------------------------------------------------------

class Setup:
    """The config a command was given, and what it opens from it, each loaded when first asked for."""

    def __init__(self, config_path: str | None):
        self.config_path = config_path

    @cached_property
    def cfg(self) -> Config:
        """The config, its subscriptions' topics checked against the loaded packs: a topic's typo is refused by
        every command alike, not only by those that tag."""
        cfg = load_config(self.config_path)
        self.__dict__["cfg"] = cfg      # (read by `topics`)
        try:
            _ = self.topics
        except BaseException:
            del self.__dict__["cfg"]    # (no unchecked config is kept)
            raise
        return cfg

    @cached_property
    def clock(self) -> Clock:
        return Clock(self.cfg.display.tz)

    def since(self, value: str | None, what: str = "--since") -> datetime | None:
        try:
            return self.clock.since(value, what)
        except ValueError as e:
            raise UserError(str(e)) from None

    def since_iso(self, value: str | None) -> str | None:
        return iso(self.since(value))

    def store_shown(self) -> str:
        """Where the store is, as the user wrote it (a PostgreSQL URL's password hidden)."""
        if self.cfg.store.url:
            from ...pipeline.store.postgres.connection import shown

            return f"{shown(self.cfg.store.url)} (store.url: a database without regwatch's tables)"
        where = "" if self.cfg.path in (None, "<embedded default>") else f" (store.path of {self.cfg.path})"
        return f"{self.cfg.store.path}{where}"

    @cached_property
    def store(self) -> Store:
        """The store, if it exists: a command that only reads never makes one."""
        if not self.has_store():
            run = "regwatch run --once" + (f" -c {self.config_path}" if self.config_path else "")
            raise UserError(f"no store at {self.store_shown()} yet: `{run}` makes it")
        return open_store(self.cfg.store.location)

    def has_store(self) -> bool:
        """Whether the store exists (an SQLite file that is not empty; a PostgreSQL database holding regwatch's
        tables); a database holding another program's tables is refused in one line (StoreError)."""
        if "_has_store" not in self.__dict__:
            self._has_store = has_store(self.cfg.store.location)
        return self._has_store

    @cached_property
    def topics(self) -> list[Topic]:
        """The loaded packs' topics (the subscriptions' topics checked against them)."""
        try:
            topics = load_topics(self.cfg.topics.packs, self.cfg.topics.files)
        except PackError as e:
            raise ConfigError(f"{self.cfg.path}: topics: {e}") from None
        check_topics(self.cfg, {t.id for t in topics})
        return topics

    @cached_property
    def topic_names(self) -> dict[str, str]:
        return {t.id: t.name for t in self.topics}

    @cached_property
    def classifier(self) -> Classifier:
        """The classifier the pipeline uses: the packs' rules and, unless `[topics] model = ""`, the learned stage."""
        return load_classifier(self.cfg)

    @cached_property
    def rules(self) -> Classifier:
        """The packs' rules alone (`eval --rules`; what `train` learns over)."""
        return load_classifier(self.cfg, rules_only=True)

    def topic_id(self, topic: str) -> str | None:
        """The id of the loaded packs' topic named by its id or its name (`rate_cap` or `利率上限`); None: no topic."""
        if topic in self.topic_names:
            return topic
        by_name = {part.strip().casefold(): tid for tid, name in self.topic_names.items()
                   for part in (name, *name.split("/"))}         # `利率上限 / loan-rate caps`: either
        return by_name.get(topic.strip().casefold())

    def check_topic(self, topic: str | None) -> str | None:
        """The topic a `--topic` names, by its id or its name (`rate_cap` or `利率上限`), of the loaded packs (a typo
        is no silent empty answer)."""
        if topic is None:
            return None
        tid = self.topic_id(topic)
        if tid is None:
            raise UserError(f"no topic {topic!r}; known topics: "
                            f"{', '.join(f'{t} ({n})' for t, n in sorted(self.topic_names.items()))}")
        return tid

    def check_source(self, source: str | None) -> str | None:
        """A `--source` filter names a configured source, or one that has run on the store."""
        if source is None:
            return None
        known = {s.name for s in self.cfg.sources}
        if self.has_store():
            known.update(self.store.known_sources())
        if source not in known:
            raise UserError(f"no source {source!r}; known sources: {', '.join(sorted(known)) or 'none'}")
        return source

    def close(self) -> None:
        if "store" in self.__dict__:
            self.store.close()
