"""The running service: one cycle (crawl → process → alerts), `run --once`, `baseline`, and the daemon."""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from dataclasses import dataclass, field
from typing import Callable
from urllib.parse import urlsplit

from ..alerts.dispatcher import Dispatcher
from ..defaults import STOP_DELIVERY_WAIT, STOP_GRACE
from ..alerts.subscriptions import enqueue_for
from ..crawler.report import SourceReport
from ..crawler.netguard import stop_downloads
from ..crawler.run import Crawl, CrawlContext, Extractor
from ..pipeline.process import Processor
from ..pipeline.store import SourceState, Store
from . import health
from .config import Config, ConfigError
from .output import plural
from .topics import load_classifier

log = logging.getLogger("regwatch")


@dataclass
class CycleResult:
    reports: dict[str, SourceReport]
    states: dict[str, str]
    queued: int
    baselines: dict[str, int] = field(default_factory=dict)   # source → articles stored in its baseline
    notes: list[str] = field(default_factory=list)

    @property
    def too_old(self) -> int:
        return sum(r.too_old for r in self.reports.values())

    @property
    def deferred(self) -> int:
        return sum(r.deferred for r in self.reports.values())

    def summary(self) -> str:
        """One line: what the cycle found, what it alerted, and why new articles did not alert."""
        new = sum(r.new for r in self.reports.values())
        line = f"{plural(len(self.states), 'source')}, {plural(new, 'new article')}"
        if self.baselines:
            line += (", " + ", ".join(f"{n} stored as the baseline of {name}" for name, n in sorted(self.baselines.items()))
                     + " (a source's first run: no alerts)")
        line += f", {self.too_old} too old to alert, {plural(self.queued, 'alert')} queued"
        if self.deferred:
            line += f"; {self.deferred} deferred to the next run by max_articles_per_source"
        bad = {n: st for n, st in self.states.items() if st != SourceState.OK}
        if bad:
            line += "; not ok: " + ", ".join(f"{n} ({st})" for n, st in sorted(bad.items())) + " (see `regwatch sources`)"
        return line + "".join(f"; {note}" for note in self.notes)


def site_of(source) -> str:
    """The scheme, host and port of a source's list URL: the daemon crawls each site on its own."""
    parts = urlsplit(source.url)
    return f"{parts.scheme}://{parts.netloc.rsplit('@', 1)[-1].lower()}"


class App:
    def __init__(self, cfg: Config, echo: Callable[[str], None] | None = None, extract_workers: int | None = None):
        cfg.require_channel_secrets()      # this sends: every channel's ${VAR} must be set
        self.cfg = cfg
        self.classifier = load_classifier(cfg)
        self.store = Store(cfg.store.path)
        self.processor = Processor(self.store, self.classifier, story_window_days=cfg.stories.window / 86400)
        self.extractor = Extractor(cfg.crawl.workers if extract_workers is None else extract_workers,
                                   cfg.crawl.extract_timeout, cfg.crawl.extract_memory, classifier=self.classifier)
        self.crawl = Crawl(cfg.crawl)
        self.dispatcher = Dispatcher(self.store, cfg.channels, {t.id: t.name for t in self.classifier.topics},
                                     cfg.alerts, echo=echo, tz=cfg.display.tz)
        self.stopping = False
        self.metrics = None

    def close(self) -> None:
        self.extractor.close()
        self.store.close()

    def enabled_sources(self, names: list[str] | None = None) -> list:
        if names:
            known = {s.name: s for s in self.cfg.sources}
            missing = [n for n in names if n not in known]
            if missing:
                raise ConfigError(f"no source named {', '.join(missing)}; configured: {', '.join(known) or 'none'}")
            return [known[n] for n in names]
        return [s for s in self.cfg.sources if s.enabled]

    async def cycle(self, sources: list, baseline_all: bool = False) -> CycleResult:
        """Crawl the given sources once, store what is new, record health, and queue alerts."""
        if self.crawl.stopped:      # stopping: no new crawl starts
            return CycleResult({}, {}, 0)
        notes = self._continue_renamed(sources) if not baseline_all else []
        baseline = {s.name for s in sources if baseline_all or self.store.source_state(s.name)["baselined_at"] is None}
        ctx = CrawlContext(store=self.store, processor=self.processor, sources=sources, crawl_cfg=self.cfg.crawl,
                           run_extract=self.extractor, baseline=baseline,
                           on_new=lambda done, src, title, body, published: enqueue_for(
                               self.store, self.cfg, done, src, title, body, published),
                           wake=self.dispatcher.wake.set)          # alerts go out while the crawl goes on
        started = time.monotonic()
        try:
            reports = await self.crawl.run(ctx)
        finally:    # a crawl cut short (the daemon stopping past its deadline) is recorded too
            with self.store.tx():       # one commit for all the sources' runs (each record its own savepoint)
                recorded = {s.name: health.record(self.store, ctx.report(s.name), s, self.cfg.alerts) for s in sources}
                states = {name: state for name, (state, _) in recorded.items()}
                health.alert_changes(self.store, [c for _, c in recorded.values() if c], self.cfg.alerts)
        if self.metrics is not None:
            self.metrics.crawl_seconds.observe(time.monotonic() - started)
        baselines = {name: ctx.report(name).new for name in baseline
                     if baseline_all or self.store.source_state(name)["baselined_at"] is not None}
        self.dispatcher.wake.set()
        if self.metrics is not None:
            self.metrics.refresh(self.store)
        return CycleResult(reports, states, ctx.queued, baselines, notes)

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
        async with self.dispatcher:
            result = await self.cycle(self.enabled_sources(names), baseline_all)
            await self.dispatcher.deliver_due(wait_until=time.time() + self.cfg.alerts.once_wait)
        return result

    async def daemon(self) -> None:
        from .scheduler import SourceScheduler

        loop = asyncio.get_running_loop()
        stop = asyncio.Event()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        if self.cfg.metrics.listen:
            from .metrics import Metrics

            self.metrics = Metrics(self.cfg.metrics.listen)
            self.dispatcher.on_attempt = self.metrics.delivery_seconds.observe
        async with self.dispatcher:
            sched = SourceScheduler(self)
            sched.start()
            delivery = asyncio.ensure_future(self.dispatcher.run_forever())
            log.info("regwatch: watching %d sources; SIGTERM or Ctrl-C stops", len(self.enabled_sources()))
            await stop.wait()
            log.info("regwatch: stopping")
            # the crawls stop first and the articles in hand get a short grace to be stored; then a slow
            # server or a long extraction is cut off (an error of this run, fetched next time)
            stopping = asyncio.ensure_future(sched.stop(self.crawl))
            done, _ = await asyncio.wait([stopping], timeout=STOP_GRACE)
            if not done:
                stop_downloads()
                self.extractor.stop()
                await stopping
            delivery.cancel()
            await self.dispatcher.deliver_due(wait_until=time.time() + STOP_DELIVERY_WAIT)
        if self.metrics is not None:
            self.metrics.close()
