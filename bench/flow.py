"""The flow where users feel it: quiet cycles, a burst, memory over many cycles, alert latency.

    .venv/bin/python bench/flow.py [--quick]

Everything runs on 127.0.0.1 against the test suite's local news site and webhook receiver, with
the real `regwatch` command. Each measure has its baseline in the same run:
  quiet:   N unchanged feeds (304) per `run --once` (the median of three runs), against a naive poller
           (httpx GET + feedparser); the marginal cost of a quiet source is from 1 to 100 feeds
  burst:   1,000 new real article pages (heavy: GNE and CWCE pages) through the whole flow, against
           trafilatura alone on the same pages
  light:   400 new short news pages (1–3 KB of text each: the eval set's articles on the local site's
           article template) through the whole flow with 1 and with 2 extraction workers, against
           trafilatura alone on the same pages (in one process, and in as many as the workers) and
           Scrapy alone fetching them (the same reactor and concurrency, a spider that keeps nothing);
           the main process's and the workers' CPU per article
  memory:  the daemon's RSS after 10 cycles and after many
  latency: publication → webhook receipt with a feed polled every 5 s
The local site is one host, so these runs set per_domain = 16 and delay = 0 (politeness toward real
sites stays the default).
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import random
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
from support.news import art, article_page, feed  # noqa: E402
from support.servers import Page, Receiver, Site  # noqa: E402

REGWATCH = str(Path(sys.executable).parent / "regwatch")
DATA = ROOT / "bench" / "data"


def run(args, cwd, env=None, timeout=900):
    t0 = time.time()
    c0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    r = subprocess.run([REGWATCH, *map(str, args)], cwd=cwd, capture_output=True, text=True, timeout=timeout,
                       env=dict(os.environ, **(env or {})))
    c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if r.returncode:
        raise SystemExit(f"regwatch {' '.join(map(str, args))} failed: {r.stderr[-800:]}")
    return time.time() - t0, (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)


def _cpu(pid: int) -> float:
    """utime + stime of one process, in seconds (from /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def run_sampled(args, cwd, timeout=900) -> dict:
    """`regwatch args` with its CPU split: the main process (sampled every 10 ms until it exits) and
    the rest of its process tree (the extraction workers: their last samples)."""
    t0 = time.time()
    p = subprocess.Popen([REGWATCH, *map(str, args)], cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    main, rest = 0.0, {}
    while p.poll() is None and time.time() - t0 < timeout:
        try:
            main = _cpu(p.pid)
            for k in children(p.pid):
                rest[k] = _cpu(k)
        except (OSError, IndexError):
            pass
        time.sleep(0.01)
    out, err = p.communicate()
    wall = time.time() - t0
    if p.returncode:
        raise SystemExit(f"regwatch {' '.join(map(str, args))} failed: {err.decode()[-800:]}")
    return {"wall": wall, "main_cpu": main, "workers_cpu": sum(rest.values())}


def config(work: Path, sources: str, extra: str = "", crawl: str = "") -> Path:
    p = work / "regwatch.toml"
    p.write_text(f'[store]\npath = "{work}/rw.db"\n[crawl]\ndelay = "0s"\nper_domain = 16\nconcurrency = 32\n'
                 f'max_articles_per_source = 1000\nmax_article_age = "3650d"\n{crawl}\n{extra}\n{sources}', encoding="utf-8")
    return p


def quiet(n: int) -> dict:
    site = Site()
    try:
        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            one = art("shared", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长，净利润保持稳定。", 60)
            site.pages["/a/shared.html"] = article_page(one)
            for i in range(n):
                site.pages[f"/feed/{i}.xml"] = feed(site, [one])
            cfg = config(work, "".join(f'[[sources]]\nname = "f{i}"\nkind = "feed"\nurl = "{site.url}/feed/{i}.xml"\n'
                                       for i in range(n)))
            run(["run", "--once", "-c", cfg], work)                      # baseline: stores, validators saved
            log0 = len(site.log)
            runs = [run(["run", "--once", "-c", cfg], work) for _ in range(3)]   # quiet: every list answers 304
            wall, cpu = statistics.median(r[0] for r in runs), statistics.median(r[1] for r in runs)
            quiet_requests = site.log[log0:log0 + (len(site.log) - log0) // 3]
            n304 = sum(1 for r in quiet_requests if r["status"] == 304)
            list_bytes = sum(len(site.pages[r["path"]].body) for r in quiet_requests
                             if r["status"] == 200 and r["path"].startswith("/feed/"))
            # the baseline poller: what a script without conditional requests does each time
            import feedparser
            import httpx
            t0 = time.time()
            c0 = time.process_time()
            nbytes = 0
            with httpx.Client() as client:
                for i in range(n):
                    body = client.get(f"{site.url}/feed/{i}.xml").content
                    nbytes += len(body)
                    feedparser.parse(body)
            naive_wall, naive_cpu = time.time() - t0, time.process_time() - c0
    finally:
        site.stop()
    return {"sources": n, "wall_s": round(wall, 2), "cpu_s": round(cpu, 2), "list_304": n304,
            "list_bytes": list_bytes, "naive_wall_s": round(naive_wall, 2), "naive_cpu_s": round(naive_cpu, 2),
            "naive_bytes": nbytes}


def real_pages() -> list[bytes]:
    pages = [gzip.decompress(p.read_bytes()) for p in sorted((DATA / "gne-test-pages" / "tests").rglob("*.html.gz"))]
    pages += [p.read_bytes() for p in sorted((DATA / "chinese-web-content-extraction" / "original").glob("*.html"))]
    return pages


def burst(n: int) -> dict:
    import logging

    import trafilatura
    logging.disable(logging.WARNING)
    pages = real_pages()
    bodies = [pages[i % len(pages)].replace(b"</body>", f"<p>unique {i}</p></body>".encode(), 1) for i in range(n)]
    site = Site()
    receiver = Receiver()
    receiver.routes["gw"] = {"type": "webhook"}
    try:
        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            arts = [art(f"b{i}", f"第{i}篇", "x", 5) for i in range(n)]
            for i in range(n):
                site.pages[f"/a/b{i}.html"] = Page(bodies[i], ctype="text/html")
            old = art("old", "银行发布年度报告", "某银行发布年度报告，营业收入同比增长。", 60)
            site.pages["/a/old.html"] = article_page(old)
            site.pages["/feed.xml"] = feed(site, [old])
            cfg = config(work, f'[[sources]]\nname = "burst"\nkind = "feed"\nurl = "{site.url}/feed.xml"\n',
                         f'[[channels]]\nname = "gw"\ntype = "webhook"\nurl = "{receiver.url}/gw"\n'
                         '[[subscriptions]]\nname = "all"\ntopics = ["*"]\nchannels = ["gw"]\n[alerts]\nonce_wait = "0s"\n')
            run(["run", "--once", "-c", cfg], work)                      # the baseline: one old article
            site.pages["/feed.xml"] = feed(site, [*arts, old])
            wall, cpu = run(["run", "--once", "-c", cfg], work)
            import sqlite3
            db = sqlite3.connect(work / "rw.db")
            stored = db.execute("SELECT count(*) FROM articles").fetchone()[0]
            queued = db.execute("SELECT count(*) FROM alerts").fetchone()[0]
            t0 = time.time()
            for b in bodies:
                trafilatura.extract(b)
            bare = time.time() - t0
    finally:
        site.stop()
        receiver.stop()
    return {"articles": n, "stored": stored - 1, "alerts_queued": queued, "flow_wall_s": round(wall, 1),
            "flow_cpu_s": round(cpu, 1), "trafilatura_alone_s": round(bare, 1), "ratio": round(wall / bare, 2)}


def light_articles(n: int) -> list[dict]:
    """n short news articles: the eval set's articles of 1–3 KB of text, in turn — the test split's first (the
    shipped model never trained on them: its screen is surer of the articles it learned from, which would
    flatter the learned stage's cost) —; past the set's end, each again as a reprint (a 转载 headline, a credit
    line: a copy that joins its story)."""
    items = [json.loads(line) for f in ("test.jsonl", "dev.jsonl")
             for line in (ROOT / "eval" / f).read_text(encoding="utf-8").splitlines() if line.strip()]
    items = [it for it in items if 1024 <= len(it["text"].encode()) <= 3072]
    out = []
    for i in range(n):
        it = items[i % len(items)]
        title, text = it["title"], it["text"]
        if i >= len(items):
            title, text = f"转载：{title}", f"{text}\n（本文转载自财经网，第{i}号）"
        out.append(art(f"s{i}", title, text, 30))
    return out


def _bare_extract(body: bytes) -> None:
    import trafilatura
    trafilatura.extract(body)


def bare_trafilatura(bodies: list[bytes], processes: int) -> float:
    """Seconds trafilatura alone takes on these pages, in as many processes (started and warm first)."""
    import logging
    import multiprocessing

    import trafilatura
    logging.disable(logging.WARNING)
    if processes == 1:
        trafilatura.extract(bodies[0])
        t0 = time.time()
        for b in bodies:
            trafilatura.extract(b)
        return time.time() - t0
    with multiprocessing.get_context("forkserver").Pool(processes) as pool:
        pool.map(_bare_extract, bodies[:processes * 2], chunksize=1)
        t0 = time.time()
        pool.map(_bare_extract, bodies, chunksize=4)
        return time.time() - t0


BARE_SCRAPY = """
import json, sys
import scrapy
from scrapy.crawler import CrawlerProcess
urls = json.loads(sys.argv[1])
class Bare(scrapy.Spider):
    name = "bare"
    async def start(self):
        for u in urls:
            yield scrapy.Request(u, callback=self.parse)
    def parse(self, response):
        return None
p = CrawlerProcess({"LOG_ENABLED": False, "CONCURRENT_REQUESTS": 32, "CONCURRENT_REQUESTS_PER_DOMAIN": 16,
                    "DOWNLOAD_DELAY": 0, "ROBOTSTXT_OBEY": False, "TELNETCONSOLE_ENABLED": False,
                    "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor"})
p.crawl(Bare)
p.start()
"""


def bare_scrapy(urls: list[str]) -> float:
    """Seconds Scrapy alone (the same reactor and concurrency as regwatch's crawls, a spider that keeps
    nothing) spends fetching these pages, and its CPU ms per page: a run over all of them less a run over
    the first one."""
    def once(some: list[str]) -> tuple[float, float]:
        t0, c0 = time.time(), resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run([sys.executable, "-c", BARE_SCRAPY, json.dumps(some)], check=True, capture_output=True,
                       timeout=900)
        c1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        return time.time() - t0, (c1.ru_utime - c0.ru_utime) + (c1.ru_stime - c0.ru_stime)
    (wall, cpu), (wall1, cpu1) = once(urls), once(urls[:1])
    return max(0.0, wall - wall1), max(0.0, cpu - cpu1) / len(urls) * 1000


def light_burst(n: int, workers: int, reps: int = 3) -> dict:
    """n new short articles in one `run --once`: the burst's own cost (its wall time less that of the same
    run with nothing new) against trafilatura alone on the same pages, in one process and in as many as
    the workers; the median of `reps` runs of each (a fresh store each time)."""
    arts = light_articles(n)
    bodies = [article_page(a).body for a in arts]
    runs = []
    for _ in range(reps):
        site = Site()
        receiver = Receiver()
        receiver.routes["gw"] = {"type": "webhook"}
        try:
            with tempfile.TemporaryDirectory() as d:
                work = Path(d)
                for a in arts:
                    site.pages[f"/a/{a['id']}.html"] = article_page(a)
                old = art("old", "银行发布年度报告", "某银行发布年度报告，营业收入同比增长。", 60)
                site.pages["/a/old.html"] = article_page(old)
                site.pages["/feed.xml"] = feed(site, [old])
                cfg = config(work, f'[[sources]]\nname = "light"\nkind = "feed"\nurl = "{site.url}/feed.xml"\n',
                             f'[[channels]]\nname = "gw"\ntype = "webhook"\nurl = "{receiver.url}/gw"\n'
                             '[[subscriptions]]\nname = "all"\ntopics = ["*"]\nchannels = ["gw"]\n[alerts]\nonce_wait = "0s"\n',
                             crawl=f"workers = {workers}")
                run(["run", "--once", "-c", cfg], work)                  # the baseline: one old article
                idle = run_sampled(["run", "--once", "-c", cfg], work)    # the same run, nothing new
                site.pages["/feed.xml"] = feed(site, [*arts, old])
                busy = run_sampled(["run", "--once", "-c", cfg], work)
                import sqlite3
                db = sqlite3.connect(work / "rw.db")
                counts = [db.execute(f"SELECT count(*) FROM {t}").fetchone()[0] for t in ("articles", "stories", "alerts")]
                db.close()
                scrapy_s, scrapy_cpu = bare_scrapy([f"{site.url}/a/{a['id']}.html" for a in arts])
        finally:
            site.stop()
            receiver.stop()
        runs.append({"burst": busy["wall"] - idle["wall"], "wall": busy["wall"], "idle": idle["wall"],
                     "main": (busy["main_cpu"] - idle["main_cpu"]) / n * 1000, "workers": busy["workers_cpu"] / n * 1000,
                     "one": bare_trafilatura(bodies, 1), "same": bare_trafilatura(bodies, workers),
                     "scrapy": scrapy_s, "scrapy_cpu": scrapy_cpu, "counts": counts})
    med = {k: statistics.median(r[k] for r in runs)
           for k in ("burst", "wall", "idle", "main", "workers", "one", "same", "scrapy", "scrapy_cpu")}
    stored, stories, queued = runs[-1]["counts"]
    return {"articles": n, "workers": workers, "runs": reps, "stored": stored - 1, "stories": stories - 1,
            "alerts_queued": queued, "text_kb": round(sum(len(a["text"].encode()) for a in arts) / n / 1024, 2),
            "run_wall_s": round(med["wall"], 2), "idle_run_wall_s": round(med["idle"], 2),
            "burst_s": round(med["burst"], 2), "articles_per_s": round(n / med["burst"]),
            "main_cpu_ms_per_article": round(med["main"], 2), "workers_cpu_ms_per_article": round(med["workers"], 2),
            "trafilatura_1_process_s": round(med["one"], 2), "trafilatura_pages_per_s": round(n / med["one"]),
            f"trafilatura_{workers}_processes_s": round(med["same"], 2),
            "ratio": round(med["burst"] / med["one"], 2), "ratio_same_processes": round(med["burst"] / med["same"], 2),
            "scrapy_alone_fetch_s": round(med["scrapy"], 2), "scrapy_alone_ratio": round(med["scrapy"] / med["one"], 2),
            "scrapy_alone_cpu_ms_per_page": round(med["scrapy_cpu"], 2)}


PROFILED = """
import cProfile, sys, time
from regwatch.service.cli import main
p = cProfile.Profile(time.thread_time)
p.enable()
try:
    main(sys.argv[2:])
except SystemExit:
    pass
finally:
    p.disable()
    p.dump_stats(sys.argv[1])
"""


def main_process_profile(n: int, workers: int = 2) -> dict:
    """Where the main process's CPU goes in a light burst: one `run --once` of it under cProfile (the main
    thread's CPU time; the profiler's own cost inflates Python-heavy parts, so these are shares, not times),
    each part as ms per article of the measured main-process CPU."""
    import pstats

    arts = light_articles(n)
    site = Site()
    receiver = Receiver()
    receiver.routes["gw"] = {"type": "webhook"}
    try:
        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            for a in arts:
                site.pages[f"/a/{a['id']}.html"] = article_page(a)
            old = art("old", "银行发布年度报告", "某银行发布年度报告，营业收入同比增长。", 60)
            site.pages["/a/old.html"] = article_page(old)
            site.pages["/feed.xml"] = feed(site, [old])
            cfg = config(work, f'[[sources]]\nname = "light"\nkind = "feed"\nurl = "{site.url}/feed.xml"\n',
                         f'[[channels]]\nname = "gw"\ntype = "webhook"\nurl = "{receiver.url}/gw"\n'
                         '[[subscriptions]]\nname = "all"\ntopics = ["*"]\nchannels = ["gw"]\n[alerts]\nonce_wait = "0s"\n',
                         crawl=f"workers = {workers}")
            run(["run", "--once", "-c", cfg], work)
            site.pages["/feed.xml"] = feed(site, [*arts, old])
            out = work / "main.prof"
            r = subprocess.run([sys.executable, "-c", PROFILED, str(out), "run", "--once", "-c", str(cfg)], cwd=work,
                               capture_output=True, text=True, timeout=900)
            if r.returncode:
                raise SystemExit(f"profiled run failed: {r.stderr[-800:]}")
            stats = pstats.Stats(str(out)).stats
    finally:
        site.stop()
        receiver.stop()

    def cum(path: str, name: str) -> float:
        return max((v[3] for (f, _, fn), v in stats.items() if f.endswith(path) and fn == name), default=0.0)

    def delivery() -> float:
        """deliver_due, and each channel's drain where it ran as a task of its own (not awaited inside it)."""
        due = cum("alerts/dispatcher.py", "deliver_due")
        for (f, _, fn), v in stats.items():
            if f.endswith("alerts/dispatcher.py") and fn == "_drain":
                inside = sum(c[3] for (cf, _, cfn), c in v[4].items() if cf == f and cfn == "deliver_due")
                due += v[3] - inside
        return due

    loop = cum("asyncio/base_events.py", "run_forever")
    parts = {"regwatch's own work (story, topics, store, outbox)": cum("pipeline/process.py", "process_many"),
             "alert delivery (dispatcher: render, sign, send)": delivery(),
             "list page (feedparser, dates)": cum("crawler/spider.py", "parse_list"),
             "extraction hand-off (jobs to the workers, results back)": cum("crawler/run.py", "__call__")}
    parts["item pipeline glue (job, dates, counting)"] = cum("crawler/pipelines.py", "process_item") - \
        cum("crawler/run.py", "__call__") - cum("crawler/pipelines.py", "store")
    parts["Scrapy and Twisted (scheduling, downloads, responses, middlewares)"] = loop - sum(parts.values())
    return {"articles": n, "workers": workers, "share": {k: round(v / loop, 3) for k, v in parts.items()}}


def own_work(n: int) -> dict:
    """regwatch's own work per new article in the main process — its story, topics, storing (batched as
    in a crawl) and outbox write — on the light burst's pages as the workers extract them, in this
    process: CPU per article (the best of three runs), and its parts (timed in one more run); and the same
    with the articles' readings made beforehand, as the extraction workers hand them over in a crawl."""
    import functools
    import logging

    from regwatch.alerts import subscriptions
    from regwatch.defaults import STORE_BATCH
    from regwatch.pipeline.article import Article
    from regwatch.pipeline.classify import Classifier
    from regwatch.pipeline.extract import extract_job
    from regwatch.pipeline.process import Incoming, Processor
    from regwatch.pipeline.reading import read
    from regwatch.pipeline.store import Store
    from regwatch.pipeline.stories import StoryIndex
    from regwatch.service.app import load_classifier
    from regwatch.service.config import load_config

    logging.disable(logging.WARNING)
    arts = light_articles(n)
    pages = [extract_job({"body": article_page(a).body, "url": f"http://127.0.0.1/a/{a['id']}.html",
                          "content_type": "text/html; charset=utf-8", "tz": "Asia/Shanghai"}) for a in arts]

    def once(read_by_workers: bool = False) -> float:
        """ms of CPU per article; `read_by_workers`: with each article's reading made beforehand, as the
        extraction workers hand it over in a crawl (the main process then does only the store's part)."""
        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            cfg = load_config(config(work, '[[sources]]\nname = "light"\nkind = "feed"\nurl = "http://127.0.0.1:9/f"\n',
                                     '[[channels]]\nname = "gw"\ntype = "webhook"\nurl = "http://127.0.0.1:9/gw"\n'
                                     '[[subscriptions]]\nname = "all"\ntopics = ["*"]\nchannels = ["gw"]\n'))
            store = Store(cfg.store.path)
            classifier = load_classifier(cfg)
            processor = Processor(store, classifier)
            items = []
            for a, r in zip(arts, pages, strict=True):
                published = datetime.fromisoformat(r["published_at"]) if r["published_at"] else None
                items.append(Incoming(url=f"http://127.0.0.1/a/{a['id']}.html", source="light", title=r["title"],
                                      body=r["body"], lang=r["lang"], published_at=published,
                                      after=lambda done, t=r["title"], b=r["body"], p=published:
                                      subscriptions.enqueue_for(store, cfg, done, "light", t, b, p),
                                      reading=read(Article(r["title"], r["body"]), classifier) if read_by_workers else None))
            c0 = time.process_time()
            for i in range(0, len(items), STORE_BATCH):
                processor.process_many(items[i:i + STORE_BATCH])
            spent = time.process_time() - c0
            store.close()
            return spent / n * 1000

    best = min(once() for _ in range(3))
    best_read = min(once(read_by_workers=True) for _ in range(3))
    spent: dict[str, float] = {}
    timed = [(StoryIndex, "find", "story"), (StoryIndex, "index", "index"), (Classifier, "classify_article", "topics"),
             (subscriptions, "enqueue_for", "alerts"), (Processor, "_write", "writes")]
    originals = [(obj, name, getattr(obj, name)) for obj, name, _ in timed]

    def timing(fn, part):
        @functools.wraps(fn)
        def run(*a, **kw):
            c0 = time.process_time()
            try:
                return fn(*a, **kw)
            finally:
                spent[part] = spent.get(part, 0.0) + time.process_time() - c0
        return run

    for obj, name, part in timed:
        setattr(obj, name, timing(getattr(obj, name), part))
    try:
        total = once()
    finally:
        for obj, name, fn in originals:
            setattr(obj, name, fn)
    ms = {k: v / n * 1000 for k, v in spent.items()}
    parts = {"story (keys, candidates, judging copies, its index rows)": ms["story"] + ms["index"],
             "topics (rules and learned stage)": ms["topics"],
             "article, search index and topic rows": ms["writes"] - ms["alerts"] - ms["index"],
             "outbox write": ms["alerts"]}
    parts["the rest (URL check, commits: one per batch)"] = total - sum(parts.values())
    return {"articles": n, "ms_per_article": round(best, 2), "parts_ms": {k: round(v, 2) for k, v in parts.items()},
            "ms_per_article_read_by_workers": round(best_read, 2)}


def rss_mb(pid: int) -> float:
    total = 0.0
    for p in [pid, *children(pid)]:
        try:
            for line in Path(f"/proc/{p}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) / 1024
        except OSError:
            pass
    return total


def children(pid: int) -> list[int]:
    try:
        kids = [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return kids + [g for k in kids for g in children(k)]


def memory(cycles: int) -> dict:
    site = Site()
    try:
        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            arts = [art("m0", "银行发布年度报告", "某银行发布年度报告，营业收入同比增长。", 60)]
            site.pages["/a/m0.html"] = article_page(arts[0])
            for i in range(5):
                site.pages[f"/feed/{i}.xml"] = lambda: feed(site, arts)
            cfg = config(work, "".join(f'[[sources]]\nname = "m{i}"\nkind = "feed"\nurl = "{site.url}/feed/{i}.xml"\n'
                                       'every = "1s"\n' for i in range(5)))
            p = subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], cwd=work, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
            import sqlite3
            at10 = None
            k = 0
            deadline = time.time() + cycles * 3 + 60
            while time.time() < deadline:
                time.sleep(1)
                k += 1
                if k % 3 == 0:                      # a new article now and then: work, not only 304s
                    a = art(f"m{k}", f"第{k}号通知", f"监管部门发布第{k}号通知，要求规范贷款营销宣传，明示年化利率。", 1)
                    site.pages[f"/a/m{k}.html"] = article_page(a)
                    arts.insert(0, a)
                    del arts[20:]
                try:
                    done = sqlite3.connect(work / "rw.db").execute("SELECT count(*) FROM source_runs").fetchone()[0] // 5
                except sqlite3.OperationalError:
                    continue
                if at10 is None and done >= 10:
                    at10 = rss_mb(p.pid)
                if done >= cycles:
                    break
            end = rss_mb(p.pid)
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(40)
    finally:
        site.stop()
    return {"cycles": done, "rss_mb_after_10": round(at10 or 0, 1), f"rss_mb_after_{done}": round(end, 1)}


def latency(samples: int) -> dict:
    site = Site()
    receiver = Receiver()
    receiver.routes["gw"] = {"type": "webhook"}
    try:
        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            arts = [art("l0", "银行发布年度报告", "某银行发布年度报告，营业收入同比增长。", 60)]
            site.pages["/a/l0.html"] = article_page(arts[0])
            site.pages["/feed.xml"] = lambda: feed(site, arts)
            cfg = config(work, f'[[sources]]\nname = "feed"\nkind = "feed"\nurl = "{site.url}/feed.xml"\nevery = "5s"\n',
                         f'[[channels]]\nname = "gw"\ntype = "webhook"\nurl = "{receiver.url}/gw"\n'
                         '[[subscriptions]]\nname = "all"\ntopics = ["*"]\nchannels = ["gw"]\n')
            p = subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], cwd=work, stdout=subprocess.DEVNULL,
                                 stderr=subprocess.DEVNULL, start_new_session=True)
            time.sleep(8)                               # start-up and the baseline
            rng = random.Random(1)
            published = {}
            for k in range(1, samples + 1):
                time.sleep(rng.uniform(1, 7))
                a = art(f"l{k}", f"央行推出一次性信用修复政策（{k}）",
                        f"中国人民银行宣布一次性信用修复政策，符合条件的逾期记录将不予展示，编号{k}。", 0)
                site.pages[f"/a/l{k}.html"] = article_page(a)
                arts.insert(0, a)
                published[f"l{k}"] = time.time()
            deadline = time.time() + 30
            while time.time() < deadline and len(receiver.delivered("gw")) < samples:
                time.sleep(0.2)
            os.killpg(p.pid, signal.SIGTERM)
            p.wait(40)
    finally:
        site.stop()
        receiver.stop()
    lat = []
    for m in receiver.delivered("gw"):
        aid = m["body"]["data"]["article"]["url"].rsplit("/", 1)[-1].removesuffix(".html")
        lat.append(m["t"] - published[aid])
    lat.sort()
    return {"poll_every_s": 5, "samples": len(lat), "median_s": round(statistics.median(lat), 2),
            "p95_s": round(lat[min(len(lat) - 1, int(len(lat) * 0.95))], 2)}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes (for a smoke run)")
    ap.add_argument("--cycles", type=int, default=100, help="daemon cycles for the memory measure")
    ap.add_argument("--light", type=int, default=400, help="articles in the light-page burst")
    ap.add_argument("--only", default="quiet,burst,light,memory,latency", help="which measures (comma-separated)")
    ap.add_argument("--profile", action="store_true", help="with the light burst, where the main process's CPU goes")
    ap.add_argument("--out", default="bench/out/flow.json")
    args = ap.parse_args()
    q = args.quick
    only = set(args.only.split(","))
    result: dict = {}
    if "quiet" in only:
        result["quiet"] = [quiet(n) for n in ((1, 100) if q else (1, 100, 1000))]
        for r in result["quiet"]:
            print(f"quiet: {r['sources']:>5} sources  {r['wall_s']:6.2f} s wall  {r['cpu_s']:6.2f} s cpu  "
                  f"{r['list_304']} × 304, {r['list_bytes']} list bytes | naive poller {r['naive_wall_s']:.2f} s, "
                  f"{r['naive_bytes']} bytes", flush=True)
        one, hundred = result["quiet"][0], result["quiet"][1]
        result["quiet_marginal_ms"] = {
            "wall": round((hundred["wall_s"] - one["wall_s"]) / 99 * 1000, 1),
            "cpu": round((hundred["cpu_s"] - one["cpu_s"]) / 99 * 1000, 1)}
        print(f"quiet: per source (1 → 100): {result['quiet_marginal_ms']['wall']} ms wall, "
              f"{result['quiet_marginal_ms']['cpu']} ms cpu (goal: 10 ms)", flush=True)
        if len(result["quiet"]) > 2:
            last = result["quiet"][-1]
            k = last["sources"] - 1
            result["quiet_marginal_ms_to_1000"] = {"wall": round((last["wall_s"] - one["wall_s"]) / k * 1000, 1),
                                                   "cpu": round((last["cpu_s"] - one["cpu_s"]) / k * 1000, 1)}
            print(f"quiet: per source (1 → {last['sources']}): {result['quiet_marginal_ms_to_1000']['wall']} ms wall, "
                  f"{result['quiet_marginal_ms_to_1000']['cpu']} ms cpu", flush=True)
    if "burst" in only:
        result["burst"] = burst(100 if q else 1000)
        print("burst:", json.dumps(result["burst"]), flush=True)
    if "light" in only:
        result["light"] = [light_burst(100 if q else args.light, w) for w in (1, 2)]
        for r in result["light"]:
            w = r["workers"]
            print(f"light: {w} worker(s): {r['articles']} articles in {r['burst_s']} s = {r['articles_per_s']} articles/s; "
                  f"trafilatura alone {r['trafilatura_1_process_s']} s → {r['ratio']}× (in {w} processes "
                  f"{r[f'trafilatura_{w}_processes_s']} s → {r['ratio_same_processes']}×; goal 2.0×); Scrapy alone fetching "
                  f"them {r['scrapy_alone_fetch_s']} s ({r['scrapy_alone_ratio']}×, "
                  f"{r['scrapy_alone_cpu_ms_per_page']} ms CPU a page); main process "
                  f"{r['main_cpu_ms_per_article']} ms CPU per article, workers {r['workers_cpu_ms_per_article']} ms", flush=True)
            print("light:", json.dumps(r), flush=True)
        result["own_work"] = own_work(100 if q else args.light)
        print("own work:", json.dumps(result["own_work"], ensure_ascii=False), flush=True)
        if args.profile:
            prof = main_process_profile(100 if q else args.light)
            cpu = result["light"][1]["main_cpu_ms_per_article"]
            prof["ms_per_article"] = {k: round(v * cpu, 2) for k, v in prof["share"].items()}
            result["main_process"] = prof
            print("main process:", json.dumps(prof, ensure_ascii=False), flush=True)
    if "memory" in only:
        result["memory"] = memory(20 if q else args.cycles)
        print("memory:", json.dumps(result["memory"]), flush=True)
    if "latency" in only:
        result["latency"] = latency(4 if q else 8)
        print("latency:", json.dumps(result["latency"]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
