"""One spider for every due source: list pages → new article URLs → article items.

All due sources share one crawl (and so one set of per-domain politeness slots); each source's
kind only decides how its list page is read (`kinds/`). Every article a list names is accounted
for (`CrawlContext.settle`): stored, skipped for good, failed, or deferred by a cap; a list page's
validators are kept only when all of its articles were stored or skipped.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import AsyncIterator
from typing import Any, NamedTuple
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import DownloadFailedError, DownloadTimeoutError, IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.internet.error import ConnectionDone, ConnectionLost
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed, ResponseNeverReceived

from ..defaults import ERROR_CHARS, LIST_ENTRIES_MAX, SITEMAP_CHILDREN_MAX, SITEMAP_DEPTH_MAX, too_slow
from ..pipeline.dates import parse_any_date
from ..pipeline.store import StoreError
from .kinds import Entry, ListError
from .kinds.jsonapi import detail_body
from .middlewares import NotAPage
from .netguard import AddressRefused

GONE = (404, 410)      # an article the site has removed (or not yet put up): skipped after MISSING_GRACE


def _failure_message(failure: Failure) -> str:
    exc = failure.value
    if isinstance(exc, HttpError):
        return f"HTTP {exc.response.status}"
    if isinstance(exc, DownloadTimeoutError):     # (Scrapy's own words: "Getting <url> took longer than 30.0 seconds.")
        return too_slow(failure.request.meta.get("download_timeout", 0), "timeout")  # type: ignore[attr-defined]
    if isinstance(exc, DownloadFailedError) and isinstance(exc.__cause__, ResponseFailed):
        exc = exc.__cause__     # Scrapy's wrapper keeps Twisted's str(): the repr of a list of Failures
    if isinstance(exc, ResponseFailed):
        # say what happened, in the underlying error's words
        inner = next((r.value for r in exc.reasons if isinstance(r, Failure)), None)
        when = "before a response" if isinstance(exc, ResponseNeverReceived) else "during the response"
        if inner is None or isinstance(inner, (ConnectionDone, ConnectionLost)):
            return f"connection closed by the server {when}"
        text = str(inner) or type(inner).__name__
        return f"the response failed {when}: {text.splitlines()[0]}"[:ERROR_CHARS]
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:ERROR_CHARS]


def _with_url(url: str, msg: str) -> str:
    """Every error names its URL (Scrapy's connection errors do not)."""
    return msg if url in msg else f"{url}: {msg}"


def skip_reason(failure: Failure) -> str | None:
    """Why an article will never be had, when it never will: robots.txt, 404/410, not a page."""
    exc = failure.value
    if isinstance(exc, HttpError) and exc.response.status in GONE:
        return f"HTTP {exc.response.status}"
    if isinstance(exc, NotAPage):
        return "a binary file, not a page"
    if isinstance(exc, IgnoreRequest) and "Forbidden by robots.txt" in str(exc):
        return "forbidden by robots.txt"
    return None


# an article request's meta: the keys (fingerprints) of the requests its redirect chain made, one per hop
MADE = "regwatch_made"


class Rider(NamedTuple):
    """A source's article request Scrapy dropped as a duplicate, waiting on that fetch's outcome: `url` is what it
    asked for (the article's URL, a json source's detail, or the target of the article's redirect)."""
    source: str
    article: str
    url: str
    redirected: bool        # a redirect of the article (the outcome is that of another page), not its own request


class SourcesSpider(scrapy.Spider):
    name = "regwatch"
    custom_settings: dict[str, Any] = {}

    def __init__(self, sources, ctx, **kw):
        super().__init__(**kw)
        self.sources = {s.name: s for s in sources}
        self._closing: asyncio.Future | None = None     # the close a store failure started (kept from GC)
        self._riding: dict[Rider, scrapy.Request] = {}   # each rider → its request Scrapy dropped
        self.ctx = ctx
        self._sitemaps: dict[str, set[str]] = {}    # per source: the sitemaps this run asked for (its url included)
        self._sitemap_noted: set[tuple[str, str]] = set()    # (source, which limit) already noted in this run

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider._item_stored, signal=signals.item_scraped)
        crawler.signals.connect(spider._item_dropped, signal=signals.item_dropped)
        crawler.signals.connect(spider._item_error, signal=signals.item_error)
        crawler.signals.connect(spider._callback_error, signal=signals.spider_error)
        crawler.signals.connect(spider._request_dropped, signal=signals.request_dropped)
        crawler.signals.connect(spider._response_received, signal=signals.response_received)
        crawler.signals.connect(spider._response_downloaded, signal=signals.response_downloaded)
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for s in self.sources.values():
            self.ctx.report(s.name)
            yield self._list_request(s, s.url)

    def _list_request(self, s, url: str, depth: int = 0) -> scrapy.Request:
        headers = dict(s.headers)
        meta = {"role": "list", "source": s.name, "list_url": url, "handle_httpstatus_list": [304],
                "download_maxsize": s.max_size or self.ctx.max_size, "sitemap_depth": depth}
        if s.method == "POST" and url == s.url:
            return scrapy.FormRequest(url, formdata=s.form or {}, headers=headers, meta=meta,
                                      callback=self.parse_list, errback=self.failed, dont_filter=True)
        return scrapy.Request(url, headers=headers, meta=meta, callback=self.parse_list,
                              errback=self.failed, dont_filter=True)

    # -- outcomes --------------------------------------------------------------------------

    def failed(self, failure: Failure) -> None:
        request = failure.request  # type: ignore[attr-defined]   # (Scrapy sets it on an errback's failure)
        source = request.meta.get("source")
        if not source:
            return
        role = request.meta.get("role")
        report = self.ctx.report(source)
        msg = _failure_message(failure)
        if role == "list":
            report.error(f"list page {_with_url(request.meta.get('list_url', request.url), msg)}")
            return
        url = request.meta.get("article_url", request.url)
        if isinstance(failure.value, AddressRefused):     # refused for this source: no answer to share
            report.error(_with_url(url, msg))
            for rider in self.ctx.refused(source, url, self._keys(request)):
                if rider in self._riding:
                    self._fetch_itself(rider)
            return
        self.ctx.answered(source, url, self._keys(request))       # (an answer, or a failure of the fetch: shared)
        if isinstance(failure.value, IgnoreRequest) and "already stored" in msg:
            self.ctx.settle(source, url, ok=True)
            return
        reason = skip_reason(failure)
        if reason and role == "article":
            if isinstance(failure.value, HttpError):      # 404, 410: maybe listed before it is up
                self.ctx.missing(source, url, reason)
            else:
                self.ctx.skip(source, url, reason)
            return
        report.error(_with_url(url, msg))
        self.ctx.settle(source, url, ok=False)

    def _request_dropped(self, request, spider=None) -> None:
        """Scrapy drops a request for a URL already asked for in this crawl: another source's request for the same
        article, or a redirect of an article to such a URL — into its own redirect chain (a loop: an error of the
        article), or to another page (a tracking link to a URL a list names too: the article is that page). The
        article gets the outcome of that URL's fetch (`CrawlContext.ride`); when the URL was only refused by the
        address guards, for the source that asked, this request is made after all (a refusal is never shared)."""
        source = request.meta.get("source")
        if request.meta.get("role") != "article" or not source:
            return
        url = request.meta.get("article_url", request.url)
        chain: list[str] = request.meta.get("redirect_urls") or []
        keys = self._keys(request)
        # the article's outcome, when it has one, is that of each request it made too (a source listing one of its
        # hops, dropped as that hop's duplicate, waits on it)
        self.ctx.answered(source, url, keys)
        if chain:
            back = next((i for i, hop in enumerate(keys[:-1]) if hop == keys[-1]), None)
            if back is not None:
                hops = " → ".join([*chain[back:], request.url])
                self.ctx.report(source).error(f"{url}: redirect loop ({hops})"[:ERROR_CHARS])
                self.ctx.settle(source, url, ok=False)
                return
        rider = Rider(source, url, request.url, redirected=bool(chain))
        self._riding[rider] = request      # until that fetch has an outcome
        if self.ctx.ride(rider, keys[-1]):
            self._fetch_itself(rider)
        elif keys[-1] in self.ctx.outcome:
            del self._riding[rider]

    def _keys(self, request: scrapy.Request) -> list[str]:
        """The keys of the requests an article's fetch made (its redirects' hops, then its own): Scrapy's request
        fingerprints, by which its dupefilter drops a duplicate. A hop's is that of the request Scrapy made for it
        (`_response_downloaded`: a POST source's article that answered 303 was a POST, though its redirect is a
        GET); one not recorded so (none is expected) is reckoned as the request with the hop's URL."""
        fingerprint = self.crawler.request_fingerprinter.fingerprint
        chain: list[str] = request.meta.get("redirect_urls") or []
        made: tuple[str, ...] = request.meta.get(MADE, ())
        hops = [made[i] if i < len(made) else fingerprint(request.replace(url=u)).hex() for i, u in enumerate(chain)]
        return [*hops, fingerprint(request).hex()]

    def _response_downloaded(self, response, request, spider=None) -> None:
        """A request of an article's fetch was answered: its key is kept in its meta after those of the hops before
        it, so that a redirect Scrapy makes from it (a copy of its meta) knows the key of each request its chain made
        — whatever method the redirect changed (a 301/302/303 of a POST is a GET), as Scrapy's own rules made it."""
        if request.meta.get("role") == "article":
            chain = request.meta.get("redirect_urls") or []
            request.meta[MADE] = (*request.meta.get(MADE, ())[:len(chain)],
                                  self.crawler.request_fingerprinter.fingerprint(request).hex())

    def _fetch_itself(self, rider: Rider) -> None:
        """A source's article request (or its redirect) Scrapy dropped as a duplicate of one the address guards
        refused for another source: asked for again, this source's own."""
        request = self._riding.pop(rider)
        self.crawler.engine.crawl(request.replace(dont_filter=True))

    def _response_received(self, response, request, spider=None) -> None:
        """An article's fetch answered: its outcome is also that of each URL its redirects asked for."""
        source = request.meta.get("source")
        if request.meta.get("role") == "article" and source:
            self.ctx.answered(source, request.meta.get("article_url", request.url), self._keys(request))

    def _item_stored(self, item, response=None, spider=None) -> None:
        self.ctx.settle(item["source"], item["url"], ok=True)

    def _item_dropped(self, item, response=None, exception=None, spider=None) -> None:
        # the item pipeline has recorded why (extraction failed)
        self.ctx.settle(item["source"], item["url"], ok=False)

    def _item_error(self, item, response=None, spider=None, failure=None) -> None:
        """An exception in the item pipeline: an error of the article's source, never a silent loss. The store
        failing (a full disk, a lock past its wait, PostgreSQL gone) is noted on the article's run instead (recorded
        if the store can still take it; not the source's error), and ends the crawl, which fails with the store's
        one line (`Crawl.run` raises it)."""
        exc = failure.value if failure is not None else None
        if isinstance(exc, StoreError):
            why = f"{item['url']}: not stored: the store failed ({exc}); the crawl stopped there"
            # noted, not an error: the store's failure is no sign of the source's health (it must not count toward
            # `failing_after`, nor alert a healthy source as failing)
            report = self.ctx.report(item["source"])
            report.note(why[:ERROR_CHARS])
            report.store_failed = True      # cut short: not a run that read its list whole (never its baseline)
            self.ctx.settle(item["source"], item["url"], ok=False)     # (its list page is read in full next time)
            if self.ctx.store_failed is None:
                self.ctx.store_failed = exc
                self._closing = asyncio.ensure_future(self.crawler.engine.close_spider_async(reason="store failed"))
            return
        detail = f"{type(exc).__name__}: {exc}" if exc is not None else "error"
        self.ctx.report(item["source"]).error(f"{item['url']}: processing failed ({detail})"[:400])
        self.ctx.settle(item["source"], item["url"], ok=False)

    def _callback_error(self, failure, response=None, spider=None) -> None:
        """An exception while reading a response: an error of its source, naming the URL."""
        meta = getattr(response, "meta", None) or {}
        source = meta.get("source")
        if not source:
            return
        exc = failure.value
        detail = f"{type(exc).__name__}: {exc}".splitlines()[0][:ERROR_CHARS]
        if meta.get("role") == "list":
            self.ctx.report(source).error(f"list page {meta.get('list_url', response.url)}: {detail}")
            return
        url = meta.get("article_url", response.url)
        self.ctx.report(source).error(f"{url}: {detail}")
        self.ctx.settle(source, url, ok=False)

    # -- list pages --------------------------------------------------------------------------

    async def parse_list(self, response):
        s = self.sources[response.meta["source"]]
        report = self.ctx.report(s.name)
        list_url = response.meta.get("list_url", response.url)
        cached = response.meta.get("list_cached") or {}
        body_hash = hashlib.sha1(response.body).hexdigest() if response.status != 304 else None
        if response.status == 304 or (body_hash and body_hash == cached.get("body_hash")):
            # unchanged (a server that ignores validators sends the same bytes: not parsed again);
            # a sitemap index's children are still asked, each with its own validators
            report.not_modified = True
            report.list_ok = True
            for request in self._child_sitemaps(s, response, cached.get("children") or []):
                yield request
            return
        try:
            entries = await self.ctx.run_extract.read_list(s, response.body, response.url, _ctype(response))
        except ListError as err:
            report.error(f"list page {response.url}: {err}")
            return
        report.list_ok = True
        report.lists_read += 1
        for note in getattr(entries, "notes", ()):
            report.note(f"list page {response.url}: {note}"[:ERROR_CHARS])
        if len(entries) > LIST_ENTRIES_MAX:     # a list of a million links would take the crawl's memory
            entries = entries[:LIST_ENTRIES_MAX]
            report.note(f"list page {response.url} names more than {LIST_ENTRIES_MAX:,} entries: the first "
                        f"{LIST_ENTRIES_MAX:,} read")
        children = [e.url for e in entries if e.extra.get("sitemap")]
        page = self.ctx.list_page(s.name, list_url, etag=_header(response, b"ETag"),
                                  last_modified=_header(response, b"Last-Modified"), body_hash=body_hash,
                                  children=children or None)
        page.found = len(entries)
        for request in self._child_sitemaps(s, response, children):
            yield request
        articles = [e for e in entries if not e.extra.get("sitemap")]
        report.found += len(articles)
        known = self.ctx.store.known_urls(s.name, [e.url for e in articles])
        unseen = [e.url for e in articles if e.url not in known]
        if known and not report.holds and self.ctx.is_baseline(s.name):
            # (known: stored, or skipped by this source: a baseline needs one the store holds)
            report.holds = any(self.ctx.store.has_url(u) for u in known)
        if len(unseen) > self.ctx.max_articles:     # over the cap: what nobody has seen first, a baseline's backlog last
            backlog = self.ctx.store.baseline_named(s.name, unseen)
            articles = sorted(articles, key=lambda e: e.url in backlog)
        for e in articles:
            if e.url in known:
                continue
            if not self.ctx.take(page, e.url):
                continue     # already asked in this crawl (another list page of the source), or deferred
            if e.body_html:
                # carried by the list itself: no download
                yield self._item(s, e, e.body_html.encode("utf-8"), "text/html; charset=utf-8", e.url)
                continue
            if not e.detail_url and urlsplit(e.url).fragment:
                # a single-page site's route (#/detail?id=7): the server never sees it, every such link would fetch
                # the same shell page — its text comes only from a json source's `detail` or `body`
                self.ctx.skip(s.name, e.url, "a single-page site's route (#/…): its text needs a json source's "
                                             "`detail` or `body`")
                continue
            # sites that gate GET behind a JavaScript check often answer POST (PBoC): articles go
            # the way the list went
            yield scrapy.Request(
                e.detail_url or e.url, method=s.method if not e.detail_url else "GET",
                callback=self.parse_article, errback=self.failed,
                meta={"role": "article", "source": s.name, "entry": e, "article_url": e.url,
                      "download_maxsize": s.max_size or self.ctx.max_size},
                headers={k: v for k, v in s.headers.items() if k.lower() in ("referer", "cookie")},
            )

    def _child_sitemaps(self, s, response, children: list[str]):
        """Requests for the sitemaps an index names: each at most once a run (an index naming itself, or indexes
        naming each other, end), at most `SITEMAP_DEPTH_MAX` levels under the source's url and
        `SITEMAP_CHILDREN_MAX` in all; a limit reached is one note of the run (what was read is processed)."""
        if not children:
            return
        asked = self._sitemaps.setdefault(s.name, {s.url})
        depth = response.meta.get("sitemap_depth", 0) + 1
        list_url = response.meta.get("list_url", response.url)
        for child in children:
            if child in asked:
                if child == list_url:
                    self._sitemap_note(s, "self", f"sitemap index {list_url} lists itself: skipped")
                continue
            if depth > SITEMAP_DEPTH_MAX:
                self._sitemap_note(s, "depth", f"sitemap index {list_url} is {depth - 1} levels of indexes under "
                                               f"{s.url}: the sitemaps it names not read (at most "
                                               f"{SITEMAP_DEPTH_MAX} levels are followed)")
                return
            if len(asked) > SITEMAP_CHILDREN_MAX:
                self._sitemap_note(s, "count", f"the sitemap indexes under {s.url} name more than "
                                               f"{SITEMAP_CHILDREN_MAX:,} sitemaps: the first {SITEMAP_CHILDREN_MAX:,} "
                                               "read, the rest not asked in this run")
                return
            asked.add(child)
            yield self._list_request(s, child, depth)

    def _sitemap_note(self, s, limit: str, message: str) -> None:
        if (s.name, limit) not in self._sitemap_noted:
            self._sitemap_noted.add((s.name, limit))
            self.ctx.report(s.name).note(message[:ERROR_CHARS])

    # -- articles ----------------------------------------------------------------------------

    def parse_article(self, response):
        s = self.sources[response.meta["source"]]
        e: Entry = response.meta["entry"]
        body, ctype = response.body, _ctype(response)
        if e.detail_url and s.kind == "json":
            try:
                html, title, when = detail_body(body, ctype, s)
            except ListError as err:
                self.ctx.report(s.name).error(f"{response.url}: {err}")
                self.ctx.settle(s.name, e.url, ok=False)
                return
            if html is not None:
                e.title = title or e.title
                e.published_at = parse_any_date(when, s.timezone()) or e.published_at
                body, ctype = html.encode("utf-8"), "text/html; charset=utf-8"
        item = self._item(s, e, body, ctype, e.url)
        if e.attachment_url:
            # the notice's document goes with it, whatever its path (`/pdf/get?file=7`): a PDF's text is read by the
            # classifier and search
            yield scrapy.Request(e.attachment_url, callback=self.parse_attachment, errback=self.attachment_failed,
                                 dont_filter=True, meta={"role": "attachment", "source": s.name, "item": item,
                                       "download_maxsize": s.max_size or self.ctx.max_size})
            return
        yield item

    def parse_attachment(self, response):
        """The attachment is read when it is a PDF (it starts as one does, whatever its Content-Type); anything
        else — a login or error page served as application/pdf too — is a note of the article's run, and the
        article goes on without it."""
        item = response.meta["item"]
        ctype = _ctype(response) or ""
        if b"%PDF-" in response.body[:1024]:
            item["attachment"] = response.body
        else:
            but = ", but no %PDF- header" if ctype.split(";")[0].strip().lower() == "application/pdf" else ""
            self.ctx.report(item["source"]).note(
                f"{item['url']}: its attachment {response.url} is not a PDF (Content-Type: {ctype or 'none'}{but}): "
                f"not read"[:ERROR_CHARS])
        yield item

    def attachment_failed(self, failure: Failure):
        """An attachment that cannot be had never costs the article: it goes on without it (noted in its run)."""
        request = failure.request  # type: ignore[attr-defined]   # (as in failed())
        item = request.meta["item"]
        self.ctx.report(item["source"]).note(
            f"{item['url']}: its attachment {_with_url(request.url, _failure_message(failure))}: not read"[:ERROR_CHARS])
        yield item

    def _item(self, s, e: Entry, body: bytes, ctype: str | None, url: str) -> dict:
        return {"source": s.name, "url": url, "body": body, "content_type": ctype, "entry": e}


def _asked(request: scrapy.Request) -> list[str]:
    """The URLs a request asked for: its redirects' hops, then its own."""
    return [*(request.meta.get("redirect_urls") or ()), request.url]


def _header(response, name: bytes) -> str | None:
    v = response.headers.get(name)
    return v.decode("latin-1") if v else None


def _ctype(response) -> str | None:
    return _header(response, b"Content-Type")
