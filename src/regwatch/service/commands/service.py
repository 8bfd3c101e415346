"""Commands that run the service: `init`, `run`, `baseline`, `demo`.

`app`, `reactor` and `demo` are imported inside the commands: they import Scrapy and Twisted, and
the asyncio reactor must be installed before anything imports `twisted.internet.reactor`.
"""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from zoneinfo import ZoneInfo

import click

from ...defaults import DISPLAY_TZ, PRIVATE_FILE, display_zone_label
from ...pipeline.private import write_private
from .. import early_stop
from ..config import load_config
from .common import UserError, config_option, user_errors

STARTER = Path(__file__).resolve().parent.parent / "starter.toml"


def quiet_libraries(verbose: bool, tz: str = DISPLAY_TZ) -> None:
    # the log's times on the one clock, labelled as every time shown (`20:23:11 北京时间`), not the host's zone
    logging.basicConfig(level=logging.WARNING, format=f"%(asctime)s {display_zone_label(tz)} %(message)s",
                        datefmt="%H:%M:%S", stream=sys.stderr)
    zone = ZoneInfo(tz)
    for handler in logging.getLogger().handlers:
        if handler.formatter is not None:
            handler.formatter.converter = lambda t: datetime.fromtimestamp(t or 0, zone).timetuple()
    logging.getLogger("regwatch").setLevel(logging.INFO if verbose else logging.WARNING)
    # Scrapy, Twisted and APScheduler report through regwatch (source health, the outbox), not
    # with their own tracebacks: a dead source is one line in `regwatch sources`, not a stack.
    for name in ("scrapy", "twisted", "py.warnings", "apscheduler", "trafilatura", "htmldate", "charset_normalizer"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    logging.captureWarnings(True)


def summary(result, app) -> None:
    """The cycle's line; after a signal stopped it, the exit code says so (128 + its number, as a shell's)."""
    click.echo(f"regwatch: {result.summary()}", err=True)
    if app.interrupted:
        click.echo(early_stop.stop_line(app.interrupted), err=True)
        sys.exit(128 + app.interrupted)


@click.command()
@click.argument("path", default="regwatch.toml", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@user_errors
def init(path: str, force: bool) -> None:
    """Write a commented starter regwatch.toml (alerts on the terminal until you add a chat channel)."""
    p = Path(path)
    if p.exists() and not force:
        raise UserError(f"{p} exists; use --force to overwrite it")
    write_private(p, STARTER.read_text(encoding="utf-8"))     # a new config is its user's alone: it holds secrets
    click.echo(f"wrote {p}: edit its sources, channels and subscriptions, then `regwatch run --once -c {p}`")


@click.command()
@click.option("--once", is_flag=True, help="One full cycle of every source, deliver what is due, exit (for cron).")
@click.option("-v", "--verbose", is_flag=True,
              help="Log each cycle (without it, the daemon logs a cycle only when it found or changed something; "
                   "--once logs nothing but warnings and its summary). With --once: what it does, as it starts.")
@config_option
@user_errors
def run(once: bool, verbose: bool, config_path: str | None) -> None:
    """The daemon: every source on its schedule until SIGTERM/SIGINT (or one cycle with --once)."""
    from .. import reactor
    from ..app import App

    cfg = load_config(config_path)
    quiet_libraries(verbose or not once, cfg.display.tz)
    with contextlib.nullcontext() if once or cfg.store.url else sole_daemon(Path(cfg.store.path)):
        app = App(cfg)
        app.verbose = verbose
        try:
            if once:
                summary(reactor.run(app.once), app)
            else:
                reactor.run(app.daemon)
        finally:
            app.close()


@contextlib.contextmanager
def sole_daemon(store: Path) -> Iterator[None]:
    """One daemon on an SQLite file: a second `regwatch run` (a unit started twice, a `make run` beside the
    service) would share the sources' leases with the first and leave its log silent; it is refused instead.
    A cron `run --once` beside the daemon is not (the outbox's and the sources' claims make that safe). The
    lock is the kernel's (`flock`): a daemon killed by any signal leaves none behind."""
    if str(store) == ":memory:":
        yield
        return
    import fcntl

    lock = store.with_name(store.name + ".daemon-lock")
    try:
        fd = os.open(lock, os.O_RDWR | os.O_CREAT, PRIVATE_FILE)
    except OSError as e:
        raise UserError(f"cannot open {lock}: {e.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            other = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "?"
            raise UserError(f"another regwatch daemon (pid {other}) is running on {store}; stop it first (several "
                            "daemons need a PostgreSQL store: README, Deployment)") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, str(os.getpid()).encode(), 0)
        yield
    finally:
        os.close(fd)


@click.command()
@click.argument("sources", nargs=-1)
@config_option
@user_errors
def baseline(sources: tuple[str, ...], config_path: str | None) -> None:
    """Crawl SOURCES (default: all) and store without alerting (what a source's first run does by itself)."""
    from .. import reactor
    from ..app import App

    cfg = load_config(config_path)
    quiet_libraries(False, cfg.display.tz)
    app = App(cfg)
    try:
        names = list(sources) or None
        app.enabled_sources(names)
        summary(reactor.run(lambda: app.stoppable(lambda: app.cycle(app.enabled_sources(names), baseline_all=True))),
                app)
    finally:
        app.close()


@click.command()
@click.option("--keep", type=click.Path(file_okay=False), default=None,
              help="Keep the demo's store in this folder (without it, the demo's temporary folder is removed).")
@user_errors
def demo(keep: str | None) -> None:
    """The whole flow offline: a bundled local replay site, alerts printed here."""
    from ..demo import run_demo

    run_demo(keep)
