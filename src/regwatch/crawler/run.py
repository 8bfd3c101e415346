"""One crawl of a set of due sources, on the running asyncio loop (the asyncio reactor's)."""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Any, Callable

from scrapy.crawler import AsyncCrawlerRunner

from ..pipeline.extract import extract_job, limit_worker, limited_extract_job
from ..pipeline.process import Processor
from ..pipeline.store import Store
from .kinds import ListError, limited_parse_list, parse_list
from .report import SourceReport
from .settings import crawl_settings
from .spider import SourcesSpider


class Extractor:
    """Extraction (and the parsing of big list pages) in a pool of worker processes, so that neither
    stalls the event loop. Each job has a time limit and each worker a memory limit: a page, PDF or
    list over them is an error of its source. A worker that dies (the OOM killer, a crash) or does
    not come back after its limit is replaced, and the jobs it took down are tried once more."""

    INLINE_LIST = 256 * 1024     # list pages up to this size are parsed on the loop (a few ms)
    GRACE = 10.0                 # after a job's time limit, how long before its worker is killed

    def __init__(self, workers: int = 2, timeout: float = 30.0, memory: int = 1 << 30):
        self.workers = workers
        self.timeout = timeout
        self.memory = memory
        self._pool: ProcessPoolExecutor | None = None
        self._stopping = False

    def _get_pool(self) -> ProcessPoolExecutor:
        if self._pool is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["regwatch.pipeline.extract", "regwatch.crawler.kinds.feed"])
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                             initializer=limit_worker, initargs=(self.memory,))
        return self._pool

    def _drop(self, pool: ProcessPoolExecutor, kill: bool = False) -> None:
        """Forget a broken (or hung) pool; `kill` ends its workers first."""
        if kill:
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.kill()
        pool.shutdown(wait=False, cancel_futures=True)
        if self._pool is pool:
            self._pool = None

    async def _run(self, fn, *args):
        """fn(*args) in the pool; raises `WorkerLost` when it cannot be had."""
        for attempt in (1, 2):
            if self._stopping:
                raise WorkerLost("was not finished: regwatch was stopping")
            pool = self._get_pool()
            fut = asyncio.get_running_loop().run_in_executor(pool, fn, *args)
            try:
                return await asyncio.wait_for(fut, self.timeout + self.GRACE)
            except asyncio.TimeoutError:
                self._drop(pool, kill=True)     # stuck in C code: only killing the worker ends it
                raise WorkerLost(f"took longer than {self.timeout:g} s (the limit: extract_timeout); "
                                 "its worker was stopped") from None
            except BrokenProcessPool:
                self._drop(pool)
                if attempt == 2:
                    raise WorkerLost("the extraction worker died twice on it (out of memory?)") from None
        raise AssertionError("unreachable")

    async def __call__(self, job: dict[str, Any]) -> dict[str, Any]:
        if self.workers <= 0:
            return extract_job(job)
        try:
            return await self._run(limited_extract_job, job, self.timeout)
        except WorkerLost as e:
            return {"ok": False, "error": f"extraction {e}"}

    async def read_list(self, source, body: bytes, url: str, content_type: str | None) -> list:
        """The entries of a list page; a big one is parsed in a worker (a 10 MB feed takes seconds)."""
        if self.workers <= 0 or len(body) <= self.INLINE_LIST:
            return parse_list(source.kind, body, url, source, content_type)
        try:
            return await self._run(limited_parse_list, source.kind, body, url, source, content_type, self.timeout)
        except WorkerLost as e:
            raise ListError(f"reading it {e}") from None

    def stop(self) -> None:
        """End the jobs in flight now, and take no more (the daemon's stop): their pages are errors
        of this run, fetched again next time."""
        self._stopping = True
        self.close()

    def close(self) -> None:
        """Stop the workers at once: a stop never waits for a job (the daemon answers SIGTERM)."""
        if self._pool is not None:
            self._drop(self._pool, kill=True)


class WorkerLost(Exception):
    """A pool job that never came back; str() says why."""


class CrawlContext:
    """What the spider, middlewares and item pipeline of one crawl share."""

    def __init__(self, *, store: Store, processor: Processor, sources: list, crawl_cfg,
                 run_extract: Callable, baseline: set[str], on_new: Callable | None = None):
        self.store = store
        self.processor = processor
        self.sources = {s.name: s for s in sources}
        self.reports: dict[str, SourceReport] = {}
        self.pending_cache: dict[str, tuple] = {}
        self.max_size = crawl_cfg.max_size
        self.max_articles = crawl_cfg.max_articles_per_source
        self.block_private = crawl_cfg.block_private_networks
        self.run_extract = run_extract
        self._baseline = baseline
        self.on_new = on_new            # (processed, source, title, body, published) → alerts queued
        self.queued = 0
        self.wake: Callable[[], None] = lambda: None   # tells the dispatcher that alerts may be due

    def report(self, source: str) -> SourceReport:
        if source not in self.reports:
            self.reports[source] = SourceReport(source, secrets=getattr(self.sources.get(source), "secrets", []))
        return self.reports[source]

    def is_baseline(self, source: str) -> bool:
        return source in self._baseline


class Crawl:
    """Runs crawls; `stop()` ends a running one cleanly (spiders close with reason `shutdown`)."""

    def __init__(self, crawl_cfg):
        self.settings = crawl_settings(crawl_cfg)
        self.runner: AsyncCrawlerRunner | None = None

    async def run(self, ctx: CrawlContext) -> dict[str, SourceReport]:
        self.runner = AsyncCrawlerRunner(self.settings)
        try:
            await self.runner.crawl(SourcesSpider, sources=list(ctx.sources.values()), ctx=ctx)
        finally:
            self.runner = None
        self._save_list_caches(ctx)
        return ctx.reports

    @staticmethod
    def _save_list_caches(ctx: CrawlContext) -> None:
        # Only a source whose articles all came through may answer 304 next time: otherwise a
        # failed article would never be retried.
        for name, (url, etag, lm, h) in ctx.pending_cache.items():
            if ctx.report(name).errors == 0:
                ctx.store.save_list_cache(url, etag, lm, h)

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.stop()
