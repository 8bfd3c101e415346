"""The daemon's scheduler: APScheduler decides when each source is due; due sources share one crawl."""

from __future__ import annotations

import asyncio
import logging
from collections import Counter
from datetime import datetime, timezone

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger("regwatch")


class SourceScheduler:
    def __init__(self, app):
        self.app = app
        self.sched = AsyncIOScheduler(timezone="UTC")
        self.due: set[str] = set()
        self.kick = asyncio.Event()
        self.batcher: asyncio.Task | None = None
        self.running_cycle: asyncio.Task | None = None

    def start(self) -> None:
        now = datetime.now(timezone.utc)
        for s in self.app.enabled_sources():
            trigger = CronTrigger.from_crontab(s.cron, timezone=s.timezone()) if s.cron else IntervalTrigger(seconds=s.every)
            self.sched.add_job(self._mark_due, trigger, args=[s.name], id=s.name, max_instances=1, coalesce=True,
                               next_run_time=now, misfire_grace_time=None)
        self.sched.start()
        self.batcher = asyncio.ensure_future(self._batches())

    async def _mark_due(self, name: str) -> None:
        self.due.add(name)
        self.kick.set()

    async def _batches(self) -> None:
        while True:
            await self.kick.wait()
            await asyncio.sleep(0.2)  # let sources that fall due together join one crawl
            self.kick.clear()
            names, self.due = sorted(self.due), set()
            sources = [s for s in self.app.enabled_sources() if s.name in names]
            if not sources:
                continue
            self.running_cycle = asyncio.ensure_future(self.app.cycle(sources))
            try:
                result = await self.running_cycle
                bad = Counter(st for st in result.states.values() if st != "ok")
                log.info("cycle: %d sources, %d new, %d alerts queued%s", len(sources),
                         sum(r.new for r in result.reports.values()), result.queued,
                         ("; not ok: " + ", ".join(f"{n} {st}" for st, n in bad.items()) + " (see `regwatch sources`)") if bad else "")
            except asyncio.CancelledError:
                raise
            except Exception as e:  # the daemon outlives any one cycle; the details go to debug logs
                log.error("cycle failed (%s: %s); the next one goes on", type(e).__name__, e)
                log.debug("cycle failure", exc_info=True)
            finally:
                self.running_cycle = None

    async def stop(self, crawl, deadline: float = 20.0) -> None:
        """Stop the crawl first (items in hand are saved), then the scheduler, within a hard deadline."""
        await crawl.stop()
        if self.running_cycle is not None:
            try:
                await asyncio.wait_for(asyncio.shield(self.running_cycle), deadline)
            except (asyncio.TimeoutError, Exception):
                pass
        if self.batcher is not None:
            self.batcher.cancel()
        self.sched.shutdown(wait=False)
