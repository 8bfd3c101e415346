"""Stories: republished copies join their original; distinct notices and template twins never do."""

import pytest

from regwatch.pipeline.classify import Classifier, load_topics
from regwatch.pipeline.process import Processor
from regwatch.pipeline.stories import same_story
from regwatch.pipeline.store import Store

ORIGINAL = """12月22日，中国人民银行发布通知，对符合条件的个人逾期信息实施一次性信用修复。
通知明确，2020年1月1日至2025年12月31日期间，单笔金额不超过1万元的逾期信息，借款人在2026年3月31日前足额偿还的，金融信用信息基础数据库将不予展示。
人民银行有关负责人表示，此举旨在帮助受疫情等因素影响的个人重塑信用，预计约有上千万人受益。
业内人士认为，该政策覆盖房贷、消费贷、信用卡、花呗、借呗等各类信贷产品，借款人无需申请即可享受。
同时，监管部门提醒公众警惕以"征信修复"为名的诈骗活动，征信系统中的记录不能通过付费方式删除。"""

PENALTY_A = """国家金融监督管理总局北京监管局行政处罚信息公开表。当事人名称：某某银行股份有限公司北京分行。
主要违法违规事实：贷款三查不尽职，贷款资金被挪用。行政处罚依据：《中华人民共和国银行业监督管理法》第四十六条。
行政处罚决定：罚款50万元。作出处罚决定的机关名称：北京金融监管局。作出处罚决定的日期：2025年11月3日。"""


def test_reprint_with_note_joins():
    ok, _ = same_story("央行一次性信用修复政策来了", ORIGINAL, "转载:央行一次性信用修复政策来了",
                       "（本文转载自财经网）\n" + ORIGINAL + "\n（编辑：李华）")
    assert ok


def test_new_headline_with_trimmed_lead_joins():
    trimmed = "\n".join(ORIGINAL.split("\n")[1:])
    assert same_story("央行一次性信用修复政策来了", ORIGINAL, "上千万人受益！逾期记录可不予展示", trimmed)[0]


def test_excerpt_and_reordered_paragraphs_join():
    paras = ORIGINAL.split("\n")
    assert same_story("a", ORIGINAL, "b", "\n".join(paras[:4]))[0]
    assert same_story("a", ORIGINAL, "b", "\n".join(reversed(paras)))[0]


def test_template_twin_with_other_bank_and_amount_stays_apart():
    twin = PENALTY_A.replace("某某银行股份有限公司北京分行", "另一银行股份有限公司北京分行").replace("50万元", "30万元")
    ok, why = same_story("行政处罚信息公开表", PENALTY_A, "行政处罚信息公开表", twin)
    assert not ok and "other facts" in why


def test_distinct_articles_on_the_same_topic_stay_apart(seed_articles):
    by_id = {a["id"]: a for a in seed_articles}
    for x, y in [("seed-02", "seed-03"), ("seed-03", "seed-04"), ("seed-07", "seed-06")]:
        assert not same_story(by_id[x]["title"], by_id[x]["text"], by_id[y]["title"], by_id[y]["text"])[0]


def test_store_assigns_one_story_and_counts_copies(tmp_path):
    store = Store(tmp_path / "s.db")
    p = Processor(store, Classifier(load_topics()))
    a = p.process(url="http://x/1", source="s", title="央行一次性信用修复政策来了", body=ORIGINAL, lang="zh", published_at=None,
                  outlet="财经网")
    b = p.process(url="http://y/1", source="s", title="转载:央行一次性信用修复政策来了", body="（来源：经济网）\n" + ORIGINAL,
                  lang="zh", published_at=None, outlet="经济网")
    c = p.process(url="http://z/1", source="s", title="行政处罚信息公开表", body=PENALTY_A, lang="zh", published_at=None)
    assert a.new_story and not b.new_story and b.story_id == a.story_id
    assert c.new_story and c.story_id != a.story_id
    row = store.q("SELECT copies, outlets FROM stories WHERE id = ?", (a.story_id,))[0]
    assert row["copies"] == 2 and "经济网" in row["outlets"]
    assert p.process(url="http://x/1", source="s", title="t", body="b", lang="zh", published_at=None) is None


def test_one_piece_retold_under_the_same_headline_joins(seed_articles):
    # seed-08 and seed-09: one 21世纪经济报道 piece, two aggregators' summaries under its headline
    by_id = {a["id"]: a for a in seed_articles}
    a, b = by_id["seed-08"], by_id["seed-09"]
    ok, why = same_story(a["title"], a["text"], b["title"], b["text"])
    assert ok and "same headline" in why


def test_same_short_headline_with_other_amounts_stays_apart():
    a = "某农商行因贷款三查不尽职被罚款50万元，相关责任人被警告。" * 3
    b = "某城商行因贷款三查不尽职被罚款80万元，相关责任人被警告。" * 3
    assert not same_story("银行因贷款管理不审慎被罚", a, "银行因贷款管理不审慎被罚", b)[0]
