"""One crawl of a set of due sources, on the running asyncio loop (the asyncio reactor's)."""

from __future__ import annotations

import asyncio
import multiprocessing
import multiprocessing.util
import os
import shutil
import signal
import sys
import tempfile
import threading
from collections import Counter, deque
from collections.abc import Callable
from concurrent.futures import Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from multiprocessing import resource_tracker
from typing import Any

from scrapy.crawler import AsyncCrawlerRunner

from ..defaults import (
    ERROR_CHARS,
    EXTRACT_MEMORY,
    EXTRACT_TIMEOUT,
    FEED_NAMESPACES_INLINE,
    LIST_INLINE_MAX,
    MISSING_GRACE,
    cores,
    too_slow,
)
from ..pipeline.process import Processed, Processor
from ..pipeline.reading import attachment_in_worker, extract_in_worker, start_worker
from ..pipeline.store import Store, StoreError
from ..pipeline.timeutil import utcnow
from .kinds import ListError, limited_parse_list, parse_list
from .report import SourceReport
from .settings import CONTEXT, crawl_settings
from .spider import Rider, SourcesSpider


def namespace_declarations(body: bytes, content_type: str | None) -> int:
    """How often a feed writes `xmlns`, counted in the text feedparser will read: decoded as it decodes it (the HTTP
    charset, the XML declaration, a byte-order mark — UTF-16, UTF-7, HZ and the ISO-2022 encodings hide the word from
    a count of the bytes). ~1 ms for 256 KB."""
    from feedparser.encodings import convert_to_utf8

    return convert_to_utf8({"content-type": content_type or "application/xml"}, body, {}).count(b"xmlns")


# the longest path a Unix socket may have on Linux (108 bytes with its NUL)
SUN_PATH_MAX = 107


def short_socket_dir() -> None:
    """multiprocessing makes the forkserver's socket at `$TMPDIR/pymp-XXXXXXXX/listener-XXXXXXXX` (32 characters
    after TMPDIR): a TMPDIR of over ~75 characters makes that path longer than a Unix socket's may be, and no
    extraction worker could start (`OSError: AF_UNIX path too long` for every article). As Python 3.14 does
    (gh-132124), such a TMPDIR is passed over for the system's own temporary folder — for that socket's folder
    only (regwatch's other temporary files stay in TMPDIR)."""
    config = multiprocessing.current_process()._config      # type: ignore[attr-defined]
    if config.get("tempdir") or len(os.fsencode(tempfile.gettempdir())) + 32 <= SUN_PATH_MAX:
        return
    for base in ("/tmp", "/var/tmp", "/usr/tmp"):
        if os.access(base, os.W_OK | os.X_OK):
            break
    else:
        return          # multiprocessing's own error follows, said in one line by `_get_pool`
    folder = tempfile.mkdtemp(prefix="pymp-", dir=base)
    # removed at the process's exit as multiprocessing removes the folder it makes (`util.get_temp_dir`)
    multiprocessing.util.Finalize(None, multiprocessing.util._remove_temp_dir,      # type: ignore[attr-defined]
                                  args=(shutil.rmtree, folder), exitpriority=-100)
    config["tempdir"] = folder


# multiprocessing's resource tracker, after a daemon killed outright (kill -9, the OOM killer), cleans up the
# semaphores of its pool and warns of each kind it did (`UserWarning: resource_tracker: There appear to be 5 leaked
# semaphore objects to clean up at shutdown`, two lines in the journal): not regwatch's to report. The tracker's
# process alone is started with this filter — multiprocessing passes `sys.warnoptions` on as `-W` to a process it
# starts, so they hold it while the tracker starts, and not when the forkserver does
TRACKER_WARNINGS = "ignore::UserWarning:multiprocessing.resource_tracker"


def _start_tracker() -> None:
    """Start multiprocessing's resource tracker (the forkserver's start finds it running) with TRACKER_WARNINGS."""
    sys.warnoptions.append(TRACKER_WARNINGS)
    try:
        resource_tracker.ensure_running()
    finally:
        sys.warnoptions.remove(TRACKER_WARNINGS)


class Extractor:
    """Extraction (and the parsing of big list pages) in a pool of worker processes, so that neither
    stalls the event loop. Each job has a time limit and each worker a memory limit: a page, PDF or
    list over them is an error of its source. A worker that dies (the OOM killer, a crash) or does
    not come back after its limit is replaced, and the jobs it took down are tried once more.

    The pool is started off the event loop (the forkserver's start waits for its imports, and each
    worker's fork for the server): a crawl starts it when it first asks for an article (`warm`), so
    that the workers are ready when the first pages arrive."""

    GRACE = 10.0                 # after a job's time limit, how long before its worker is killed
    TURNS = 3                    # a job's backstop counts at most so many rounds of the jobs queued ahead of it

    def __init__(self, workers: int | None = None, timeout: float = EXTRACT_TIMEOUT, memory: int = EXTRACT_MEMORY,
                 classifier=None, preload: tuple[str, ...] = ()):
        self.workers = cores() if workers is None else workers
        # modules the forkserver imports beside the extraction's own: the command's (`service/app.py` names it) —
        # each worker runs the main script again as it starts (multiprocessing's spawn preparation), and finds it
        # imported instead of importing it (~0.2 s of CPU a worker)
        self.preload = preload
        self.classifier = classifier        # the workers also read what they extract (`process.read`)
        self.timeout = timeout
        self.memory = memory
        self._pool: ProcessPoolExecutor | None = None
        self._starting: Future | None = None      # the pool being started, in a thread
        self._abandoned: Future | None = None     # one left starting by a stop, to await at the process's exit
        self._stopping = False
        self._in_flight = 0       # jobs handed to the pool and not back
        self._lists: ThreadPoolExecutor | None = None   # the thread list pages under LIST_INLINE_MAX are read in

    def worker_modules(self) -> list[str]:
        """What the workers' forkserver imports before it forks them: what a worker runs (`pipeline.reading`, which
        never imports the store) and the command's module; with the learned stage's meaning, its encoder."""
        preload = ["regwatch.crawler.worker_signals", "regwatch.crawler.worker_lifetime", *self.preload,
                   "regwatch.pipeline.extract", "regwatch.pipeline.reading", "regwatch.crawler.kinds.feed"]
        model = getattr(self.classifier, "model", None)
        if getattr(model, "meaning", False):      # the learned stage's encoder: loaded once, shared by the workers
            preload.append("regwatch.pipeline.meaning_loaded")
        return preload

    def _start_pool(self) -> ProcessPoolExecutor:
        """A new pool with its workers started (in a thread: it blocks until they are forked)."""
        ctx = multiprocessing.get_context("forkserver")
        short_socket_dir()
        ctx.set_forkserver_preload(self.worker_modules())
        pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=ctx,
                                   initializer=start_worker, initargs=(self.memory, self.classifier))
        # each submit finding no idle worker starts one: as many no-op jobs as workers start them all
        for f in [pool.submit(int) for _ in range(self.workers)]:
            f.result()
        return pool

    def warm(self) -> None:
        """Start the workers now, in the background (a crawl's first article is on its way)."""
        if self.workers > 0 and self._pool is None and self._starting is None and not self._stopping:
            self._starting = Future()
            threading.Thread(target=self._start_into, args=(self._starting,), name="regwatch-pool-start",
                             daemon=True).start()

    def _start_into(self, starting: Future) -> None:
        # the forkserver and multiprocessing's resource tracker are started (exec'd) from this thread and keep
        # its signal mask: with SIGHUP blocked, a closed terminal's hangup (to the whole process group) ends
        # neither — the daemon ignores it; the tracker, killed, left a traceback at the stop
        signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGHUP})
        try:
            _start_tracker()
            starting.set_result(self._start_pool())
        except BaseException as e:  # reported to whoever waits for the pool
            starting.set_exception(e)

    async def _get_pool(self) -> ProcessPoolExecutor:
        while self._pool is None:
            if self._stopping:
                raise WorkerLost("was not finished: regwatch was stopping")
            self.warm()
            starting = self._starting
            assert starting is not None         # (warm() has just started the pool: there are workers)
            try:
                pool = await asyncio.shield(asyncio.wrap_future(starting))
            except BrokenProcessPool:
                pool = None                 # a worker died as it started: started again
            except OSError as e:            # (the forkserver's socket or a worker's fork): each article says it
                if self._starting is starting:
                    self._starting = None
                raise WorkerLost(f"could not be done: the extraction workers could not start ({e})") from None
            if self._starting is starting:  # (else the extractor was closed meanwhile: that pool is gone)
                self._starting = None
                self._pool = pool
        return self._pool

    def _drop_started(self, starting: Future) -> None:
        if not starting.cancelled() and starting.exception() is None:
            self._drop(starting.result(), kill=True)

    def _drop(self, pool: ProcessPoolExecutor, kill: bool = False, settle: float = 0.0) -> None:
        """Forget a broken (or hung) pool; `kill` ends its workers first. `settle` (the process is about to exit):
        wait up to so many seconds for the pool's manager thread to end — it closes its wake-up pipe as it does,
        and doing so while the interpreter's exit hook wakes it printed `OSError: [Errno 9] Bad file descriptor`
        (a race in concurrent.futures' exit hook before Python 3.12)."""
        if kill:
            for proc in list((getattr(pool, "_processes", None) or {}).values()):
                proc.kill()
        manager = getattr(pool, "_executor_manager_thread", None)
        pool.shutdown(wait=False, cancel_futures=True)
        if settle > 0 and manager is not None:
            manager.join(settle)
        if self._pool is pool:
            self._pool = None

    async def _run(self, fn, *args):
        """fn(*args) in the pool; raises `WorkerLost` when it cannot be had."""
        for attempt in (1, 2):
            if self._stopping:
                raise WorkerLost("was not finished: regwatch was stopping")
            pool = await self._get_pool()
            # the worker stops a job at its time limit itself; this is the backstop for one stuck in C code. A job
            # waits in the pool's queue behind the ones handed over before it, each bounded so: its backstop
            # counts a turn for each round of them (jobs queued behind a hostile source's slow pages were timed
            # out while they waited)
            turns = min(self.TURNS, 1 + self._in_flight // max(1, self.workers))
            self._in_flight += 1
            fut = None
            try:
                fut = asyncio.get_running_loop().run_in_executor(pool, fn, *args)     # (raises on a broken pool)
                return await asyncio.wait_for(fut, (self.timeout + self.GRACE) * turns)
            except TimeoutError:
                # stuck in C code: only killing the worker ends it (the pool's other jobs are tried again)
                self._drop(pool, kill=True)
                raise WorkerTimedOut(f"{too_slow(self.timeout, 'extract_timeout')}; its worker was stopped") from None
            except BrokenProcessPool:
                self._drop(pool)
                if attempt == 2:
                    raise WorkerDied("the extraction worker died twice on it (out of memory?)") from None
            except asyncio.CancelledError:
                current = asyncio.current_task()
                if fut is None or not fut.cancelled() or (current is not None and current.cancelling()):
                    raise               # this task is being cancelled (a stop): not the pool's doing
                # the job waited in the queue of a pool killed for another job stuck past its limit: tried again
                if attempt == 2:
                    raise WorkerLost("was cut off twice by another job's stuck worker") from None
            finally:
                self._in_flight -= 1
        raise AssertionError("unreachable")

    async def __call__(self, job: dict[str, Any]) -> dict[str, Any]:
        if self.workers <= 0:
            from ..pipeline.extract import extract_job

            return extract_job(job)
        try:
            return await self._run(extract_in_worker, job, self.timeout)
        except WorkerTimedOut as e:
            return {"ok": False, "error": f"extraction {e}", "timed_out": True}
        except WorkerLost as e:
            return {"ok": False, "error": f"extraction {e}"}

    async def read_attachment(self, data: bytes) -> dict[str, Any]:
        """An attachment's text (`extract.attachment_job`), read by a job of its own under its own time limit: one
        over it (`timed_out`, the backstop's too) is a note (`note`) if the article is stored without its text. A
        job whose worker died under it twice (the OOM killer) is a note too: the article is stored without its text,
        as after a second timeout (it was already tried twice). A job lost otherwise (a stop) is `lost`: the article's
        error, as its own job's would be."""
        from ..pipeline.extract import attachment_died, attachment_job, attachment_too_slow

        if self.workers <= 0:
            return attachment_job(data)
        try:
            return await self._run(attachment_in_worker, data, self.timeout)
        except WorkerTimedOut:
            return {"text": "", "note": attachment_too_slow(self.timeout), "error": None, "timed_out": True}
        except WorkerDied:
            return {"text": "", "note": attachment_died(), "error": None}
        except WorkerLost as e:
            return {"text": "", "note": None, "error": None, "lost": f"its attachment {e}"}

    async def read_list(self, source, body: bytes, url: str, content_type: str | None) -> list:
        """The entries of a list page. A big one (over `LIST_INLINE_MAX`: a 10 MB feed takes seconds), or a feed
        declaring many namespaces (`FEED_NAMESPACES_INLINE`: feedparser's cost grows with their number times the
        elements), is parsed in a worker under its time limit and memory limit; any other in a thread of this
        process, so that the event loop keeps turning (feedparser's cost follows the elements, not the bytes: 256 KB
        of empty elements took 1.3 s) and the workers are not started for it (a run with nothing new never needs
        them)."""
        inline = self.workers <= 0 or len(body) <= LIST_INLINE_MAX
        if inline and self.workers > 0 and source.kind == "feed":      # (counted only where it decides)
            inline = namespace_declarations(body, content_type) <= FEED_NAMESPACES_INLINE
        if inline:
            if self._lists is None:
                self._lists = ThreadPoolExecutor(1, thread_name_prefix="regwatch-lists")
            return await asyncio.get_running_loop().run_in_executor(
                self._lists, parse_list, source.kind, body, url, source, content_type)
        try:
            return await self._run(limited_parse_list, source.kind, body, url, source, content_type, self.timeout)
        except WorkerLost as e:
            raise ListError(f"reading it {e}") from None

    def stop(self) -> None:
        """End the jobs in flight now, and take no more (the daemon's stop): their pages are cut off
        from this run (not its errors), fetched again next time."""
        self._stopping = True
        self.close()

    def close(self, wait_start: float = 0.0) -> None:
        """Stop the workers at once: a stop never waits for a job (the daemon answers SIGTERM). A pool still
        starting is stopped as soon as it is up; with `wait_start` (the process is about to exit) that is
        awaited up to so many seconds — the thread starting it, cut off by the exit mid-request, left the
        forkserver printing a traceback (`pickle data was truncated`)."""
        if self._pool is not None:
            self._drop(self._pool, kill=True, settle=wait_start)
        if self._lists is not None:
            self._lists.shutdown(wait=False, cancel_futures=True)
            self._lists = None
        starting = self._starting or self._abandoned
        self._starting = self._abandoned = None
        if starting is None:
            return
        if wait_start > 0:
            try:
                starting.result(timeout=wait_start)
            except Exception:   # (a pool that failed to start has nothing to stop)
                pass
        if starting.done():
            self._drop_started(starting)
        else:
            starting.add_done_callback(self._drop_started)
            self._abandoned = starting


class WorkerLost(Exception):
    """A pool job that never came back; str() says why."""


class WorkerTimedOut(WorkerLost):
    """A pool job stuck past its time limit, its worker killed."""


class WorkerDied(WorkerLost):
    """A pool job whose worker died under it twice (the OOM killer)."""


@dataclass
class ListPage:
    """One list page read in this crawl, and what became of the articles it named."""

    source: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    body_hash: str | None = None
    children: list[str] | None = None
    found: int = 0                                      # entries it lists (articles and child sitemaps)
    named: set[str] = field(default_factory=set)        # new articles it named
    outstanding: set[str] = field(default_factory=set)  # asked for, no outcome yet
    done: set[str] = field(default_factory=set)         # stored (or stored already, or skipped)
    deferred: set[str] = field(default_factory=set)     # left for the next run by the cap
    failed: bool = False

    @property
    def clean(self) -> bool:
        """Every article it named was stored or skipped: it may answer 304 next time. (A page that lists
        nothing is read in full every time, so that it stays `empty` until it lists again.)"""
        return self.found > 0 and not (self.failed or self.outstanding or self.deferred)


class TakeTurns:
    """At most `slots` jobs at once, the sources taking turns for a free one (round robin, each source's own first
    come first served): the extraction pool takes jobs in the order given, and one source's many slow pages handed
    over first held every other source's behind them (10 pages of 30 s held another source's alerts 2 min 40 s)."""

    def __init__(self, slots: int):
        self.free = slots
        self.waiting: dict[str, deque[asyncio.Future]] = {}    # source → its jobs waiting, in their order

    def __call__(self, source: str) -> _Turn:
        return _Turn(self, source)

    async def acquire(self, source: str) -> None:
        if self.free > 0 and not self.waiting:
            self.free -= 1
            return
        fut = asyncio.get_running_loop().create_future()
        self.waiting.setdefault(source, deque()).append(fut)
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self.release()          # given a slot as it was cancelled: handed on
            else:
                queue = self.waiting.get(source)
                if queue is not None and fut in queue:
                    queue.remove(fut)
                    if not queue:
                        del self.waiting[source]
            raise

    def release(self) -> None:
        """The slot to the first waiting job of the source after the one served last (a source served goes to the
        back: `waiting` keeps the sources in turn order)."""
        while self.waiting:
            source = next(iter(self.waiting))
            queue = self.waiting.pop(source)
            fut = queue.popleft()
            if queue:
                self.waiting[source] = queue        # (to the back of the turn)
            if not fut.done():
                fut.set_result(None)
                return
        self.free += 1


class _Turn:
    def __init__(self, turns: TakeTurns, source: str):
        self.turns, self.source = turns, source

    async def __aenter__(self) -> None:
        await self.turns.acquire(self.source)

    async def __aexit__(self, *exc) -> None:
        self.turns.release()


class CrawlContext:
    """What the spider, middlewares and item pipeline of one crawl share."""

    def __init__(self, *, store: Store, processor: Processor, sources: list, crawl_cfg,
                 run_extract: Extractor, baseline: set[str],
                 on_new: Callable[[Processed, str, str, str, datetime | None, bool], tuple[int, str | None]],
                 wake: Callable[[], None] | None = None):
        self.store = store
        self.processor = processor
        self.sources = {s.name: s for s in sources}
        self.reports: dict[str, SourceReport] = {}
        self._stopping = False
        self.lists: dict[tuple[str, str], ListPage] = {}
        self.waiting: dict[tuple[str, str], set[tuple[str, str]]] = {}   # (source, article) → list pages
        self.settled: dict[tuple[str, str], bool] = {}
        # A fetch is known by its request's key: Scrapy's request fingerprint, what its dupefilter drops a duplicate
        # by (`?b=2&a=1` is `?a=1&b=2`, a `#main` is no other page), so whatever Scrapy drops finds its fetch here.
        # key → (ok, skip reason, the source and the article it was fetched for)
        self.outcome: dict[str, tuple[bool, str | None, str, str]] = {}
        # key → the requests waiting on that fetch (`Rider`): a source's duplicate request for it, or an article's
        # redirect to it (Scrapy dropped both: this crawl had asked for that request already)
        self.riders: dict[str, set[Rider]] = {}
        self.unfetched: set[str] = set()        # keys only refused in this crawl, for the source that asked
        # (source, article) → the keys of the requests its fetch made: its redirects' hops and target
        self.answered_at: dict[tuple[str, str], tuple[str, ...]] = {}
        self.missing_urls: dict[str, str] = {}                       # article → why it is missing (404/410)
        self.retried: dict[str, str] = {}       # article → why it is fetched again next run (its attachment's first timeout)
        self.taken: Counter[str] = Counter()
        # source → its pages over `extract_timeout` in this crawl; and its pages' gate to the extraction pool
        self.extract_timeouts: Counter[str] = Counter()
        self.extract_turns = TakeTurns(max(1, run_extract.workers))
        self.max_size = crawl_cfg.max_size
        self.max_articles: int = crawl_cfg.max_articles_per_source
        self.block_private = crawl_cfg.block_private_networks
        self.run_extract = run_extract
        self._baseline = baseline
        self.on_new = on_new    # (processed, source, title, body, published, baseline) → (alerts queued, why none)
        self.queued = 0
        self.store_failed: StoreError | None = None     # the store failed storing an article: the crawl ends, failed
        self.wake: Callable[[], None] = wake or (lambda: None)   # tells the dispatcher that alerts may be due

    def report(self, source: str) -> SourceReport:
        if source not in self.reports:
            self.reports[source] = SourceReport(source, secrets=getattr(self.sources.get(source), "secrets", []),
                                                stopping=self._stopping)
        return self.reports[source]

    def stopping(self) -> None:
        """regwatch is stopping this crawl on purpose: what it leaves unfinished from now on is an
        interruption of its sources' runs, not an error (see `SourceReport.error`)."""
        self._stopping = True
        for report in self.reports.values():
            report.stopping = True

    def is_baseline(self, source: str, url: str | None = None) -> bool:
        """A baseline run's article, or one its baseline run named and could not store then."""
        return source in self._baseline or (url is not None and self.store.is_baseline_url(source, url))

    # -- the accounting of list pages' articles ------------------------------------------------

    def list_page(self, source: str, url: str, **validators) -> ListPage:
        key = (source, url)
        if key not in self.lists:
            self.lists[key] = ListPage(source, url, **validators)
        return self.lists[key]

    def take(self, page: ListPage, url: str) -> bool:
        """Whether to ask for an article the page names: not when this crawl already did (the page
        then waits for that outcome), nor past the source's cap (deferred to the next run)."""
        key = (page.source, url)
        page.named.add(url)
        if key in self.settled:         # this crawl already had it: the page takes that outcome
            if self.settled[key]:
                page.done.add(url)
            else:
                page.failed = True
            return False
        if key in self.waiting:
            self.waiting[key].add((page.source, page.url))
            page.outstanding.add(url)
            return False
        if self.taken[page.source] >= self.max_articles:
            page.deferred.add(url)
            self.report(page.source).deferred += 1
            return False
        self.taken[page.source] += 1
        self.waiting[key] = {(page.source, page.url)}
        page.outstanding.add(url)
        self.run_extract.warm()         # its extraction workers start while it downloads
        return True

    def settle(self, source: str, url: str, ok: bool, skipped: str | None = None, shared: bool = True) -> None:
        """An article's outcome: stored (or already stored, or skipped for good) or failed; `shared`: the outcome
        of a fetch, which the sources riding on it get too."""
        key = (source, url)
        if key in self.settled and (self.settled[key] or not ok):
            return
        self.settled[key] = ok
        if ok and skipped is None:
            self.report(source).holds = True
        for lk in self.waiting.pop(key, ()):
            page = self.lists[lk]
            page.outstanding.discard(url)
            if ok:
                page.done.add(url)
            else:
                page.failed = True
        if not shared:
            return
        # the outcome of the fetch, under each request it made (its redirects' hops and target): what a request
        # Scrapy dropped as a duplicate of one of them waits on
        for fetched in self.answered_at.get(key, ()):
            if fetched in self.outcome:
                continue
            self.unfetched.discard(fetched)
            self.outcome[fetched] = (ok, skipped, source, url)
            for rider in self.riders.pop(fetched, ()):
                self._follow(rider, fetched)

    def answered(self, source: str, url: str, at: list[str]) -> None:
        """The fetch of this source's article made the requests whose keys are `at` (its redirects' hops, then its
        target), and was answered (or failed, or was dropped, riding on another fetch): its outcome is theirs too."""
        self.answered_at[(source, url)] = tuple(at)

    def refused(self, source: str, url: str, at: list[str]) -> list[Rider]:
        """An article whose request the address guards refused for this source, having made the requests whose keys
        are `at` (the article's, or its redirects' hops and the target refused: another source's origin, say): a
        failure of this source alone, never an outcome another source gets, and none of them counts as fetched. For
        each, one request riding on it, if any, is returned: it asks for it itself (the others ride on that); without
        one, the next to ask does."""
        self.settle(source, url, ok=False, shared=False)
        released = []
        for refused in dict.fromkeys(at):
            if refused in self.outcome:     # (answered meanwhile, for another source: its riders have followed it)
                continue
            riders = self.riders.pop(refused, set())
            if not riders:
                self.unfetched.add(refused)
                continue
            # a source's own request for it first (a redirect rider's fetch is filed under its target too)
            first = min(riders, key=lambda r: r.redirected)
            riders.discard(first)
            released.append(first)
            if riders:
                self.riders[refused] = riders
        return released

    def ride(self, rider: Rider, key: str) -> bool:
        """A request of a source's article (its own, or its redirect) that Scrapy dropped as a duplicate of the request
        `key` this crawl already made: the source gets that fetch's outcome. True: there was no fetch, only a refusal
        for the source that asked (`refused`), and this source asks for it itself."""
        if key in self.outcome:
            self._follow(rider, key)
        elif key in self.unfetched:
            self.unfetched.discard(key)
            return True
        else:
            self.riders.setdefault(key, set()).add(rider)
        return False

    def _follow(self, rider: Rider, key: str) -> None:
        """The outcome of the fetch `key` becomes the rider's article's: the same fetch (the same page, or a json
        source's same detail), or, for an article that redirects to it (a tracking link to a URL a list names too),
        that page's — skipped for good when it was had."""
        source, article, url = rider.source, rider.article, rider.url
        ok, skipped, by, fetched = self.outcome[key]
        if fetched in self.retried:     # left for next run by the source that fetched it: for this one too, no error
            self.retried.setdefault(article, self.retried[fetched])
            self.report(source).note(f"{article}: {self.retried[fetched]}"[:ERROR_CHARS])
            self.settle(source, article, ok=False)
            return
        if rider.redirected:
            if fetched in self.missing_urls:
                self.missing(source, article, self.missing_urls[fetched])
            elif ok:
                self.skip(source, article, f"redirects to {url}, a page this crawl already asked for")
            else:
                self.report(source).error(f"{article}: redirects to {url}, which failed (fetched once in this "
                                          f"crawl, for {by})"[:ERROR_CHARS])
                self.settle(source, article, ok=False)
            return
        if fetched in self.missing_urls:
            self.missing(source, article, self.missing_urls[fetched])
        elif skipped:
            self.skip(source, article, skipped)
        elif ok:
            self.settle(source, article, ok=True)
        else:
            self.report(source).error(f"{article}: failed (fetched once in this crawl, for {by})")
            self.settle(source, article, ok=False)

    def try_next_run(self, url: str, reason: str) -> None:
        """This article is left to be fetched again next run (its attachment's first timeout): the sources riding on
        its fetch get a note, not an error."""
        self.retried[url] = reason

    def missing(self, source: str, url: str, reason: str) -> None:
        """An article the site answers 404 or 410 for: a site may list a page before it is up, so it is asked
        again each run (a note, not an error) until it has been missing `MISSING_GRACE`, then skipped for good."""
        self.missing_urls[url] = reason
        if self.is_baseline(source, url):      # it would never alert: skipped at once, as a baseline settles it
            self.skip(source, url, reason)
            return
        since = self.store.missing_since(source, url)
        if since is None or utcnow() - datetime.fromisoformat(since) >= timedelta(seconds=MISSING_GRACE):
            self.skip(source, url, reason)
            return
        self.report(source).note(f"{url}: {reason}; asked again each run until it has been missing "
                                 f"{MISSING_GRACE / 3600:g} h (since {since})")
        self.settle(source, url, ok=False)

    def skip(self, source: str, url: str, reason: str) -> None:
        """An article the site forbids or has removed, or not a page: recorded once, never asked again."""
        self.store.skip_url(source, url, reason)
        report = self.report(source)
        report.skipped += 1
        report.note(f"skipped {url}: {reason}")
        self.settle(source, url, ok=True, skipped=reason)

    def finish(self) -> None:
        """After the crawl: articles never settled (the crawl stopped first) are errors of their
        source; clean list pages keep their validators (not in a baseline run that holds no article),
        the others are read in full next time;
        what a baseline run named and did not store stays baseline."""
        if not self._stopping and self.store_failed is None:
            # the crawl ran out of requests: every fetch made had its outcome, and riders are found by Scrapy's own
            # key, so a redirect still waiting is one dropped as a duplicate of a request that is itself a redirect
            # waiting so (a cycle, A→B and B→A): it will never have its fetch. Skipped for good, as a redirect to a
            # page this crawl asked for is (it failed every run, "not fetched before the crawl stopped"); the others
            # of the cycle, and the sources that list them, follow that
            while self.riders:
                for rider in self.riders.popitem()[1]:
                    if rider.redirected and (rider.source, rider.article) in self.waiting:
                        self.skip(rider.source, rider.article,
                                  f"redirects to {rider.url}, a page this crawl already asked for")
        lost: dict[str, list[str]] = {}
        for (source, url), pages in self.waiting.items():
            lost.setdefault(source, []).append(url)
            for lk in pages:
                self.lists[lk].failed = True
        for name, s in self.sources.items():
            report = self.report(name)
            if not (report.list_ok or report.errors or report.blocked):
                report.error(f"list page {s.url}: no answer before the crawl stopped")
        for source, urls in lost.items():
            self.report(source).error(f"{len(urls)} listed article(s) not fetched before the crawl stopped "
                                      f"(they are fetched next run), e.g. {urls[0]}")
        for page in self.lists.values():
            # a first run that stores nothing (every link skipped: a wrong `link`) is no baseline: its list is read
            # in full next time, when the corrected links are the baseline
            if page.clean and (page.source not in self._baseline or self.report(page.source).holds):
                self.store.save_list_cache(page.source, page.url, page.etag, page.last_modified,
                                           page.body_hash, page.children)
            else:
                self.store.forget_list_cache(page.source, page.url)
            if page.source in self._baseline:
                self.store.mark_baseline_urls(page.source, page.named - page.done)
        for name, report in self.reports.items():
            report.empty = report.list_ok and report.found == 0 and not report.not_modified
            if report.empty and name in self.sources:
                report.note(why_empty(self.sources[name]))    # (the source's `${VAR}` values redacted with the rest)


def why_empty(source) -> str:
    """What an `empty` run's list page said: it answered, and what regwatch looked for in it found nothing (said
    first: a health summary shortens each source's line)."""
    if source.kind == "listing":
        return f"`links` selector `{source.links}` matched nothing on the list page {source.url} (it answered)"
    if source.kind == "json":
        return f"the `items` path `{source.items}` found an empty list in {source.url} (it answered)"
    if source.kind == "sitemap":
        return f"the sitemap names no pages: {source.url} (it answered)"
    return f"the feed has no entries: {source.url} (it answered)"


class Crawl:
    """Runs crawls, several at once if asked (the daemon runs one per site, so a hung site holds
    only its own); `stop()` ends every running one cleanly (spiders close with reason `shutdown`)."""

    def __init__(self, crawl_cfg):
        self.settings = crawl_settings(crawl_cfg)
        self.runners: set[AsyncCrawlerRunner] = set()
        self.contexts: set[CrawlContext] = set()
        self.stopped = False

    async def run(self, ctx: CrawlContext) -> dict[str, SourceReport]:
        runner = AsyncCrawlerRunner(self.settings)
        self.runners.add(runner)
        crawler = runner.create_crawler(SourcesSpider)
        crawler.settings.set(CONTEXT, ctx, priority="cmdline")      # for the components' from_crawler
        self.contexts.add(ctx)
        try:
            await runner.crawl(crawler, sources=list(ctx.sources.values()), ctx=ctx)
        finally:
            self.runners.discard(runner)
            self.contexts.discard(ctx)
            try:
                with ctx.store.tx():
                    ctx.finish()
            except StoreError:
                if ctx.store_failed is None:
                    raise           # (else the first failure is the one said)
        if ctx.store_failed is not None:
            raise ctx.store_failed
        return ctx.reports

    async def stop(self) -> None:
        self.stopped = True
        for ctx in list(self.contexts):     # before anything is cut off: what is cut is not an error
            ctx.stopping()
        await asyncio.gather(*(r.stop() for r in list(self.runners)), return_exceptions=True)
