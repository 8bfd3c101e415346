"""Commands that read the store: `search`, `export`, `report`, `sources`.

They never make a store (a missing one is one line), never need the channels' secrets, and
refuse a filter that names no known topic or source instead of answering with nothing.
"""

from __future__ import annotations

import csv
import sys
from typing import Any

import click

from ...crawler.report import CUT_OFF
from ...defaults import ERROR_SHOWN
from ...pipeline.private import write_private
from ...pipeline.store import EXPORT_FIELDS
from ..durations import format_duration
from ..output import (
    STATUS_STYLE,
    UNSAFE,
    Table,
    echo,
    fit_on_screen,
    json_line,
    json_text,
    note,
    readable_anywhere,
    safe,
)
from ..queries import search as do_search
from ..queries import sources_overview
from .common import Setup, UserError, config_option, json_option, limit_option, since_option, user_errors

CSV_BOM = "\ufeff"     # Excel reads a CSV as UTF-8 (Chinese intact) only when it starts with one


@click.command()
@click.argument("query")
@click.option("--topic", help="Only articles tagged with this topic (see `regwatch topics`).")
@click.option("--source", help="Only articles of this source (see `regwatch sources`).")
@since_option(what="published (or, without a date, stored)")
@click.option("--until", help="Only before: a duration back from now or a date (read in the display zone).")
@limit_option(20, "results")
@json_option
@config_option
@user_errors
def search(query: str, topic: str | None, source: str | None, since: str | None, until: str | None, limit: int,
           as_json: bool, config_path: str | None) -> None:
    """Full-text search of the store: Chinese words of two characters or more, English words, "phrases",
    AND / OR / NOT. Ranked, with a snippet, the topics and how many copies the story has."""
    setup = Setup(config_path)
    topic = setup.check_topic(topic)
    setup.check_source(source)
    clock = setup.clock
    rows = do_search(setup.store, query, topic=topic, source=source, since=setup.since(since),
                     until=setup.since(until, "--until"), limit=limit)
    t = Table([(f"published ({clock.label})", None, False), ("source", 20, False), ("topics", 30, False),
               ("copies", None, True), ("title", None, False)])
    for r in rows:
        when = r["published_at"] or r["fetched_at"]
        if as_json:
            json_line({"id": r["id"], "url": r["url"], "title": r["title"], "source": r["source"], "outlet": r["outlet"],
                       "published_at": clock.iso(r["published_at"]), "topics": r["topics"], "story_id": r["story_id"],
                       "story_size": r["story_size"], "snippet": r["snippet"]})
        else:
            t.add(clock.short(when), r["source"], ", ".join(setup.topic_names.get(x, x) for x in r["topics"]) or "-",
                  f"×{r['story_size']}", (safe(r["title"]), "title"),
                  under=[f"#{r['id']}  {safe(r['snippet'])}", safe(r["url"])])
    t.print()
    if not rows:
        filters = ([f"topic {topic}"] * bool(topic) + [f"source {source}"] * bool(source)
                   + [f"since {clock.full(setup.since(since))}"] * bool(since)
                   + [f"until {clock.full(setup.since(until, '--until'))}"] * bool(until))
        note(f"no results for {query!r}" + (f" ({', '.join(filters)})" if filters else ""))


@click.command()
@click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl", show_default=True,
              help="CSV (with a BOM, so that Excel reads Chinese) or JSON lines.")
@since_option(what="stored")
@click.option("--topic", help="Only articles tagged with this topic (see `regwatch topics`).")
@click.option("--body/--no-body", default=False, help="Include the article text (`body`; `regwatch classify` reads it).")
@config_option
@user_errors
def export(fmt: str, since: str | None, topic: str | None, body: bool, config_path: str | None) -> None:
    """Articles with their topics and story, as CSV or JSON lines on stdout (times in the display zone)."""

    setup = Setup(config_path)
    topic = setup.check_topic(topic)
    clock = setup.clock
    if fmt == "csv":
        readable_anywhere(utf8_stdout=True)     # the CSV says it is UTF-8 (its BOM): it is, whatever the terminal's
    out = sys.stdout     # as json_line and the tables (click.get_text_stream is deprecated in Click 8.5)
    writer: csv.DictWriter[str] | None = None
    start = setup.since(since)
    empty = True
    for r in setup.store.export_articles(start, topic):
        empty = False
        if not body:
            r.pop("body")
        r["published_at"], r["fetched_at"] = clock.iso(r["published_at"]), clock.iso(r["fetched_at"])
        if fmt == "jsonl":
            out.write(json_text(r) + "\n")
            continue
        r["topics"] = ";".join(r["topics"])
        if writer is None:
            out.write(CSV_BOM)
            writer = csv.DictWriter(out, fieldnames=list(r))
            writer.writeheader()
        writer.writerow({k: csv_cell(v) for k, v in r.items()})
    if not empty:
        return
    if fmt == "csv":        # nothing to export: the CSV is still one (its BOM and header), and it is said
        out.write(CSV_BOM)
        csv.DictWriter(out, fieldnames=[f for f in EXPORT_FIELDS if body or f != "body"]).writeheader()
    filters = [f"topic {topic}"] * bool(topic) + [f"stored since {clock.full(start)}"] * bool(start)
    note("no articles to export" + (f" ({', '.join(filters)})" if filters else ""))


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def csv_cell(value: Any) -> Any:
    """A spreadsheet never runs a cell from the web as a formula (a leading = + - @, tab or CR gets a `'`), and
    a terminal showing the file never runs its escapes: control, bidi and invisible characters are dropped."""
    if not isinstance(value, str):
        return value
    value = UNSAFE.sub("", value)
    return "'" + value if value.startswith(_FORMULA) else value


@click.command()
@since_option(default="30d", what="published or stored")
@click.option("--out", "out_path", default="report.html", show_default=True, type=click.Path(dir_okay=False),
              help="Where to write the page.")
@config_option
@user_errors
def report(since: str, out_path: str, config_path: str | None) -> None:
    """One self-contained HTML page: topic volume per day, largest stories, alerts per subscription and
    channel, source health."""
    from ..report import render

    setup = Setup(config_path)
    start = setup.since(since)
    if start is None:
        raise UserError("--since: give a duration back from now (7d) or a date (2026-12-01)")
    page = render(setup.store, start, shown=setup.cfg.error_shown, tz=setup.cfg.display.tz,
                  topic_names=setup.topic_names)
    write_private(out_path, page)      # a new report is its user's alone, as the store it shows
    echo(f"wrote {out_path}")


@click.command()
@click.option("--pack", "pack", is_flag=True, help="List the bundled source pack (with each source's note) instead.")
@json_option
@config_option
@user_errors
def sources(pack: bool, as_json: bool, config_path: str | None) -> None:
    """Each source's health: state, last run, found / new / errors, articles stored, and why it is not ok."""
    if pack:
        _pack(as_json)
        return
    setup = Setup(config_path)
    cfg, clock = setup.cfg, setup.clock
    names = [s.name for s in cfg.sources]
    if not names:
        where = "" if cfg.path in (None, "<embedded default>") else f" in {cfg.path}"
        note(f"no sources configured{where}: add source_packs = [\"cn-finance\"] or [[sources]] "
             "(`regwatch sources --pack` lists the bundled ones)")
        return
    rows: list[dict[str, Any]]
    if not setup.has_store():
        note(f"no store at {setup.store_shown()} yet: every source below has never run")
        rows = sources_overview(None, names)
    else:
        rows = sources_overview(setup.store, names)
    # on PostgreSQL, several workers share the sources: which one ran each (its host and pid; `--json`: its whole id)
    several = cfg.store.url is not None
    t = Table([("source", 28, False), ("state", None, False), (f"last run ({clock.label})", None, False),
               ("found", None, True), ("new", None, True), ("errors", None, True), ("stored", None, True),
               *([("worker", None, False)] if several else [])])
    dash = lambda v: "-" if v is None else str(v)  # noqa: E731
    for r in rows:
        for k in ("last_error", "last_message"):      # rows stored by an older release too
            r[k] = cfg.error_shown(r[k], source=r["source"])
        if as_json:
            json_line({**r, "last_run": clock.iso(r["last_run"]), "last_success": clock.iso(r["last_success"]),
                       "baselined_at": clock.iso(r["baselined_at"])})
            continue
        notes = []
        if r["last_run"] and not r["baselined"]:
            notes.append("not yet baselined: its first run that stores what its list names is the baseline "
                         "(stored, no alerts)")
        if r["deferred"]:
            notes.append(f"{r['deferred']} new articles deferred to the next run (max_articles_per_source)")
        if r["skipped"]:
            notes.append(f"{r['skipped']} articles skipped for good (robots.txt, 404/410, not a page)")
        if r["state"] == "empty" and r["last_message"]:     # what its list page answered, and what found nothing
            notes.append(fit_on_screen(safe(r["last_message"]), ERROR_SHOWN))
        elif r["last_error"] and r["state"] != "ok":
            notes.append(fit_on_screen(safe(r["last_error"]), ERROR_SHOWN))
        if not r["errors"] and CUT_OFF in (r["last_message"] or ""):
            notes.append("its last run was cut short by regwatch's stop: what it left is fetched next run")
        t.add(r["source"], (r["state"], STATUS_STYLE.get(r["state"])), clock.short(r["last_run"]), dash(r["found"]),
              dash(r["new"]), dash(r["errors"]), str(r["articles"]),
              *([safe(":".join(r["worker"].split(":")[:2])) if r["worker"] else "-"] if several else []), under=notes)
    t.print()


def _pack(as_json: bool) -> None:
    from ..source_packs import bundled_source_packs, load_source_pack

    t = Table([("pack", None, False), ("source", 28, False), ("kind", None, False), ("every", None, True),
               ("url", None, False)])
    for name in bundled_source_packs():
        for s in load_source_pack(name):
            every = f"cron {s.cron}" if s.cron else format_duration(s.every)
            if as_json:
                json_line({"pack": name, "name": s.name, "kind": s.kind, "url": s.url, "every": every, "note": s.note})
            else:
                t.add(name, s.name, s.kind, every, s.url, under=[s.note] if s.note else [])
    t.print()
