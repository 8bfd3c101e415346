"""Topic tags: multi-label, explained by evidence, packs as data files."""

import json
import re

import pytest

from regwatch.pipeline.classify import Classifier, PackError, load_topics, parse_pack


@pytest.fixture(scope="module")
def clf():
    return Classifier(load_topics())


def test_seed_articles_get_their_labels(clf, seed_articles):
    for a in seed_articles:
        got = {t.topic for t in clf.classify(a["title"], a["text"])}
        assert set(a["labels"]) <= got, a["id"]
        if not a["labels"]:
            assert not got, a["id"]


def test_lpr_cut_is_not_a_rate_cap(clf):
    tags = clf.classify("5年期LPR下调10个基点 房贷利率再创新低",
                        "中国人民银行授权全国银行间同业拆借中心公布，1年期LPR为3.0%，5年期以上LPR下调至3.5%。存量房贷利率随之下调。")
    assert "rate_cap" not in {t.topic for t in tags}


def test_every_tag_carries_evidence(clf):
    tags = clf.classify("监管要求消费金融公司综合融资成本压降至20%以内", "各机构年化利率不得超过24%。")
    rc = next(t for t in tags if t.topic == "rate_cap")
    assert rc.evidence and all({"term", "where", "snippet"} <= set(e) for e in rc.evidence)
    assert any(e["where"] == "title" for e in rc.evidence)


def test_traditional_and_full_width_are_normalized(clf):
    tags = clf.classify("央行推出一次性信用修復政策", "個人徵信記錄中的逾期記錄將不予展示，符合條件的借款人可修復信用。")
    assert "credit_repair" in {t.topic for t in tags}


def test_english_terms_match_whole_words(clf):
    assert not clf.classify("Capital markets", "The capital of capitalism caps nothing.")


def test_english_compounds_match_open_or_hyphenated():
    pack = {"topics": {
        "a": {"threshold": 1, "signals": [{"terms": ["late payment"], "weight": 1}, {"terms": ["co-lending"], "weight": 1}]},
        "b": {"threshold": 1, "signals": [{"terms": ["risk control"], "weight": 1}, {"terms": ["risk-control"], "weight": 5}]},
    }}
    clf = Classifier(parse_pack(pack, "mine.toml"))
    tags = {t.topic: t for t in clf.classify("A late-payment wipe", "Banks end co lending deals.")}
    assert [e["term"] for e in tags["a"].evidence] == ["late-payment", "co lending"]
    # a form the pack names itself keeps its own signal
    assert clf.classify("", "Their risk-control teams.")[0].score == 5
    assert clf.classify("", "Their risk control teams.")[0].score == 1
    assert not clf.classify("", "A late paymentless world; co-lend.")


def test_a_users_topic_file_adds_a_topic(tmp_path):
    f = tmp_path / "mine.toml"
    f.write_text('[topics.bnpl]\nname = "先买后付"\nthreshold = 3\n'
                 '[[topics.bnpl.signals]]\nterms = ["先买后付", "buy now pay later"]\nweight = 3\n', encoding="utf-8")
    clf = Classifier(load_topics(["cn-consumer-finance"], [str(f)]))
    assert [t.topic for t in clf.classify("Buy now, pay later rules", "New buy now pay later rules.")] == ["bnpl"]


@pytest.mark.parametrize("data,message", [
    ({}, "no [topics.ID] tables"),
    ({"topics": {"x": {"signals": []}}}, "no signals"),
    ({"topics": {"x": {"signals": [{"regex": "("}]}}}, "bad regex"),
    ({"topics": {"x": {"signals": [{"terms": ["a"], "wieght": 2}]}}}, "unknown key"),
])
def test_pack_mistakes_are_named(data, message):
    with pytest.raises(PackError, match=re.escape(message)):
        parse_pack(data, "mine.toml")


def test_cost_does_not_grow_with_the_number_of_terms():
    many = {"topics": {"big": {"threshold": 1, "signals": [{"terms": [f"术语{i}" for i in range(5000)], "weight": 1}]}}}
    clf = Classifier(parse_pack(many, "big.toml"))
    assert clf.classify("标题", "正文里有术语4321。")[0].evidence[0]["term"] == "术语4321"


def test_cli_classify_jsonl_and_explain(tmp_path, rw, seed_articles):
    f = tmp_path / "in.jsonl"
    f.write_text("\n".join(json.dumps({"id": a["id"], "title": a["title"], "text": a["text"]}, ensure_ascii=False)
                           for a in seed_articles[:3]), encoding="utf-8")
    r = rw("classify", f, "--json")
    out = [json.loads(line) for line in r.stdout.splitlines()]
    assert [o["id"] for o in out] == ["seed-01", "seed-02", "seed-03"]
    assert out[1]["topics"][0]["id"] == "credit_repair" and out[1]["topics"][0]["evidence"]
    r = rw("classify", "--explain", "-", input="小贷公司被取消试点资格\n多家小额贷款公司被取消试点资格。")
    assert "small_loan" in r.stdout and "threshold" in r.stdout


def test_cli_eval_reports_per_topic(tmp_path, rw, seed_articles):
    f = tmp_path / "labeled.jsonl"
    f.write_text("\n".join(json.dumps(a, ensure_ascii=False) for a in seed_articles), encoding="utf-8")
    r = rw("eval", f, "--json")
    rep = json.loads(r.stdout)
    assert rep["articles"] == 10 and "credit_repair" in rep["topics"] and rep["micro"]["recall"] == 1.0


def _jsonl(items) -> str:
    return "".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items)


@pytest.mark.parametrize("line2,says", [
    ("this line is not JSON", "not a JSON line"),
    ('{"title": "t", "text": "x", "labels": ["enforcement"]', "not a JSON line"),
    ({"title": "t", "text": "x", "labels": ["ratecap"]}, "no topic 'ratecap'"),
    ({"title": "t", "text": "x", "labels": "rate_cap"}, "`labels` is not a list of topic ids"),
    ({"title": "t", "text": "x", "labels": [["rate_cap"]]}, "`labels` is not a list of topic ids"),
    ({"title": "t", "text": "x"}, "no `labels`"),
    ({"title": "t", "text": "x", "labels": [], "not_labels": ["enforcment"]}, "no topic 'enforcment'"),
], ids=["text", "broken-json", "unknown-topic", "a-string", "not-strings", "no-labels", "unknown-not-label"])
def test_a_bad_line_of_a_labelled_file_is_one_line_naming_it(tmp_path, rw, seed_articles, line2, says):
    """eval FILE and train FILE read labelled JSONL through one loader: a line that is not JSON, or whose `labels`
    are not a list of the loaded topics, is one line on stderr naming the file and line, exit 2, nothing written.
    classify reads the same loader (a line that is not JSON refused alike) but not the labels."""
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n', encoding="utf-8")
    f = tmp_path / "labelled.jsonl"
    bad = line2 if isinstance(line2, str) else json.dumps(line2, ensure_ascii=False)
    f.write_text(_jsonl(seed_articles[:1]) + "\n" + bad + "\n" + _jsonl(seed_articles[1:3]), encoding="utf-8")
    for args in (["eval", f], ["eval", f, "--folds", "2"], ["train", f, "--out", tmp_path / "m.json"]):
        r = rw(*args, "-c", cfg)
        assert r.returncode == 2 and r.stderr.startswith(f"regwatch: {f}:3: ") and says in r.stderr, (args, r.stderr)
        assert len(r.stderr.strip().splitlines()) == 1 and not r.stdout
    assert not (tmp_path / "m.json").exists()
    r = rw("classify", "--json", f, "-c", cfg)
    if "not a JSON line" in says:
        assert r.returncode == 2 and f"{f}:3: not a JSON line" in r.stderr and not r.stdout, r.stderr
    else:
        assert r.returncode == 0 and len(r.stdout.splitlines()) == 4, r.stderr    # (classify reads no labels)


def test_a_labelled_file_names_topics_as_label_does_and_must_be_jsonl(tmp_path, rw, seed_articles):
    """A label may name its topic by id or by name, as `label --topic` takes it; a file that is not JSON lines is
    no labelled file for eval and train (classify reads it as one plain-text article)."""
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n', encoding="utf-8")
    by_id, by_name = tmp_path / "ids.jsonl", tmp_path / "names.jsonl"
    by_id.write_text(_jsonl(seed_articles), encoding="utf-8")
    names = {"rate_cap": "利率上限", "credit_repair": "credit-record repair", "small_loan": "小额贷款 / small-loan companies"}
    by_name.write_text(_jsonl({**a, "labels": [names[t] for t in a["labels"]]} for a in seed_articles), encoding="utf-8")
    named = rw("eval", by_name, "--json", "-c", cfg)
    assert named.returncode == 0 and json.loads(named.stdout) == json.loads(rw("eval", by_id, "--json", "-c", cfg).stdout)
    text = tmp_path / "notes.txt"
    text.write_text("监管要求综合融资成本不超过24%\n各机构年化利率不得超过24%。\n", encoding="utf-8")
    for args in (["eval", text], ["train", text, "--out", tmp_path / "m.json"]):
        r = rw(*args, "-c", cfg)
        assert r.returncode == 2 and r.stderr.startswith(f"regwatch: {text}: not JSON lines") and not r.stdout, r.stderr
    assert rw("classify", text, "-c", cfg).stdout.startswith("rate_cap")


FINED = ("Regulator fines bank 5 million yuan", "The banking regulator fined the bank 5 million yuan and issued a "
         "penalty decision for violations of lending rules.")


def test_an_undefined_score_is_shown_as_undefined_not_perfect(tmp_path, rw):
    """Precision with nothing tagged, recall with nothing labelled, F1 with neither: "—" in the tables, null in
    --json — never 1.000 (a topic the tagger never tags, or the file never labels, is not scored perfect)."""
    from regwatch.pipeline.evaluate import CrossValidation, Report, TopicScore

    assert (TopicScore(0, 0, 0).precision, TopicScore(0, 0, 0).recall, TopicScore(0, 0, 0).f1) == (None, None, None)
    assert (TopicScore(0, 0, 2).precision, TopicScore(0, 0, 2).recall, TopicScore(0, 0, 2).f1) == (None, 0.0, 0.0)
    assert (TopicScore(0, 2, 0).precision, TopicScore(0, 2, 0).recall, TopicScore(0, 2, 0).f1) == (0.0, None, 0.0)
    cv = CrossValidation([Report({"rate_cap": TopicScore(3, 0, 1), "small_loan": TopicScore()}) for _ in range(2)])
    st = cv.summary()
    assert st["topics_f1"]["small_loan"] == {"pooled": None, "mean": None, "sd": None, "min": None, "max": None}
    assert st["pooled"]["topics"]["small_loan"]["precision"] is None and st["pooled"]["topics"]["rate_cap"]["f1"] == 0.857

    # a fine labelled with no topic (enforcement: tagged, no positive), a weather note labelled small_loan (not tagged)
    f = tmp_path / "labelled.jsonl"
    f.write_text(json.dumps({"id": "a1", "event": "e1", "title": FINED[0], "text": FINED[1], "labels": [], "lang": "en"})
                 + "\n" + json.dumps({"id": "a2", "event": "e2", "title": "Weather", "text": "Sunny.", "labels": ["small_loan"],
                                     "lang": "en"}) + "\n", encoding="utf-8")
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n', encoding="utf-8")
    rep = json.loads(rw("eval", f, "--rules", "--json", "-c", cfg).stdout)
    assert rep["topics"]["enforcement"] == {"precision": 0.0, "recall": None, "f1": 0.0, "tp": 0, "fp": 1, "fn": 0}
    assert rep["topics"]["small_loan"] == {"precision": None, "recall": 0.0, "f1": 0.0, "tp": 0, "fp": 0, "fn": 1}
    assert rep["topics"]["rate_cap"] == {"precision": None, "recall": None, "f1": None, "tp": 0, "fp": 0, "fn": 0}
    rows = {line.split()[0]: line.split()[1:] for line in rw("eval", f, "--rules", "-c", cfg).stdout.splitlines()[1:8]}
    assert rows["enforcement"][:3] == ["0.000", "—", "0.000"] and rows["small_loan"][:3] == ["—", "0.000", "0.000"]
    assert rows["rate_cap"][:3] == ["—", "—", "—"]
    # cross-validation: a topic no article is labelled or tagged with has no F1, pooled or per fold
    many = tmp_path / "many.jsonl"
    many.write_text("".join(json.dumps({"id": f"a{i}", "event": f"e{i}", "title": FINED[0], "text": FINED[1],
                                        "labels": ["enforcement"], "lang": "en"}) + "\n" for i in range(8)), encoding="utf-8")
    out = rw("eval", many, "--folds", "2", "--rules", "-c", cfg)
    assert out.returncode == 0, out.stderr
    [small] = [line for line in out.stdout.splitlines() if line.startswith("F1 small_loan")]
    assert "1.000" not in small and "0.000" not in small and "—" in small, out.stdout
    cv_json = json.loads(rw("eval", many, "--folds", "2", "--rules", "--json", "-c", cfg).stdout)
    assert cv_json["topics_f1"]["small_loan"]["pooled"] is None and cv_json["topics_f1"]["small_loan"]["mean"] is None
    assert cv_json["topics_f1"]["enforcement"]["pooled"] == 1.0


def test_backtest_shows_what_a_rule_change_would_alert(tmp_path, rw):
    from regwatch.pipeline.process import Processor
    from regwatch.pipeline.store import Store

    store = Store(tmp_path / "rw.db")
    p = Processor(store, Classifier(load_topics()))
    p.process(url="http://x/1", source="s", title="监管规范先买后付业务",
              body="监管部门发布通知，规范先买后付分期业务的营销和收费。", lang="zh", published_at=None)
    p.process(url="http://x/2", source="s", title="银行发布年报", body="某银行发布年度报告，营业收入增长。",
              lang="zh", published_at=None)
    store.close()
    mine = tmp_path / "mine.toml"
    mine.write_text('[topics.bnpl]\nname = "先买后付"\nthreshold = 3\n'
                    '[[topics.bnpl.signals]]\nterms = ["先买后付"]\nweight = 3\n', encoding="utf-8")
    cfg = tmp_path / "c.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n[topics]\nfiles = ["{mine}"]\n'
                   '[[channels]]\nname = "c"\ntype = "console"\n'
                   '[[subscriptions]]\nname = "bnpl-watch"\ntopics = ["bnpl"]\nchannels = ["c"]\n', encoding="utf-8")
    r = rw("eval", "--store", "--json", "-c", cfg)
    result = json.loads(r.stdout)
    assert result["articles"] == 2 and len(result["changed"]) == 1
    assert result["changed"][0]["added"] == ["bnpl"] and result["changed"][0]["would_alert"] == ["bnpl-watch"]
    assert result["alerts_gained"] == {"bnpl-watch": 1}
    r = rw("eval", "--store", "-c", cfg)
    assert "+bnpl" in r.stdout and "would alert: bnpl-watch" in r.stdout


def test_users_teach_it_label_then_eval_labels(tmp_path, rw):
    from regwatch.pipeline.classify import Classifier, load_topics
    from regwatch.pipeline.process import Processor
    from regwatch.pipeline.store import Store

    store = Store(tmp_path / "rw.db")
    p = Processor(store, Classifier(load_topics()))
    caps = p.process(url="http://x/caps", source="s", title="消费金融公司综合融资成本须降至24%以内",
                     body="监管要求持牌消费金融公司将综合融资成本压降至24%以内，超过部分不得收取。", lang="zh", published_at=None)
    p.process(url="http://x/plain", source="s", title="某银行发布年报", body="某银行发布年报，净利润同比增长5%。",
              lang="zh", published_at=None)
    store.close()
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n', encoding="utf-8")
    assert rw("eval", "--labels", "-c", cfg).returncode == 2                      # nothing labelled yet: one line
    assert rw("label", str(caps.article_id), "--topic", "rate_cap", "--not", "enforcement", "-c", cfg).returncode == 0
    said = rw("label", "http://x/plain", "--topic", "consumer_protection", "-c", cfg)
    assert said.returncode == 0, said.stderr       # it says what it did: recorded, the stored tags unchanged (F1)
    assert ": correction recorded: consumer_protection" in said.stdout, said.stdout
    assert "the stored tags (none) are unchanged: search, export, report and alerts" in said.stdout
    assert "eval --labels" in said.stdout and "train … --labels" in said.stdout
    bad = rw("label", "http://x/plain", "--topic", "enforcment", "-c", cfg)
    assert bad.returncode == 2 and "known topics" in bad.stderr and "Traceback" not in bad.stderr
    assert rw("label", "#999", "--topic", "rate_cap", "-c", cfg).returncode == 2
    said = json.loads(rw("why", str(caps.article_id), "--json", "-c", cfg).stdout)
    assert said["corrections"] == {"enforcement": False, "rate_cap": True}
    plain = rw("why", "http://x/plain", "-c", cfg).stdout          # `why` shows a correction the packs disagree with
    assert "your corrections (`regwatch label`)" in plain and "the current packs disagree on consumer_protection" in plain
    out = json.loads(rw("eval", "--labels", "--json", "-c", cfg).stdout)
    assert out["articles"] == 2
    assert out["topics"]["rate_cap"]["tp"] == 1 and out["topics"]["consumer_protection"]["fn"] == 1
    assert out["topics"]["enforcement"]["fp"] == 0
    assert (out["not_labels"], out["not_labels_tagged"]) == (1, 0)     # `--not enforcement`: a judged negative
    table = rw("eval", "--labels", "-c", cfg).stdout
    assert "0 of 1 judged not about a topic (`label --not`) tagged with it" in table
    assert "no negatives" not in table, table
    [credit] = [line for line in table.splitlines() if line.startswith("credit_repair")]
    assert "—" in credit and "1.000" not in credit, table            # nothing labelled: no figures, not a perfect score
    # a correction made by mistake is withdrawn (`--forget`), not only flipped to its opposite
    wrong = rw("label", "http://x/plain", "--forget", "consumer_protection", "--forget", "rate_cap", "-c", cfg)
    assert wrong.returncode == 2 and "no correction on rate_cap: nothing changed" in wrong.stderr, wrong.stderr
    assert json.loads(rw("eval", "--labels", "--json", "-c", cfg).stdout)["articles"] == 2     # rolled back
    r = rw("label", "http://x/plain", "--forget", "consumer_protection", "-c", cfg)
    assert r.returncode == 0 and "consumer_protection forgotten" in r.stdout, r.stderr
    out = json.loads(rw("eval", "--labels", "--json", "-c", cfg).stdout)
    assert out["articles"] == 1 and out["topics"]["consumer_protection"]["fn"] == 0


def test_cross_validation_by_event_keeps_each_event_on_one_side():
    from regwatch.pipeline.evaluate import cross_validate, folds_by_event, split_of

    items = [{"id": f"a{i}", "event": f"ev{i // 3}", "title": "t", "text": "", "labels": [], "lang": "zh"}
             for i in range(60)]
    folds = folds_by_event(items, 5)
    assert sum(len(f) for f in folds) == 60
    for f in folds:
        events = {i["event"] for i in f}
        assert all(sum(i["event"] == e for i in f) == 3 for e in events)      # all copies of an event together
    assert len({split_of(i) for i in items if i["event"] == "ev0"}) == 1
    seen = []
    cv = cross_validate(items, 5, lambda train: seen.append(len(train)) or Classifier(load_topics()))
    assert len(cv.folds) == len(seen) and all(n < 60 for n in seen)
    assert cv.summary()["micro_f1"]["mean"] is None           # nothing labelled, nothing tagged: no score at all


def test_too_few_events_for_the_folds_says_so(tmp_path, rw):
    """`eval --folds K` on articles whose events cannot fill two folds names what is wrong: no `event` keys, or too
    few events for K folds (not a writer's, which is `--by writer`'s problem)."""
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n', encoding="utf-8")
    f = tmp_path / "labelled.jsonl"
    for items, says in (([{"title": FINED[0], "text": FINED[1], "labels": ["enforcement"]}] * 3, "no `event` keys"),
                        ([{"id": f"a{i}", "event": "one", "title": FINED[0], "text": FINED[1], "labels": []}
                          for i in range(5)], "give articles of more events")):
        f.write_text("".join(json.dumps(it) + "\n" for it in items), encoding="utf-8")
        r = rw("eval", f, "--folds", "2", "--rules", "-c", cfg)
        assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
        assert "too few events for 2 folds" in r.stderr and says in r.stderr and "writer" not in r.stderr, r.stderr
        assert len(r.stderr.strip().splitlines()) == 1


def test_fewer_events_than_folds_run_fewer_folds_and_say_so(tmp_path, rw):
    """`eval --folds 5` on articles of two events runs 2 folds (an event is never split), and says so on stderr."""
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n', encoding="utf-8")
    f = tmp_path / "labelled.jsonl"
    f.write_text("".join(json.dumps({"id": f"a{i}", "event": f"e{i % 2}", "title": FINED[0], "text": FINED[1],
                                     "labels": ["enforcement"]}) + "\n" for i in range(4)), encoding="utf-8")
    for json_flag in ([], ["--json"]):
        r = rw("eval", f, "--folds", "5", "--rules", *json_flag, "-c", cfg)
        assert r.returncode == 0, r.stderr
        assert r.stderr.strip() == ("regwatch: --folds 5: the articles' events fill only 2 folds (each event's "
                                    "articles stay in one): 2-fold cross-validation"), r.stderr
    assert json.loads(r.stdout)["folds"] == 2
    r = rw("eval", f, "--folds", "2", "--rules", "-c", cfg)
    assert r.returncode == 0 and r.stderr == "" and r.stdout.startswith("2-fold cross-validation"), r.stderr


def test_leave_one_writer_out_keeps_the_held_writers_events_out_of_training():
    """`--by writer`: each writer held out once; an event another writer also told stays out of training."""
    from regwatch.pipeline.evaluate import SplitError, cross_validate, holdouts_by_writer, writer_of

    items = [{"id": f"w{w}-{i:03d}", "event": f"ev{w}-{i % 4}", "title": "t", "text": "", "labels": [], "lang": "en"}
             for w in (1, 2, 3) for i in range(8)]
    items.append({"id": "w2-100", "event": "ev1-0", "title": "t", "text": "", "labels": [], "lang": "en"})
    items.append({"id": "x", "writer": "w3", "event": "solo", "title": "t", "text": "", "labels": [], "lang": "zh"})
    assert writer_of(items[0]) == "w1" and writer_of(items[-1]) == "w3"
    pairs = holdouts_by_writer(items)
    assert [len(held) for held, _ in pairs] == [8, 9, 9]
    for held, train in pairs:
        assert not {x["event"] for x in held} & {x["event"] for x in train}
        assert not {x["id"] for x in held} & {x["id"] for x in train}
    w1_train = {x["id"] for x in pairs[0][1]}
    assert "w2-100" not in w1_train and "w2-001" in w1_train         # w2's retelling of w1's event stays out
    seen: list[int] = []
    cv = cross_validate(items, 0, lambda train: seen.append(len(train)) or Classifier(load_topics()), by="writer")
    assert len(cv.folds) == 3 and seen == [len(t) for _, t in pairs]
    assert cv.summary()["articles"] == len(items)
    same = [{**x, "event": "one"} for x in items]           # every writer told the one event: nothing to train on
    with pytest.raises(SplitError, match="nothing to train on"):
        cross_validate(same, 0, lambda train: Classifier(load_topics()), by="writer")
    with pytest.raises(SplitError, match="1 writers"):
        holdouts_by_writer([x for x in items if writer_of(x) == "w1"])


def test_cross_validation_pools_each_topic_over_the_held_out_folds():
    """Each article is held out once: per topic, the counts summed over the folds (a fold holding none of a
    topic's articles would score it 0 on a single false positive, and its mean over folds with it)."""
    from regwatch.pipeline.evaluate import cross_validate

    fined = ("Regulator fines bank 5 million yuan", "The banking regulator fined the bank 5 million yuan and issued a "
             "penalty decision for violations of lending rules.")
    items = [{"id": f"a{i}", "event": f"ev{i}", "title": fined[0], "text": fined[1], "lang": "en",
              "labels": ["enforcement"] if i < 6 else []} for i in range(8)]
    items += [{"id": f"b{i}", "event": f"other{i}", "title": "Weather", "text": "Sunny.", "lang": "en", "labels": []}
              for i in range(12)]
    cv = cross_validate(items, 5, lambda train: Classifier(load_topics())).summary()
    pooled = cv["pooled"]["topics"]["enforcement"]
    assert (pooled["tp"], pooled["fp"], pooled["fn"]) == (6, 2, 0)
    assert pooled["f1"] == round(12 / 14, 3)
    assert cv["pooled"]["micro"]["tp"] == 6 and cv["pooled"]["by_lang"]["en"]["fp"] == 2


# Topics described the way the rules and their coverage describe them, without the topic's own name
# (sentences written for these tests from the regulations, not taken from any labelled set).
DESCRIBED = [
    ("rate_cap", "Court lowers protected interest rate for private loans",
     "China's Supreme People's Court said interest on private lending will only be protected by courts up to four "
     "times the one-year loan prime rate. Borrowers who paid interest above the limit can claim it back."),
    ("rate_cap", "Chinese regulator pushes consumer lenders to lower what they charge",
     "Supervisors have asked licensed consumer finance companies to ensure that no new loan carries an annual cost "
     "above 20%, counting interest, guarantee charges and service fees together."),
    ("rate_cap", "利息超过多少不受法律保护？",
     "根据最高人民法院的规定，民间借贷约定的利率超过合同成立时一年期贷款市场报价利率四倍的，超出部分人民法院不予支持。"),
    ("credit_repair", "China lets borrowers clear small past defaults from credit files",
     "The central bank will no longer show overdue records of up to 10,000 yuan incurred between 2020 and 2025 in "
     "individuals' credit reports, provided the debts are fully repaid."),
    ("credit_repair", "Credit bureau told to fix wrong entries faster",
     "Individuals who dispute information in their credit reports should get a reply within 20 days, and lenders "
     "that submitted wrong data must correct it promptly, according to revised credit-reporting rules."),
    ("small_loan", "China limits leverage at microfinance firms",
     "Small lending companies may borrow no more than their net assets through bank loans and shareholder borrowing, "
     "and up to four times net assets through bonds and asset-backed securities, under new rules."),
    ("loan_facilitation", "China's new rules shake up the platforms that connect borrowers with banks",
     "From October, banks must approve and publicly list every internet company that brings them borrowers, and the "
     "fees those companies charge must count toward the borrower's total cost, the NFRA said."),
    ("loan_facilitation", "Banks must stop letting apps decide who gets a loan",
     "Under rules from China's financial regulator, banks that lend through internet platforms must make credit "
     "decisions themselves, fund a meaningful share of each loan and cap the fees platforms can collect."),
    ("debt_collection", "Banks told to rein in outsourced collectors",
     "Lenders must take responsibility for the conduct of agencies they hire to chase overdue debts, the regulator "
     "said, banning threats, intimidation, insults and calls to unrelated third parties."),
    ("debt_collection", "Jail terms for those who use violence to recover illegal debts",
     "Under an amendment to the Criminal Law, people who use violence, threats, stalking or harassment to collect "
     "debts arising from usurious lending can face up to three years in prison."),
    ("enforcement", "Payment firm penalised by PBOC over anti-money laundering breaches",
     "The People's Bank of China penalized a third-party payment company, issuing a warning and ordering it to pay "
     "6.3 million yuan for failing to verify customer identities."),
    ("consumer_protection", "Lenders must disclose the true annual cost of loans, PBOC says",
     "China's central bank ordered all lending institutions to show borrowers the annualized interest rate in "
     "advertising and contracts, ending the practice of quoting low daily rates that hide the real price of credit."),
    ("consumer_protection", "Loan apps quietly take cuts before money arrives",
     "Some lending apps deduct service fees from loan amounts before disbursement, so borrowers receive less than "
     "the contract states while paying interest on the full sum; regulators call the practice illegal."),
    ("consumer_protection", "银保监会：严禁向大学生发放互联网消费贷款",
     "监管部门联合发文，小额贷款公司不得向大学生发放互联网消费贷款，已发放的要制定整改计划，限期退出。"),
]


@pytest.mark.parametrize("topic,title,text", DESCRIBED, ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(DESCRIBED)])
def test_a_topic_described_without_its_name_is_tagged(clf, topic, title, text):
    assert topic in {t.topic for t in clf.classify(title, text)}


NOT_ABOUT = [
    ("rate_cap", "消费金融公司三季度业绩分化",
     "多家持牌消费金融公司三季度净利润分化明显，部分机构资产质量承压。受利率上限下调影响，行业平均定价已降至20%以下。"),
    ("rate_cap", "央行：稳步降低社会综合融资成本",
     "人民银行表示，将继续发挥LPR改革效能，推动企业综合融资成本和个人消费贷款利率稳中有降。"),
    ("enforcement", "CSRC fines property firm over bond disclosure",
     "The securities watchdog fined a listed property developer 5 million yuan for misleading statements in bond "
     "documents and barred its former chairman from the market for 10 years."),
    ("enforcement", "Environmental regulator fines steel maker",
     "The environmental authority fined a steel maker 5 million yuan for exceeding emission limits and ordered it to rectify."),
    ("debt_collection", "Data collection rules for apps tightened",
     "The cyberspace regulator said apps may only collect personal information necessary for their core functions "
     "and must stop illegal data collection."),
    ("debt_collection", "信用卡不良率上升 银行加大催收",
     "多家银行信用卡不良率抬升，部分银行加大催收力度以改善资产质量，资产质量压力仍在。"),
]


@pytest.mark.parametrize("topic,title,text", NOT_ABOUT, ids=[f"{t}-{i}" for i, (t, _, _) in enumerate(NOT_ABOUT)])
def test_what_a_topic_is_not_about_stays_untagged(clf, topic, title, text):
    assert topic not in {t.topic for t in clf.classify(title, text)}


def _scan_every_signal(sig, fields, hits):
    """Where a signal occurs, found by looking at every term found (the classifier before its term index)."""
    if sig.kind == "terms":
        spots = [p for t, ps in hits.at.items() if t in sig.term_set for p in ps]
    elif sig.kind == "regex":
        spots = [(name, m.start(), m.end()) for name, text in fields.items() for m in [sig.regex.search(text)] if m]
    else:
        a = [p for t, ps in hits.at.items() if t in sig.term_set for p in ps]
        b = [p for t, ps in hits.at.items() if t in sig.other_set for p in ps]
        spots = []
        for fa, sa, ea in a:
            near = [(sb, eb) for fb, sb, eb in b if fa == fb and (abs(sb - ea) <= sig.window or abs(sa - eb) <= sig.window)]
            if near:
                sb, eb = min(near)              # the other list's earliest place near it
                spots.append((fa, min(sa, sb), max(ea, eb)))
    return min(spots, key=lambda p: (p[0] != "title", p[1])) if spots else None


def test_signals_looked_up_from_the_terms_found_are_those_every_signal_finds():
    """Cost follows the terms an article contains (a term → signal index built once), with the same
    evidence a look at every signal gives: title first, then the earliest, the first found on a tie."""
    import random

    from regwatch.pipeline.normalize import normalize

    clf = Classifier(load_topics())
    terms = sorted({t.rstrip("*") for topic in clf.topics for s in topic.signals for t in s.terms + s.other})
    rng = random.Random(3)
    filler = ["，", "。", " ", "某银行表示", "the ", "据悉", "\n"]
    for _ in range(300):
        def text(n):
            return "".join(rng.choice(terms) + rng.choice(filler) * rng.randint(0, 3) for _ in range(n))
        fields = {"title": normalize(text(rng.randint(0, 3))), "body": normalize(text(rng.randint(0, 30)))}
        hits = clf._scan(fields)
        found = clf._found(fields, hits)
        for ti, topic in enumerate(clf.topics):
            for si, sig in enumerate(topic.signals):
                assert clf._match(ti, si, sig, fields, found) == _scan_every_signal(sig, fields, hits)
            missing = [g[0] for g, gs in zip(topic.require, topic.require_sets, strict=True) if not any(t in gs for t in hits.at)]
            assert clf._raw_score(ti, topic, fields, found)[2] == missing


def test_a_topic_missing_from_a_fold_is_pooled_not_scored_zero():
    """A fold holding no article of a topic, where the tagger wrongly tags one, must not count as F1 0 in
    the topic's figure: the topic is scored over all folds pooled, its spread over the folds that hold it."""
    from regwatch.pipeline.evaluate import CrossValidation, Report, TopicScore

    def fold(tp: int, fp: int, fn: int) -> Report:
        return Report({"rate_cap": TopicScore(tp, fp, fn)})

    cv = CrossValidation([fold(9, 1, 0), fold(0, 1, 0), fold(8, 0, 2)])
    st = cv.summary()["topics_f1"]["rate_cap"]
    assert st["pooled"] == round(2 * 17 / (2 * 17 + 2 + 2), 3)
    assert st["min"] > 0.8                                  # the fold without rate_cap is not one of its folds


def _places():
    """Places of a term: (field, start, end)."""
    from hypothesis import strategies as st
    return st.lists(st.tuples(st.sampled_from(["title", "body"]), st.integers(0, 200), st.integers(1, 6))
                    .map(lambda t: (t[0], t[1], t[1] + t[2])), max_size=30)


def test_near_pairs_places_as_the_definition_says_in_linear_time():
    """A `near` signal fires where a place of one list has a place of the other within `window` characters in the
    same field (either order), shown from its earliest such pair; found by bisection, not by pairing every place
    with every other (a page repeating both terms thousands of times is untrusted text)."""
    from hypothesis import given, settings
    from hypothesis import strategies as st

    from regwatch.pipeline.classify import _near_spots

    @settings(max_examples=300, deadline=None)
    @given(_places(), _places(), st.integers(0, 30))
    def same_as_the_definition(a, b, window):
        got = _near_spots(a, b, window)
        want = []
        for fa, sa, ea in a:
            near = [(sb, eb) for fb, sb, eb in b if fb == fa and (abs(sb - ea) <= window or abs(sa - eb) <= window)]
            if near:
                sb, eb = min(near)
                want.append((fa, min(sa, sb), max(ea, eb)))
        assert [(f, s) for f, s, _ in got] == [(f, s) for f, s, _ in want]

    same_as_the_definition()
    c = Classifier(load_topics())
    from regwatch.pipeline.article import Article

    c.classify_article(Article("t", "上限" * 100_000 + "。" * 30 + "利率" * 100_000))    # 400,000 places: seconds before


def test_a_file_without_lang_is_scored_per_detected_language(clf):
    """A user's labelled file rarely has the project's `lang` field: its rows were all under `?`."""
    from regwatch.pipeline.evaluate import evaluate

    items = [{"title": "消费金融公司综合融资成本须降至24%以内", "text": "监管要求持牌消费金融公司将综合融资成本压降至24%以内。",
              "labels": ["rate_cap"]},
             {"title": "Regulator caps consumer loan rates at 24%", "text": "Licensed consumer finance companies must "
              "bring their all-in borrowing costs below 24% a year, the regulator said.", "labels": ["rate_cap"]}]
    assert set(evaluate(clf, items).by_lang) == {"zh", "en"}
