"""The running service: one cycle (crawl → process → alerts), `run --once`, `baseline`, and the daemon."""

from __future__ import annotations

import asyncio
import logging
import math
import os
import signal
import socket
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import urlsplit

from ..alerts.dispatcher import Dispatcher, pass_failed
from ..alerts.message import clip
from ..alerts.subscriptions import enqueue_for, follow_schedules
from ..crawler.netguard import stop_downloads
from ..crawler.report import SourceReport, short_reason
from ..crawler.run import Crawl, CrawlContext, Extractor
from ..defaults import (
    DUE_SLACK,
    DUE_SLACK_MAX,
    ERROR_SHOWN,
    POOL_START_WAIT,
    PRUNE_CHUNK,
    PRUNE_EVERY,
    RECORD_MARGIN,
    STOP_DELIVERY_WAIT,
    STOP_GRACE,
)
from ..pipeline.process import Processor
from ..pipeline.store import SourceState, StoreError, open_store, shown_state
from ..pipeline.timeutil import iso_ms, utcnow
from . import early_stop, health
from .config import Config, ConfigError
from .output import plural, safe
from .topics import load_classifier

if TYPE_CHECKING:
    from .metrics import Metrics

log = logging.getLogger("regwatch")
T = TypeVar("T")


@dataclass
class CycleResult:
    reports: dict[str, SourceReport]
    states: dict[str, str]
    queued: int
    baselines: dict[str, int] = field(default_factory=dict)   # source → articles stored in its baseline
    notes: list[str] = field(default_factory=list)
    left: list[str] = field(default_factory=list)             # due, left to the other workers for now (their share)
    delivered: int = 0              # alerts this run sent (`run --once`: this run's and earlier runs' alike)
    # source → (its stored state before this cycle, None: it had none; its state now), for those whose state changed:
    # judged against the store, not a process's memory (a daemon restarted still notes `error → ok`)
    changes: dict[str, tuple[str | None, str]] = field(default_factory=dict)
    # source → why its run failed, masked as `regwatch sources` shows it (`short_reason`), for those changed to
    # error or failing
    reasons: dict[str, str] = field(default_factory=dict)

    @property
    def too_old(self) -> int:
        return sum(r.too_old for r in self.reports.values())

    @property
    def deferred(self) -> int:
        return sum(r.deferred for r in self.reports.values())

    @property
    def eventful(self) -> bool:
        """The cycle found or did something worth a line in the daemon's log (without -v, a routine one is not)."""
        return bool(any(r.new or r.interrupted for r in self.reports.values()) or self.baselines or self.queued
                    or self.delivered or self.deferred or self.notes)

    def summary(self, changes: dict[str, tuple[str | None, str]] | None = None) -> str:
        """One line: what the cycle found, what it alerted, and why new articles did not alert. With `changes`
        (source → its state before, None: unknown, and now; the daemon's), the sources whose state changed
        instead of every source not ok."""
        new = sum(r.new for r in self.reports.values())
        line = f"{plural(len(self.states), 'source')}, {plural(new, 'new article')}"
        if self.baselines:
            line += (", " + ", ".join(f"{n} stored as the baseline of {name}" for name, n in sorted(self.baselines.items()))
                     + " (a source's first run: no alerts)")
        line += f", {self.too_old} too old to alert, {plural(self.queued, 'alert')} queued"
        if self.delivered:
            line += f", {self.delivered} delivered"
        if self.deferred:
            line += f"; {self.deferred} deferred to the next run by max_articles_per_source"
        cut = sum(1 for r in self.reports.values() if r.interrupted)
        if cut:
            line += f"; {plural(cut, 'source')} cut short by regwatch's stop (what it left is fetched next run)"
        bad = {n: st for n, st in self.states.items() if st != SourceState.OK}
        if changes:
            line += "; state: " + ", ".join(
                f"{n} {shown_state(st)}" if was is None else f"{n} {shown_state(was)} → {shown_state(st)}"
                for n, (was, st) in sorted(changes.items())) + self._why() + " (see `regwatch sources`)"
        elif bad and changes is None:
            line += ("; not ok: " + ", ".join(f"{n} ({shown_state(st)})" for n, st in sorted(bad.items()))
                     + " (see `regwatch sources`)")
        return line + "".join(f"; {note}" for note in self.notes)


    def _why(self) -> str:
        """Why the sources that changed to error or failing failed, each reason once: `; feed: HTTP 500`, or for
        several sources with one reason (their hosts may differ after it) `; 13 sources: DNS lookup failed …`."""
        groups: dict[str, list[str]] = {}
        for name, reason in sorted(self.reasons.items()):
            groups.setdefault(reason.split(": ")[0], []).append(name)
        said = []
        for head, names in groups.items():
            reasons = {self.reasons[n] for n in names}
            reason = clip(reasons.pop(), ERROR_SHOWN) if len(reasons) == 1 else f"{head} …"
            said.append(f"{names[0]}: {reason}" if len(names) == 1 else f"{len(names)} sources: {reason}")
        return "".join(f"; {x}" for x in said)


def _pid_namespace() -> str:
    """This process's PID namespace (Linux; "-" elsewhere): a pid names one process only inside it."""
    try:
        return os.readlink("/proc/self/ns/pid").removeprefix("pid:[").removesuffix("]")
    except OSError:
        return "-"


def worker_id() -> str:
    """This process, as the store names it: host, pid, a random part (pids are reused) and its PID namespace
    (two containers may share a host name, each with its own pid 7)."""
    return f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}:{_pid_namespace()}"


def gone_here(worker: str) -> bool:
    """Whether a worker (`worker_id`) ran on this host, in this PID namespace, and its process is gone (a
    crash, SIGKILL): its leases need not run out. A worker elsewhere (another host or namespace, or an id
    that does not say), or a pid now reused, counts as alive: its leases run out by themselves."""
    host, pid, _, namespace = (worker.split(":") + ["", "", "", ""])[:4]
    if host != socket.gethostname() or namespace != _pid_namespace() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:     # another user's process: alive
        return False
    return False


def period_of(source) -> float:
    """Seconds between a source's runs: its interval, or its cron's gap between the next two runs."""
    if not source.cron:
        return float(source.every)
    from apscheduler.triggers.cron import CronTrigger

    trigger = CronTrigger.from_crontab(source.cron, timezone=source.timezone())
    first = trigger.get_next_fire_time(None, utcnow())
    second = trigger.get_next_fire_time(first, first + timedelta(seconds=1)) if first else None
    return (second - first).total_seconds() if first and second else 86400.0


GRID = datetime(2000, 1, 1, tzinfo=UTC)   # interval sources fall due at GRID + k × interval


def due_since(source, now: datetime) -> datetime:
    """Since when a claim of a due source means this cycle's crawl happened. An interval source's cycle
    began at its last step on the grid (every worker counts the same steps), a cron source's one period
    ago; either a little early, as timers drift and a crawl a moment before its step counts for it."""
    period = period_of(source)
    slack = timedelta(seconds=min(period * DUE_SLACK, DUE_SLACK_MAX))
    if source.cron:
        return now - timedelta(seconds=period) + slack
    step = (now - GRID).total_seconds() // period
    return GRID + timedelta(seconds=step * period) - slack


def site_of(source) -> str:
    """The scheme, host and port of a source's list URL: the daemon crawls each site on its own."""
    parts = urlsplit(source.url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1].lower()}"


class App:
    def __init__(self, cfg: Config, echo: Callable[[str], None] | None = None, extract_workers: int | None = None):
        cfg.require_channel_secrets()      # this sends: every channel's ${VAR} must be set
        self.cfg = cfg
        self.classifier = load_classifier(cfg)
        self.store = open_store(cfg.store.location)
        self.worker = worker_id()
        self.started = utcnow()
        self.claimed_at: dict[str, str] = {}   # source → when this worker last leased it
        self.peers = 1              # daemons with this worker's tags, itself included (they share due sources)
        self.processor = Processor(self.store, self.classifier, story_window_days=cfg.stories.window_days)
        self.extractor = Extractor(cfg.crawl.workers if extract_workers is None else extract_workers,
                                   cfg.crawl.extract_timeout, cfg.crawl.extract_memory, classifier=self.classifier,
                                   preload=("regwatch.service.cli",))     # the command's module (see Extractor)
        self.crawl = Crawl(cfg.crawl)
        self.dispatcher = Dispatcher(self.store, cfg.channels, {t.id: t.name for t in self.classifier.topics},
                                     cfg.alerts, echo=echo, tz=cfg.display.tz, shown=cfg.error_shown)
        self.dispatcher.worker = self.worker
        self.stopping = False
        self.verbose = False           # the daemon logs every cycle (`run -v`), not only the eventful ones
        self.interrupted = 0           # the signal that stopped `once` (0: none)
        self.gone = False              # the daemon told the store it is gone (`worker_gone`)
        self.metrics: Metrics | None = None

    def close(self) -> None:
        self.extractor.close(wait_start=POOL_START_WAIT)    # the process exits next
        self.store.close()

    def enabled_sources(self, names: list[str] | None = None) -> list:
        if names:
            known = {s.name: s for s in self.cfg.sources}
            missing = [n for n in names if n not in known]
            if missing:
                raise ConfigError(f"no source named {', '.join(missing)}; configured: {', '.join(known) or 'none'}")
            return [known[n] for n in names]
        return [s for s in self.cfg.sources if s.enabled and self.cfg.worker.takes(s)]

    def pinned_elsewhere(self) -> list[str]:
        """Enabled sources this worker leaves to workers with other `[worker] tags`."""
        return [s.name for s in self.cfg.sources if s.enabled and not self.cfg.worker.takes(s)]

    # -- leases: which worker crawls a source this cycle ------------------------------------------

    def claim(self, sources: list, since: datetime | None, share: bool = False) -> tuple[list, list[str]]:
        """Lease the sources nobody crawled this cycle: since `since` (None: since the start of each
        one's cycle, `due_since`). With `share`, at most this worker's share of them (the
        daemons with the same tags take the rest); the others due stay due (`left`)."""
        now = utcnow()
        self._free_dead_leases(now)
        due = {s.name: iso_ms(since if since is not None else due_since(s, now)) for s in sources}
        limit = math.ceil(len(due) / self.peers) if share and self.peers > 1 else None
        names = set(self.store.claim_sources(due, worker=self.worker, now=now, lease=self.cfg.worker.lease,
                                             limit=limit))
        left = [n for n in due if n not in names] if limit is not None and len(names) >= limit else []
        if names and self.crawl.stopped:
            # the stop came while this claim waited on the store (in its thread on PostgreSQL, the cycle that asked
            # for it perhaps cancelled): given back at once, not left leased until the lease runs out
            self.store.release_sources(sorted(names), worker=self.worker, crawled=False)
            return [], []
        self.claimed_at.update((n, iso_ms(now)) for n in names)
        return [s for s in sources if s.name in names], left

    async def _off_loop(self, call: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        """A store call the daemon makes while sends may be in flight (a lease claimed or renewed, the keep-alive
        tick): in a thread where the store allows it (PostgreSQL), so that a wait for the server (a restart: up to
        PG_POOL_WAIT for a connection) holds neither the sends nor the recording of their answers; on SQLite, whose
        store is the event loop's thread's, made here (its waits are another process's lock, at most 30 s)."""
        if self.store.threadsafe:
            return await asyncio.to_thread(call, *args, **kwargs)
        return call(*args, **kwargs)

    def _give_back(self, claiming: asyncio.Future) -> None:
        """Release what a claim took after the cycle that asked for it was cancelled."""
        if claiming.cancelled() or claiming.exception() is not None:
            return
        names = [s.name for s in claiming.result()[0]]
        if names:
            try:
                self.store.release_sources(names, worker=self.worker, crawled=False)
            except Exception as e:  # the store unreachable: the lease runs out instead
                log.warning("cannot release %s (%s): %s", ", ".join(names), type(e).__name__, e)

    def _free_dead_leases(self, now: datetime) -> None:
        """A worker on this host that died mid-crawl (its process gone): its sources are due again now,
        not when its lease runs out (a restarted daemon carries on at once)."""
        for worker in self.store.lease_holders(now):
            if worker != self.worker and gone_here(worker):
                freed = self.store.free_leases_of(worker)
                if freed:
                    log.info("%s: leased by %s, a worker on this host that is gone; due again", ", ".join(freed), worker)

    async def _keep_leases(self, names: list[str], lost: set[str]) -> None:
        """Renew the leases of a crawl in progress until it ends; those another worker took over go to `lost`."""
        lease = self.cfg.worker.lease
        while names:
            await asyncio.sleep(lease / 3)
            try:
                held = await self._off_loop(self.store.renew_sources, names, worker=self.worker, now=utcnow(),
                                            lease=lease)
            except Exception as e:  # the store unreachable for a while: the lease may run out, never the crawl
                log.warning("cannot renew this worker's leases (%s): %s", type(e).__name__, e)
                continue
            gone = sorted(set(names) - set(held))
            if gone:
                log.warning("lease lost on %s (taken over by another worker): this worker's run of %s is not "
                            "recorded", ", ".join(gone), "it" if len(gone) == 1 else "them")
                lost.update(gone)
                names = held

    async def cycle(self, sources: list, baseline_all: bool = False, *, since: datetime | None = None,
                    due: bool = False, share: bool = False) -> CycleResult:
        """Crawl the given sources once, store what is new, record health, and queue alerts.

        Only the sources this worker leases are crawled: not those another worker crawled since `since`
        (default: this cycle's start) or, with `due`, within their interval (the daemon)."""
        if self.crawl.stopped:      # stopping: no new crawl starts
            return CycleResult({}, {}, 0)
        asked = len(sources)
        claiming = asyncio.ensure_future(self._off_loop(self.claim, sources, None if due else (since or utcnow()),
                                                        share))
        try:
            sources, left = await asyncio.shield(claiming)
        except asyncio.CancelledError:      # the stop cancelled this cycle while its claim waited on the store
            claiming.add_done_callback(self._give_back)
            raise
        if sources and self.crawl.stopped:      # the stop came while the claim waited on the store
            self.store.release_sources([s.name for s in sources], worker=self.worker, crawled=False)
            return CycleResult({}, {}, 0)
        others = [] if due or asked == len(sources) else \
            [f"{asked - len(sources)} sources crawled by another worker this cycle (see `regwatch sources`)"]
        if not sources:
            return CycleResult({}, {}, 0, notes=others, left=left)
        names = [s.name for s in sources]
        lost: set[str] = set()
        keeper = asyncio.ensure_future(self._keep_leases(names, lost))
        try:
            result = await self._crawl(sources, baseline_all, lost)
        finally:
            keeper.cancel()
            self.store.release_sources(names, worker=self.worker)
        result.notes += others
        result.left = left
        # the cycle's line, the daemon's and `run --once -v`'s: a source's state when it changes, a routine cycle
        # only with -v
        if result.reports and (self.verbose or result.eventful or result.changes):
            log.info("cycle %s: %s", ", ".join(sorted({site_of(s) for s in sources})), result.summary(result.changes))
        return result

    async def _crawl(self, sources: list, baseline_all: bool, lost: set[str]) -> CycleResult:
        notes = self._continue_renamed(sources) if not baseline_all else []
        baseline = {s.name for s in sources if baseline_all or self.store.source_state(s.name)["baselined_at"] is None}
        ctx = CrawlContext(store=self.store, processor=self.processor, sources=sources, crawl_cfg=self.cfg.crawl,
                           run_extract=self.extractor, baseline=baseline,
                           on_new=lambda done, src, title, body, published, baseline: enqueue_for(
                               self.store, self.cfg, done, src, title, body, published, baseline=baseline),
                           wake=self.dispatcher.wake.set)          # alerts go out while the crawl goes on
        started = time.monotonic()
        changes: dict[str, tuple[str | None, str]] = {}
        try:
            reports = await self.crawl.run(ctx)
        finally:    # a crawl cut short (the daemon stopping past its deadline) is recorded too
            lost |= self._lost_leases([s.name for s in sources if s.name not in lost])
            try:
                before = {s.name: self.store.source_state(s.name)["state"] for s in sources if s.name not in lost}
                with self.store.tx():       # one commit for all the sources' runs (each record its own savepoint)
                    recorded = {s.name: health.record(self.store, ctx.report(s.name), s, self.cfg.alerts,
                                                      worker=self.worker, claimed_at=self.claimed_at.get(s.name))
                                for s in sources if s.name not in lost}
                    states = {name: state for name, (state, _) in recorded.items()}
                    # a source with no state yet (`new`) is judged as ok was, and shown without one
                    was = {n: None if st == SourceState.NEW else st for n, st in before.items()}
                    changes = {n: (was[n], st) for n, st in states.items() if st != (was[n] or SourceState.OK)}
                    health.alert_changes(self.store, [c for _, c in recorded.values() if c], self.cfg.alerts)
            except StoreError as e:
                if ctx.store_failed is None:
                    raise
                # the store that failed the crawl cannot take its runs either: said here, the crawl's failure raised
                log.error("the runs of %s not recorded: the store failed (%s)",
                          ", ".join(s.name for s in sources if s.name not in lost), e)
        if self.metrics is not None:
            self.metrics.crawl_seconds.observe(time.monotonic() - started)
        baselines = {name: ctx.report(name).new for name in baseline - lost
                     if baseline_all or self.store.source_state(name)["baselined_at"] is not None}
        self.dispatcher.wake.set()
        if self.metrics is not None:
            self.metrics.refresh(self.store)
        # (text from the web: shown escaped on the log, as on every output)
        reasons = {n: safe(short_reason(self.cfg.error_shown(ctx.report(n).message, source=n) or ""))
                   for n, (_, st) in changes.items() if st in (SourceState.ERROR, SourceState.FAILING)
                   and ctx.report(n).message}
        return CycleResult(reports, states, ctx.queued, baselines, notes, changes=changes, reasons=reasons)

    def _lost_leases(self, names: list[str]) -> set[str]:
        """Of a crawl's sources, those whose lease another worker took over meanwhile (this one stopped, swapped out
        or cut off past its lease): the run and the state of such a source are the other worker's to record, never
        overwritten by this one's outcome. (The store failing: none — recording the runs then says so.)"""
        try:
            held = self.store.renew_sources(names, worker=self.worker, now=utcnow(), lease=self.cfg.worker.lease)
        except Exception as e:  # (never hides the crawl's own outcome: the runs are recorded, or fail to be, as before)
            log.warning("cannot check this worker's leases (%s): %s", type(e).__name__, e)
            return set()
        lost = set(names) - set(held)
        if lost:
            log.warning("lease lost on %s (taken over by another worker): this worker's run of %s is not recorded",
                        ", ".join(sorted(lost)), "it" if len(lost) == 1 else "them")
        return lost

    def _continue_renamed(self, sources: list) -> list[str]:
        """A source not yet baselined whose list URL was baselined under a name no longer configured
        is that source renamed: it goes on from the old name's baseline instead of storing the
        articles published since as a silent baseline. Any other new name is a new source."""
        configured = {s.name for s in self.cfg.sources}
        notes = []
        for s in sources:
            if self.store.source_state(s.name)["baselined_at"] is not None:
                continue
            old = [n for n in self.store.baselined_on_url(s.url) if n not in configured]
            if old:
                self.store.update_source_state(s.name, baselined_at=self.store.source_state(old[0])["baselined_at"],
                                               url=s.url)
                notes.append(f"{s.name} continues {old[0]} (same URL, no longer configured): not a baseline")
        return notes

    async def once(self, baseline_all: bool = False, names: list[str] | None = None) -> CycleResult:
        """One cycle of the given sources, then the alerts due (`run --once`); a signal stops it (`stoppable`)."""
        return await self.stoppable(lambda: self._once(baseline_all, names))

    async def stoppable(self, work: Callable[[], Awaitable[T]]) -> T:
        """`work` (a cycle) under SIGINT / SIGTERM / SIGHUP handlers that stop it as the daemon stops — the crawl
        cut short, what it left fetched next run, the alerts due given a few seconds — and record the signal
        (`interrupted`: the command then exits 128 + its number); a second signal ends the process at once. (A
        hangup — the terminal or ssh session of a `run --once` closing — stops it the same way, not abruptly.)"""
        loop = asyncio.get_running_loop()

        def on_signal(signum: int) -> None:
            if self.interrupted:
                os._exit(128 + signum)      # a second Ctrl-C: now (the store's transactions are atomic)
            self.interrupted = signum
            log.warning("regwatch: stopping (%s); Ctrl-C again to quit at once", signal.Signals(signum).name)
            asyncio.ensure_future(self._cut_short(self.crawl.stop()))
            self.dispatcher.hurry(STOP_GRACE + STOP_DELIVERY_WAIT)     # the last delivery pass waits no longer

        # a SIGHUP ignored when the command started (`nohup regwatch run --once &`, a supervisor) stays ignored
        stops = [sig for sig in early_stop.STOP_SIGNALS
                 if sig != signal.SIGHUP or signal.getsignal(sig) is not signal.SIG_IGN]
        for sig in stops:
            loop.add_signal_handler(sig, on_signal, sig)
        try:
            early = early_stop.held()
            if early is not None and not self.interrupted:
                # a signal while the command was starting (`early_stop`): stopped as later, before the crawl starts
                on_signal(early)
                await self.crawl.stop()     # (at once: no crawl runs yet) so that the cycle starts none
            return await work()
        finally:
            for sig in stops:
                loop.remove_signal_handler(sig)

    async def _cut_short(self, stopping: Awaitable[None]) -> None:
        """Stop the crawls: the articles in hand get `STOP_GRACE` to be stored, then downloads and extractions
        in flight are cut off (fetched next run)."""
        task = asyncio.ensure_future(stopping)
        done, _ = await asyncio.wait([task], timeout=STOP_GRACE)
        if not done:
            stop_downloads()
            self.extractor.stop()
            await task

    def follow_digest_schedules(self) -> None:
        """At start: the alerts waiting for a digest follow their subscription's schedule as configured now."""
        try:
            follow_schedules(self.store, self.cfg)
        except Exception as e:  # the store unreachable: they keep their times; the next start tries again
            log.error("cannot move waiting digest alerts to the configured schedules (%s: %s)", type(e).__name__, e)

    async def _once(self, baseline_all: bool, names: list[str] | None) -> CycleResult:
        self.follow_digest_schedules()
        sources = self.enabled_sources(names)
        # said first (with -v), so that a first run's baseline, quiet for a while, is not taken for a hang
        log.info("run --once: crawling %s on %s, then delivering the alerts due", plural(len(sources), "source"),
                 plural(len({site_of(s) for s in sources}), "site"))
        async with self.dispatcher:
            crawling = True
            delivered = 0

            async def deliver_while_crawling() -> None:
                """Alerts go out as the crawl stores their articles (as in the daemon); a pass under way when
                the crawl ends is finished, never cut off mid-send."""
                while True:
                    await self.dispatcher.wake.wait()
                    if not crawling:
                        return
                    self.dispatcher.wake.clear()
                    nonlocal delivered
                    try:
                        delivered += (await self.dispatcher.deliver_due()).sent
                    except Exception as e:  # the outbox keeps them: the pass after the crawl sends them
                        pass_failed(e)

            delivery = asyncio.ensure_future(deliver_while_crawling())
            try:
                # a source another worker crawled since this process started is done for this cycle
                result = await self.cycle(sources, baseline_all, since=self.started)
            finally:
                crawling = False
                self.dispatcher.wake.set()
                await delivery
            wait = STOP_DELIVERY_WAIT if self.interrupted else self.cfg.alerts.once_wait
            delivered += (await self.dispatcher.deliver_due(wait_until=time.time() + wait)).sent
        result.delivered = delivered
        result.notes += self._undelivered()
        if not self.interrupted:
            await self.prune_story_index()
        return result

    def _undelivered(self) -> list[str]:
        """What the outbox did not get out: alerts still waiting (the next run or the daemon retries them), and
        those this process gave up or saw refused (`regwatch alerts resend`)."""
        waiting, lost = self.store.undelivered(self.started, [c.name for c in self.cfg.channels])
        notes = []
        if waiting:
            notes.append(f"{plural(waiting, 'alert')} not delivered yet: the next run retries (`regwatch alerts`)")
        if lost:
            notes.append(f"{plural(lost, 'alert')} given up or refused by a broken channel (why: `regwatch alerts "
                         "--status failed` or `--status broken`; to send them again: `regwatch alerts resend`)")
        return notes

    async def prune_story_index(self) -> int | None:
        """Drop the story index's rows older than the story window when a pruning is due (`PRUNE_EVERY` since
        the last, by any process: the store remembers it), a chunk per transaction with the loop free between;
        how many went (None: not due, or it failed — the next check tries again)."""
        stories = self.processor.stories
        try:
            if not stories.prune_due(PRUNE_EVERY, time.time()):
                return None
            gone = 0
            while (n := stories.prune(PRUNE_CHUNK)) == PRUNE_CHUNK:
                gone += n
                await asyncio.sleep(0)
            stories.pruned(time.time())
        except Exception as e:  # regwatch outlives a failed pruning; the next one tries again
            log.error("story index pruning failed (%s: %s)", type(e).__name__, e)
            return None
        log.info("story index: %d rows older than the story window dropped", gone + n)
        return gone + n

    async def daemon(self) -> None:
        from .scheduler import SourceScheduler

        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        # a stray HUP (a closed ssh or tmux session) must not kill the daemon: the config is read at start only
        loop.add_signal_handler(signal.SIGHUP, log.warning, "regwatch: SIGHUP ignored: regwatch reads its config "
                                "at start: restart it to apply a change")
        if self.cfg.metrics.listen:
            from .metrics import Metrics

            self.metrics = Metrics(self.cfg.metrics.listen)
            self.dispatcher.on_attempt = self.metrics.delivery_seconds.observe
            self.metrics.refresh(self.store)        # what the store holds, from the start (not after the first cycle)
        self.follow_digest_schedules()
        async with self.dispatcher:
            self._alive()
            sched = SourceScheduler(self)
            sched.start()
            delivery = asyncio.ensure_future(self.dispatcher.run_forever())
            alive = asyncio.ensure_future(self._stay_alive(stop))
            elsewhere = self.pinned_elsewhere()
            log.info("regwatch: watching %d sources%s; SIGTERM or Ctrl-C stops", len(self.enabled_sources()),
                     f" ({len(elsewhere)} more are pinned to workers with other [worker] tags)" if elsewhere else "")
            await stop.wait()
            log.info("regwatch: stopping")
            # the crawls stop first and the articles in hand get a short grace to be stored; then a slow
            # server or a long extraction is cut off (fetched next time)
            await self._cut_short(sched.stop(self.crawl))
            # a send in flight gets STOP_DELIVERY_WAIT for its answer (then it is cut off and recorded to be retried:
            # the platform may have had it); then due alerts get their last seconds, under the same cut
            self.dispatcher.finish()
            self.dispatcher.hurry(STOP_DELIVERY_WAIT)
            try:
                await asyncio.wait_for(asyncio.shield(delivery), STOP_DELIVERY_WAIT + RECORD_MARGIN)
            except TimeoutError:    # (the store held up the recording: the message stays claimed until its lease)
                delivery.cancel()
            self.dispatcher.resume()
            self.dispatcher.hurry(STOP_DELIVERY_WAIT)       # no send starts after these seconds, none outlasts them
            await self.dispatcher.deliver_due(wait_until=time.time() + STOP_DELIVERY_WAIT)
            await asyncio.wait([alive], timeout=RECORD_MARGIN)     # (a tick still waiting on the store is left:
            self.gone = True                                        # it says this worker is gone itself)
            self.store.worker_gone(self.worker)
        if self.metrics is not None:
            self.metrics.close()

    def _alive(self) -> None:
        """Tell the store this daemon is alive; learn how many share its sources; follow the store's clock (a
        host's clock drifting or stepped while the daemon runs)."""
        self.store.follow_clock()
        self.peers = self.store.worker_seen(self.worker, tags=self.cfg.worker.tags, now=utcnow(),
                                            ttl=self.cfg.worker.lease)
        if self.gone:       # the daemon stopped while this tick waited on the store (in its thread): not alive after all
            self.store.worker_gone(self.worker)

    async def _stay_alive(self, stop: asyncio.Event) -> None:
        """The keep-alive tick, until the daemon stops (a tick still waiting on the store when the daemon says it is
        gone says so again itself once it is through)."""
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), self.cfg.worker.lease / 3)
                return
            except TimeoutError:
                pass
            try:
                await self._off_loop(self._alive)
            except Exception as e:  # the store unreachable for a while: the crawls say so too
                log.warning("cannot reach the store (%s): %s", type(e).__name__, e)
