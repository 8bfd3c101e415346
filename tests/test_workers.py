"""Extraction workers: as many as `crawl.workers` (by default the cores regwatch may use), started in the
background when a crawl first asks for an article, so that the event loop never waits for them."""

import asyncio
import os

from support.news import art, article_page

from regwatch.crawler.run import Extractor
from regwatch.service.app import App
from regwatch.service.config import load_config

TEXT = "监管部门要求持牌消费金融公司新发放贷款综合融资成本压降至20%以内，年化利率上限进一步下调。" * 4


def config(tmp_path, crawl: str = ""):
    p = tmp_path / "regwatch.toml"
    p.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n[crawl]\n{crawl}\n[[sources]]\nname = "a"\nkind = "feed"\n'
                 'url = "http://127.0.0.1:9/feed.xml"\n', encoding="utf-8")
    return load_config(p)


def test_the_crawl_has_as_many_extraction_workers_as_configured(tmp_path):
    app = App(config(tmp_path, "workers = 3"))
    try:
        assert app.extractor.workers == 3
    finally:
        app.close()
    app = App(config(tmp_path))
    try:
        assert app.extractor.workers == len(os.sched_getaffinity(0))
    finally:
        app.close()


def test_workers_start_in_the_background_and_then_extract():
    page = article_page(art("ok", "利率上限新规", TEXT)).body

    async def main():
        ex = Extractor(workers=2, timeout=60)
        try:
            ex.warm()                   # returns at once: the pool starts in a thread
            background = ex._pool is None and ex._starting is not None and not ex._starting.done()
            results = await asyncio.gather(*(ex({"body": page, "url": f"http://x/{i}"}) for i in range(4)))
            return background, results, len(ex._pool._processes)
        finally:
            ex.close()

    background, results, workers = asyncio.run(main())
    assert background
    assert all(r["ok"] and "综合融资成本" in r["body"] for r in results)
    assert workers == 2


def test_a_pool_still_starting_when_closed_is_stopped():
    async def main():
        ex = Extractor(workers=1, timeout=60)
        ex.warm()
        starting = ex._starting
        ex.close()                      # (run --once ending before its first article arrived)
        pool = await asyncio.wrap_future(starting)
        await asyncio.sleep(0.2)
        return pool

    pool = asyncio.run(main())
    assert pool._shutdown_thread
