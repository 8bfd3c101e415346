"""Several `regwatch run` daemons on one PostgreSQL store (a throwaway server on 127.0.0.1), on the
local news site and webhook receiver: each source crawled by one worker per cycle, a dead worker's
sources taken over with nothing lost, copies of one story crawled by two workers alerting once, and
three workers sending every alert once, paced, through one slow webhook."""

import os
import re
import signal
import subprocess
import time
from collections import Counter
from datetime import datetime
from types import SimpleNamespace

from conftest import REGWATCH
from support.config import chat, everything, write_config
from support.news import art, article_page, feed

from regwatch.pipeline.store import Store
from regwatch.service.app import GRID

TEXTS = [
    ("消费金融利率上限降至20%", "监管要求持牌消费金融公司新发放贷款综合融资成本压降至20%以内，年化利率上限进一步下调，编号{n}。"),
    ("央行推出一次性信用修复政策",
     "中国人民银行宣布一次性信用修复政策，符合条件的逾期记录将不予展示，征信修复骗局需警惕，编号{n}。"),
    ("多地注销小贷公司试点资格", "多地地方金融管理局注销一批小额贷款公司试点资格，清理失联空壳小贷公司，编号{n}。"),
]


def config(path, pg_url, sources: str, *, tags=(), every="2s", lease="3s", extra="", channel=None):
    """`channel`: every topic alerts there (the subscription `watch`)."""
    return write_config(path.parent, name=path.name, store={"url": pg_url}, worker={"tags": list(tags), "lease": lease},
                        crawl={"per_domain": 8}, sources=sources.replace("'", '"'), channels=[channel] if channel else [],
                        subscriptions=[everything(channel["name"], name="watch")] if channel else [], extra=extra)


def feeds(site, n, *, every="2s", tags=(), prefix="s"):
    return "".join(f"""
[[sources]]
name = "{prefix}{i}"
kind = "feed"
url = "{site.url}/feed/{i}.xml"
every = "{every}"
tags = {list(tags)!r}
""" for i in range(n))


def publish(site, i, arts, slow=0.0):
    site.pages[f"/feed/{i}.xml"] = feed(site, arts)
    for a in arts:
        page = article_page(a)
        site.pages[f"/a/{a['id']}.html"] = (lambda p=page: (time.sleep(slow), p)[1]) if slow else page


def old(i):
    """Source i's article from before the baseline."""
    return art(f"old{i}", "银行发布年度报告", f"某银行发布年度报告，全年营业收入同比增长{i}%，净利润保持稳定。", 500)


def publish_news(site, n_sources, per_source, slow=0.0) -> set[str]:
    """Each source's old article and `per_source` new ones (n0, n1… across the sources): the new ones' ids."""
    expected = set()
    for i in range(n_sources):
        arts = [old(i)]
        for j in range(per_source):
            n = i * per_source + j
            arts.append(art(f"n{n}", TEXTS[n % 3][0] + f"（{n}）", TEXTS[n % 3][1].format(n=n), 1))
            expected.add(f"n{n}")
        publish(site, i, arts, slow=slow)
    return expected


def start(cfg, log):
    return subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], stdout=subprocess.DEVNULL, stderr=open(log, "w"),
                            start_new_session=True)


def stop(*procs):
    for p in procs:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
    for p in procs:
        p.wait(60)


def wait_for(check, timeout, every=0.3):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if check():
            return True
        time.sleep(every)
    return check()


def alerted(receiver, route):
    return [m for msg in receiver.delivered(route) for m in set(re.findall(r"/a/(\w+)\.html", str(msg["body"])))]


def worker_of(store, pid):
    rows = [r["worker"] for r in store.q("SELECT worker, pid FROM workers") if r["pid"] == pid]
    return rows[0] if rows else None


def test_two_workers_share_40_sources_and_each_list_is_fetched_once_per_cycle(tmp_path, site, pg_url):
    for i in range(40):
        publish(site, i, [art(f"a{i}", f"新闻{i}", f"正文{i}，某银行发布年度报告，全年营业收入同比增长{i}%。", 30)])
    cfg = config(tmp_path / "rw.toml", pg_url, feeds(site, 40, every="3s"), lease="4s")
    a, b = start(cfg, tmp_path / "a.log"), start(cfg, tmp_path / "b.log")
    try:
        fetched = lambda: Counter(r["path"] for r in site.requests("/feed/"))  # noqa: E731
        assert wait_for(lambda: len(fetched()) == 40 and min(fetched().values()) >= 4, 90), fetched()
    finally:
        stop(a, b)
    store = Store(pg_url)
    runs = store.q("SELECT source, worker, claimed_at FROM source_runs")
    # every list fetch is one recorded run, leased to one worker at one time ...
    assert len(runs) == len(site.requests("/feed/")) and all(r["worker"] and r["claimed_at"] for r in runs)
    # ... and a cycle is one step of the sources' 3 s grid: no source leased twice in one (a crawl may
    # start a moment later than its lease, so the server's clock of the fetches would not tell)
    per_cycle = Counter((r["source"], (datetime.fromisoformat(r["claimed_at"]) - GRID).total_seconds() // 3)
                        for r in runs)
    assert max(per_cycle.values()) == 1, [k for k, n in per_cycle.items() if n > 1]
    # and the two shared them: each crawled a part of the sources in the cycles both ran
    by_worker = Counter(r["worker"] for r in runs)
    assert len(by_worker) == 2 and min(by_worker.values()) >= 20, by_worker
    assert store.count_articles() == 40
    for log in ("a.log", "b.log"):
        assert "Traceback" not in (tmp_path / log).read_text()


def test_a_worker_killed_mid_crawl_loses_nothing(tmp_path, site, receiver, pg_url, rw):
    n_sources = 8
    for i in range(n_sources):
        publish(site, i, [old(i)])
    cfg = config(tmp_path / "rw.toml", pg_url, feeds(site, n_sources), channel=chat(receiver, "gw"))
    assert rw("baseline", "-c", cfg).returncode == 0
    expected = publish_news(site, n_sources, 3, slow=0.7)      # article pages answer slowly: a crawl takes seconds
    store = Store(pg_url)
    procs = [start(cfg, tmp_path / "a.log"), start(cfg, tmp_path / "b.log")]
    try:
        holding = lambda: [p for p in procs if store.one(  # noqa: E731
            "SELECT count(*) FROM source_state WHERE lease_until IS NOT NULL AND claimed_by = ?",
            (worker_of(store, p.pid),))]
        assert wait_for(lambda: holding() and len(site.requests("/a/n")) >= 2, 60)
        victim = holding()[0]
        survivor = next(p for p in procs if p is not victim)
        dead, alive = worker_of(store, victim.pid), worker_of(store, survivor.pid)
        held = {r["source"] for r in store.q("SELECT source FROM source_state WHERE claimed_by = ? "
                                             "AND lease_until IS NOT NULL", (dead,))}
        os.killpg(victim.pid, signal.SIGKILL)                   # mid-crawl: its leases are never released
        victim.wait(10)
        killed_at = time.time()
        done = lambda: all(store.has_url(f"{site.url}/a/{a}.html") for a in expected) and set(  # noqa: E731
            alerted(receiver, "gw")) >= expected
        assert wait_for(done, 120), (sorted(expected - set(alerted(receiver, "gw"))), held)
    finally:
        stop(*procs)
    # the survivor crawled every source the dead worker held, after it died
    taken = {r["source"] for r in store.q("SELECT source, started_at FROM source_runs WHERE worker = ?", (alive,))
             if datetime.fromisoformat(r["started_at"]).timestamp() >= killed_at - 1}
    assert held and held <= taken
    delivered = alerted(receiver, "gw")
    assert set(delivered) == expected
    assert len(delivered) - len(set(delivered)) <= 1                # at most the one in flight at the kill
    assert "Traceback" not in (tmp_path / ("a.log" if survivor is procs[0] else "b.log")).read_text()


def test_copies_of_one_story_on_sources_of_two_workers_alert_once(tmp_path, site, other, receiver, pg_url):
    sites = [site, other]
    gw = chat(receiver, "gw")
    sources = "".join(f"""
[[sources]]
name = "src{k}"
kind = "feed"
url = "{s.url}/feed/0.xml"
every = "1s"
tags = ["{'ab'[k]}"]
""" for k, s in enumerate(sites))
    old_ones = [old(k) for k in range(2)]
    for k, s in enumerate(sites):
        publish(s, 0, [old_ones[k]])
    procs = [start(config(tmp_path / f"{w}.toml", pg_url, sources, tags=[w], channel=gw), tmp_path / f"{w}.log")
             for w in "ab"]
    store = Store(pg_url)
    assert wait_for(lambda: store.count_articles() == 2, 60)      # each source's baseline, by its own worker
    stories = 4
    for k, s in enumerate(sites):                                  # the same stories, on both sites at once
        publish(s, 0, [old_ones[k], *(art(f"c{k}{n}", TEXTS[n % 3][0] + f"（{n}）", TEXTS[n % 3][1].format(n=100 + n), 1)
                                      for n in range(stories))])
    try:
        assert wait_for(lambda: store.count_articles() == 2 + 2 * stories, 60)
        assert wait_for(lambda: len(receiver.delivered("gw")) >= stories, 30)
        time.sleep(3)                                              # nothing more comes
    finally:
        stop(*procs)
    workers = {r["source"]: r["worker"] for r in store.q("SELECT DISTINCT source, worker FROM source_runs")}
    assert len(set(workers.values())) == 2                             # each site crawled by its own worker
    assert store.count_stories() == 2 + stories                        # two baselines, and one story per pair of copies
    assert store.count_alerts() == stories and len(receiver.delivered("gw")) == stories


def test_three_workers_and_a_slow_webhook_send_every_alert_once_paced(tmp_path, site, receiver, pg_url, rw):
    n_sources = 6
    for i in range(n_sources):
        publish(site, i, [old(i)])
    sl = chat(receiver, "sl", "slack")
    receiver.fail["sl"] = ["slow"] * 100                    # every answer takes 3 s
    cfg = config(tmp_path / "rw.toml", pg_url, feeds(site, n_sources), channel=sl)
    assert rw("baseline", "-c", cfg).returncode == 0
    expected = publish_news(site, n_sources, 3)
    procs = [start(cfg, tmp_path / f"w{k}.log") for k in range(3)]
    try:
        assert wait_for(lambda: set(alerted(receiver, "sl")) >= expected, 120), sorted(expected - set(alerted(receiver, "sl")))
        time.sleep(2)
    finally:
        stop(*procs)
    delivered = alerted(receiver, "sl")
    assert sorted(delivered) == sorted(expected)                       # every alert, exactly once
    store = Store(pg_url)
    claims = store.q("SELECT claimed_at, claimed_by FROM messages WHERE channel = 'sl' ORDER BY claimed_at")
    assert len(claims) == len(expected)
    times = [datetime.fromisoformat(r["claimed_at"]) for r in claims]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert min(gaps) >= 1.0, gaps                                       # Slack's one a second, across the workers
    senders = {r["claimed_by"].rsplit("@", 1)[0] for r in claims}
    assert len(senders) >= 2, senders                                  # sent by more than one worker
    for k in range(3):
        assert "Traceback" not in (tmp_path / f"w{k}.log").read_text()


def test_a_worker_hung_inside_the_story_lock_does_not_stop_the_others(pg_url, monkeypatch):
    """A worker stopped (SIGSTOP, swapped out, cut off) while it held the story lock froze every other worker for
    as long as it hung — hours, cut off by a network. The server now ends its session after
    PG_IDLE_IN_TRANSACTION (shortened here), and the others go on while it still hangs."""
    import threading

    from regwatch.pipeline.store import Store
    from regwatch.pipeline.store.postgres import connection

    monkeypatch.setattr(connection, "PG_IDLE_IN_TRANSACTION", 1.0)
    hung, other = Store(pg_url), Store(pg_url)
    holding, woke = threading.Event(), threading.Event()

    def hang():
        try:
            with hung.story_lock():
                holding.set()
                time.sleep(8)           # hung: no statement, the transaction open
        except Exception:  # noqa: BLE001 - its session was ended under it
            pass
        finally:
            woke.set()

    threading.Thread(target=hang, daemon=True).start()
    assert holding.wait(10)
    with other.story_lock():            # waits for the server to end the hung session, not for the worker
        got_it_while_hung = not woke.is_set()
    assert got_it_while_hung
    woke.wait(20)
    hung.close()
    other.close()


def test_a_worker_that_lost_its_lease_mid_crawl_leaves_the_run_and_state_to_the_one_that_took_over(tmp_path, site,
                                                                                                   pg_url, rw):
    """A worker stopped (SIGSTOP) past its lease: another took the source over and crawled it. The first, going on,
    logged `lease lost on …` but still recorded its run and the source's state over the other worker's (an `error`
    for a source crawled fine). Its outcome is no longer recorded: the source's run and state are the other's."""
    old = art("old0", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 500)
    publish(site, 0, [old])
    cfg = config(tmp_path / "rw.toml", pg_url, feeds(site, 1))
    assert rw("baseline", "-c", cfg).returncode == 0
    publish(site, 0, [old, *(art(f"n{j}", f"{TEXTS[j][0]}（{j}）", TEXTS[j][1].format(n=j), 1) for j in range(3))],
            slow=2.0)
    store = Store(pg_url)
    runs = store.one("SELECT count(*) FROM source_runs")
    p = subprocess.Popen([REGWATCH, "run", "--once", "-c", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                         text=True)
    try:
        assert wait_for(lambda: site.requests("/a/n"), 60, every=0.05)
        # meanwhile its lease ran out and another worker (on another host) took the source over, crawled it fine
        store.x("UPDATE source_state SET claimed_by = 'elsewhere:1:0000:-', claimed_at = ?, lease_until = ?, "
                "state = 'ok', last_error = NULL WHERE source = 's0'",
                (datetime.now().astimezone().isoformat(), "2999-01-01T00:00:00+00:00"))
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 0, err[-2000:]
    assert "lease lost on s0" in err, err[-2000:]
    assert store.one("SELECT count(*) FROM source_runs") == runs        # no run of the worker that lost the lease
    state = store.q("SELECT state, last_error, claimed_by FROM source_state WHERE source = 's0'")[0]
    assert state == {"state": "ok", "last_error": None, "claimed_by": "elsewhere:1:0000:-"}, state
    assert "Traceback" not in err


def test_sources_shows_which_worker_ran_each_source(tmp_path, site, pg_url, rw):
    """README (several workers): "`regwatch sources` shows which worker ran each source" — neither its table nor
    `--json` did. `--json` has the whole worker id of the last run, the table its host and pid."""
    import json
    import socket

    for i in range(2):
        publish(site, i, [art(f"a{i}", f"新闻{i}", f"正文{i}，某银行发布年度报告，全年营业收入同比增长{i}%。", 30)])
    cfg = config(tmp_path / "rw.toml", pg_url, feeds(site, 2) + """
[[sources]]
name = "never"
kind = "feed"
url = "http://127.0.0.1:9/never.xml"
enabled = false
""")
    assert rw("run", "--once", "-c", cfg).returncode == 0
    ran = {r["source"]: r["worker"] for r in Store(pg_url).q("SELECT source, worker FROM source_runs")}
    assert set(ran) == {"s0", "s1"} and all(ran.values())
    out = rw("sources", "--json", "-c", cfg)
    assert out.returncode == 0, out.stderr
    rows = {r["source"]: r for r in map(json.loads, out.stdout.splitlines())}
    assert {n: r["worker"] for n, r in rows.items()} == {**ran, "never": None}
    table = rw("sources", "-c", cfg)
    assert table.returncode == 0, table.stderr
    assert "worker" in table.stdout.splitlines()[0]
    host_pid = ":".join(ran["s0"].split(":")[:2])
    assert host_pid.startswith(socket.gethostname() + ":")
    assert sum(host_pid in line for line in table.stdout.splitlines()) == 2, table.stdout


def test_the_keep_alive_tick_waiting_on_postgresql_does_not_hold_the_event_loop(tmp_path, pg_url):
    """A PostgreSQL restart: the daemon's keep-alive tick waited for the server on the event loop (up to 30 s for a
    connection), holding every send in flight and the recording of its answer. On PostgreSQL it waits in a thread.
    (The server made slow for real: another session holds the `workers` table's lock.)"""
    import asyncio

    import psycopg

    from regwatch.service.app import App
    from regwatch.service.config import load_config

    cfg = config(tmp_path / "rw.toml", pg_url, "", lease="2s")
    app = App(load_config(cfg))
    try:
        async def main():
            stop, gaps, seen = asyncio.Event(), [], []
            real = app._alive
            app._alive = lambda: (real(), seen.append(time.monotonic()))[0]
            alive = asyncio.ensure_future(app._stay_alive(stop))
            with psycopg.connect(pg_url) as admin:
                admin.execute("LOCK TABLE workers IN ACCESS EXCLUSIVE MODE")      # held until this block's commit
                locked = time.monotonic()
                last = time.monotonic()
                while time.monotonic() - locked < 3.0:                            # a tick comes after 0.7 s
                    await asyncio.sleep(0.02)
                    gaps.append(time.monotonic() - last)
                    last = time.monotonic()
                assert not seen                                                   # (the tick is still waiting)
            await asyncio.sleep(0.5)
            stop.set()
            await alive
            return max(gaps), seen, locked

        longest, seen, locked = asyncio.run(main())
    finally:
        app.close()
    assert seen and seen[0] - locked > 2.5          # the tick waited for the lock …
    assert longest < 0.5, longest                   # … and the event loop went on meanwhile


def test_a_claim_the_stop_cut_off_while_it_waited_on_postgresql_is_given_back(tmp_path, pg_url):
    """The claim waits for the server in a thread; a stop that cancels its cycle meanwhile left the lease it then
    took to run out (other workers skipped the source until then, and after it counted it crawled this cycle). The
    claim gives it back itself; a keep-alive tick still waiting when the daemon said it was gone says so again.
    (The server made slow for real: another session holds the `source_state` table's lock.)"""
    import asyncio

    import psycopg

    from regwatch.service.app import App
    from regwatch.service.config import load_config

    cfg = config(tmp_path / "rw.toml", pg_url, feeds(SimpleNamespace(url="http://127.0.0.1:9"), 1), lease="60s")
    app = App(load_config(cfg))
    try:
        app._alive()
        app.store.source_state("s0")

        async def main():
            with psycopg.connect(pg_url) as admin:
                admin.execute("LOCK TABLE source_state IN ACCESS EXCLUSIVE MODE")      # held until this block ends
                cycle = asyncio.ensure_future(app.cycle(app.enabled_sources()))
                await asyncio.sleep(0.5)                                             # the claim waits on the lock
                app.crawl.stopped = True
                cycle.cancel()
                await asyncio.gather(cycle, return_exceptions=True)
            for _ in range(100):                                                     # the claim's thread goes on
                await asyncio.sleep(0.05)
                with psycopg.connect(pg_url) as c:
                    if c.execute("SELECT claimed_by FROM source_state WHERE source = 's0'").fetchone() is not None:
                        break
            await asyncio.sleep(0.5)

        asyncio.run(main())
        app.gone = True
        app._alive()        # a tick that was still waiting on the store when the daemon said it was gone
    finally:
        app.close()
    with psycopg.connect(pg_url) as c:
        assert c.execute("SELECT claimed_at, lease_until FROM source_state WHERE source = 's0'").fetchone() == (None, None)
        assert c.execute("SELECT count(*) FROM workers").fetchone()[0] == 0
