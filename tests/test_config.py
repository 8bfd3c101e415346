"""Config: what a user writes, and one clear line (exit 2) for every mistake."""

import re

import pytest

from regwatch.service.config import ConfigError, load_config, parse_config
from regwatch.service.durations import parse_duration


def write(tmp_path, text):
    p = tmp_path / "regwatch.toml"
    p.write_text(text, encoding="utf-8")
    return p


GOOD = """
[[sources]]
name = "a"
kind = "feed"
url = "http://127.0.0.1:9/feed.xml"
every = "10m"

[[channels]]
name = "ops"
type = "console"

[[subscriptions]]
name = "s"
topics = ["rate_cap"]
channels = ["ops"]
"""


@pytest.mark.parametrize("text,seconds", [("30s", 30), ("10m", 600), ("2h", 7200), ("3d", 259200), (45, 45)])
def test_durations_read_as_users_write_them(text, seconds):
    assert parse_duration(text) == seconds


def test_a_good_config_loads(tmp_path):
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.sources[0].every == 600
    assert cfg.subscriptions[0].channels == ["ops"]


@pytest.mark.parametrize("change,message", [
    (("every = \"10m\"", "every = \"10x\""), "sources[0] (a).every: '10x' is not a duration"),
    (("every = \"10m\"", "evry = \"10m\""), "sources[0] (a).evry: unknown key"),
    (("channels = [\"ops\"]", "channels = [\"nope\"]"), "channel 'nope' is not defined"),
    (("kind = \"feed\"", "kind = \"rss\""), "sources[0] (a).kind: Input should be 'feed', 'sitemap', 'listing' or 'json'"),
    (("topics = [\"rate_cap\"]", "topics = []"), "a subscription needs `topics` or `keywords`"),
])
def test_each_mistake_is_one_line_naming_the_key(tmp_path, change, message):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, GOOD.replace(*change)))
    assert message in str(e.value)
    assert "\n" not in str(e.value)
    assert str(tmp_path) in str(e.value)


def test_a_top_level_path_is_an_unknown_key_and_the_file_read_is_still_known(tmp_path):
    """`path` is what regwatch remembers of the file it read, not a key: written at the top (for [store] path), it
    is refused like any other unknown key, not taken and silently overwritten."""
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, 'path = "/tmp/elsewhere.db"\n' + GOOD))
    assert str(e.value) == (f"{tmp_path / 'regwatch.toml'}: path: unknown key "
                            "(check its spelling against the README's config reference)")
    cfg = load_config(write(tmp_path, GOOD))
    assert cfg.path == str(tmp_path / "regwatch.toml") and "path" not in cfg.model_dump()


def test_unset_environment_variable_is_named(tmp_path, monkeypatch):
    """A channel's unset variable is an error for what sends (the config loads for what only reads)."""
    monkeypatch.delenv("RW_TEST_SECRET", raising=False)
    text = GOOD.replace('type = "console"', 'type = "dingtalk"\nurl = "http://127.0.0.1:9/x"\nsecret = "${RW_TEST_SECRET}"')
    with pytest.raises(ConfigError, match=r"channels\[0\] \(ops\)\.secret: environment variable RW_TEST_SECRET is not set"):
        load_config(write(tmp_path, text)).require_channel_secrets()
    with pytest.raises(ConfigError, match="RW_TEST_SECRET"):
        load_config(write(tmp_path, text)).require_channel_secrets("ops")
    two = text + '\n[[channels]]\nname = "other"\ntype = "console"\n'
    load_config(write(tmp_path, two)).require_channel_secrets("other")      # `alerts test other` needs only its own
    monkeypatch.setenv("RW_TEST_SECRET", "SECabc")
    assert load_config(write(tmp_path, text)).channels[0].secret == "SECabc"


def test_a_variable_in_a_urls_password_or_query_value_is_percent_encoded(tmp_path, monkeypatch):
    """`openssl rand -base64` passwords hold / and +: put in as they are, they changed the host contacted."""
    from urllib.parse import parse_qs, urlsplit

    from psycopg.conninfo import conninfo_to_dict

    from regwatch.pipeline.redact import redact

    password, query = "Zx9/kq2+p@ss:w#rd?%=", "a&b=c d/"
    monkeypatch.setenv("RW_PG_PASSWORD", password)
    monkeypatch.setenv("RW_Q", query)
    monkeypatch.setenv("RW_HOST", "127.0.0.1:9")
    text = GOOD.replace('url = "http://127.0.0.1:9/feed.xml"', 'url = "http://${RW_HOST}/feed.xml?q=${RW_Q}&n=1"')
    cfg = load_config(write(tmp_path, text + '[store]\nurl = "postgresql://rw:${RW_PG_PASSWORD}@127.0.0.1:5432/rw"\n'))
    assert conninfo_to_dict(cfg.store.url) == {"user": "rw", "password": password, "host": "127.0.0.1", "port": "5432",
                                               "dbname": "rw"}      # as libpq reads it
    url = urlsplit(cfg.sources[0].url)                         # the host (the whole authority here) as it is
    assert url.netloc == "127.0.0.1:9" and parse_qs(url.query) == {"q": [query], "n": ["1"]}
    # redacted in either form, whole: no part of it left beside a mask
    shown = redact(f"{cfg.sources[0].url} {cfg.store.url} {password}", cfg.secrets)
    assert not any(part in shown for part in ("a%26b", "a&b", "Zx9", "kq2", "w%23rd", "w#rd")), shown


def test_invalid_toml_and_missing_file(tmp_path):
    with pytest.raises(ConfigError, match="invalid TOML"):
        load_config(write(tmp_path, "[store\npath = 1"))
    with pytest.raises(ConfigError, match="no such config file"):
        load_config(tmp_path / "absent.toml")


def test_listing_needs_links_and_json_needs_items():
    base = {"name": "x", "url": "http://127.0.0.1/", "every": "1m"}
    with pytest.raises(ConfigError, match="needs `links`"):
        parse_config({"sources": [{**base, "kind": "listing"}]})
    with pytest.raises(ConfigError, match="needs `items`"):
        parse_config({"sources": [{**base, "kind": "json"}]})


def test_cli_config_error_is_one_line_and_exit_2(tmp_path, rw):
    p = write(tmp_path, GOOD.replace('every = "10m"', 'every = "soon"'))
    r = rw("run", "--once", "-c", p)
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0
    assert "every: 'soon' is not a duration" in r.stderr
    assert "Traceback" not in r.stderr


def test_subscription_to_unknown_topic_is_caught_at_start(tmp_path, rw):
    p = write(tmp_path, GOOD.replace('topics = ["rate_cap"]', 'topics = ["rate_caps"]'))
    r = rw("topics", "-c", p)
    assert r.returncode == 2
    assert "topic 'rate_caps' is not in the loaded packs" in r.stderr


def test_init_writes_a_starter_that_loads(tmp_path, rw):
    r = rw("init", tmp_path / "site.toml")
    assert r.returncode == 0, r.stderr
    cfg = load_config(tmp_path / "site.toml")
    assert cfg.subscriptions and cfg.channels
    assert rw("init", tmp_path / "site.toml").returncode == 2  # never overwrites silently


def test_the_starters_commented_channels_load_when_uncommented(tmp_path, rw, monkeypatch):
    """`regwatch init`'s starter shows a channel per common platform (only DingTalk's URL was shown: F17), each
    valid once its lines are uncommented and its ${VAR}s set."""
    assert rw("init", tmp_path / "site.toml").returncode == 0
    text = (tmp_path / "site.toml").read_text(encoding="utf-8")
    start, end = text.index("# [[channels]]"), text.index("[[subscriptions]]")
    text = text[:start] + re.sub(r"(?m)^# (?=\[\[channels\]\]|(name|type|url|secret) = )", "", text[start:end]) + text[end:]
    (tmp_path / "site.toml").write_text(text, encoding="utf-8")
    for name, value in {"DINGTALK_TOKEN": "t", "DINGTALK_SECRET": "SEC1", "WECOM_KEY": "k", "FEISHU_TOKEN": "t",
                        "FEISHU_SECRET": "s", "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T/B/x",
                        "WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"}.items():
        monkeypatch.setenv(name, value)
    cfg = load_config(tmp_path / "site.toml")
    cfg.require_channel_secrets()
    assert [c.type for c in cfg.channels] == ["console", "dingtalk", "wecom", "feishu", "slack", "webhook"]
    assert cfg.channels[2].url == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=k"


def test_embedded_default_when_no_config(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("REGWATCH_CONFIG", raising=False)
    cfg = load_config(None)
    assert cfg.sources and cfg.channels[0].type == "console"


def test_a_subscription_may_name_a_bundled_source(tmp_path):
    text = ('source_packs = ["cn-finance"]\n'
            + GOOD.replace('channels = ["ops"]', 'channels = ["ops"]\nsources = ["pbc-xinwen-fabu", "a"]'))
    cfg = load_config(write(tmp_path, text))
    assert cfg.subscriptions[0].sources == ["pbc-xinwen-fabu", "a"]
    with pytest.raises(ConfigError, match=r"subscriptions\[0\] \(s\): source 'pbc-xinwen-fabuu' is not defined"):
        load_config(write(tmp_path, text.replace('"pbc-xinwen-fabu"', '"pbc-xinwen-fabuu"')))
    with pytest.raises(ConfigError, match="'pbc-xinwen-fabu' is left out by exclude_sources"):
        load_config(write(tmp_path, 'exclude_sources = ["pbc-xinwen-fabu"]\n' + text))


def test_unknown_names_in_exclude_sources_are_an_error(tmp_path):
    text = 'source_packs = ["cn-finance"]\nexclude_sources = ["csrc-yaowen", "pbc-xinwen"]\n' + GOOD
    with pytest.raises(ConfigError, match=r"exclude_sources: 'pbc-xinwen' is not a source of the source packs cn-finance"):
        load_config(write(tmp_path, text))
    cfg = load_config(write(tmp_path, text.replace(', "pbc-xinwen"', "")))
    assert "csrc-yaowen" not in {s.name for s in cfg.sources} and "pbc-xinwen-fabu" in {s.name for s in cfg.sources}


@pytest.mark.parametrize("change,message", [
    (('every = "10m"', 'every = "10m"\ntz = "Asia/Beijing"'), "sources[0] (a).tz: 'Asia/Beijing' is not a time zone name"),
    (('every = "10m"', 'every = "10m"\ntz = "../../etc/passwd"'),
     "sources[0] (a).tz: '../../etc/passwd' is not a time zone name"),
    (('every = "10m"', 'every = "10m"\ncron = "*/5 * * * *"'), "sources[0] (a): give `every` or `cron`, not both"),
])
def test_source_schedule_and_zone_mistakes(tmp_path, change, message):
    with pytest.raises(ConfigError) as e:
        load_config(write(tmp_path, GOOD.replace(*change)))
    assert message in str(e.value) and "\n" not in str(e.value)


def test_cron_alone_and_a_real_zone_load(tmp_path):
    cfg = load_config(write(tmp_path, GOOD.replace('every = "10m"', 'cron = "*/5 * * * *"\ntz = "Asia/Hong_Kong"')))
    assert cfg.sources[0].cron == "*/5 * * * *" and cfg.sources[0].timezone() == "Asia/Hong_Kong"


def test_a_bad_tz_is_one_line_and_exit_2_before_anything_runs(tmp_path, rw):
    p = write(tmp_path, GOOD.replace('every = "10m"', 'cron = "*/5 * * * *"\ntz = "Asia/Beijing"'))
    r = rw("run", "-c", p, timeout=30)                # the daemon: no traceback from the scheduler
    assert r.returncode == 2 and r.stderr.strip().count("\n") == 0
    assert "tz: 'Asia/Beijing' is not a time zone name" in r.stderr and "Traceback" not in r.stderr


def test_max_articles_per_source_caps_each_run_by_default():
    # a list page naming half a million links must not put them all in one crawl's memory
    assert parse_config({}).crawl.max_articles_per_source == 1000
    assert parse_config({"crawl": {"max_articles_per_source": 100}}).crawl.max_articles_per_source == 100
    for bad in (0, 2_000_000, "all"):
        with pytest.raises(ConfigError, match="max_articles_per_source"):
            parse_config({"crawl": {"max_articles_per_source": bad}})


def test_a_secret_on_a_platform_that_signs_nothing_is_refused(tmp_path):
    """A WeCom robot is authenticated by the key in its URL: a `secret` there would silently do nothing."""
    text = GOOD.replace('type = "console"', 'type = "wecom"\nurl = "http://127.0.0.1:9/x?key=k"\nsecret = "abc"')
    with pytest.raises(ConfigError, match=r"channels\[0\] \(ops\).*a wecom channel signs nothing: remove `secret`"):
        load_config(write(tmp_path, text))
