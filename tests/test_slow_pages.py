"""A source whose pages each take longer than `extract_timeout` to read costs the extraction workers at most
EXTRACT_TIMEOUTS_PER_RUN timeouts a run (its other pages wait for the next run, unread: a note), and the sources
take turns for the workers: one source's pages handed over first never hold every other source's behind them."""

from __future__ import annotations

import asyncio
import json
import random
import sqlite3

from support.config import write_config
from support.news import art, feed, feed_source
from support.news import article_page as page
from support.servers import Page

from regwatch.crawler.run import TakeTurns
from regwatch.defaults import EXTRACT_TIMEOUTS_PER_RUN

TEXT = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调，部分高定价产品暂停发放。"
SLOW = 6


def big_page(n: int) -> Page:
    """~3.6 MB of distinct Chinese text: ~8 s of a worker (extraction and reading) here, well over a 3 s limit."""
    r = random.Random(n)
    paras = "".join("<p>" + "".join(chr(r.randrange(0x4E00, 0x9FA5)) for _ in range(2000)) + "。</p>" for _ in range(600))
    return Page(f"<html><head><title>大文{n}</title></head><body><h1>大文{n}</h1><div>{paras}</div></body></html>".encode())


def test_a_source_of_pages_too_slow_to_read_costs_a_few_timeouts_a_run_not_one_per_page(tmp_path, site, rw):
    site.pages["/big/list.html"] = Page(("<html><body><ul>" + "".join(
        f'<li><a href="/big/{i}.html">n{i}</a></li>' for i in range(SLOW)) + "</ul></body></html>").encode())
    for i in range(SLOW):
        site.pages[f"/big/{i}.html"] = big_page(i)
    arts = [art(f"s{i}", f"利率上限新规{i}", TEXT + f"编号{i}。", 5) for i in range(3)]
    site.pages["/feed.xml"] = feed(site, arts)
    for a in arts:
        site.pages[f"/a/{a['id']}.html"] = page(a)
    cfg = write_config(tmp_path, crawl={"extract_timeout": "3s", "workers": 2}, sources=[
        {"name": "big", "kind": "listing", "url": f"{site.url}/big/list.html", "links": "ul a"}, feed_source(site)])

    for _ in range(2):          # and so again next run: the pages left unread are asked again
        site.log.clear()
        r = rw("run", "--once", "-c", cfg, timeout=300)
        assert "Traceback" not in r.stderr, r.stderr[-2000:]
        rows = {x["source"]: x for x in map(json.loads, rw("sources", "--json", "-c", cfg).stdout.splitlines())}
        message = rows["big"]["last_message"] or ""
        # its errors are its timeouts, the budget's (and, two workers reading its pages at once, one more at most);
        # the pages left unread are no errors (a note): no "(and N more)"
        timeouts = message.count("extraction took longer than 3 s (the limit: extract_timeout)")
        assert EXTRACT_TIMEOUTS_PER_RUN <= timeouts <= EXTRACT_TIMEOUTS_PER_RUN + 1, message
        assert len(message.split("; ")) == timeouts and "more)" not in message, message
        assert sum(q["path"].startswith("/big/") and q["path"] != "/big/list.html" for q in site.log) == SLOW
    with sqlite3.connect(tmp_path / "rw.db") as c:
        stored = {s: n for s, n in c.execute("SELECT source, count(*) FROM articles GROUP BY source")}
    assert stored == {"feed": 3}, (stored, rows["feed"]["last_message"])


def test_sources_take_turns_for_the_workers():
    """Ten jobs of one source asked for first, then two of another: the other's go next, not after all ten."""
    async def main() -> list[str]:
        turns, order = TakeTurns(2), []

        async def job(source: str, i: int) -> None:
            async with turns(source):
                order.append(f"{source}{i}")
                await asyncio.sleep(0.01)

        tasks = [asyncio.create_task(job("slow", i)) for i in range(10)]
        await asyncio.sleep(0)
        tasks += [asyncio.create_task(job("other", i)) for i in range(2)]
        await asyncio.gather(*tasks)
        return order

    order = asyncio.run(main())
    assert sorted(order) == sorted([f"slow{i}" for i in range(10)] + ["other0", "other1"])
    assert order.index("other1") <= 5, order      # two slots: after the two first, the sources alternate


def test_a_job_cancelled_while_it_waits_gives_up_its_turn():
    async def main() -> int:
        turns = TakeTurns(1)
        await turns.acquire("a")
        waiting = asyncio.create_task(turns.acquire("b"))
        await asyncio.sleep(0)
        waiting.cancel()
        await asyncio.gather(waiting, return_exceptions=True)
        turns.release()
        await asyncio.wait_for(turns.acquire("c"), 5)     # the slot is free again, not given to the cancelled one
        return turns.free

    assert asyncio.run(main()) == 0
