"""What the `regwatch` command prints: one clock, aligned columns, colour only on a terminal.

- **One clock.** Every time shown is in the `[display] tz` zone (Beijing time by default) and
  labelled (`北京时间`); JSON carries ISO 8601 with that zone's offset. `--since 2026-12-01` is
  read in the same zone, so a filter and the times it shows agree.
- **Columns** are padded by their width on screen (a Chinese character takes two cells), long
  values cut with `…`, so a long channel name never pushes the next column out.
- **Colour** (Rich) only when stdout is a terminal; piped or redirected, plain text. `NO_COLOR`
  is honoured.
- **Text from the web** is escaped before it reaches a terminal (`\\x1b`, bidi overrides…).
- **Any terminal encoding**: what a non-UTF-8 stdout or stderr cannot encode is shown escaped, never a
  traceback; the CSV export alone writes UTF-8 whatever the terminal (`readable_anywhere`).
"""

from __future__ import annotations

import codecs
import errno
import io
import json
import os
import re
import sys
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from typing import Any
from zoneinfo import ZoneInfo

from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from ..defaults import DISPLAY_TIME, DISPLAY_TZ, NEVER_RUN, UNSAFE_CHARS, display_zone_label
from .durations import parse_duration

_CONTROL = re.compile(f"[\\x00-\\x1f{UNSAFE_CHARS}]")     # every control character, and the invisible ones
EARLIEST_YEAR, LATEST_YEAR = 1900, 9998    # the dates `--since`/`--until` take
UNSAFE = re.compile(f"[{UNSAFE_CHARS}]")     # what no output shows live (CSV cells, JSON text)

# colours by meaning, one place
STYLES = {"ok": "green", "sent": "green", "bad": "red", "warn": "yellow", "dim": "dim", "head": "bold",
          "id": "cyan", "time": "blue", "title": "", "note": "yellow"}
STATUS_STYLE = {"ok": "ok", "sent": "ok", "failing": "bad", "failed": "bad", "broken": "bad", "blocked": "bad",
                "empty": "warn", "stale": "warn", "error": "warn", "retry": "warn", "pending": "", "digest": "",
                "sending": "", NEVER_RUN: "dim"}


def safe(text: Any, keep: str = "") -> str:
    """Text from the web, safe for a terminal: control characters (ANSI escapes, carriage returns,
    bidi overrides…) shown escaped (`\\x1b`), except those in `keep`."""
    text = "" if text is None else str(text)
    return _CONTROL.sub(lambda m: m.group() if m.group() in keep else
                        (f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else
                         f"\\u{ord(m.group()):04x}" if ord(m.group()) < 0x10000 else f"\\U{ord(m.group()):08x}"), text)


def plural(n: int, word: str, many: str | None = None) -> str:
    """`1 source`, `3 sources`."""
    return f"{n} {word if n == 1 else many or word + 's'}"


def fit(text: str, width: int) -> str:
    """At most `width` terminal cells, cut with `…`."""
    if cell_len(text) <= width:
        return text
    out, used = [], 0
    for ch in text:
        w = cell_len(ch)
        if used + w > width - 1:
            break
        out.append(ch)
        used += w
    return "".join(out) + "…"


def shorten(text: str, width: int) -> str:
    """A message (a source's last error) in at most `width` cells, cut with `…` after a whole word: within one only
    when its last space is in the first half (a long URL, Chinese text written without spaces). `sources` on a
    terminal and the report cut so."""
    if cell_len(text) <= width:
        return text
    kept = fit(text, width)[:-1]
    space = kept.rfind(" ")
    if not text[len(kept)].isspace() and space > len(kept) // 2:
        kept = kept[:space]
    return kept.rstrip() + "…"


def fit_on_screen(text: str, width: int) -> str:
    """`shorten` on a terminal, whose lines a person reads; piped or redirected, whole: a file or `grep` loses no
    word."""
    return shorten(text, width) if console().is_terminal else text


def pad(text: str, width: int, right: bool = False) -> str:
    gap = " " * max(0, width - cell_len(text))
    return gap + text if right else text + gap


# -- the one clock --------------------------------------------------------------------------------

class Clock:
    """Times as people read them, in one zone (`[display] tz`)."""

    def __init__(self, tz: str = DISPLAY_TZ):
        self.tz = tz
        self.zone = ZoneInfo(tz)

    @property
    def label(self) -> str:
        return display_zone_label(self.tz)

    def local(self, value: str | datetime | None) -> datetime | None:
        if value is None or value == "":
            return None
        dt = value if isinstance(value, datetime) else datetime.fromisoformat(value)
        if dt.tzinfo is None:
            dt = dt.replace(tzinfo=UTC)    # the store writes UTC
        return dt.astimezone(self.zone)

    def short(self, value: str | datetime | None, empty: str = "-") -> str:
        """`2026-01-05 15:41` in the display zone (the label goes in the column's header)."""
        dt = self.local(value)
        return dt.strftime(DISPLAY_TIME) if dt else empty

    def full(self, value: str | datetime | None, empty: str = "-") -> str:
        """`2026-01-05 15:41 北京时间`."""
        dt = self.local(value)
        return f"{dt.strftime(DISPLAY_TIME)} {display_zone_label(self.tz, dt)}" if dt else empty

    def iso(self, value: str | datetime | None) -> str | None:
        """ISO 8601 with the display zone's offset, for JSON and CSV (`2026-01-05T15:41:00+08:00`)."""
        dt = self.local(value)
        return dt.isoformat(timespec="seconds") if dt else None

    def since(self, value: str | None, what: str = "--since") -> datetime | None:
        """A duration back from now (`7d`) or a date / date and time read in the display zone."""
        if not value:
            return None
        try:
            return datetime.now(UTC) - timedelta(seconds=parse_duration(value))
        except ValueError as e:
            if "longer than" in str(e):     # a duration, out of range
                raise ValueError(f"{what} {value!r} is out of range: at most 100 years back") from None
        try:
            dt = datetime.fromisoformat(value)
        except ValueError:
            raise ValueError(f"{what} {value!r} is neither a duration (7d) nor a date (2026-12-01, "
                             f"read in {self.label})") from None
        dt = dt if dt.tzinfo else dt.replace(tzinfo=self.zone)
        if dt.year < EARLIEST_YEAR or dt.year > LATEST_YEAR:
            # before year 1 in UTC overflows; a four-digit year is what every time shown and stored has
            raise ValueError(f"{what} {value!r} is out of range: a date from {EARLIEST_YEAR} to {LATEST_YEAR}")
        return dt


# -- printing -------------------------------------------------------------------------------------

class _Console(Console):
    """Rich's console, but a reader that left (`| head`) is the command's to answer, as any other write's is: Rich's
    own answer (stdout to /dev/null, then exit 1) ended the command with 1 instead of 141 whenever the pipe broke
    in a line Rich printed rather than in one written directly."""

    def on_broken_pipe(self) -> None:
        raise BrokenPipeError(errno.EPIPE, os.strerror(errno.EPIPE))


@lru_cache(maxsize=2)
def console(stderr: bool = False) -> Console:
    """Rich on stdout (or stderr): colour on a terminal only; never wraps or highlights by itself. A broken pipe
    is raised as the BrokenPipeError it is (`commands.common.user_errors` makes it exit 141, quietly)."""
    return _Console(stderr=stderr, highlight=False, soft_wrap=True, emoji=False, markup=False)


def styled(text: str, style: str | None) -> Text:
    return Text(text, style=STYLES.get(style or "", style or ""))


def echo(*parts: str | Text | tuple[str, str | None], err: bool = False) -> None:
    """One line of parts; a part is text, a Rich Text, or (text, style name)."""
    line = Text()
    for p in parts:
        if isinstance(p, tuple):
            line.append_text(styled(p[0], p[1]))
        elif isinstance(p, Text):
            line.append_text(p)
        else:
            line.append(p)
    console(err).print(line)


def note(text: str) -> None:
    """A line for the user that is not data (`no results`…): on stderr, so pipes get only data."""
    console(True).print(Text(f"regwatch: {text}", style=STYLES["note"]))


def readable_anywhere(utf8_stdout: bool = False) -> None:
    """A stdout or stderr that cannot encode Chinese (`PYTHONIOENCODING=ascii`, a C locale) shows what it
    cannot encode escaped (`\\u5f81`) instead of ending in a traceback; UTF-8 output is left as it is.
    `utf8_stdout`: stdout is written in UTF-8 whatever its encoding (the CSV export, whose BOM says it is)."""
    for stream in (sys.stdout, sys.stderr):
        if isinstance(stream, io.TextIOWrapper) and codecs.lookup(stream.encoding).name != "utf-8":
            if utf8_stdout and stream is sys.stdout:
                stream.reconfigure(encoding="utf-8", errors="strict")
            else:
                stream.reconfigure(errors="backslashreplace")


def json_text(obj: Any, **kw: Any) -> str:
    """JSON for a terminal or a file: readable Chinese, but every control, bidi and invisible character of
    web text escaped (`\\u001b`, `\\u202e`), never live."""
    return UNSAFE.sub(lambda m: json.dumps(m.group()).strip('"'), json.dumps(obj, ensure_ascii=False, **kw))


def json_line(obj: Any) -> None:
    console().file.write(json_text(obj) + "\n")


class Table:
    """Rows printed in aligned columns (by terminal cells); the last column is not padded.

    `columns`: (header, width limit or None, right-aligned). A cell is text or (text, style name).
    """

    def __init__(self, columns: Sequence[tuple[str, int | None, bool]], gap: str = "  "):
        self.columns = columns
        self.rows: list[list[tuple[str, str | None]]] = []
        self.under: list[list[str]] = []    # indented lines shown under each row
        self.gap = gap

    def add(self, *cells: str | tuple[str, str | None], under: Iterable[str] = ()) -> None:
        row = [(c, None) if isinstance(c, str) else (c[0], c[1]) for c in cells]
        row = [(fit(t, lim) if lim else t, s) for (t, s), (_, lim, _) in zip(row, self.columns, strict=True)]
        self.rows.append(row)
        self.under.append(list(under))

    def print(self, header: bool = True) -> None:
        if not self.rows:
            return
        heads = [h for h, _, _ in self.columns]
        widths = [max([cell_len(heads[i]) if header else 0] + [cell_len(r[i][0]) for r in self.rows])
                  for i in range(len(self.columns))]
        indent = " " * (widths[0] + len(self.gap))
        if header:
            self._line([(h, "head") for h in heads], widths)
        for row, under in zip(self.rows, self.under, strict=True):
            self._line(row, widths)
            for line in under:
                echo(indent, (line, "dim"))

    def _line(self, cells: list[tuple[str, str | None]], widths: list[int]) -> None:
        last = len(self.columns) - 1
        parts: list[tuple[str, str | None] | str] = []
        for i, ((text, style), w, (_, _, right)) in enumerate(zip(cells, widths, self.columns, strict=True)):
            if i:
                parts.append(self.gap)
            parts.append((pad(text, w, right) if i < last or right else text, style))
        echo(*parts)
