"""Stories: republished copies join their original; distinct notices and template twins never do."""

import random
import re

import pytest

from regwatch.pipeline.article import Article
from regwatch.pipeline.classify import Classifier, load_topics
from regwatch.pipeline.process import Processor
from regwatch.pipeline.store import Store
from regwatch.pipeline.stories import StoryIndex, article_keys, same_story

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


# -- short pieces: every way outlets republish them, in a store crowded with template notices ---------

# a short press piece of 300–600 characters (the 2020 原油宝 penalty), the length at which copies used to slip apart
YUANYOUBAO = """\
12月5日，中国银保监会发布消息，依法对中国银行“原油宝”产品风险事件开出罚单，对中国银行罚款5050万元，对中国银行全球市场部两任总经理及一名资深交易员分别给予警告并罚款。
经查，中国银行在“原油宝”产品销售和管理中存在产品管理不规范、风险管理不审慎、内控管理不健全、销售管理不合规等问题，违反了审慎经营规则。
今年4月，受国际原油期货价格跌至负值影响，中国银行“原油宝”产品出现重大亏损，大量投资者不但损失全部保证金，还倒欠银行资金，事件引发广泛关注。
银保监会表示，下一步将继续督促中国银行做好投资者合法权益保护工作，进一步健全制度、完善流程、加强风险管控，牢固树立合规经营理念。"""
YUANYOUBAO_TITLE = "银保监会就“原油宝”事件对中国银行罚款5050万元"

CITIES = ["湖州", "嘉兴", "绍兴", "金华", "衢州", "台州", "丽水", "温州", "宁波", "舟山", "湖北", "江门"]
DISTRICTS = ["城东", "城西", "开发区", "滨江", "新城", "高新", "港区"]


def notice(i: int) -> tuple[str, str]:
    """One of a local bureau's penalty notices: the same template, its own bank, people, amounts and date."""
    city, district, person = CITIES[i % 12], DISTRICTS[i % 7], "张王李赵刘陈杨黄周吴"[i % 10] + "某" + "明华军"[i % 3]
    bank = f"{city}农村商业银行股份有限公司{district}支行"
    return (f"{city}金融监管分局行政处罚信息公开表", f"""\
国家金融监督管理总局{city}监管分局行政处罚信息公开表（{city}金罚决字〔2024〕{i + 3}号）。
当事人名称：{bank}。主要负责人：{person}（时任该行行长）。
主要违法违规事实：一是贷款“三查”不尽职，部分个人经营性贷款资金被挪用于购买理财产品和偿还他行贷款；二是违规向借款人收取财务顾问费，变相提高借款人综合融资成本；三是员工行为管理不到位，个别员工参与民间借贷。
行政处罚依据：《中华人民共和国银行业监督管理法》第二十一条、第四十六条。
行政处罚决定：对{bank}罚款{20 + 5 * i}万元，对{person}给予警告并罚款{1 + i % 4}万元。
作出处罚决定的机关名称：{city}金融监管分局。作出处罚决定的日期：2024年{1 + i % 12}月{1 + i % 28}日。""")


TARGET = 30            # the notice whose copies are looked for: 30 older and 29 newer twins around it


@pytest.fixture(scope="module")
def crowded(tmp_path_factory):
    """A store holding 60 template notices and the 原油宝 piece: (processor, story of each)."""
    store = Store(tmp_path_factory.mktemp("crowded") / "s.db")
    p = Processor(store, Classifier(load_topics()))
    stories = {}
    for i in range(60):
        t, b = notice(i)
        r = p.process(url=f"http://nfra/{i}", source="nfra", title=t, body=b, lang="zh", published_at=None)
        assert r.new_story, f"notice {i} joined another notice's story: {r.story_reason}"
        stories[i] = r.story_id
        if i == 45:
            r = p.process(url="http://press/yuanyoubao", source="press", title=YUANYOUBAO_TITLE, body=YUANYOUBAO,
                          lang="zh", published_at=None)
            assert r.new_story
            stories["yuanyoubao"] = r.story_id
    yield p, stories
    store.close()


def _sentences(text):
    return re.findall(r"[^。\n]+。", text)


def _drop_lead(text):
    return "".join(_sentences(text)[1:])


def _reprint(text, dated=True):
    head = "2024-07-05 10:21 来源：中国银行保险报" if dated else "【财联社】"
    return f"{head}\n{text}\n（责任编辑：王敏）"


def _short_names(text):
    return text.replace("国家金融监督管理总局", "金融监管总局").replace("中国银保监会", "银保监会")


def _cut_in_figure(text):
    """An excerpt whose edge falls inside a figure: the head, to inside the first amount past 60% of the text
    (罚款170万元 → 罚款17……); without one, the rest of the text from inside the first amount (…50万元，对…)."""
    m = re.compile(r"\d{2,}").search(text, int(len(text) * 0.6))
    if m:
        return text[: m.start() + 2] + "……"
    m = re.compile(r"\d{4,}").search(text)
    return text[m.start() + 2:]


COPIES = {
    "reprint note (a dated source line, an editor)": lambda t, b: ("转载：" + t, _reprint(b)),
    "new headline, lead sentence dropped": lambda t, b: ("一农商行支行贷款“三查”不尽职被罚", _drop_lead(b)),
    "reprint dateline, new headline, lead dropped": lambda t, b: (
        "贷款“三查”不尽职被罚", "2024年07月05日 10:21　中国银行保险报\n" + _drop_lead(b)),
    "70% excerpt": lambda t, b: (t, b[: int(len(b) * 0.7)] + "……"),
    "excerpt cut inside a figure": lambda t, b: (t, _cut_in_figure(b)),
    "sentences reordered": lambda t, b: (t, "\n".join(reversed(_sentences(b)))),
    "regulators' short names": lambda t, b: (t, _short_names(b)),
    "reprint + new headline + lead dropped + excerpt + reordered + short names": lambda t, b: (
        "重磅！贷款资金被挪用", _reprint(_short_names("\n".join(reversed(_sentences(_drop_lead(b)[: int(len(b) * 0.7)])))))),
}


@pytest.mark.parametrize("kind", list(COPIES))
def test_a_copy_of_a_template_notice_finds_its_own_among_its_twins(crowded, kind):
    p, stories = crowded
    t, b = COPIES[kind](*notice(TARGET))
    match, _ = p.stories.find(Article(t, b))
    assert match.story_id == stories[TARGET], match.reason


@pytest.mark.parametrize("kind", list(COPIES))
def test_a_copy_of_a_short_press_piece_joins_it(crowded, kind):
    p, stories = crowded
    t, b = COPIES[kind](YUANYOUBAO_TITLE, YUANYOUBAO)
    match, _ = p.stories.find(Article(t, b))
    assert match.story_id == stories["yuanyoubao"], match.reason


def _twin(text, old, new):
    assert old in text
    return text.replace(old, new)


TWINS = {
    "another amount": lambda b: _twin(b, "罚款170万元", "罚款175万元"),
    "another bank": lambda b: _twin(b, "丽水农村商业银行", "青田农村商业银行"),
    "another person": lambda b: _twin(b, "张某明", "张某华"),
    "another date": lambda b: _twin(b, "2024年7月3日", "2024年8月3日"),
}


@pytest.mark.parametrize("kind", list(TWINS))
def test_template_twins_stay_apart(crowded, kind):
    p, stories = crowded
    t, b = notice(TARGET)
    twin = TWINS[kind](b)
    match, _ = p.stories.find(Article(t, twin))
    assert match.story_id is None, match.reason          # none of the 60 notices, nor the press piece


@pytest.mark.parametrize("old,new", [("中国银行", "建设银行"), ("5050万元", "5060万元"), ("12月5日", "12月7日"),
                                     ("原油宝", "黄金宝")])
def test_a_press_piece_with_other_facts_stays_apart(crowded, old, new):
    p, stories = crowded
    twin_title, twin = YUANYOUBAO_TITLE.replace(old, new), YUANYOUBAO.replace(old, new)
    match, _ = p.stories.find(Article(twin_title, twin))
    assert match.story_id != stories["yuanyoubao"], match.reason


def test_why_twins_differ_is_named():
    ok, why = same_story("a", "恒大地产2019年虚增收入2139.89亿元，证监会对恒大地产罚款41.75亿元。" * 4,
                         "a", "碧桂园2019年虚增收入2139.89亿元，证监会对碧桂园罚款41.75亿元。" * 4)
    assert not ok and ("恒大地产→碧桂园" in why or "碧桂园→恒大地产" in why)
    ok, why = same_story("a", YUANYOUBAO, "a", YUANYOUBAO.replace("5050万元", "50万元"))
    assert not ok and "50" in why


def test_an_excerpt_cut_inside_a_figure_still_joins():
    cut = YUANYOUBAO[: YUANYOUBAO.index("5050万元") + 2]          # "……罚款50"
    assert same_story(YUANYOUBAO_TITLE, YUANYOUBAO, YUANYOUBAO_TITLE, cut + "……\n" + YUANYOUBAO.split("\n")[2])[0]


def test_a_traditional_script_reprint_joins():
    from opencc import OpenCC
    assert same_story(YUANYOUBAO_TITLE, YUANYOUBAO, "轉載", "（來源：香港經濟日報）\n" + OpenCC("s2t").convert(YUANYOUBAO))[0]


# -- the candidate index ------------------------------------------------------------------------------

# common Chinese characters: the alphabet of the random texts below
_COMMON = ("的一是在不了有和人这中大为上个国我以要他时来用们生到作地于出就分对成会可主发年动同工也能下过子说产种面而方后多定"
           "行学法所民得经十三之进着等部度家电力里如水化高自二理起小物现实加量都两体制机当使点从业本去把性好应开它合还因由其"
           "些然前外天政四日那社义事平形相全表间样与关各重新线内数正心反你明看原又么利比或但质气第向道命此变条只没结解问意建"
           "月公无系军很情者最立代想已通并提直题党程展五果料象员革位入常文总次品式活设及管特件长求老头基资边流路级少图山统接"
           "知较将组见计别她手角期根论运农指几九区强放决西被干做必战先回则任取据处队南给色光门即保治北造百规热领七海口东导器"
           "压志世金增争济阶油思术极交受联什认六共权收证改清己美再采转更单风切打白教速花带安场身车例真务具万每目至达走积示议"
           "声报斗完类八离华名确才科张信马节话米整空元况今集温传土许步群广石记需段研界拉林律叫且究观越织装影算低持音众书布复"
           "容儿须际商非验连断深难近矿千周委素技备半办青省列习响约支般史感劳便团往酸历市克何除消构府称太准精值号率族维划选标"
           "写存候毛亲快效斯院查江型眼王按格养易置派层片始却专状育厂京识适属圆包火住调满县局照参红细引听该铁价严")


def _random_text(rng, n):
    return "".join(rng.choice(_COMMON) for _ in range(n))


def test_any_shared_passage_of_window_plus_three_characters_shares_a_key():
    """The recall the index states: a copy that keeps a passage of WINNOW + 3 characters of a piece of up to
    800 characters shares a key with it, whatever else either text holds (winnowing picks a key in every
    window of WINNOW shingles, and such a piece keeps all its keys)."""
    from regwatch.pipeline.stories import SHINGLE, WINNOW, StoryIndex
    idx = StoryIndex(Store(":memory:"))
    rng = random.Random(5)
    for _ in range(300):
        shared = _random_text(rng, WINNOW + SHINGLE - 1)
        a = _random_text(rng, rng.randint(0, 390)) + shared + _random_text(rng, rng.randint(0, 390))
        b = _random_text(rng, rng.randint(0, 60)) + shared + _random_text(rng, rng.randint(0, 60))
        assert set(idx.keys("", a)) & set(idx.keys("", b))


def test_keys_per_article_are_bounded_and_a_long_originals_excerpt_still_meets_it():
    from regwatch.pipeline.stories import MAX_KEYS, StoryIndex
    idx = StoryIndex(Store(":memory:"))
    long_text = _random_text(random.Random(1), 6000)
    keys = idx.keys("", long_text)
    assert len(keys) <= MAX_KEYS
    assert len(set(keys) & set(idx.keys("", long_text[2000:3500]))) >= 2


def test_a_much_republished_story_keeps_gathering_copies(tmp_path):
    """Forty outlets carry one piece: its keys are in forty articles, yet they stay evidence (one story)."""
    store = Store(tmp_path / "s.db")
    p = Processor(store, Classifier(load_topics()))
    first = p.process(url="http://o/0", source="s", title=YUANYOUBAO_TITLE, body=YUANYOUBAO, lang="zh", published_at=None)
    for i in range(1, 41):
        r = p.process(url=f"http://o/{i}", source="s", title=YUANYOUBAO_TITLE,
                      body=f"（本文转载自第{i}家媒体）\n" + YUANYOUBAO[: 120 + 5 * i], lang="zh", published_at=None)
        assert r.story_id == first.story_id, (i, r.story_reason)


def test_a_store_from_before_story_keys_is_reindexed_once(tmp_path):
    """Upgrading: the window's articles are indexed under story_keys, then the old sketches are dropped."""
    import sqlite3

    import sqlite_utils

    from regwatch.pipeline.store import MIGRATIONS
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    db = sqlite_utils.Database(conn)
    before = next(n for n, step in enumerate(MIGRATIONS) if step.__name__.endswith("_story_keys"))
    for step in MIGRATIONS[:before]:
        step(db)
    conn.execute(f"PRAGMA user_version={before}")
    now = "2999-01-01T00:00:00+00:00"     # within any window
    conn.execute("INSERT INTO stories (id, first_article_id, title, first_seen, last_seen) VALUES (1, 1, 't', ?, ?)", (now, now))
    conn.execute("INSERT INTO articles (id, url, source, title, body, fetched_at, content_hash, story_id) "
                 "VALUES (1, 'http://o/1', 's', ?, ?, ?, 'x', 1)", (YUANYOUBAO_TITLE, YUANYOUBAO, now))
    conn.close()
    store = Store(path)
    assert store.legacy_story_sketches()
    p = Processor(store, Classifier(load_topics()))
    assert not store.legacy_story_sketches()
    t, b = COPIES["new headline, lead sentence dropped"](YUANYOUBAO_TITLE, YUANYOUBAO)
    r = p.process(url="http://copy/1", source="s", title=t, body=b, lang="zh", published_at=None)
    assert r.story_id == 1, r.story_reason


def test_twins_that_differ_only_in_a_trailing_number_stay_apart():
    """`编号1。` is not an excerpt of `编号12。`: the sentence ended on its own full stop."""
    text = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调，编号{n}。"
    assert not same_story("通知", text.format(n=12), "通知", text.format(n=1))[0]
    assert same_story("通知", text.format(n=12), "通知", text.format(n=12))[0]


def test_pruning_drops_only_what_the_window_no_longer_reads(tmp_path):
    """The daemon prunes the story index daily: an article older than the window leaves it; one inside stays,
    and its copies still join it."""
    store = Store(tmp_path / "s.db")
    p = Processor(store, Classifier(load_topics()))
    first = p.process(url="http://o/0", source="s", title=YUANYOUBAO_TITLE, body=YUANYOUBAO, lang="zh", published_at=None)
    assert p.stories.prune() == 0                                   # everything is inside the window
    copy = p.process(url="http://o/1", source="s", title="转载：" + YUANYOUBAO_TITLE,
                     body="（本文转载自某媒体）\n" + YUANYOUBAO[:200], lang="zh", published_at=None)
    assert copy.story_id == first.story_id
    assert StoryIndex(store, window_days=-1).prune() > 0            # a window that ended a day ago: all older
    assert store.story_key_postings(article_keys(Article(YUANYOUBAO_TITLE, YUANYOUBAO)), since=0, per_key=16) == {}


def test_two_one_line_statements_are_two_stories(tmp_path):
    # a body that is one 声明：… line is the body, not a credit line: two banks' statements are not "identical text"
    store = Store(tmp_path / "s.db")
    p = Processor(store, Classifier(load_topics()))
    a = p.process(url="http://x/1", source="s", title="工商银行关于警惕“征信修复”诈骗的声明", lang="zh", published_at=None,
                  body="声明：我行从未委托任何中介机构开展所谓征信修复业务，请广大客户提高警惕，谨防上当受骗。")
    b = p.process(url="http://y/1", source="s", title="建设银行关于警惕“征信洗白”诈骗的声明", lang="zh", published_at=None,
                  body="声明：本行从未与任何机构合作开展“征信洗白”服务，凡以本行名义收费修复征信的均属诈骗。")
    assert a.story_id != b.story_id and b.story_reason != "identical text"


def test_two_empty_bodies_are_not_identical_text(tmp_path):
    store = Store(tmp_path / "s.db")
    p = Processor(store, Classifier(load_topics()))
    a = p.process(url="http://x/1", source="s", title="关于促进非银行金融机构支持设备更新的通知", body="", lang="zh",
                  published_at=None, attachment_url="http://x/1.pdf", attachment_text="为贯彻落实设备更新行动方案")
    b = p.process(url="http://y/1", source="s", title="国家金融监督管理总局行政处罚信息公开表", body="", lang="zh",
                  published_at=None, attachment_url="http://y/1.pdf", attachment_text="某金罚决字〔2024〕1号")
    assert a.story_id != b.story_id and b.story_reason != "identical text"


LPR_NOTICE = ("中国人民银行授权全国银行间同业拆借中心公布，{d}贷款市场报价利率（LPR）为：1年期LPR为3.45%，5年期以上LPR为3.95%。"
              "以上LPR在下一次发布LPR之前有效。")


@pytest.mark.parametrize("feb, mar", [("2024-02-20", "2024-03-20"), ("2024/02/20", "2024/03/20"),
                                      ("2024.02.20", "2024.03.20"), ("2024年2月20日", "2024年3月20日")])
def test_notices_differing_only_in_their_date_are_two_stories(tmp_path, feb, mar):
    # a date in the text is a fact (only a byline's date and time is the page's): February's LPR is not March's
    title = "全国银行间同业拆借中心受权公布贷款市场报价利率（LPR）公告"
    ok, why = same_story(title, LPR_NOTICE.format(d=feb), title, LPR_NOTICE.format(d=mar))
    assert not ok and "other facts" in why
    store = Store(tmp_path / "s.db")
    p = Processor(store, Classifier(load_topics()))
    a = p.process(url="http://x/2", source="s", title=title, body=LPR_NOTICE.format(d=feb), lang="zh", published_at=None)
    b = p.process(url="http://x/3", source="s", title=title, body=LPR_NOTICE.format(d=mar), lang="zh", published_at=None)
    assert a.story_id != b.story_id


@pytest.mark.parametrize("a, b", [
    ("2024-03-20\n", "2024-03-21\n"),                                   # a date line of its own
    ("2024-03-20  新华网\n", "2024/03/21 中国证券报\n"),                  # a date, then the outlet
    ("2024-03-20 16:05 ", "2024-03-20 16:07 "),                           # a flash's time before a long body
    ("新华社北京3月20日电 2024-03-20 09:15 ", "中证网讯 2024-03-20 10:02 "),  # a dateline, then the time
])
def test_when_a_copy_went_up_never_splits_it_from_its_story(a, b):
    """(review) dates kept as facts must not be the page's own: each of these pairs is one story, as before."""
    body = ("中国人民银行授权全国银行间同业拆借中心公布，2024年3月20日贷款市场报价利率（LPR）为：1年期LPR为3.45%，"
            "5年期以上LPR为3.95%。以上LPR在下一次发布LPR之前有效。")
    ok, why = same_story("3月LPR公布", a + body, "3月LPR公布", b + body)
    assert ok, why


def test_a_copy_with_its_own_byline_time_still_joins():
    byline = "2025-12-22 18:30 来源：经济网\n" + ORIGINAL
    assert same_story("央行一次性信用修复政策来了", ORIGINAL, "转载:央行一次性信用修复政策来了", byline)[0]
    byline = "发布时间：2025-12-22 来源：经济网\n" + ORIGINAL
    assert same_story("央行一次性信用修复政策来了", ORIGINAL, "转载:央行一次性信用修复政策来了", byline)[0]


PENALTY_FORM = """行政处罚决定书文号：某金罚决字〔2024〕{n}号
被处罚当事人姓名：{who}
当事人工作单位及职务：时任某某农村商业银行股份有限公司城东支行{job}
主要违法违规事实：{facts}
行政处罚内容：警告并罚款5万元
作出处罚决定的机关名称：国家金融监督管理总局某某监管分局
作出处罚决定的日期：2024年3月15日"""
PEN1 = PENALTY_FORM.format(n=21, who="张某某", job="行长", facts=(
    "对该行贷款资金被挪用用于购买理财产品、流贷资金回流借款人用于归还他行贷款、以贷收费变相提高企业融资成本、员工行为管理不到"
    "位、违规向关系人发放信用贷款、未按规定报送大额风险暴露数据、案防工作不到位导致发生员工涉刑案件等违法违规行为负有直接管理责任"))
PEN2 = PENALTY_FORM.format(n=22, who="李某某", job="客户经理", facts=(
    "违规发放个人经营性贷款，贷前调查严重不尽职，贷后检查流于形式，个人消费贷款资金违规流入房地产市场与股市，为不符合条件的借"
    "款人包装贷款资料，收受借款人财物，违规代客户保管网银盾与密码"))


def test_penalty_forms_against_two_people_are_two_stories(tmp_path):
    # the trial's pen1.txt / pen2.txt: same table title, amount, bank and date; another 文号, person and violation
    title = "国家金融监督管理总局某某监管分局行政处罚信息公开表"
    ok, why = same_story(title, PEN1, title, PEN2)
    assert not ok and "other facts" in why
    store = Store(tmp_path / "s.db")
    p = Processor(store, Classifier(load_topics()))
    a = p.process(url="http://x/21", source="s", title=title, body=PEN1, lang="zh", published_at=None)
    b = p.process(url="http://x/22", source="s", title=title, body=PEN2, lang="zh", published_at=None)
    assert a.story_id != b.story_id
    # the same form retold (a summary under its headline that leaves the 文号 out) still joins
    retold = "被处罚当事人姓名：张某某。" + PEN1.split("\n")[3] + "。行政处罚内容：警告并罚款5万元。"
    assert same_story(title, PEN1, title, retold)[0]


# the trial's event (texts.py A_FULL / A_FLASH): the full report, and a 快讯 that folds its date into the lead
CREDIT_REPAIR = """2025年12月22日，中国人民银行发布关于实施一次性信用修复政策有关安排的通知。
通知明确，对于2020年1月1日至2025年12月31日期间，单笔金额不超过1万元人民币的个人逾期信息，如果个人已于2026年3月31日（含）前足额偿还逾期债务，金融信用信息基础数据库将不予展示该逾期信息。
人民银行表示，此次政策无需个人申请，由金融信用信息基础数据库自动进行技术处理。
人民银行提醒，信用修复无需通过任何中介机构办理，公众应警惕所谓“征信修复”“征信洗白”等骗局，防止个人信息泄露和财产损失。
业内人士认为，这一政策有助于受疫情等因素影响出现小额逾期的个人尽快恢复信用，更好地支持消费和民生。"""
CREDIT_FLASH = ("{d}发布通知，对于2020年1月1日至2025年12月31日期间，单笔金额不超过1万元人民币的个人逾期信息，如果个人已于"
                "2026年3月31日（含）前足额偿还逾期债务，金融信用信息基础数据库将不予展示该逾期信息。此次政策无需个人申请。")
LPR_FLASH = ("{d}，中国人民银行授权全国银行间同业拆借中心公布贷款市场报价利率（LPR）：1年期LPR为3.45%，5年期以上LPR为3.95%。"
             "以上LPR在下一次发布LPR之前有效。")


@pytest.mark.parametrize("lead", ["中国人民银行12月22日", "12月22日，中国人民银行", "中国人民银行2025年12月22日"],
                         ids=["date-inside", "date-first", "with-year"])
def test_a_flash_that_folds_the_date_into_its_lead_joins(tmp_path, lead):
    flash = CREDIT_FLASH.format(d=lead)
    for a, b in ((CREDIT_REPAIR, flash), (flash, CREDIT_REPAIR)):
        ok, why = same_story("央行实施一次性信用修复政策 单笔1万元以下逾期可不予展示", a, "快讯：央行实施一次性信用修复政策", b)
        assert ok, why
    store = Store(tmp_path / "s.db")
    p = Processor(store, Classifier(load_topics()))
    full = p.process(url="http://x/8", source="s", title="央行实施一次性信用修复政策 单笔1万元以下逾期可不予展示",
                     body=CREDIT_REPAIR, lang="zh", published_at=None)
    copy = p.process(url="http://x/9", source="kx", title="快讯：央行实施一次性信用修复政策", body=flash, lang="zh",
                     published_at=None)
    assert copy.story_id == full.story_id, copy.story_reason
    # the LPR flash: the date added before the lead, or moved into it from the notice's sentence
    for notice in (LPR_NOTICE.format(d="2024年5月20日"), LPR_NOTICE.format(d="")):
        assert same_story("LPR公告", notice, "【快讯】LPR公布", LPR_FLASH.format(d="5月20日"))[0]


@pytest.mark.parametrize("flash, notice", [
    (CREDIT_FLASH.format(d="中国人民银行12月23日"), CREDIT_REPAIR),                 # the lead's date is not the report's
    (LPR_FLASH.format(d="2月20日"), LPR_NOTICE.format(d="2024年3月20日")),          # February's flash, March's notice
    (LPR_FLASH.format(d="2024年2月20日"), LPR_NOTICE.format(d="2024年3月20日")),
    (CREDIT_FLASH.format(d="工商银行12月22日"), CREDIT_REPAIR),                      # another name in the lead
], ids=["other-day", "other-month", "other-month-year", "other-name"])
def test_a_flash_whose_date_or_name_differs_stays_apart(flash, notice):
    for a, b in ((notice, flash), (flash, notice)):
        ok, why = same_story("一次性信用修复 LPR公告", a, "快讯", b)
        assert not ok and "other facts" in why, why


@pytest.mark.parametrize("a, b", [
    ("工商银行3月5日因贷款管理不审慎被国家金融监督管理总局罚款50万元，相关责任人被警告。该行表示将认真整改。",
     "工商银行杭州分行因贷款管理不审慎被国家金融监督管理总局罚款50万元，相关责任人被警告。该行表示将认真整改。"),
    ("国家金融监督管理总局对某农商银行3月5日作出行政处罚，因其贷款管理不审慎罚款50万元。相关责任人被警告。",
     "国家金融监督管理总局对某农商银行董事长作出行政处罚，因其贷款管理不审慎罚款50万元。相关责任人被警告。"),
    ("工商银行3月5日" + "因贷款管理不审慎被国家金融监督管理总局罚款50万元，相关责任人被警告。该行表示将认真整改。",
     "工商银行杭州" + "因贷款管理不审慎被国家金融监督管理总局罚款50万元，相关责任人被警告。该行表示将认真整改。"),
    ("证监会3月5日因违规开展融资融券业务作出行政处罚，罚没款合计50万元，相关责任人被警告。该公司表示将整改。",
     "证监会对中信证券因违规开展融资融券业务作出行政处罚，罚没款合计50万元，相关责任人被警告。该公司表示将整改。"),
], ids=["date-for-branch", "date-for-person", "date-for-city", "date-for-firm"])
def test_a_date_where_the_other_names_someone_stays_apart(a, b):
    # a date only one sentence has is no other fact — but not when the other has a name in its place (the head
    # office's penalty of 3月5日 is not its Hangzhou branch's: joined, the branch's alert was lost)
    for x, y in ((a, b), (b, a)):
        ok, why = same_story("某银行被罚50万元", x, "某银行被罚50万元", y)
        assert not ok and "other facts" in why, why


PENALTY = "因贷款管理不审慎、违规向关系人发放信用贷款被国家金融监督管理总局罚款50万元，相关责任人被警告。该行表示将认真整改。"


@pytest.mark.parametrize("other", ["工商银行", "工商银行于", "工商银行周三", "工商银行晚间", "工商银行官网", "工商银行在其官网"],
                         ids=["dropped", "with-a-word", "weekday", "time-of-day", "place", "on-its-site"])
def test_a_date_a_copy_leaves_out_or_tells_as_a_word_of_time_still_joins(other):
    # what a copy puts where the report has its date (nothing, 于…, 周三, 晚间, 官网) names no other party: a copy
    for x, y in (("工商银行3月5日" + PENALTY, other + PENALTY), (other + PENALTY, "工商银行3月5日" + PENALTY)):
        ok, why = same_story("工商银行被罚50万元", x, "工商银行被罚50万元", y)
        assert ok, why


RRR_CUT = ("人民银行决定于{d}下调金融机构存款准备金率0.5个百分点（不含已执行5%存款准备金率的金融机构），此次降准共计向市场"
           "提供长期流动性约1万亿元。人民银行表示，将继续实施稳健的货币政策，保持流动性合理充裕。")


@pytest.mark.parametrize("written", ["5月20日", "2024-05-20", "2024年05月20日"], ids=["year-dropped", "iso", "padded"])
def test_a_copy_that_writes_the_day_without_its_year_or_otherwise_joins(tmp_path, written):
    # a retelling drops the year (2024年5月20日 → 5月20日) or writes the day another way: the same date, one story
    original, copy = RRR_CUT.format(d="2024年5月20日"), RRR_CUT.format(d=written)
    for x, y in ((original, copy), (copy, original)):
        ok, why = same_story("央行宣布降准0.5个百分点", x, "央行降准0.5个百分点", y)
        assert ok, why
    store = Store(tmp_path / "s.db")
    p = Processor(store, Classifier(load_topics()))
    a = p.process(url="http://x/40", source="s", title="央行宣布降准0.5个百分点", body=original, lang="zh", published_at=None)
    b = p.process(url="http://x/41", source="t", title="央行降准0.5个百分点", body=copy, lang="zh", published_at=None)
    assert b.story_id == a.story_id, b.story_reason


@pytest.mark.parametrize("one, other", [("2024年5月20日", "5月21日"), ("5月20日", "5月21日"), ("2024年5月20日", "2024-06-20"),
                                        ("2024年5月20日", "2023年5月20日")],
                         ids=["year-dropped-other-day", "other-day", "other-month", "other-year"])
def test_a_twin_with_another_date_stays_apart_with_or_without_its_year(one, other):
    for x, y in ((RRR_CUT.format(d=one), RRR_CUT.format(d=other)), (RRR_CUT.format(d=other), RRR_CUT.format(d=one))):
        ok, why = same_story("央行宣布降准0.5个百分点", x, "央行宣布降准0.5个百分点", y)
        assert not ok and "other facts" in why, why


def test_a_year_dropped_copy_of_a_twin_with_other_figures_stays_apart():
    # the year dropped does not hide another figure in the same sentence
    twin = RRR_CUT.format(d="5月20日").replace("0.5个百分点", "0.25个百分点")
    for x, y in ((RRR_CUT.format(d="2024年5月20日"), twin), (twin, RRR_CUT.format(d="2024年5月20日"))):
        ok, why = same_story("央行降准", x, "央行降准", y)
        assert not ok and "other facts" in why, why


RRR_LEAD = ("{lead}发布公告，决定下调金融机构存款准备金率0.5个百分点，此次降准共计向市场提供长期流动性约1万亿元。"
            "人民银行表示，将继续实施稳健的货币政策，保持流动性合理充裕。")


@pytest.mark.parametrize("retold, joins", [
    ("中国人民银行20日", True), ("中国人民银行20日在其官网", True), ("记者20日从中国人民银行获悉，中国人民银行", True),
    ("中国人民银行5月20日", True), ("中国人民银行21日", False), ("记者21日从中国人民银行获悉，中国人民银行", False),
    ("中国人民银行5月21日", False), ("工商银行20日", False)],
    ids=["day-only", "on-its-site", "reporter-told", "moved", "other-day", "reporter-other-day", "moved-other-day",
         "other-party"])
def test_a_date_retold_with_its_party_joins_and_with_another_day_or_party_stays_apart(retold, joins):
    # 5月20日，人民银行发布… retold as the press writes a day of the current month, after the party that acted, joins
    # (beside the lead with its year, under a shorter title); retold with another day or party, it stays apart
    lead, title = (("2024年5月20日，中国人民银行", "央行降准0.5个百分点") if joins
                   else ("5月20日，中国人民银行", "央行宣布降准0.5个百分点"))
    original, copy = RRR_LEAD.format(lead=lead), RRR_LEAD.format(lead=retold)
    for x, y in ((original, copy), (copy, original)):
        ok, why = same_story("央行宣布降准0.5个百分点", x, title, y)
        if joins:
            assert ok, why
        else:
            assert not ok and "other facts" in why, why


@pytest.mark.parametrize("word", ["日前", "近日", "近期", "此前", "今日", "今天", "当天", "当日", "昨日", "昨天"])
def test_a_word_of_when_stands_for_a_date_and_for_another_such_word(word):
    # one list of these words (stories._WHEN) serves both rules: put where the report has its date, or swapped
    # for another word of when, it tells the same event
    dated = "工商银行3月5日" + PENALTY
    for x, y in ((dated, "工商银行" + word + PENALTY), ("工商银行" + word + PENALTY, "工商银行日前" + PENALTY)):
        ok, why = same_story("工商银行被罚50万元", x, "工商银行被罚50万元", y)
        assert ok, why


PENSION_NOTICE = ("《通知》自{first}起施行，各机构应于{second}前完成系统改造并报送备案材料。各商业银行应当按照规定报送相关材料，"
                  "并对材料的真实性、准确性和完整性负责。未按期完成备案的，不得开展相关业务。监管部门将加强日常监测，"
                  "对违规行为依法采取监管措施。")
TWO_RULES = ("中国人民银行{first}发布《关于进一步规范个人养老金业务的通知》，国家金融监督管理总局{second}发布《个人养老金业务"
             "备案管理办法》，两项文件对商业银行开办个人养老金业务的准入条件、备案流程和信息报送作出规定。"
             "有关负责人表示，将加强对个人养老金业务的日常监测，对违规行为依法采取监管措施。")


@pytest.mark.parametrize("template, one, other, retold", [
    (PENSION_NOTICE, "2025年6月1日", "2025年5月20日", ("6月1日", "5月20日")),   # the effective date and the deadline
    (TWO_RULES, "5月20日", "5月21日", ("20日", "21日")),                          # two parties' dates
], ids=["effective-date-and-deadline", "two-parties"])
def test_two_notices_that_swap_their_dates_are_two_stories(tmp_path, template, one, other, retold):
    # each date stays tied to its place in the sentence: the notice in force from 6月1日 with a deadline of
    # 5月20日 is not the one in force from 5月20日 with a deadline of 6月1日 (joined, the second one's alert was lost)
    title = "关于做好个人养老金业务备案工作的通知"
    a, b = template.format(first=one, second=other), template.format(first=other, second=one)
    for x, y in ((a, b), (b, a)):
        ok, why = same_story(title, x, title, y)
        assert not ok and "other facts" in why, why
    store = Store(tmp_path / "s.db")
    p = Processor(store, Classifier(load_topics()))
    first = p.process(url="http://x/50", source="a", title=title, body=a, lang="zh", published_at=None)
    second = p.process(url="http://x/51", source="b", title=title, body=b, lang="zh", published_at=None)
    assert second.new_story and second.story_id != first.story_id, second.story_reason
    # the same dates in their places, the year dropped or the day told without its month, are still a copy;
    # swapped so, still another notice
    copy, swapped = template.format(first=retold[0], second=retold[1]), template.format(first=retold[1], second=retold[0])
    for x, y in ((a, copy), (copy, a)):
        ok, why = same_story(title, x, title, y)
        assert ok, why
    for x, y in ((a, swapped), (swapped, a)):
        ok, why = same_story(title, x, title, y)
        assert not ok and "other facts" in why, why
