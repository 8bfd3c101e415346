"""Source health: every run recorded, a state per source, and each change of state alerted once.

States: `ok`; `error` (the last run had errors, fewer than `failing_after` in a row: shown, not
alerted); `failing` (errors in `failing_after` runs in a row); `empty` (the list yields no
links: a selector broken by a redesign); `blocked` (a challenge page or HTTP 412 instead of
content); `stale` (nothing new for longer than `expect_every`). A run that regwatch's own stop cut short (a deploy, a
restart) changes no state: what it left unfinished is fetched next run, and counts toward nothing.

The changes of one cycle go out together (`alert_changes`): one source's change as its own
notice, several as one summary — a machine that lost its network sends one message, not one per source.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from ..alerts.subscriptions import enqueue_health
from ..crawler.report import SourceReport
from ..pipeline.store import SourceState, Store
from ..pipeline.timeutil import iso, utcnow

BAD = (SourceState.FAILING, SourceState.EMPTY, SourceState.BLOCKED, SourceState.STALE)


def state_of(report: SourceReport, previous: dict, failing_after: int, expect_every: float | None,
             now: datetime) -> str:
    if report.blocked:
        return SourceState.BLOCKED
    runs_with_errors = previous["failing_runs"] + 1 if report.errors else 0
    if report.errors and runs_with_errors >= failing_after:
        return SourceState.FAILING
    if report.list_ok and report.empty and not report.not_modified:
        return SourceState.EMPTY
    if cut_short(report):
        # neither a failure nor a recovery: a deploy mid-crawl must not alert a healthy source as failing,
        # nor a failing one as recovered
        return SourceState.OK if previous["state"] == SourceState.NEW and report.list_ok else previous["state"]
    if expect_every:
        last_new = report.new and iso(now) or previous.get("last_new_at") or previous.get("baselined_at")
        if last_new and datetime.fromisoformat(last_new) < now - timedelta(seconds=expect_every):
            return SourceState.STALE
    if report.errors and previous["state"] in BAD:
        return previous["state"]   # not yet recovered
    return SourceState.ERROR if report.errors else SourceState.OK


def cut_short(report: SourceReport) -> bool:
    """The run failed at nothing but was cut short (by regwatch's stop, or the store failing)."""
    return report.cut_short and not report.errors


def makes_baseline(report: SourceReport) -> bool:
    """A source's baseline is its first run that read a list naming articles and stored them (or found them
    stored already): not a run whose every article failed, or was skipped for good (every link a 404: a wrong
    `link` or `links` — once they are right, the old articles would alert), nor an empty or unreadable list,
    nor one cut short by regwatch's stop (a sitemap index's unread children would be new next run)."""
    return read_whole(report) and (report.new > 0 or (report.errors == 0 and report.holds))


def read_whole(report: SourceReport) -> bool:
    """The run read a list naming articles, to the end."""
    return report.list_ok and not report.not_modified and not report.empty and not report.cut_short


NOT_A_BASELINE = ("no article the list names could be stored (each skipped for good): not a baseline yet, the first "
                  "run that stores articles is (do the source's `link` / `links` point at its articles?)")


@dataclass
class Change:
    """A source's state that its health channels have not been told yet."""

    source: str
    state: str
    detail: str | None
    recovered: bool

    def payload(self) -> dict:
        return {"source": self.source, "state": self.state, "detail": self.detail, "recovered": self.recovered}


def record(store: Store, report: SourceReport, source_cfg, alerts_cfg, worker: str | None = None,
           claimed_at: str | None = None) -> tuple[str, Change | None]:
    """Write the run (by this worker, which leased the source at `claimed_at`) and the source's new state;
    the change to report, if the state changed (`alert_changes` reports a cycle's changes together)."""
    now = utcnow()
    prev = store.source_state(report.source)
    state = state_of(report, prev, alerts_cfg.failing_after, source_cfg.expect_every if source_cfg else None, now)
    if prev["baselined_at"] is None and read_whole(report) and not (report.errors or report.holds):
        report.note(NOT_A_BASELINE)
    found = report.found
    if report.not_modified and not report.lists_read and not found:
        # its list unchanged (304): it names what it named when last read (a run that read none between, a
        # failed one, found 0; one that read it empty forgot its validators: no 304 follows it)
        found = next((r["found"] for r in store.recent_runs(report.source, 20) if r["found"]), 0)
    took = time.time() - report.started     # (its start by the store's clock, as its end: `utcnow`)
    with store.tx():
        store.record_run(source=report.source, started_at=iso(now - timedelta(seconds=took)),
                         finished_at=iso(now), state=state, found=found, new=report.new, errors=report.errors,
                         statuses=report.statuses, duration=round(took, 3),
                         message=report.message, deferred=report.deferred, skipped=report.skipped,
                         too_old=report.too_old, worker=worker, claimed_at=claimed_at)
        failing_runs = prev["failing_runs"] + 1 if report.errors else prev["failing_runs"] if cut_short(report) else 0
        fields = {"state": state, "failing_runs": failing_runs,
                  "last_error": report.message if report.errors else prev["last_error"]}
        if state != prev["state"]:
            fields["state_since"] = iso(now)
        if report.list_ok and not report.errors and not report.cut_short:
            fields["last_success_at"] = iso(now)
        if prev["baselined_at"] is None and makes_baseline(report):
            fields["baselined_at"] = iso(now)
        if source_cfg is not None:
            fields["url"] = source_cfg.url
        if report.new:
            fields["last_new_at"] = iso(now)
        store.update_source_state(report.source, **fields)
        return state, _change(store, report.source, prev.get("reported_state"), state, report.message)


def _change(store: Store, source: str, reported: str | None, state: str, detail: str | None) -> Change | None:
    if state in (SourceState.ERROR, SourceState.NEW) or state == (reported or SourceState.OK):
        return None
    recovered = state == SourceState.OK
    if recovered and reported not in BAD:
        store.update_source_state(source, reported_state=state)
        return None
    return Change(source, state, detail, recovered)


def alert_changes(store: Store, changes: list[Change], alerts_cfg) -> None:
    """Tell the health channels of a cycle's changes of state: one notice for one source, one
    summary for several; then they count as told."""
    if not changes:
        return
    if len(changes) == 1:
        payload = changes[0].payload()
    else:
        payload = {"source": f"{len(changes)} sources", "state": "summary",
                   "changes": [c.payload() for c in changes]}
    with store.tx():
        enqueue_health(store, alerts_cfg.health_channels, payload,
                       "health", *(c.source for c in changes), *(c.state for c in changes))
        for c in changes:
            store.update_source_state(c.source, reported_state=c.state)
