"""What one crawl saw of each source: found, new, errors, statuses, and the signs of its health."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

from ..pipeline.redact import redact

CUT_OFF = "cut off by regwatch's stop"      # how a run's message names what the stop left unfinished


@dataclass
class SourceReport:
    source: str
    started: float = field(default_factory=time.time)
    found: int = 0
    new: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    not_modified: bool = False
    blocked: bool = False
    empty: bool = False
    list_ok: bool = False
    secrets: list[str] = field(default_factory=list, repr=False)   # the source's `${VAR}` values
    lists_read: int = 0     # list pages read in full (not 304, not unchanged)
    deferred: int = 0       # new articles left for the next run by `max_articles_per_source`
    skipped: int = 0        # articles recorded as skipped for good (robots.txt, 404/410, not a page)
    too_old: int = 0        # new articles older than `max_article_age`: stored, never alerted
    holds: bool = False     # an article the list names is in the store (stored now, or before by any source)
    interrupted: int = 0    # failures met once regwatch was stopping (each may name several pages): not errors
    stopping: bool = False  # regwatch is stopping: what fails from now on was cut off, not broken
    notes: list[str] = field(default_factory=list)
    cut: list[str] = field(default_factory=list)    # the first of what the stop cut off (`interrupted` counts all)
    store_failed: bool = False  # the store failed while it stored an article: the run was cut short there

    @property
    def cut_short(self) -> bool:
        """The run ended before it had read its list whole: regwatch's stop, or the store failing."""
        return bool(self.interrupted) or self.store_failed

    def status(self, code: int) -> None:
        self.statuses[str(code)] = self.statuses.get(str(code), 0) + 1

    def error(self, message: str) -> None:
        """Something of this source failed; once regwatch is stopping, a page cut off by the stop (a deploy
        must not count toward `failing_after`, nor alert a healthy source as failing)."""
        if self.stopping:
            self.interrupted += 1
            if len(self.cut) < 3:
                self.cut.append(message)
            return
        self.errors += 1
        if len(self.messages) < 20:
            self.messages.append(message)

    def note(self, message: str) -> None:
        """Worth recording with the run, not an error (an article skipped for good)."""
        if len(self.notes) < 20:
            self.notes.append(message)

    @property
    def message(self) -> str | None:
        """The run's errors (or, without errors, its notes), secrets redacted (this is what the store,
        health alerts and the CLI see)."""
        lines = ([*self.messages[:-1], self.messages[-1] + _more(self.errors, len(self.messages))] if self.messages
                 else ([f"{CUT_OFF}: {'; '.join(self.cut)}{_more(self.interrupted, len(self.cut))}"] if self.cut else [])
                 + self.notes)
        return redact("; ".join(dict.fromkeys(lines)), self.secrets) if lines else None


def _more(counted: int, kept: int) -> str:
    """What a run's message says of the failures it does not name."""
    return f" (and {counted - kept} more)" if counted > kept else ""


_URL_FIRST = re.compile(r"^(?:list page )?[a-zA-Z][a-zA-Z0-9+.-]*://\S*?:? ")   # (a masked query: `token=***: `)
_MORE = re.compile(r" \(and \d+ more\)$")


def short_reason(message: str) -> str:
    """A run's message (`SourceReport.message`) as a cycle's log line says why: its first error, without the URL it
    names first (`https://…/x.json: DNS lookup failed: …` → `DNS lookup failed: …`)."""
    first = _MORE.sub("", message.split("; ")[0])
    return _URL_FIRST.sub("", first, count=1)
