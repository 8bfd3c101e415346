"""One crawl of a set of due sources, on the running asyncio loop (the asyncio reactor's)."""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Callable

from scrapy.crawler import AsyncCrawlerRunner

from ..pipeline.extract import extract_job
from ..pipeline.process import Processor
from ..pipeline.store import Store
from .report import SourceReport
from .settings import crawl_settings
from .spider import SourcesSpider


class Extractor:
    """Extraction in a pool of worker processes, so trafilatura never stalls the event loop."""

    def __init__(self, workers: int = 2):
        self.workers = workers
        self._pool: ProcessPoolExecutor | None = None

    async def __call__(self, job: dict[str, Any]) -> dict[str, Any]:
        if self.workers <= 0:
            return extract_job(job)
        if self._pool is None:
            ctx = multiprocessing.get_context("forkserver")
            ctx.set_forkserver_preload(["regwatch.pipeline.extract"])
            self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx)
        return await asyncio.get_running_loop().run_in_executor(self._pool, extract_job, job)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None


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
