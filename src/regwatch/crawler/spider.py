"""One spider for every due source: list pages → new article URLs → article items.

All due sources share one crawl (and so one set of per-domain politeness slots); each source's
kind only decides how its list page is read (`kinds/`).
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, AsyncIterator

import scrapy
from scrapy.exceptions import IgnoreRequest
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure

from ..pipeline.dates import parse_any_date
from .kinds import Entry, ListError
from .kinds.jsonapi import detail_body


def _failure_message(failure: Failure) -> str:
    exc = failure.value
    if isinstance(exc, HttpError):
        return f"HTTP {exc.response.status} from {exc.response.url}"
    text = str(exc) or type(exc).__name__
    return text.splitlines()[0][:300]


class SourcesSpider(scrapy.Spider):
    name = "regwatch"
    custom_settings: dict[str, Any] = {}

    def __init__(self, sources, ctx, **kw):
        super().__init__(**kw)
        self.sources = {s.name: s for s in sources}
        self.ctx = ctx

    async def start(self) -> AsyncIterator[scrapy.Request]:
        for s in self.sources.values():
            self.ctx.report(s.name)
            yield self._list_request(s, s.url)

    def _list_request(self, s, url: str) -> scrapy.Request:
        headers = dict(s.headers)
        meta = {"role": "list", "source": s.name, "handle_httpstatus_list": [304],
                "download_maxsize": s.max_size or self.ctx.max_size}
        if s.method == "POST":
            return scrapy.FormRequest(url, formdata=s.form or {}, headers=headers, meta=meta,
                                      callback=self.parse_list, errback=self.failed, dont_filter=True)
        return scrapy.Request(url, headers=headers, meta=meta, callback=self.parse_list,
                              errback=self.failed, dont_filter=True)

    def failed(self, failure: Failure) -> None:
        request = failure.request
        source = request.meta.get("source")
        msg = _failure_message(failure)
        if not source or (isinstance(failure.value, IgnoreRequest) and "already stored" in msg):
            return
        report = self.ctx.report(source)
        report.error(msg if request.meta.get("role") != "list" else f"list page: {msg}")
        if isinstance(failure.value, HttpError):
            report.status(failure.value.response.status)

    async def parse_list(self, response):
        s = self.sources[response.meta["source"]]
        report = self.ctx.report(s.name)
        if response.status == 304:
            report.not_modified = True
            report.list_ok = True
            return
        try:
            entries = await self.ctx.run_extract.read_list(s, response.body, response.url, _ctype(response))
        except ListError as e:
            report.error(f"list page {response.url}: {e}")
            return
        report.list_ok = True
        report.found += len(entries)
        if not entries:
            report.empty = True
        else:
            self.ctx.pending_cache[s.name] = (
                response.url, _header(response, b"ETag"), _header(response, b"Last-Modified"),
                hashlib.sha1(response.body).hexdigest())
        for e in entries[: self.ctx.max_articles]:
            if e.extra.get("sitemap"):
                yield self._list_request(s, e.url)
                continue
            if e.body_html:
                # carried by the list itself: no download, so the seen-URL middleware never sees it
                if self.ctx.store.has_url(e.url):
                    continue
                yield self._item(s, e, e.body_html.encode("utf-8"), "text/html; charset=utf-8", e.url)
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

    def parse_article(self, response):
        s = self.sources[response.meta["source"]]
        e: Entry = response.meta["entry"]
        body, ctype = response.body, _ctype(response)
        if e.detail_url and s.kind == "json":
            try:
                html, title, when = detail_body(body, ctype, s)
            except ListError as err:
                self.ctx.report(s.name).error(f"{response.url}: {err}")
                return
            if html is not None:
                e.title = title or e.title
                e.published_at = parse_any_date(when, s.timezone()) or e.published_at
                body, ctype = html.encode("utf-8"), "text/html; charset=utf-8"
        item = self._item(s, e, body, ctype, e.url)
        if e.attachment_url and e.attachment_url.lower().split("?")[0].endswith(".pdf"):
            # the notice's PDF goes with it (the classifier and search read its text)
            yield scrapy.Request(e.attachment_url, callback=self.parse_attachment, errback=self.attachment_failed,
                                 dont_filter=True, meta={"role": "attachment", "source": s.name, "item": item,
                                       "download_maxsize": s.max_size or self.ctx.max_size})
            return
        yield item

    def parse_attachment(self, response):
        item = response.meta["item"]
        item["attachment"] = response.body
        yield item

    def attachment_failed(self, failure: Failure):
        """An attachment that cannot be had never costs the article: it goes on without it."""
        yield failure.request.meta["item"]

    def _item(self, s, e: Entry, body: bytes, ctype: str | None, url: str) -> dict:
        return {"source": s.name, "url": url, "body": body, "content_type": ctype, "entry": e}


def _header(response, name: bytes) -> str | None:
    v = response.headers.get(name)
    return v.decode("latin-1") if v else None


def _ctype(response) -> str | None:
    return _header(response, b"Content-Type")
