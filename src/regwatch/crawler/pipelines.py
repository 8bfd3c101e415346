"""The Scrapy item pipeline: hands each fetched article to `pipeline/` (extraction off the event loop)."""

from __future__ import annotations

from scrapy.exceptions import DropItem

from ..pipeline.dates import parse_any_date, too_old
from .middlewares import _CtxMixin


class ProcessPipeline(_CtxMixin):
    async def process_item(self, item):
        ctx = self.ctx
        source = ctx.sources[item["source"]]
        report = ctx.report(source.name)
        entry = item["entry"]
        job = {"body": item["body"], "url": item["url"], "content_type": item["content_type"],
               "tz": source.timezone(), "overrides": source.extract.model_dump(exclude_none=True),
               "encoding": source.encoding, "list_title": entry.title, "attachment": item.get("attachment")}
        result = await ctx.run_extract(job)
        if not result["ok"]:
            report.error(f"{item['url']}: {result['error']}")
            raise DropItem(result["error"])
        published = parse_any_date(result["published_at"]) if result["published_at"] else None
        if published is None or (result.get("date_from") == "text" and entry.published_at):
            # a date found only in the headline or the text is never better than the list's
            published = entry.published_at or published
        title = result["title"] or entry.title or ""
        baseline = ctx.is_baseline(source.name, item["url"])

        def queue_alerts(done):
            if baseline:
                return
            if too_old(published, ctx.max_age):
                report.too_old += 1
            elif ctx.on_new is not None:
                ctx.queued += ctx.on_new(done, source.name, title, result["body"], published)

        done = ctx.processor.process(
            url=item["url"], source=source.name, title=title, body=result["body"],
            lang=source.lang or result["lang"], published_at=published, outlet=result.get("outlet") or None,
            attachment_url=entry.attachment_url, attachment_text=result.get("attachment_text") or "",
            baseline=baseline, after=queue_alerts)
        if done is not None:
            report.new += 1
            ctx.wake()
        return {"url": item["url"], "source": source.name}
