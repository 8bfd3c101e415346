"""Crash safety: the daemon killed (SIGKILL, whole process group) three times while it fetches and
sends; afterwards every expected alert has arrived, and repeats are no more than the kills."""

import os
import random
import re
import signal
import subprocess
import time

from conftest import REGWATCH
from support.news import art, feed_to_webhook_config, publish

TEXTS = [
    ("消费金融利率上限降至20%", "监管要求持牌消费金融公司新发放贷款综合融资成本压降至20%以内，年化利率上限进一步下调，编号{n}。"),
    ("央行推出一次性信用修复政策",
     "中国人民银行宣布一次性信用修复政策，符合条件的逾期记录将不予展示，征信修复骗局需警惕，编号{n}。"),
    ("多地注销小贷公司试点资格", "多地地方金融管理局注销一批小额贷款公司试点资格，清理失联空壳小贷公司，编号{n}。"),
]


def test_three_sigkills_lose_nothing(tmp_path, site, receiver, rw):
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    arts = [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定，零售业务占比提升。", 500)]
    publish(site, {"feed": arts})
    assert rw("baseline", "-c", cfg).returncode == 0
    rng = random.Random(7)
    expected = set()
    n = 0

    def start():
        return subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                text=True, start_new_session=True)

    for _kill in range(3):
        for _ in range(3):
            n += 1
            title, text = TEXTS[n % 3]
            arts.append(art(f"a{n}", f"{title}（{n}）", text.format(n=n), 1))
            expected.add(f"a{n}")
        publish(site, {"feed": arts})
        p = start()
        time.sleep(rng.uniform(1.0, 3.0))          # somewhere in a crawl, an extraction or a send
        os.killpg(p.pid, signal.SIGKILL)
        p.wait(10)
    p = start()
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            got = {m for msg in receiver.delivered("gw") for m in re.findall(r"/a/(a\d+)\.html", str(msg["body"]))}
            if got >= expected:
                break
            time.sleep(0.5)
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        p.wait(40)
    delivered = [m for msg in receiver.delivered("gw") for m in re.findall(r"/a/(a\d+)\.html", str(msg["body"]))]
    assert set(delivered) == expected
    assert len(delivered) - len(set(delivered)) <= 3


def test_a_restarted_daemon_takes_over_its_killed_predecessors_sources_at_once(tmp_path, site, receiver, rw):
    """The daemon SIGKILLed mid-crawl with its source leased for an hour and due again only in an hour:
    the restarted daemon sees the lease's holder is a process of this host that is gone, and crawls the
    source at once (nothing waits for the lease to run out, nothing is lost)."""
    import sqlite3

    from support.news import article_page

    cfg = feed_to_webhook_config(tmp_path, site, receiver, extra='[worker]\nlease = "1h"\n')
    cfg.write_text(cfg.read_text(encoding="utf-8").replace('every = "1s"', 'every = "1h"'), encoding="utf-8")
    arts = [art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定，零售业务占比提升。", 500)]
    publish(site, {"feed": arts})
    assert rw("baseline", "-c", cfg).returncode == 0
    with sqlite3.connect(tmp_path / "rw.db") as db:     # the baseline as if an hour ago: the source is due
        db.execute("UPDATE source_state SET claimed_at = NULL")
    arts += [art(f"k{n}", f"{TEXTS[n][0]}（{n}）", TEXTS[n][1].format(n=n), 1) for n in range(3)]
    publish(site, {"feed": arts})
    for a in arts[1:]:      # slow article pages: the first daemon is killed while it crawls them
        page = article_page(a)
        site.pages[f"/a/{a['id']}.html"] = lambda p=page: (time.sleep(30), p)[1]

    def leased() -> bool:
        with sqlite3.connect(tmp_path / "rw.db") as db:
            return bool(db.execute("SELECT count(*) FROM source_state WHERE lease_until IS NOT NULL").fetchone()[0])

    first = subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                             start_new_session=True)
    deadline = time.time() + 60
    while not leased() and time.time() < deadline:
        time.sleep(0.2)
    assert leased()
    os.killpg(first.pid, signal.SIGKILL)
    first.wait(10)
    publish(site, {"feed": arts})       # fast pages again
    second = subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                              text=True, start_new_session=True)
    try:
        deadline = time.time() + 90
        got: set[str] = set()
        while time.time() < deadline and got != {"k0", "k1", "k2"}:
            got = {m for msg in receiver.delivered("gw") for m in re.findall(r"/a/(k\d+)\.html", str(msg["body"]))}
            time.sleep(0.5)
    finally:
        os.killpg(second.pid, signal.SIGTERM)
        _, err = second.communicate(timeout=40)
    assert got == {"k0", "k1", "k2"}, err[-2000:]
    assert "a worker on this host that is gone" in err


def test_a_worker_is_judged_gone_only_by_a_pid_of_its_own_namespace():
    """A dead pid on this host frees its worker's leases at once; the same pid in another PID namespace (a
    container sharing the host's name, whose pid 7 is not ours) or an id that does not name one never does."""
    import socket

    from regwatch.service.app import gone_here, worker_id

    dead = subprocess.Popen(["true"])
    dead.wait()
    me = worker_id()
    host, pid, rand, namespace = me.split(":")
    assert (host, pid) == (socket.gethostname(), str(os.getpid())) and namespace
    assert not gone_here(me)                                                # alive
    assert gone_here(f"{host}:{dead.pid}:{rand}:{namespace}")              # dead, here
    assert not gone_here(f"{host}:{dead.pid}:{rand}:{namespace}0")         # another namespace
    assert not gone_here(f"{host}:{dead.pid}:{rand}")                      # an id from before namespaces
    assert not gone_here(f"{host}x:{dead.pid}:{rand}:{namespace}")         # another host
