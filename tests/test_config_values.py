"""Every value a user can write either works or is one line naming the key (exit 2): no value reaches
the scheduler, the crawler or the delivery task as an infinite wait, a busy loop or an overflow."""

import os

import pytest
from support.config import refused

from regwatch.service.config import load_config

BASE = """
[store]
path = "rw.db"
[crawl]
{crawl}
[[sources]]
name = "a"
kind = "feed"
url = "{url}"
{source}
[[channels]]
name = "ops"
type = "webhook"
url = "{channel}"
[metrics]
listen = "{listen}"
"""


def config(tmp_path, crawl="", source="", url="http://127.0.0.1:9/feed.xml", channel="http://127.0.0.1:9/hook",
           listen=""):
    p = tmp_path / "regwatch.toml"
    p.write_text(BASE.format(crawl=crawl, source=source, url=url, channel=channel, listen=listen), encoding="utf-8")
    return p


@pytest.mark.parametrize("where,value,message", [
    ("source", "every = inf", "sources[0] (a).every: inf is not a duration"),
    ("source", "every = nan", "sources[0] (a).every: nan is not a duration"),
    ("source", 'every = "inf"', "sources[0] (a).every: 'inf' is not a duration"),
    ("source", 'every = "0"', "sources[0] (a).every: 0s is out of range: write from 1s to 366d"),
    ("source", "every = 0.001", "sources[0] (a).every: 0.001s is out of range"),
    ("source", 'every = "99999999999999d"', "longer than 100 years"),
    ("source", "every = 1e300", "longer than 100 years"),
    ("source", 'expect_every = "-1d"', "not a duration"),
    ("source", "max_size = -1", "sources[0] (a).max_size: a size cannot be negative"),
    ("crawl", 'delay = "1e300s"', "crawl.delay: '1e300s' is not a duration"),
    ("crawl", "delay = 1e300", "crawl.delay: 1e+300 is longer than 100 years"),
    ("crawl", 'delay = "2d"', "crawl.delay: 2d is out of range: write from 0s to 1h"),
    ("crawl", 'timeout = "0s"', "crawl.timeout: 0s is out of range: write from 1s to 10m"),
    ("crawl", 'timeout = "30d"', "crawl.timeout: 30d is out of range"),
    ("crawl", "max_size = 0", "crawl.max_size: 0 bytes is out of range: write from 1KB to 1GB"),
    ("crawl", "max_size = -5", "crawl.max_size: a size cannot be negative"),
    ("crawl", 'max_size = "lots"', "crawl.max_size: 'lots' is not a size"),
    ("crawl", "concurrency = 1e9", "crawl.concurrency"),
    ("crawl", 'extract_memory = "1MB"', "crawl.extract_memory: 1048576 bytes is out of range: write from 256MB to 64GB"),
    ("crawl", 'extract_timeout = "inf"', "crawl.extract_timeout: 'inf' is not a duration"),
    # an age no article can be young enough for: stored, and nothing ever alerts
    ("crawl", 'max_article_age = "0"', "crawl.max_article_age: 0s is out of range: write from 1h to 3660d"),
    ("crawl", 'max_article_age = "30m"', "crawl.max_article_age: 30m is out of range"),
    ("crawl", 'workers = "many"', "crawl.workers: Input should be a valid integer"),
    ("url", "http://127.0.0.1:99999/feed.xml",
     "sources[0] (a).url: 'http://127.0.0.1:99999/feed.xml' is not a URL: Port out of range"),
    ("url", "ftp://127.0.0.1/feed.xml", "is not an http:// or https:// URL"),
    ("url", "file:///etc/hosts", "is not an http:// or https:// URL"),
    ("url", "http:///feed.xml", "has no host"),
    ("url", "http://127.0.0.1:0/feed.xml", "port 0 cannot be connected to"),
    ("url", "http://exa mple.com/", "has spaces or control characters"),
    # hosts parsers read differently: a crawl refuses every request to them
    ("url", "http://127%2e0%2e0%2e1/feed.xml",
     "sources[0] (a).url: 'http://127%2e0%2e0%2e1/feed.xml': its host is not a valid host name (a '%' in it)"),
    ("url", "http://010.0.0.1/feed.xml", "sources[0] (a).url: 'http://010.0.0.1/feed.xml': its host is an ambiguous IP "
                                         "address (a part in hex or with a leading zero"),
    ("url", "http://0x7f.1/feed.xml", "its host is an ambiguous IP address"),
    ("url", "http://127.0.0.1./feed.xml", "sources[0] (a).url: 'http://127.0.0.1./feed.xml': its host is an IP address "
                                          "with a trailing dot (a name to some parsers and resolvers, the address to "
                                          "others)"),
    ("url", "http://127.0.0.1\u3002/feed.xml", "its host is an IP address with a trailing dot"),
    ("url", "http://010.0.0.1../feed.xml", "sources[0] (a).url: 'http://010.0.0.1../feed.xml': its host is not a valid "
                                           "host name (more than one trailing dot)"),
    # dots the fetcher reads as '.' (UTS-46 maps U+3002, U+FF0E, U+FF61; fullwidth digits too): judged as it reads them
    ("url", "http://127.0.0.1\uff0e\uff0e/feed.xml", "sources[0] (a).url: 'http://127.0.0.1\uff0e\uff0e/feed.xml': its "
                                                    "host is not a valid host name (more than one trailing dot)"),
    ("url", "http://example\u3002com\u3002\u3002/feed", "its host is not a valid host name (more than one trailing dot)"),
    ("url", "http://\uff10\uff11\uff10\uff61\uff10.0.1/", "its host is an ambiguous IP address"),
    ("channel", "http://127.0.0.1:99999/hook",
     "channels[0] (ops): 'http://127.0.0.1:99999/hook' is not a URL: Port out of range"),
    ("channel", "127.0.0.1:9/hook", "channels[0] (ops): '127.0.0.1:9/hook' is not an http:// or https:// URL"),
    ("listen", "127.0.0.1:99999", "metrics.listen: '127.0.0.1:99999': the port must be from 1 to 65535"),
    ("listen", "127.0.0.1:0", "the port must be from 1 to 65535"),
    # a TOML value of the wrong type is refused, not converted (pydantic's lax mode took `true` for 1, "yes" for true)
    ("crawl", "per_domain = true", "crawl.per_domain: Input should be a valid integer"),
    ("crawl", 'concurrency = "16"', "crawl.concurrency: Input should be a valid integer"),
    ("crawl", 'obey_robots = "yes"', "crawl.obey_robots: Input should be a valid boolean"),
    ("crawl", "block_private_networks = 1", "crawl.block_private_networks: Input should be a valid boolean"),
    ("crawl", "workers = 2.0", "crawl.workers: Input should be a valid integer"),
    ("source", 'enabled = "false"', "sources[0] (a).enabled: Input should be a valid boolean"),
    # blanks that would fail later without naming the key, or do nothing
    ("crawl", 'user_agent = ""', "crawl.user_agent: '' is blank: the User-Agent is sent on every request"),
    ("crawl", 'user_agent = "  "', "crawl.user_agent: '  ' is blank"),
    # a language the code does not know would be stored and sent on in the webhook payload
    ("source", 'lang = "klingon"', "sources[0] (a).lang: Input should be 'zh' or 'en'"),
    # a number out of its range says the documented range, in regwatch's words (it was pydantic's
    # `Input should be greater than or equal to 1`)
    ("crawl", "concurrency = -3", "crawl.concurrency: -3 is out of range: 1 to 1000"),
    ("crawl", "concurrency = 5000", "crawl.concurrency: 5000 is out of range: 1 to 1000"),
    ("crawl", "per_domain = 0", "crawl.per_domain: 0 is out of range: 1 to 100"),
    ("crawl", "workers = 0", "crawl.workers: 0 is out of range: 1 to 256"),
    ("crawl", "max_articles_per_source = 0", "crawl.max_articles_per_source: 0 is out of range: 1 to 1000000"),
])
def test_a_value_that_cannot_work_is_one_line(tmp_path, where, value, message):
    kw = {"crawl": {"crawl": value}, "source": {"source": value}, "url": {"url": value},
          "channel": {"channel": value}, "listen": {"listen": value}}[where]
    assert message in refused(config(tmp_path, **kw))


def test_values_that_work_still_load(tmp_path):
    cfg = load_config(config(tmp_path, crawl='max_size = "12MB"\nextract_memory = "2GB"\ndelay = 0\ntimeout = "2m"',
                             source='every = "1s"\nmax_size = 2048', listen="127.0.0.1:9108",
                             url="https://news.example.com:8443/rss?x=1"))
    assert cfg.crawl.max_size == 12 * 1024**2 and cfg.crawl.extract_memory == 2 * 1024**3
    assert cfg.crawl.delay == 0 and cfg.crawl.timeout == 120 and cfg.sources[0].every == 1
    assert cfg.crawl.block_private_networks is True          # the default
    assert cfg.crawl.workers == len(os.sched_getaffinity(0))  # the default: the cores it may run on
    assert load_config(config(tmp_path, crawl="workers = 3")).crawl.workers == 3
    assert load_config(config(tmp_path, crawl='max_article_age = "1h"')).crawl.max_article_age == 3600


def test_each_form_the_readme_gives_still_loads_with_strict_types(tmp_path):
    """Durations and sizes read a string or a number; integers, booleans and lists as TOML writes them."""
    cfg = load_config(config(tmp_path, crawl='timeout = 45\ndelay = "0.5s"\nmax_size = "2MB"\nconcurrency = 8\n'
                                             'obey_robots = false\nper_domain = 1\nmax_article_age = "3d"',
                             source='every = 90\nexpect_every = "2d"\nlang = "en"\nmax_size = 4096\nenabled = false'))
    assert (cfg.crawl.timeout, cfg.crawl.delay, cfg.crawl.max_size) == (45, 0.5, 2 * 1024**2)
    assert (cfg.crawl.concurrency, cfg.crawl.obey_robots, cfg.crawl.per_domain) == (8, False, 1)
    s = cfg.sources[0]
    assert (s.every, s.expect_every, s.lang, s.max_size, s.enabled) == (90, 2 * 86400, "en", 4096, False)
    assert load_config(config(tmp_path, source='lang = "zh"')).sources[0].lang == "zh"


@pytest.mark.parametrize("args,extra", [
    (["run", "--once"], {"source": "every = inf"}),
    (["alerts", "test", "ops"], {"channel": "http://127.0.0.1:99999/hook"}),
    (["run"], {"listen": "127.0.0.1:99999"}),
])
def test_the_cli_says_one_line_and_exits_2(tmp_path, rw, args, extra):
    r = rw(*args, "-c", config(tmp_path, **extra), cwd=tmp_path, timeout=60)
    assert r.returncode == 2, r.stderr[-2000:]
    assert "Traceback" not in r.stderr and r.stderr.strip().count("\n") == 0
    assert r.stderr.startswith("regwatch: ")


@pytest.mark.parametrize("url", ["http://\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45\u3002com/feed",
                                 "http://example\uff0ecom\uff61/feed", "http://\u4e2d\u56fd.cn/feed"])
def test_a_host_the_fetcher_maps_to_a_name_still_loads(tmp_path, url):
    # fullwidth letters and dots, a trailing one, an IDN: the crawl's requests reach example.com / xn--fiqs8s.cn
    assert load_config(config(tmp_path, url=url)).sources[0].url == url


@pytest.mark.parametrize("text,message", [
    ('[[channels]]\nname = "c"\ntype = "console"\nper_minute = 0\n', "channels[0] (c).per_minute: 0 is out of range: 1 to 10000"),
    ("[alerts]\nfailing_after = 0\n", "alerts.failing_after: 0 is out of range: 1 to 1000"),
    ("[alerts]\nlead_chars = -1\n", "alerts.lead_chars: -1 is out of range: 0 to 4000"),
    ("[alerts]\nmax_attempts = 101\n", "alerts.max_attempts: 101 is out of range: 1 to 100"),
])
def test_every_bounded_number_out_of_range_says_its_range(tmp_path, text, message):
    p = tmp_path / "regwatch.toml"
    p.write_text(text, encoding="utf-8")
    said = refused(p)
    assert message in said and "Input should" not in said, said
