"""The Scrapy item pipeline: hands each fetched article to `pipeline/` (extraction off the event loop,
storing in small batches)."""

from __future__ import annotations

import asyncio
from datetime import datetime

from scrapy.exceptions import DropItem

from ..defaults import ERROR_CHARS, EXTRACT_TIMEOUTS_PER_RUN, STORE_BATCH, STORE_BATCH_WAIT, TITLE_CHARS, too_slow
from ..pipeline.dates import parse_any_date, sane
from ..pipeline.normalize import clip, web_text
from ..pipeline.process import Incoming, Processed, Processor
from .middlewares import _CtxMixin


def _worker_time(value: str | None) -> datetime | None:
    """A time as the extraction worker wrote it (`isoformat()`, with its offset): read without a parser."""
    if not value:
        return None
    dt = datetime.fromisoformat(value)
    return sane(dt) if dt.tzinfo is not None else parse_any_date(value)


def _date_missed(report, selector: str, url: str) -> None:
    """The source's `[sources.extract] date` found no date on an article page (a redesign?): a note of its run,
    once (the page's own date was used instead)."""
    said = f"[sources.extract] date = {selector!r} found no date on"
    if not any(n.startswith(said) for n in report.notes):
        report.note(f"{said} {url} (and maybe others of this run): the page's own date is used; check the selector")


class Batch:
    """Articles extracted close together are stored together: one transaction for those that arrive
    within STORE_BATCH_WAIT of the first (at most STORE_BATCH). Storing runs on the event loop without
    awaiting anything, so no other task's writes ever share its transaction."""

    def __init__(self, processor: Processor):
        self.processor = processor
        self.pending: list[tuple[Incoming, asyncio.Future]] = []
        self.timer: asyncio.TimerHandle | None = None

    async def store(self, item: Incoming) -> Processed | None:
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        self.pending.append((item, fut))
        if len(self.pending) >= STORE_BATCH:
            self.flush()
        elif self.timer is None:
            self.timer = loop.call_later(STORE_BATCH_WAIT, self.flush)
        return await fut

    def flush(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        batch, self.pending = self.pending, []
        if not batch:
            return
        try:
            results = self.processor.process_many([item for item, _ in batch])
        except Exception as e:  # the transaction itself failed (the store): every article of it did
            results = [e] * len(batch)
        for (_, fut), result in zip(batch, results, strict=True):
            if fut.done():          # its task was cancelled (a stop): the article is stored all the same
                continue
            if isinstance(result, Exception):
                fut.set_exception(result)
            else:
                fut.set_result(result)


class ProcessPipeline(_CtxMixin):
    def __init__(self, ctx):
        super().__init__(ctx)
        self.batch: Batch | None = None

    async def process_item(self, item):
        ctx = self.ctx
        source = ctx.sources[item["source"]]
        report = ctx.report(source.name)
        entry = item["entry"]
        attachment: dict = {"text": ""}
        if item.get("attachment"):
            # a job of its own, before the page's (whose reading takes its text): one slow to read, or unreadable,
            # costs only its text, never the article
            attachment = await ctx.run_extract.read_attachment(item["attachment"])
            if attachment.get("lost"):
                report.error(f"{item['url']}: {attachment['lost']}"[:ERROR_CHARS])
                raise DropItem(attachment["lost"])
            if attachment.get("timed_out") and not ctx.store.attachment_timed_out(source.name, item["url"],
                                                                                   attachment["note"]):
                # the limit is wall-clock (a busy machine, or a wait behind other slow jobs): the first time, the
                # article is not stored but fetched again next run, as one the crawl stopped before; the second, it
                # is stored without the attachment's text (the note below)
                from ..pipeline.extract import attachment_retried

                retried = attachment_retried(ctx.run_extract.timeout)
                report.note(f"{item['url']}: {retried}"[:ERROR_CHARS])
                ctx.try_next_run(item["url"], retried)
                raise DropItem(retried)
        job = {"body": item["body"], "url": item["url"], "content_type": item["content_type"],
               "tz": source.timezone(), "overrides": source.extract.model_dump(exclude_none=True),
               "encoding": source.encoding, "list_title": entry.title, "attachment_text": attachment["text"]}
        async with ctx.extract_turns(source.name):
            if ctx.extract_timeouts[source.name] >= EXTRACT_TIMEOUTS_PER_RUN:
                # its pages too slow to read hold no other source's: the rest wait for the next run, unread
                waits = (f"not read: {EXTRACT_TIMEOUTS_PER_RUN} of this source's pages' extraction "
                         f"{too_slow(ctx.run_extract.timeout, 'extract_timeout')} in this run; tried again next run")
                report.note(waits)
                ctx.try_next_run(item["url"], waits)
                raise DropItem(waits)
            result = await ctx.run_extract(job)
        if result.get("timed_out"):
            ctx.extract_timeouts[source.name] += 1
        if not result["ok"]:
            report.error(f"{item['url']}: {result['error']}")
            raise DropItem(result["error"])
        if attachment.get("error"):      # the article is stored, its attachment's text is not
            report.error(f"{item['url']}: its attachment {entry.attachment_url}: {attachment['error']}"
                         [:ERROR_CHARS])
        elif attachment.get("note"):
            report.note(f"{item['url']}: its attachment {entry.attachment_url}: {attachment['note']}"
                        [:ERROR_CHARS])
        if result.get("date_missed"):
            _date_missed(report, source.extract.date, item["url"])
        published = _worker_time(result["published_at"])
        if published is None or (result.get("date_from") in ("text", "yearless") and entry.published_at):
            # a date found only in the headline or the text, or one without its year, is never better than the list's
            published = entry.published_at or published
        title = result["title"] or clip(web_text(entry.title or "").strip(), TITLE_CHARS)
        baseline = ctx.is_baseline(source.name, item["url"])

        def queue_alerts(done) -> tuple[int, str | None]:
            """The outbox write, in the article's transaction: (alerts queued, why none may be)."""
            return ctx.on_new(done, source.name, title, result["body"], published, baseline)

        if self.batch is None:
            self.batch = Batch(ctx.processor)
        done = await self.batch.store(Incoming(
            url=item["url"], source=source.name, title=title, body=result["body"],
            lang=source.lang or result["lang"], published_at=published, outlet=result.get("outlet") or None,
            attachment_url=entry.attachment_url, attachment_text=result.get("attachment_text") or "",
            baseline=baseline, after=queue_alerts, reading=result.get("reading")))
        if done is not None:      # committed: counted now (a batch undone and stored again counts once)
            report.new += 1
            queued, held = done.outcome
            ctx.queued += queued
            report.too_old += held == "too old"
            ctx.wake()
        return {"url": item["url"], "source": source.name}
