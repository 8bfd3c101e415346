"""`run --once -v` says what it does as it starts and writes the cycle's line the daemon writes (one home: `App.cycle`);
a source's state on that line is judged against the store, so a new process (a restarted daemon, the next cron run)
still notes `error → ok`."""

import subprocess
import time

from conftest import REGWATCH
from support.news import art, feed_to_webhook_config, publish
from support.servers import Page

CAP = art("cap", "消费金融利率上限下调", "监管部门要求持牌消费金融公司新发放贷款的综合融资成本压降至20%以内。", 5)


def once(cfg, *args):
    started = time.monotonic()
    r = subprocess.run([REGWATCH, "run", "--once", *args, "-c", str(cfg)], capture_output=True, text=True, timeout=180)
    return r, time.monotonic() - started


def test_once_verbose_says_what_it_does_and_writes_the_cycle_line(tmp_path, site, receiver):
    publish(site, {"feed": [CAP]})
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    r, _ = once(cfg, "-v")
    assert r.returncode == 0, r.stderr
    lines = r.stderr.splitlines()
    assert "run --once: crawling 1 source on 1 site, then delivering the alerts due" in lines[0], lines
    cycle = [ln for ln in lines if f" cycle {site.url}: 1 source, 1 new article, 1 stored as the baseline" in ln]
    assert len(cycle) == 1, lines
    r, _ = once(cfg)                                   # without -v: the summary alone, as before
    assert r.returncode == 0 and len(r.stderr.splitlines()) == 1 and "cycle" not in r.stderr, r.stderr


def test_a_state_change_is_judged_against_the_store_not_the_process(tmp_path, site, receiver):
    publish(site, {"feed": [CAP]})
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    assert once(cfg)[0].returncode == 0                 # the baseline: ok
    good = site.pages["/feed.xml"]
    site.pages["/feed.xml"] = Page(b"down", 500)
    r, _ = once(cfg, "-v")
    assert "state: feed ok → error" in r.stderr, r.stderr
    site.pages["/feed.xml"] = good
    r, _ = once(cfg, "-v")                              # another process: it knew nothing of the error but the store
    assert "state: feed error → ok" in r.stderr, r.stderr
    r, _ = once(cfg, "-v")
    assert "state:" not in r.stderr, r.stderr           # ok → ok is no change



def test_the_cycle_line_says_why_sources_failed_once_per_reason(tmp_path, site):
    """The line said only `state: x error (see \\`regwatch sources\\`)`: the reason (DNS lookup failed, offline) took
    another command. Now it is on the line, masked, once for the sources that share it."""
    publish(site, {"feed": [CAP]})
    site.pages["/feed.xml"] = Page(b"down", 500)
    dead = "".join(f'[[sources]]\nname = "dead{i}"\nkind = "feed"\nurl = "http://127.0.0.1:9/feed{i}.xml?token=HUSH{i}"\n'
                   for i in range(3))
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[crawl]\ndelay = "0s"\n[[sources]]\nname = "feed"\nkind = "feed"\nurl = "{site.url}/feed.xml"\n'
                   f'{dead}', encoding="utf-8")
    r, _ = once(cfg, "-v")
    assert r.returncode == 0, r.stderr
    cycle = [ln for ln in r.stderr.splitlines() if " cycle " in ln]
    assert len(cycle) == 1, r.stderr
    line = cycle[0]
    assert "state: dead0 error, dead1 error, dead2 error, feed error" in line, line
    assert "; 3 sources: Connection was refused by other side" in line and line.count("refused by other side") == 1
    assert "; feed: HTTP 500 (see `regwatch sources`)" in line, line
    assert "HUSH" not in r.stderr, r.stderr


def test_the_cycle_line_shows_a_reason_from_the_web_escaped(tmp_path, site):
    """The reason on the cycle line can quote the source (a sitemap's root element): an invisible bidi mark in it is
    shown escaped, as on every output, not live on the terminal or in the journal."""
    site.pages["/sitemap.xml"] = Page('<?xml version="1.0"?><a\u061cb/>'.encode(), ctype="application/xml")
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[crawl]\ndelay = "0s"\n[[sources]]\nname = "map"\nkind = "sitemap"\nurl = "{site.url}/sitemap.xml"\n',
                   encoding="utf-8")
    r, _ = once(cfg, "-v")
    cycle = [ln for ln in r.stderr.splitlines() if " cycle " in ln]
    assert len(cycle) == 1, r.stderr
    assert "map: not a sitemap (root element <a\\u061cb>)" in cycle[0], cycle[0]
    assert "\u061c" not in cycle[0]
