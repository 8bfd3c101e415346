"""Values that loaded and then silently did nothing: each is refused at load with one line naming the key
(exit 2), or works."""

import pytest
from support.config import refused
from test_config import GOOD as BASE
from test_config import write

from regwatch.service.config import load_config

# test_config's base config, with a store and a source read hourly
GOOD = '[store]\npath = "rw.db"\n' + BASE.replace('every = "10m"', 'every = "1h"')
PG = GOOD.replace('path = "rw.db"', 'url = "postgresql://rw@127.0.0.1:9/rw"')


def refused_text(tmp_path, text) -> str:
    """What the config `text` is refused with (one line naming the file)."""
    return refused(write(tmp_path, text))


def source(extra, base=GOOD):
    return base.replace('every = "1h"', f'every = "1h"\n{extra}')


# -- tags: a PostgreSQL store's way of sharing sources among workers ------------------------------------------


def test_tags_on_sqlite_are_refused(tmp_path):
    said = refused_text(tmp_path, source('tags = ["cn-mainland"]'))
    assert "sources[0] (a).tags: " in said and "PostgreSQL store ([store] url)" in said
    said = refused_text(tmp_path, GOOD + '[worker]\ntags = ["cn-mainland"]\n')
    assert "worker.tags: " in said and "PostgreSQL store ([store] url)" in said


def test_tags_load_on_postgresql_and_empty_tags_anywhere(tmp_path):
    cfg = load_config(write(tmp_path, source('tags = ["cn-mainland"]', PG) + '[worker]\ntags = ["cn-mainland"]\n'))
    assert cfg.sources[0].tags == ["cn-mainland"] and cfg.worker.takes(cfg.sources[0])
    assert load_config(write(tmp_path, source("tags = []") + "[worker]\ntags = []\n")).worker.tags == []


def test_run_once_with_a_tagged_source_on_sqlite_exits_2(tmp_path, rw):
    r = rw("run", "--once", "-c", write(tmp_path, source('tags = ["x"]')), cwd=tmp_path, timeout=60)
    assert r.returncode == 2, r.stderr[-2000:]
    assert r.stderr.startswith("regwatch: ") and r.stderr.strip().count("\n") == 0 and "sources[0] (a).tags" in r.stderr


# -- a channel's keys its platform has no use for -------------------------------------------------------------


def channel(lines):
    return GOOD.replace('type = "console"', lines)


@pytest.mark.parametrize("lines,said", [
    ('type = "slack"\nurl = "https://hooks.slack.com/services/T/B/x"\nkeyword = "监管"',
     "channels[0] (ops): a slack channel's robot checks no keyword: remove `keyword` (for dingtalk, wecom, feishu"),
    ('type = "telegram"\nurl = "https://api.telegram.org/botT/sendMessage"\nchat_id = "-100"\nkeyword = "监管"',
     "a telegram channel's robot checks no keyword: remove `keyword`"),
    ('type = "slack"\nurl = "https://hooks.slack.com/services/T/B/x"\nchat_id = "-100"',
     "channels[0] (ops): a slack channel names no chat: remove `chat_id` (for telegram channels only)"),
    ('type = "console"\nurl = "https://example.com/hook"', "channels[0] (ops): a console channel sends to no url: remove `url`"),
    ('type = "console"\nkeyword = "监管"', "a console channel's robot checks no keyword"),
])
def test_a_channel_key_its_platform_does_not_use_is_refused(tmp_path, lines, said):
    assert said in refused_text(tmp_path, channel(lines))


def test_the_keys_a_platform_uses_load(tmp_path):
    for lines in ('type = "dingtalk"\nurl = "https://oapi.dingtalk.com/robot/send?access_token=T"\nkeyword = "监管"',
                  'type = "wecom"\nurl = "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=K"\nkeyword = "监管"',
                  'type = "feishu"\nurl = "https://open.feishu.cn/open-apis/bot/v2/hook/x"\nkeyword = "监管"',
                  'type = "telegram"\nurl = "https://api.telegram.org/botT/sendMessage"\nchat_id = "-100"'):
        assert load_config(write(tmp_path, channel(lines))).channels[0].type in lines


# -- a source's keys its kind does not read -------------------------------------------------------------------


@pytest.mark.parametrize("extra,said", [
    ('items = "data.list"', "sources[0] (a): `items` is read by json sources only: remove it from this feed source"),
    ('links = "ul a"', "sources[0] (a): `links` is read by listing sources only: remove it from this feed source"),
    ('detail = "https://x.example/{id}"', "`detail` is read by json sources only"),
    ('form = {page = "1"}', 'sources[0] (a): `form` is the body of a POST request: add method = "POST", or remove `form`'),
])
def test_a_source_key_its_kind_does_not_read_is_refused(tmp_path, extra, said):
    assert said in refused_text(tmp_path, source(extra))


def test_a_listing_with_title_and_a_get_with_form_are_refused_a_post_form_loads(tmp_path):
    listing = GOOD.replace('kind = "feed"', 'kind = "listing"\nlinks = "ul a"')
    assert "`title` is read by json sources only: remove it from this listing source" in refused_text(
        tmp_path, source('title = "h1"', listing))
    cfg = load_config(write(tmp_path, source('method = "POST"\nform = {page = "1"}', listing)))
    assert cfg.sources[0].form == {"page": "1"}
    assert load_config(write(tmp_path, source("form = {}"))).sources[0].form == {}     # an empty one sends nothing


# -- encoding -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["klingon", "base64", "rot13", "utf-9"])
def test_an_encoding_that_cannot_decode_text_is_refused(tmp_path, name):
    said = refused_text(tmp_path, source(f'encoding = "{name}"'))
    assert f"sources[0] (a).encoding: '{name}' is not a text encoding (e.g. gb18030, utf-8, big5)" in said


@pytest.mark.parametrize("name", ["gb2312", "GBK", "x-gbk", "big5", "utf-8", "latin-1", "shift_jis", ""])
def test_the_encodings_pages_declare_load(tmp_path, name):
    assert load_config(write(tmp_path, source(f'encoding = "{name}"'))).sources[0].encoding == name


# -- a subscription's keywords --------------------------------------------------------------------------------


@pytest.mark.parametrize("keywords,said", [
    ('[""]', "subscriptions[0] (s).keywords: item 0 ('') is blank: it matches nothing"),
    ('["花呗", "  "]', "subscriptions[0] (s).keywords: item 1 ('  ') is blank"),
    ('["\u3000"]', "is blank"),
])
def test_a_blank_keyword_is_refused(tmp_path, keywords, said):
    assert said in refused_text(tmp_path, GOOD.replace('topics = ["rate_cap"]', f"keywords = {keywords}"))


def test_keywords_load(tmp_path):
    cfg = load_config(write(tmp_path, GOOD.replace('topics = ["rate_cap"]', 'keywords = ["花呗", "APR"]')))
    assert cfg.subscriptions[0].keywords == ["花呗", "APR"]


# -- expect_every: how long nothing new may last before the source is `stale` ---------------------------------


def test_expect_every_shorter_than_every_is_refused(tmp_path):
    said = refused_text(tmp_path, source('expect_every = "1m"'))
    assert ('sources[0] (a): expect_every (1m) is shorter than every (1h): the source would be reported stale at '
            'nearly every run; write expect_every = "1h" or more') in said
    assert "every (10m)" in refused_text(tmp_path, GOOD.replace('every = "1h"', 'expect_every = "5m"'))   # the default every


def test_expect_every_of_every_or_more_loads(tmp_path):
    assert load_config(write(tmp_path, source('expect_every = "1h"'))).sources[0].expect_every == 3600
    assert load_config(write(tmp_path, source('expect_every = "2d"'))).sources[0].expect_every == 2 * 86400


# -- stories.window -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("window,said", [
    ('"0s"', "stories.window: 0s is out of range: write from 1h to 3660d"),
    ("0", "stories.window: 0s is out of range: write from 1h to 3660d"),
    ('"10m"', "stories.window: 10m is out of range: write from 1h to 3660d"),
])
def test_a_story_window_that_joins_no_copy_is_refused(tmp_path, window, said):
    assert said in refused_text(tmp_path, GOOD + f"[stories]\nwindow = {window}\n")


def test_a_story_window_in_range_loads(tmp_path):
    assert load_config(write(tmp_path, GOOD + '[stories]\nwindow = "1h"\n')).stories.window == 3600
    assert load_config(write(tmp_path, GOOD)).stories.window_days == 7


# -- digest ---------------------------------------------------------------------------------------------------


def test_daily_without_a_time_is_daily_at_nine_and_a_wrong_digest_says_every_form(tmp_path):
    from datetime import UTC, datetime

    from regwatch.alerts.digest import next_digest_time

    cfg = load_config(write(tmp_path, GOOD.replace('channels = ["ops"]', 'channels = ["ops"]\ndigest = "daily"')))
    now = datetime(2025, 12, 22, 2, 0, tzinfo=UTC)                    # 10:00 in Beijing
    assert next_digest_time(cfg.subscriptions[0].digest, now, cfg.display.tz) == next_digest_time("daily 09:00", now)
    assert next_digest_time("daily", now).isoformat() == "2025-12-23T01:00:00+00:00"     # tomorrow 09:00 Beijing
    said = refused_text(tmp_path, GOOD.replace('channels = ["ops"]', 'channels = ["ops"]\ndigest = "daily 9am"'))
    assert ('subscriptions[0] (s).digest: \'daily 9am\' is not a digest: write "", "hourly", "daily HH:MM" '
            '(e.g. "daily 17:30") or "daily" (at 09:00)') in said


# -- selectors and paths that can never select: refused at load, not at every crawl ---------------------------

LISTING = GOOD.replace('kind = "feed"', 'kind = "listing"\nlinks = "ul.news a"')
JSON = GOOD.replace('kind = "feed"', 'kind = "json"\nitems = "data.list"\nlink = "url"')


@pytest.mark.parametrize("text,said", [
    (LISTING.replace('"ul.news a"', '"ul.news a[["'), "sources[0] (a).links: bad CSS selector 'ul.news a[[': Expected"),
    (LISTING.replace('"ul.news a"', '"ul >> a"'), "sources[0] (a).links: bad CSS selector 'ul >> a'"),
    (LISTING.replace('"ul.news a"', '"a:frist-child"'), "sources[0] (a).links: bad CSS selector 'a:frist-child': "
                                                        "The pseudo-class :frist-child is unknown"),
    (source('extract = {title = "h1::text"}'),           # parsel's pseudo-elements: extraction's lxml has none
     "sources[0] (a).extract.title: bad CSS selector 'h1::text': Pseudo-elements are not supported"),
    (source('extract = {body = "div..content"}'), "sources[0] (a).extract.body: bad CSS selector 'div..content'"),
    (JSON.replace('"data.list"', '"data.["'), "sources[0] (a).items: bad JMESPath 'data.[': "),
    (JSON.replace('link = "url"', 'link = "https://x.example/view?id={doc..id}"'),
     "sources[0] (a).link: bad JMESPath 'doc..id': "),
    (JSON.replace('link = "url"', 'link = "url"\ntitle = "a b"'), "sources[0] (a).title: bad JMESPath 'a b': "),
    # a `{` with no complete {field}: `value` kept it as written, every link a 404
    (JSON.replace('link = "url"', 'link = "{url"'),
     "sources[0] (a).link: template '{url' has a { or } that is not part of a {field}: write each field whole"),
    (JSON.replace('link = "url"', 'detail = "https://x.example/d/{docId}}.json"'),
     "sources[0] (a).detail: template 'https://x.example/d/{docId}}.json' has a { or }"),
    (JSON.replace('link = "url"', 'link = "url"\ndate = "{}"'), "sources[0] (a).date: template '{}' has a { or }"),
])
def test_a_selector_or_path_that_cannot_compile_is_refused(tmp_path, text, said):
    assert said in refused_text(tmp_path, text)


def test_selectors_and_paths_that_compile_load(tmp_path):
    cfg = load_config(write(tmp_path, LISTING.replace('"ul.news a"', '"ul.news li > a, #list li:first-child"')
                            .replace('every = "1h"', 'every = "1h"\nextract = {title = "h1.title", body = "div#content p"}')))
    assert cfg.sources[0].extract.body == "div#content p"
    cfg = load_config(write(tmp_path, JSON.replace('link = "url"', 'link = "https://x.example/view?id={docId}&c={meta.channel}"\n'
                                                   'title = "docTitle || title"\ndate = "publishDate"\n'
                                                   'detail = "https://x.example/detail/{docId}.json"\nbody = "data.docClob"')))
    assert cfg.sources[0].detail == "https://x.example/detail/{docId}.json"


@pytest.mark.parametrize("links", ["ul.news a::attr(href)", "ul.news a::text, ul.old a"])
def test_links_that_select_text_not_elements_are_refused(tmp_path, links):
    """The list's entries are read from elements (href, title, text): a string from ::attr() has none."""
    said = refused_text(tmp_path, LISTING.replace('"ul.news a"', f'"{links}"'))
    assert f"sources[0] (a).links: {links!r} selects text, not elements: select the <a> elements" in said


# -- a cron source's expect_every: at least the longest wait between two of its runs --------------------------

@pytest.mark.parametrize("cron,expect,said", [
    ("*/5 * * * *", "1s", "sources[0] (a): expect_every (1s) is shorter than the longest wait between two runs of cron "
                          "'*/5 * * * *' (5m): the source would be reported stale after it; write expect_every = \"5m\""),
    ("0 9 * * 1-5", "1d", "longest wait between two runs of cron '0 9 * * 1-5' (3d)"),           # the weekend
    ("*/5 9-17 * * 1-5", "15h", "cron '*/5 9-17 * * 1-5' (3785m)"),              # Friday 17:55 to Monday 09:00
    ("0 8,20 1 * *", "12h", "cron '0 8,20 1 * *' (732h)"),           # 1 Jan 20:00 to 1 Feb 08:00: 31 days less 12 hours
])
def test_expect_every_shorter_than_a_crons_longest_wait_is_refused(tmp_path, cron, expect, said):
    assert said in refused_text(tmp_path, GOOD.replace('every = "1h"', f'cron = "{cron}"\nexpect_every = "{expect}"'))


def test_expect_every_of_a_crons_longest_wait_or_more_loads(tmp_path):
    for cron, expect in (("*/5 * * * *", "5m"), ("0 9 * * 1-5", "3d"), ("0 0 29 2 *", "1461d"), ("0 8,20 1 * *", "31d")):
        cfg = load_config(write(tmp_path, GOOD.replace('every = "1h"', f'cron = "{cron}"\nexpect_every = "{expect}"')))
        assert cfg.sources[0].cron == cron


def test_a_cron_that_never_fires_is_refused(tmp_path):
    said = refused_text(tmp_path, GOOD.replace('every = "1h"', 'cron = "0 0 31 2 *"'))
    assert "sources[0] (a): cron '0 0 31 2 *' never fires (no date matches it): the source would never run" in said


# -- topics: a config that can tag nothing --------------------------------------------------------------------


def test_no_topic_pack_and_no_topic_file_is_refused(tmp_path):
    said = refused_text(tmp_path, GOOD + "[topics]\npacks = []\n")
    assert "topics: packs = [] and no topic files: nothing could ever be tagged or alert" in said


def test_topic_files_alone_load(tmp_path):
    (tmp_path / "mine.toml").write_text('[topics.bnpl]\nname = "先买后付"\n[[topics.bnpl.signals]]\nterms = ["先买后付"]\n',
                                        encoding="utf-8")
    cfg = load_config(write(tmp_path, GOOD + '[topics]\npacks = []\nfiles = ["mine.toml"]\n'))
    assert cfg.topics.packs == [] and cfg.topics.files == [str(tmp_path / "mine.toml")]


# -- store.path ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ['""', '"  "'])
def test_a_blank_store_path_is_refused(tmp_path, path):
    said = refused_text(tmp_path, GOOD.replace('path = "rw.db"', f"path = {path}"))
    assert f"store.path: {path.strip(chr(34))!r} is no file name: write the SQLite file's path" in said


# -- a channel's secret that cannot sign ----------------------------------------------------------------------


@pytest.mark.parametrize("lines,said", [
    ('type = "dingtalk"\nurl = "http://127.0.0.1:9/robot/send?access_token=t"\nsecret = ""',
     "channels[0] (ops): secret = '' is blank: every message would go out unsigned; write the secret, or remove the key"),
    ('type = "feishu"\nurl = "http://127.0.0.1:9/open-apis/bot/v2/hook/x"\nsecret = " "', "secret = ' ' is blank"),
    ('type = "dingtalk"\nurl = "http://127.0.0.1:9/robot/send?access_token=t"\nsecret = "0123456789abcdef"',
     "channels[0] (ops): `secret` is not a DingTalk 加签 secret: write the whole secret the robot's security settings "
     "show, starting with SEC"),
])
def test_a_secret_that_cannot_sign_is_refused(tmp_path, lines, said):
    assert said in refused_text(tmp_path, channel(lines))


def test_a_dingtalk_sec_secret_loads(tmp_path):
    lines = 'type = "dingtalk"\nurl = "http://127.0.0.1:9/robot/send?access_token=t"\nsecret = "SEC0123456789abcdef"'
    assert load_config(write(tmp_path, channel(lines))).channels[0].secret == "SEC0123456789abcdef"


# -- the store's URL -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("url,port", [("postgresql://rw@127.0.0.1:99999/rw", "'99999'"),
                                      ("postgresql://rw:pw@127.0.0.1:0/rw", "'0'"),
                                      ("postgresql://rw@h1:5432,h2:x/rw", "'x'")])
def test_a_store_url_whose_port_is_no_port_is_refused(tmp_path, url, port):
    """It loaded and failed only at the first connection (README: a port outside 1–65535 stops regwatch at start)."""
    said = refused_text(tmp_path, GOOD.replace('path = "rw.db"', f'url = "{url}"'))
    assert "store.url: " in said and f"port {port} is not a port" in said and ":pw@" not in said


def test_store_urls_with_several_hosts_or_an_ipv6_host_load(tmp_path):
    for url in ("postgresql://rw@h1:5432,h2:5433/rw", "postgresql://rw@[::1]:5432/rw", "postgresql://rw@[::1]/rw",
                "postgresql:///rw?host=/var/run/postgresql"):
        assert load_config(write(tmp_path, GOOD.replace('path = "rw.db"', f'url = "{url}"'))).store.url == url
