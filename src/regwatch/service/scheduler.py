"""The daemon's scheduler: APScheduler decides when each source is due; each site crawls on its own.

Due sources of one site (scheme, host and port of the list URL) share one crawl, so per-domain
politeness holds; different sites crawl side by side, so a slow or hung site holds only its own
sources. A source already being crawled stays due and runs again as soon as its crawl ends.

Several daemons on one store: each crawls the due sources it leases (`App.cycle`). Interval sources
fall due on a grid of their interval counted from a fixed epoch, so that every daemon finds them due
at the same moment and each takes its share; what a daemon leaves to the others (`left`) it takes
itself when its crawl of that site ends, if no other daemon did.
"""

from __future__ import annotations

import asyncio
import logging
from itertools import groupby

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from ..defaults import PRUNE_CHECK, STOP_CANCELLED, STOP_CRAWLS
from ..pipeline.timeutil import utcnow
from .app import GRID, site_of

log = logging.getLogger("regwatch")

GATHER = 0.2   # seconds: sources that fall due together join one crawl


class SourceScheduler:
    def __init__(self, app):
        self.app = app
        self.sched = AsyncIOScheduler(timezone="UTC")
        self.due: set[str] = set()
        self.kick = asyncio.Event()
        self.batcher: asyncio.Task | None = None
        self.running: dict[str, asyncio.Task] = {}     # site → its crawl's cycle
        self.left: set[str] = set()                     # due sources left to other daemons' share, retried

    def start(self) -> None:
        for s in self.app.enabled_sources():
            if s.cron:
                # a cron source runs on its cron only, not also at every start of the daemon
                self.sched.add_job(self._mark_due, CronTrigger.from_crontab(s.cron, timezone=s.timezone()),
                                   args=[s.name], id=s.name, max_instances=1, coalesce=True, misfire_grace_time=None)
            else:   # now (unless another worker crawled it within its interval), then on the grid
                self.due.add(s.name)
                self.sched.add_job(self._mark_due, IntervalTrigger(seconds=s.every, start_date=GRID), args=[s.name],
                                   id=s.name, max_instances=1, coalesce=True, misfire_grace_time=None)
        # (no id: job ids are the sources' names, and any name is a source's to take)
        self.sched.add_job(self._prune, IntervalTrigger(seconds=PRUNE_CHECK), max_instances=1, coalesce=True,
                           misfire_grace_time=None, next_run_time=utcnow())
        if self.due:
            self.kick.set()
        self.sched.start()
        self.batcher = asyncio.ensure_future(self._batches())

    async def _mark_due(self, name: str) -> None:
        self.due.add(name)
        self.kick.set()

    async def _prune(self) -> None:
        await self.app.prune_story_index()

    async def _batches(self) -> None:
        while True:
            await self.kick.wait()
            await asyncio.sleep(GATHER)
            self.kick.clear()
            ready = [s for s in self.app.enabled_sources() if s.name in self.due and site_of(s) not in self.running]
            for site, group in groupby(sorted(ready, key=site_of), key=site_of):
                sources = list(group)
                names = {s.name for s in sources}
                self.due.difference_update(names)
                share = not names & self.left         # sources left to others once are taken in full
                self.left.difference_update(names)
                self.running[site] = asyncio.ensure_future(self._crawl_site(site, sources, share))

    async def _crawl_site(self, site: str, sources: list, share: bool = True) -> None:
        try:
            result = await self.app.cycle(sources, due=True, share=share)
            self.due.update(result.left)
            self.left.update(result.left)       # (the cycle's line is the app's: `App.cycle`)
        except asyncio.CancelledError:
            raise
        except Exception as e:  # the daemon outlives any one cycle; the details go to debug logs
            log.error("cycle %s failed (%s: %s); the next one goes on", site, type(e).__name__, e)
            log.debug("cycle failure", exc_info=True)
        finally:
            self.running.pop(site, None)
            if self.due:
                self.kick.set()     # sources of this site that fell due meanwhile

    async def stop(self, crawl, deadline: float = STOP_CRAWLS) -> None:
        """Stop the crawls first (items in hand are saved), then the scheduler, within a hard deadline:
        a crawl still waiting on a hung site after it is cancelled (its run is recorded with what it
        did not fetch as cut off by the stop, not as errors, and its lists are read in full next time)."""
        self.sched.shutdown(wait=False)
        if self.batcher is not None:
            self.batcher.cancel()
        running = list(self.running.values())
        stopping = asyncio.ensure_future(crawl.stop())
        await asyncio.wait([stopping, *running], timeout=deadline)
        late = [t for t in running if not t.done()]
        for t in late:
            t.cancel()
        if late:
            log.warning("stop: %d crawl(s) still running after %.0f s; cancelled", len(late), deadline)
            await asyncio.wait(late, timeout=STOP_CANCELLED)
