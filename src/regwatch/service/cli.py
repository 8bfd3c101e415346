"""The `regwatch` command: a thin click layer over the library."""

from __future__ import annotations

import functools
import logging
import sys
from pathlib import Path

import click

from .config import ConfigError, load_config


class UserError(click.ClickException):
    """One clear line for the user, exit 2; never a traceback."""

    exit_code = 2

    def show(self, file=None) -> None:
        click.echo(f"regwatch: {self.format_message()}", err=True)


def _errors(fn):
    """Turn what users can get wrong into one line and exit code 2."""
    from ..pipeline.classify import PackError
    from ..pipeline.searchtext import QueryError
    from ..pipeline.store import StoreError

    @functools.wraps(fn)
    def wrapper(*a, **kw):
        try:
            return fn(*a, **kw)
        except (ConfigError, PackError, QueryError, StoreError, OSError) as e:
            raise UserError(str(e)) from None
        except KeyboardInterrupt:
            raise SystemExit(130) from None
    return wrapper


config_option = click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), default=None,
                             help="Config file (default: $REGWATCH_CONFIG or ./regwatch.toml; none: the embedded default).")


def _logging(verbose: bool) -> None:
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    logging.getLogger("regwatch").setLevel(logging.INFO if verbose else logging.WARNING)
    # Scrapy, Twisted and APScheduler report through regwatch (source health, the outbox), not
    # with their own tracebacks: a dead source is one line in `regwatch sources`, not a stack.
    for name in ("scrapy", "twisted", "py.warnings", "apscheduler", "trafilatura", "htmldate", "charset_normalizer"):
        logging.getLogger(name).setLevel(logging.CRITICAL)
    logging.captureWarnings(True)


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="regwatch")
def main() -> None:
    """Watch finance news and regulators, tag regulatory topics, alert team chats once per story."""


@main.command()
@click.argument("path", default="regwatch.toml", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite an existing file.")
@_errors
def init(path: str, force: bool) -> None:
    """Write a commented starter regwatch.toml."""
    p = Path(path)
    if p.exists() and not force:
        raise UserError(f"{p} exists; use --force to overwrite it")
    p.write_text((Path(__file__).parent / "starter.toml").read_text(encoding="utf-8"), encoding="utf-8")
    click.echo(f"wrote {p}: edit its sources, channels and subscriptions, then `regwatch run --once -c {p}`")


@main.command()
@click.option("--once", is_flag=True, help="One full cycle of every source, deliver what is due, exit (for cron).")
@click.option("-v", "--verbose", is_flag=True, help="Log each cycle.")
@config_option
@_errors
def run(once: bool, verbose: bool, config_path: str | None) -> None:
    """The daemon: every source on its schedule until SIGTERM/SIGINT (or one cycle with --once)."""
    from . import reactor
    from .app import App

    _logging(verbose or not once)
    cfg = load_config(config_path)
    app = App(cfg)
    try:
        if once:
            result = reactor.run(app.once)
            _summary(result)
        else:
            reactor.run(app.daemon)
    finally:
        app.close()


def _summary(result) -> None:
    click.echo(f"regwatch: {result.summary()}", err=True)


@main.command()
@click.argument("sources", nargs=-1)
@config_option
@_errors
def baseline(sources: tuple[str, ...], config_path: str | None) -> None:
    """Crawl and store without alerting (what a source's first run does by itself)."""
    from . import reactor
    from .app import App

    _logging(False)
    app = App(load_config(config_path))
    try:
        names = list(sources) or None
        app.enabled_sources(names)
        result = reactor.run(lambda: app.cycle(app.enabled_sources(names), baseline_all=True))
        _summary(result)
    finally:
        app.close()


@main.command()
@click.option("--keep", type=click.Path(file_okay=False), default=None, help="Keep the demo's store in this folder.")
@_errors
def demo(keep: str | None) -> None:
    """The whole flow offline: a bundled local replay site, alerts printed here."""
    from .demo import run_demo

    run_demo(keep)


from .commands import register  # noqa: E402  (the read-only commands live beside)

register(main, config_option, _errors, UserError)

from .migrate import command as _migrate  # noqa: E402  (self-contained: `regwatch migrate --to URL`)

main.add_command(_migrate(config_option, _errors))
