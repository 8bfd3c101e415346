"""The flow where users feel it: quiet cycles, a burst, memory over many cycles, alert latency.

    .venv/bin/python bench/flow.py [--quick]

Everything runs on 127.0.0.1 against the test suite's local news site and webhook receiver, with
the real `regwatch` command. Each measure has its baseline in the same run:
  quiet:   N unchanged feeds (304) per `run --once`, against a naive poller (httpx GET + feedparser)
  burst:   1,000 new real article pages through the whole flow, against trafilatura alone on the same pages
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


def config(work: Path, sources: str, extra: str = "") -> Path:
    p = work / "regwatch.toml"
    p.write_text(f'[store]\npath = "{work}/rw.db"\n[crawl]\ndelay = "0s"\nper_domain = 16\nconcurrency = 32\n'
                 f'max_articles_per_source = 1000\nmax_article_age = "3650d"\n{extra}\n{sources}', encoding="utf-8")
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
            wall, cpu = run(["run", "--once", "-c", cfg], work)          # quiet: every list answers 304
            quiet_requests = site.log[log0:]
            n304 = sum(1 for r in quiet_requests if r["status"] == 304)
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
            "bytes_fetched": 0, "naive_wall_s": round(naive_wall, 2), "naive_cpu_s": round(naive_cpu, 2),
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
            for i, a in enumerate(arts):
                site.pages[f"/a/b{i}.html"] = Page(bodies[i], ctype="text/html")
            site.pages["/feed.xml"] = feed(site, [])
            cfg = config(work, f'[[sources]]\nname = "burst"\nkind = "feed"\nurl = "{site.url}/feed.xml"\n',
                         f'[[channels]]\nname = "gw"\ntype = "webhook"\nurl = "{receiver.url}/gw"\n'
                         '[[subscriptions]]\nname = "all"\ntopics = ["*"]\nchannels = ["gw"]\n[alerts]\nonce_wait = "0s"\n')
            run(["run", "--once", "-c", cfg], work)                      # baseline on an empty feed
            site.pages["/feed.xml"] = feed(site, arts)
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
    return {"articles": n, "stored": stored, "alerts_queued": queued, "flow_wall_s": round(wall, 1),
            "flow_cpu_s": round(cpu, 1), "trafilatura_alone_s": round(bare, 1), "ratio": round(wall / bare, 2)}


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
            cfg = config(work, "".join(f'[[sources]]\nname = "m{i}"\nkind = "feed"\nurl = "{site.url}/feed/{i}.xml"\nevery = "1s"\n'
                                       for i in range(5)))
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
    ap.add_argument("--out", default="bench/out/flow.json")
    args = ap.parse_args()
    q = args.quick
    result = {"quiet": [quiet(n) for n in ((1, 100) if q else (1, 100, 1000))]}
    for r in result["quiet"]:
        print(f"quiet: {r['sources']:>5} sources  {r['wall_s']:6.2f} s wall  {r['cpu_s']:6.2f} s cpu  "
              f"{r['list_304']} × 304, 0 list bytes | naive poller {r['naive_wall_s']:.2f} s, {r['naive_bytes']} bytes", flush=True)
    result["burst"] = burst(100 if q else 1000)
    print("burst:", json.dumps(result["burst"]), flush=True)
    result["memory"] = memory(20 if q else args.cycles)
    print("memory:", json.dumps(result["memory"]), flush=True)
    result["latency"] = latency(4 if q else 8)
    print("latency:", json.dumps(result["latency"]), flush=True)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
