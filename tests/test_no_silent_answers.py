"""A new user's first hour: no silent empty answers, no store made by a look, no secrets asked for by
what does not send, one line and exit 2 for each mistake, and a first run that says what it did."""

import json

from conftest import regwatch
from support.news import art, publish
from support.world import TOKEN_VAR

CAP = ("监管部门近日窗口指导，要求持牌消费金融公司新发放贷款的综合融资成本压降至20%以内。"
       "业内人士表示，年化利率上限下调后，部分机构已暂停高定价产品。")


def one_line(r, *words):
    assert r.returncode == 2, (r.stdout, r.stderr)
    assert r.stderr.count("\n") == 1 and r.stderr.startswith("regwatch: ") and "Traceback" not in r.stderr
    for w in words:
        assert w in r.stderr, r.stderr


def test_filters_naming_an_unknown_topic_or_source_list_the_known_names(world):
    c = ("-c", world.config)
    one_line(regwatch("search", "利率", "--topic", "enforcment", *c), "no topic 'enforcment'", "known topics:", "enforcement")
    one_line(regwatch("search", "利率", "--source", "nosuch", *c), "no source 'nosuch'", "known sources: feed, list")
    one_line(regwatch("export", "--topic", "enforcment", *c), "known topics:")
    r = regwatch("search", "利率", "--topic", "enforcement", *c)        # a known topic with no match: said, exit 0
    assert r.returncode == 0 and r.stdout == "" and "no results for '利率' (topic enforcement)" in r.stderr


def test_a_topic_is_named_by_its_id_or_its_name_and_a_typo_is_refused_by_every_command(world, tmp_path):
    c = ("-c", world.config)
    by_id, by_name = (regwatch("export", "--format", "jsonl", "--topic", t, *c) for t in ("rate_cap", "利率上限"))
    assert by_id.returncode == 0 and by_id.stdout == by_name.stdout and by_id.stdout, by_name.stderr
    typo = tmp_path / "typo.toml"
    typo.write_text(world.config.read_text(encoding="utf-8").replace('topics = ["rate_cap"', 'topics = ["rate_caps"', 1),
                    encoding="utf-8")
    assert "rate_caps" in typo.read_text(encoding="utf-8")
    for args in (["sources"], ["subscriptions", "--json"], ["alerts"], ["why", "1"]):
        one_line(regwatch(*args, "-c", typo), "rate_caps", "not in the loaded packs")


def test_a_one_character_word_is_refused_with_the_reason(world):
    one_line(regwatch("search", "罚", "-c", world.config), "one-character words cannot be searched (罚)")


def test_read_only_commands_never_make_a_store(tmp_path):
    for args in (["search", "征信"], ["export"], ["alerts"], ["report", "--out", tmp_path / "r.html"], ["why", "1"],
                 ["eval", "--store"], ["subscriptions", "test", "all-regulatory-topics"]):
        r = regwatch(*args, cwd=tmp_path, env={"REGWATCH_CONFIG": ""})
        one_line(r, "no store at regwatch.db yet", "regwatch run --once")
    r = regwatch("sources", cwd=tmp_path, env={"REGWATCH_CONFIG": ""})
    assert r.returncode == 0 and "never run" in r.stdout and "no store at regwatch.db yet" in r.stderr
    assert list(tmp_path.iterdir()) == []


def test_the_store_path_is_read_from_the_config_files_folder(world, tmp_path):
    """`store.path = "rw.db"` in /somewhere/regwatch.toml is /somewhere/rw.db, whatever folder runs it."""
    r = regwatch("sources", "--json", "-c", world.config, cwd=tmp_path)
    rows = {json.loads(ln)["source"]: json.loads(ln) for ln in r.stdout.splitlines()}
    assert rows["feed"]["state"] == "ok" and rows["feed"]["articles"] >= 4
    assert not (tmp_path / "rw.db").exists()


def test_commands_that_do_not_send_need_no_channel_secrets(world, tmp_path):
    """The world's DingTalk URL holds ${RW_FIRSTHOUR_TOKEN}, set only for `run`."""
    c = ("-c", world.config)
    for args in (["sources"], ["sources", "--pack"], ["search", "利率"], ["topics"], ["eval", "--store"],
                 ["export"], ["report", "--out", tmp_path / "r.html"], ["why", "1"], ["alerts"], ["alerts", "--stats"],
                 ["subscriptions"], ["subscriptions", "test", "caps"]):
        r = regwatch(*args, *c)
        assert r.returncode == 0, (args, r.stderr)
        assert TOKEN_VAR not in r.stderr
    r = regwatch("classify", "-", *c, input="消费金融利率上限\n" + CAP)
    assert r.returncode == 0 and "rate_cap" in r.stdout
    one_line(regwatch("alerts", "test", "risk-dingtalk", *c), f"environment variable {TOKEN_VAR} is not set")
    one_line(regwatch("run", "--once", *c), f"environment variable {TOKEN_VAR} is not set")


def test_extract_a_missing_file_a_404_and_no_server_are_one_line_each(tmp_path, site):
    one_line(regwatch("extract", tmp_path / "missing.html"), "missing.html: no such file")
    one_line(regwatch("extract", f"{site.url}/nothing-here.html"), "HTTP 404")
    one_line(regwatch("extract", "http://127.0.0.1:9/a.html"), "cannot fetch: ConnectError")


def test_classify_reads_text_or_body_and_warns_on_lines_with_neither(world):
    exported = regwatch("export", "--body", "-c", world.config).stdout        # export --body | classify
    r = regwatch("classify", "-", "-c", world.config, input=exported)
    assert r.returncode == 0 and r.stderr == ""
    tagged = {json.loads(ln)["id"]: [t["id"] for t in json.loads(ln)["topics"]] for ln in r.stdout.splitlines()}
    stored = {json.loads(ln)["id"]: json.loads(ln)["topics"] for ln in exported.splitlines()}
    assert tagged == stored                                  # the same tags as the store's, from `body`
    lines = json.dumps({"id": 1, "title": "利率上限", "text": CAP}, ensure_ascii=False) + '\n{"id": 2, "title": "利率上限"}\n'
    r = regwatch("classify", "-", input=lines)
    assert r.returncode == 0 and "stdin:2: no `text` or `body` (tagged on its title alone)" in r.stderr
    assert "stdin:1" not in r.stderr


def test_eval_store_counts_stories_not_copies(world):
    out = json.loads(regwatch("eval", "--store", "--json", "-c", world.config).stdout)
    assert out["articles"] == 8 and out["stories"] == 6            # cap and repair each have a copy
    r = regwatch("eval", "--store", "-c", world.config)
    assert "8 stored articles in 6 stories" in r.stdout


def test_the_first_run_says_it_was_a_baseline_and_counts_sources(tmp_path, site):
    publish(site, {"feed": [art("a1", "消费金融利率上限降至20%", CAP)]})
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[crawl]\ndelay = "0s"\n[[sources]]\nname = "feed"\nkind = "feed"\nurl = "{site.url}/feed.xml"\n'
                   '[[channels]]\nname = "c"\ntype = "console"\n[[subscriptions]]\nname = "s"\ntopics = ["*"]\n'
                   'channels = ["c"]\n', encoding="utf-8")
    r = regwatch("run", "--once", "-c", cfg)
    assert r.returncode == 0, r.stderr
    assert ("regwatch: 1 source, 1 new article, 1 stored as the baseline of feed (a source's first run: no alerts), "
            "0 too old to alert, 0 alerts queued") in r.stderr
    assert (tmp_path / "regwatch.db").exists()


def test_many_sources_failing_in_one_cycle_are_one_health_message(tmp_path, receiver):
    receiver.routes["ops"] = {"type": "webhook", "secret": None}
    dead = "".join(f'[[sources]]\nname = "dead{i}"\nkind = "feed"\nurl = "http://127.0.0.1:9/feed{i}.xml"\n'
                   for i in range(5))
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'{dead}[[channels]]\nname = "ops"\ntype = "webhook"\nurl = "{receiver.url}/ops"\n'
                   '[alerts]\nfailing_after = 1\nhealth_channels = ["ops"]\nonce_wait = "5s"\n', encoding="utf-8")
    r = regwatch("run", "--once", "-c", cfg)
    assert r.returncode == 0, r.stderr
    health = receiver.delivered("ops")
    assert len(health) == 1
    data = health[0]["body"]["data"]
    assert data["state"] == "summary" and sorted(c["source"] for c in data["changes"]) == [f"dead{i}" for i in range(5)]
    r = regwatch("alerts", "--stats", "--json", "-c", cfg)
    chans = json.loads(r.stdout)["channels"]
    assert [{k: c[k] for k in ("channel", "matches", "alerts_sent", "messages_sent", "digests", "failed", "health")}
            for c in chans] == [{"channel": "ops", "matches": 0, "alerts_sent": 0, "messages_sent": 0, "digests": 0,
                                 "failed": 0, "health": 1}]      # a health notice is not an alert sent
    assert chans[0]["state"] == "ok"                             # (the channel took it)


def test_sources_with_no_source_configured_says_so(tmp_path):
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n', encoding="utf-8")
    r = regwatch("sources", "-c", cfg)
    assert r.returncode == 0 and r.stdout == ""
    assert "no sources configured in" in r.stderr and 'source_packs = ["cn-finance"]' in r.stderr


def test_a_limit_past_the_maximum_is_refused_by_click_not_a_traceback(world):
    for args in (["search", "征信"], ["alerts"], ["subscriptions", "test", "all-regulatory-topics"]):
        for limit in ("9223372036854775808", "99999999999999999999999", "1000001"):
            r = regwatch(*args, "--limit", limit, "-c", world.config)
            assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
            assert "'--limit'" in r.stderr and "1<=x<=1000000" in r.stderr, r.stderr
    r = regwatch("search", "征信", "--limit", "1000000", "-c", world.config)
    assert r.returncode == 0 and r.stdout, r.stderr


def test_an_empty_export_says_so_and_a_csv_keeps_its_bom_and_header(world):
    r = regwatch("export", "--format", "csv", "--since", "1s", "-c", world.config)
    assert r.returncode == 0 and "no articles to export (stored since" in r.stderr, r.stderr
    assert r.stdout.startswith("\ufeffid,url,source,outlet,title,lang,published_at,fetched_at,story_id,story_size,topics")
    assert r.stdout.count("\n") == 1
    full = regwatch("export", "--format", "csv", "-c", world.config).stdout       # the same columns as with rows
    assert full.splitlines()[0] == r.stdout.splitlines()[0]
    r = regwatch("export", "--format", "csv", "--body", "--since", "1s", "-c", world.config)
    assert r.stdout.splitlines()[0].endswith("story_size,body,topics")
    r = regwatch("export", "--format", "jsonl", "--since", "1s", "--topic", "rate_cap", "-c", world.config)
    assert r.returncode == 0 and r.stdout == "" and "no articles to export (topic rate_cap, stored since" in r.stderr


def test_label_refuses_a_topic_given_both_ways(world):
    import sqlite3

    def labels():
        db = sqlite3.connect(f"file:{world.dir / 'rw.db'}?mode=ro", uri=True)
        try:
            return db.execute("SELECT count(*) FROM labels").fetchone()[0]
        finally:
            db.close()

    before = labels()
    for t in ("rate_cap", "利率上限"):                     # by its id or its name, it is the same topic
        one_line(regwatch("label", "1", "--topic", "rate_cap", "--not", t, "-c", world.config),
                 "rate_cap: given twice (--topic, --not, --forget)")
    assert labels() == before


def test_subscriptions_on_a_config_without_any_says_so(tmp_path):
    """`regwatch subscriptions` printed nothing, exit 0, on a config without [[subscriptions]]."""
    cfg = tmp_path / "nosubs.toml"
    cfg.write_text('[store]\npath = "x.db"\n[[channels]]\nname = "c"\ntype = "console"\n', encoding="utf-8")
    r = regwatch("subscriptions", "-c", cfg)
    assert r.returncode == 0 and r.stdout == "", r.stdout
    assert f"no subscriptions configured in {cfg}: no article alerts are sent; add [[subscriptions]]" in r.stderr, r.stderr
