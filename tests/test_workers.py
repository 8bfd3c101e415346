"""Extraction workers: as many as `crawl.workers` (by default the cores regwatch may use), started in the
background when a crawl first asks for an article, so that the event loop never waits for them."""

import asyncio
import json
import os
import subprocess
import sys

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


EXTRACT_ONE = """
import asyncio, json, sys
from regwatch.crawler.run import Extractor

async def main():
    ex = Extractor(workers=1, timeout=60)
    try:
        return await ex({"body": sys.stdin.buffer.read(), "url": "http://x/1"})
    finally:
        ex.close()

print(json.dumps(asyncio.run(main()), default=str))
"""


def test_workers_start_under_a_long_tmpdir(tmp_path):
    # multiprocessing makes the forkserver's socket in TMPDIR: one of ~90 characters and more made that socket's
    # path too long for Linux, and every extraction failed ("AF_UNIX path too long")
    tmp = tmp_path / ("t" * max(1, 120 - len(str(tmp_path))))
    tmp.mkdir()
    assert len(str(tmp)) >= 120
    page = article_page(art("ok", "利率上限新规", TEXT)).body
    r = subprocess.run([sys.executable, "-c", EXTRACT_ONE], input=page, capture_output=True, timeout=120,
                       env={**os.environ, "TMPDIR": str(tmp)})
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    got = json.loads(r.stdout)
    assert got["ok"] and "综合融资成本" in got["body"], got
    assert b"Traceback" not in r.stderr, r.stderr.decode()[-2000:]
    assert list(tmp.iterdir()) == []            # (nothing of multiprocessing's left in it either)


def test_workers_that_cannot_start_are_each_article_s_one_line(tmp_path):
    # the socket's folder chosen before regwatch could (multiprocessing's own, too long): each article says why it
    # was not read, in one line, and the run goes on (it was an OSError traceback out of the crawl)
    tmp = tmp_path / ("t" * max(1, 120 - len(str(tmp_path))))
    tmp.mkdir()
    script = EXTRACT_ONE.replace("async def main", f"import multiprocessing\n"
                                 f"multiprocessing.current_process()._config['tempdir'] = {str(tmp)!r}\n"
                                 "async def main")
    page = article_page(art("ok", "利率上限新规", TEXT)).body
    r = subprocess.run([sys.executable, "-c", script], input=page, capture_output=True, timeout=120)
    assert r.returncode == 0, r.stderr.decode()[-2000:]
    got = json.loads(r.stdout)
    assert not got["ok"] and got["error"] == ("extraction could not be done: the extraction workers could not "
                                              "start (AF_UNIX path too long)"), got


MODULES_AFTER_RUN = """
import json, sys
from regwatch.service.cli import main
try:
    main(["run", "--once", "-c", sys.argv[1]])
except SystemExit as e:
    assert not e.code, e.code
print(json.dumps({m: m in sys.modules for m in ("trafilatura", "aiohttp", "scrapy.extensions.telnet")}))
"""


def test_the_main_process_hands_pages_over_without_loading_extraction(tmp_path, site, receiver, rw):
    """`run` reads list pages and stores articles; reading an article page is the workers'. Its process never
    imports trafilatura (~0.26 s of every run's start-up), nor a Scrapy extension regwatch does not use (the
    remote console imports aiohttp) — while a new article is extracted, tagged, stored and alerted."""
    import json
    import subprocess
    import sys

    from support.news import feed, feed_to_webhook_config

    rules = ("监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调，部分高定价产品暂停发放。"
             "各机构须在年底前完成整改，新发放贷款的年化利率不得超过24%。")
    old, new = art("old", "旧闻", TEXT, 600), art("new", "消费金融公司综合融资成本压降至20%以内", rules * 2, 5)
    site.pages["/a/old.html"], site.pages["/a/new.html"] = article_page(old), article_page(new)
    site.pages["/feed.xml"] = feed(site, [old])
    cfg = feed_to_webhook_config(tmp_path, site, receiver, extra='[alerts]\nonce_wait = "10s"\n')
    assert rw("run", "--once", "-c", cfg).returncode == 0        # the baseline
    site.pages["/feed.xml"] = feed(site, [new, old])
    done = subprocess.run([sys.executable, "-c", MODULES_AFTER_RUN, str(cfg)], capture_output=True, text=True,
                          timeout=180)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == {
        "trafilatura": False, "aiohttp": False, "scrapy.extensions.telnet": False}
    assert len(receiver.delivered("gw")) == 1, done.stdout + done.stderr      # the new article was read (in a worker) and alerted



WORKER_IMPORTS = """
import json, sys
for m in sys.argv[1:]:
    __import__(m)
print(json.dumps(sorted(k for k in sys.modules if k.startswith("regwatch.pipeline.store") or k == "sqlite_utils")))
"""


def test_the_workers_never_import_the_store():
    """What the workers' forkserver imports (the command's module, and what a worker runs: extracting and reading a
    page) holds nothing of the store: a worker never touches it, and its import (sqlite_utils: ~0.15 s of CPU at
    every run's start) bought nothing."""
    from regwatch.crawler.run import extract_in_worker, start_worker

    modules = Extractor(preload=("regwatch.service.cli",)).worker_modules()
    assert {extract_in_worker.__module__, start_worker.__module__} <= set(modules)
    done = subprocess.run([sys.executable, "-c", WORKER_IMPORTS, *modules], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout.strip().splitlines()[-1]) == []
