"""Messages per platform: the platform's own shape and limits, and untrusted text always inert."""

import html
import json
import re

import pytest
from support.platforms import problems

from regwatch.alerts.message import (
    build_message,
    digest_message,
    health_message,
    health_summary_message,
    inert,
    item_of,
    lead_of,
    plain,
    safe_url,
    topic_lines,
)
from regwatch.alerts.platforms import PLATFORMS
from regwatch.service.config import ChannelConfig

HOSTILE = ('央行出手 @all <@all> <!channel> <!here> @everyone <at user_id="all">所有人</at> <at id=all></at> '
           '[点我](http://evil.example/x) **粗** `code` # 标题')
ARTICLE = {"url": "https://news.example.com/a/1.html?x=1&y=(2)", "title": HOSTILE, "source": "src", "outlet": "财经网",
           "published_at": "2025-12-22T07:41:00+00:00", "body": "正文第一段，足够长的一段话用于生成摘要内容。" * 40}
TOPICS = [{"topic": "rate_cap", "score": 6, "evidence": [{"term": "利率上限", "where": "title"}, {"term": "[x](http://evil)"}]}]


def platform(kind, keyword=None):
    return PLATFORMS[kind](ChannelConfig(name=kind, type=kind, url=None if kind == "console" else "https://127.0.0.1/x",
                                         chat_id="-100" if kind == "telegram" else None, keyword=keyword))


def render(kind):
    m = build_message(ARTICLE, TOPICS, {"rate_cap": "利率上限"}, "caps")
    return platform(kind).render_fitted(m)


@pytest.mark.parametrize("platform", ["dingtalk", "wecom", "feishu", "slack", "discord", "teams", "telegram", "console"])
def test_hostile_headline_is_inert(platform):
    blob = json.dumps(render(platform), ensure_ascii=False)
    for live in ("<!channel>", "<!here>", "<@all>", '<at user_id=\\"all', "<at id=all", "@everyone", "@all"):
        assert live not in blob, (platform, live)
    assert not re.search(r"(?<!\\)\[[^\]]*\]\(http://evil", blob)
    assert "isAtAll\": true" not in blob


def test_the_article_link_survives_and_cannot_end_early():
    text = render("dingtalk")["markdown"]["text"]
    assert "(https://news.example.com/a/1.html?x=1&y=%282%29)" in text


def test_platform_shapes():
    assert render("dingtalk")["msgtype"] == "markdown" and render("dingtalk")["at"]["isAtAll"] is False
    assert render("wecom")["msgtype"] == "markdown"
    assert render("feishu")["msg_type"] == "interactive" and render("feishu")["card"]["header"]["title"]["tag"] == "plain_text"
    assert render("slack")["blocks"][0]["type"] == "header" and len(render("slack")["blocks"][0]["text"]["text"]) <= 150
    assert render("discord")["allowed_mentions"] == {"parse": []}
    assert render("teams")["attachments"][0]["content"]["type"] == "AdaptiveCard"
    assert render("telegram")["parse_mode"] == "HTML"


def test_wecom_markdown_fits_4096_bytes_with_link_last():
    art = dict(ARTICLE, title="标题" * 300, body="很长的正文" * 3000)
    m = build_message(art, TOPICS, {}, "s", lead_chars=3000)
    content = platform("wecom").render_fitted(m)["markdown"]["content"]
    assert len(content.encode()) <= 4096
    assert content.rstrip().endswith(")")


def test_inert_drops_every_control_bidi_and_invisible_character():
    # ANSI and C1 escapes, bidi overrides and isolates (U+2066–2069), the Arabic letter mark, zero-width and
    # invisible formatting: a headline can neither recolour a console nor reorder what a chat client shows
    hostile = ("\x1b[31m利率\x9b31m\u202e上限\u2067@all 点击 evil.example\u2069\u061c\u200b\u2060\u00ad\u180e\ufeff通知"
               "\u206a\ufff9\U000e0041\U000e007f")         # deprecated format, annotation, tag characters too
    assert inert(hostile) == "［31m利率31m上限＠all 点击 evil.example通知"
    assert inert("第一行\r\n第二行\t第三") == "第一行 第二行 第三"


def test_inert_keeps_the_words():
    assert inert("A <b> [x](y) @z") == "A ＜b＞ ［x］(y) ＠z"


def test_invisible_tag_characters_are_escaped_in_json_and_the_terminal():
    """Tag characters (U+E0000–E007F: invisible letters) are never shown live: JSON output escapes them as the
    surrogate pair JSON needs (read back, the text is the same), the terminal as `\\U000e0041`."""
    import json

    from regwatch.service.output import json_text, safe

    text = "利率\U000e0041\U000e007f上限\u206a"
    out = json_text({"title": text})
    assert "\U000e0041" not in out and "\\udb40\\udc41" in out and json.loads(out)["title"] == text
    assert safe(text) == "利率\\U000e0041\\U000e007f上限\\u206a"


# -- every message fits its platform, whatever the article -----------------------------------------

ASTRAL = "𠀀𠀁👨‍👩‍👧🇨🇳"                    # CJK Extension B, a ZWJ family, a flag: two UTF-16 units a code point
LIMITED = ["dingtalk", "wecom", "feishu", "slack", "discord", "teams", "telegram", "webhook"]


def units(s):
    return len(s.encode("utf-16-le")) // 2


def within_limits(kind, payload):
    """The platform's documented limits (the README's table), each in the platform's own unit: UTF-8 bytes for
    DingTalk, WeCom, Feishu, Teams and webhook events (the whole signed body); UTF-16 units for Slack, Discord
    and Telegram (at least as many as their characters, however a platform counts one beyond U+FFFF)."""
    body = platform(kind).request(payload, "k" * 40).body
    if kind == "dingtalk":
        return len(payload["markdown"]["text"].encode()) <= 18000
    if kind == "wecom":
        return len(payload["markdown"]["content"].encode()) <= 4096
    if kind in ("feishu", "webhook", "teams"):
        return len(body) <= {"feishu": 18000, "webhook": 20000, "teams": 27000}[kind]
    if kind == "slack":
        blocks = payload["blocks"]
        return len(blocks) <= 50 and units(payload["text"]) <= 3000 and all(
            units(b["text"]["text"]) <= (150 if b["type"] == "header" else 3000) for b in blocks if "text" in b)
    if kind == "discord":
        e = payload["embeds"][0]
        sizes = [units(e["title"]), units(e["description"])] + [units(f["name"]) + units(f["value"]) for f in e["fields"]]
        return units(e["title"]) <= 256 and units(e["description"]) <= 4096 and sum(sizes) <= 6000
    return units(payload["text"]) <= 4096


def hot_story(n_outlets=150, title_chars=7000):
    """A pathological alert: a 7,000-character title, 150 outlets of 30 characters, a 4,000-character lead,
    many long matched words, characters beyond U+FFFF everywhere, and the event data the dispatcher adds."""
    title = ("监管" + ASTRAL + "<@all>[x](y)") * (title_chars // 20)
    outlets = [f"{k:03d}财经{ASTRAL}" + "网" * 20 for k in range(n_outlets)]
    topics = [{"topic": f"t{j}", "score": 1, "evidence": [{"term": f"{ASTRAL}词{j}-{k}" * 3} for k in range(8)]}
              for j in range(12)]
    art = dict(ARTICLE, title=title, outlet="财经" * 30, body=(ASTRAL + "正文。") * 2000,
               url="https://news.example.com/a/" + "长" * 300 + ".html#/detail?id=77")
    m = build_message(art, topics, {f"t{j}": "很长的主题名" * 10 for j in range(12)}, "caps", lead_chars=4000,
                      also=outlets, keyword="关键词" * 10)
    m.data = plain({"subscription": "caps", "story_id": 1, "keyword": None,
                    "article": {k: art.get(k) for k in ("url", "title", "source", "outlet", "published_at", "lang")},
                    "topics": [{"id": t["topic"], "score": 1, "terms": [e["term"] for e in t["evidence"]]} for t in topics],
                    "lead": m.lead, "also_reported_by": outlets[:20], "also_reported_count": len(outlets)})
    return m


@pytest.mark.parametrize("kind", LIMITED)
def test_a_story_with_many_copies_fits_every_platform(kind):
    m = hot_story()
    payload = platform(kind, keyword="监管" if kind in ("dingtalk", "wecom", "feishu") else None).render_fitted(m)
    assert within_limits(kind, payload), kind
    assert problems(kind, payload) == []
    if kind != "webhook":
        text = json.dumps(payload, ensure_ascii=False)
        assert "150 家" in text and "/a/" in text, kind         # the outlets counted, the link kept


@pytest.mark.parametrize("kind", LIMITED)
def test_digest_items_and_health_notices_fit_every_platform(kind):
    p = platform(kind)
    items = [hot_story(n_outlets=60, title_chars=3000) for _ in range(3)]
    digest = digest_message(items, "caps")
    for item, m in zip(digest.items, items, strict=True):
        item.data = m.data
    for _, payload in p.pack(digest):
        assert within_limits(kind, payload) and problems(kind, payload) == [], kind
    health = health_message("x" * 5000, "failing" + ASTRAL * 500, ASTRAL * 3000, False)
    health.data = plain({"source": "x" * 5000, "state": "failing", "detail": ASTRAL * 30000})
    summary = health_summary_message([{"source": f"源{ASTRAL}{k}", "state": "failing", "detail": ASTRAL * 200}
                                      for k in range(300)])
    summary.data = plain({"changes": [{"source": f"s{k}", "state": "failing", "detail": ASTRAL * 200} for k in range(300)]})
    for m in (health, summary):
        payload = p.render_fitted(m)
        assert within_limits(kind, payload) and problems(kind, payload) == [], kind


SPA = "https://spa.example.com/#/detail?id=7&x="       # a hash-routed page: no length limit on its link


def links_whole(kind, payload, url):
    """Every link construct of the payload whole: the long `url` in it entirely or not at all, each Slack
    `<…|…>` closed, each markdown `[…](…)` closed (no text of a link cut off at a limit)."""
    texts = [payload["text"], *(b["text"]["text"] for b in payload["blocks"] if b["type"] == "section"),
             *(e["text"] for b in payload["blocks"] for e in b.get("elements", []))] if kind == "slack" \
        else [json.dumps(payload, ensure_ascii=False)]
    for t in texts:
        assert t.count(SPA) == t.count(url), (kind, t[-60:])
        if kind == "slack":
            assert not re.search(r"[<>]", re.sub(r"<https?://[^<>|]+\|[^<>]+>", "", t)), (kind, t[-60:])
        elif kind in ("dingtalk", "wecom", "discord", "teams", "feishu"):
            assert t.count("](") == len(re.findall(r"\]\(https?://[^()\s]+\)", t)), (kind, t[-60:])


@pytest.mark.parametrize("kind", LIMITED)
@pytest.mark.parametrize("length", [5000, 2860])
def test_a_link_too_long_for_a_message_is_left_out_whole_never_cut(kind, length):
    url = safe_url(SPA + "a" * length)
    p = platform(kind)
    single = build_message(dict(ARTICLE, url=url, title="标题" * 100), [], {}, "caps", lead_chars=0)
    payload = p.render_fitted(single)
    assert within_limits(kind, payload) and problems(kind, payload) == [], kind
    links_whole(kind, payload, url)
    short = build_message(dict(ARTICLE, url="https://e.example.com/2", title="标题二"), TOPICS, {}, "caps")
    digest = digest_message([build_message(dict(ARTICLE, url=url, title="标题一"), TOPICS, {}, "caps"), short], "caps")
    for _, payload in p.pack(digest):
        assert within_limits(kind, payload) and problems(kind, payload) == [], kind
        links_whole(kind, payload, url)
    assert kind == "webhook" or any("https://e.example.com/2" in json.dumps(pl, ensure_ascii=False)
                                    for _, pl in p.pack(digest)), kind         # the other item keeps its link


def test_the_other_outlets_are_named_up_to_five_then_counted():
    m = build_message(ARTICLE, TOPICS, {}, "caps", also=[f"媒体{k}" for k in range(45)])
    assert dict(m.fields())["另见"] == "媒体0、媒体1、媒体2、媒体3、媒体4 等 45 家"
    assert build_message(ARTICLE, TOPICS, {}, "caps", also=["甲", "乙"]).fields()[2] == ("另见", "甲、乙")
    assert "另见 媒体0、媒体1、媒体2、媒体3、媒体4 等 45 家" in item_of(m).tail()


def test_the_webhook_event_fits_20000_bytes_with_its_timestamp():
    m = hot_story(title_chars=7000)
    p = platform("webhook")
    body = p.request(p.render_fitted(m), "msg_1").body
    event = json.loads(body)
    assert len(body) <= 20000 and event["timestamp"]
    assert event["data"]["article"]["title"].startswith("监管𠀀") and event["data"]["article"]["title"].endswith("…")
    assert len(event["data"]["also_reported_by"]) == 20 and event["data"]["also_reported_count"] == 150
    assert event["data"]["article"]["url"].endswith("#/detail?id=77")


# -- links keep their fragment ---------------------------------------------------------------------

def test_a_link_keeps_its_fragment_and_it_cannot_end_the_link():
    assert safe_url("https://www.x.gov.cn/#/detail?id=123") == "https://www.x.gov.cn/#/detail?id=123"
    hostile = "http://127.0.0.1:8080/a/F1.html#/detail?id=77&x=(1)|<!channel>[y] \"z' #w"
    url = safe_url(hostile)
    assert url == "http://127.0.0.1:8080/a/F1.html#/detail?id=77&x=%281%29%7C%3C!channel%3E%5By%5D%20%22z'%20%23w"
    art = dict(ARTICLE, url=hostile)
    m = build_message(art, TOPICS, {}, "caps")
    for kind in ("dingtalk", "wecom", "teams", "feishu", "discord"):
        assert url in json.dumps(platform(kind).render_fitted(m), ensure_ascii=False), kind
    assert f"<{url}|阅读原文>" in json.dumps(platform("slack").render_fitted(m), ensure_ascii=False)
    assert f'<a href="{html.escape(url)}">阅读原文</a>' in platform("telegram").render_fitted(m)["text"]
    assert problems("telegram", platform("telegram").render_fitted(m)) == []


# -- text stays whole ------------------------------------------------------------------------------

def test_joiners_are_kept_and_cuts_never_split_a_character():
    assert inert("👨\u200d👩\u200d👧 می\u200cخواهم") == "👨\u200d👩\u200d👧 می\u200cخواهم"
    assert inert("长" * 198 + "🇨🇳🇨🇳", 200) == "长" * 198 + "…"
    assert inert("a" * 197 + "👨\u200d👩\u200d👧", 199) == "a" * 197 + "…"
    assert inert("x" * 9 + "e\u0301\u0302y", 11) == "x" * 9 + "…"          # a letter and its two accents: whole
    # a joiner makes nothing live: a mention or a link split by one stays inert text
    for hostile in ("@\u200dall", "<\u200d@all>", "<\u200d!channel>", "[x]\u200d(http://evil)"):
        text = inert(hostile)
        assert "\u200d" in text and not {"@", "<", "[", "]"} & set(text), text


def test_an_english_first_sentence_starting_with_by_is_the_lead():
    assert lead_of("By the end of 2026, lenders must cap APRs at 24%.\nThe rule applies to all.", 200) == \
        "By the end of 2026, lenders must cap APRs at 24%. The rule applies to all."
    for byline in ("By Jane Doe", "By Reuters Staff", "BY ANN LEE and BO CHEN, Reuters", "Source: Reuters"):
        assert lead_of(f"{byline}\nThe rule applies to every lender.", 200) == "The rule applies to every lender.", byline


def test_topic_words_are_distinct_and_whole():
    evidence = [
        {"term": "debt collector", "where": "title",
         "snippet": "…son who stabbed debt collector humiliating his mother has li…"},
        {"term": "collector humiliat", "where": "title",
         "snippet": "…son who stabbed debt collector humiliating his mother has life senten…"},
        {"term": "威胁,不得采用恐吓、威胁、辱骂、骚扰等方式,不得冒用国家机关或其他机构名义,不", "where": "body", "snippet": ""},
        {"term": "debt、debt", "where": "model", "snippet": "the learned stage: the words that weighed most"},
    ]
    [line] = topic_lines([{"topic": "debt_collection", "evidence": evidence}], {})
    assert line.terms == ["debt collector", "collector humiliating", "debt"]


# the trial's copies of one event (report-stories.md, finding 5): an editor's-note copy with a byline and reprint
# line, and a flash that ends with its page's credit, editor and share buttons
EDITOR_COPY = """【编者按】征信是个人的“经济身份证”。本报今日转发此文，供读者参考。
作者：李明 本文来源：金融时报
2025年12月22日，中国人民银行发布关于实施一次性信用修复政策有关安排的通知。"""
FLASH_PAGE = """中国人民银行12月22日发布通知，单笔金额不超过1万元人民币的个人逾期信息将不予展示。此次政策无需个人申请。
来源:快讯社 2025-12-22 18:05 责任编辑:王小明
分享到：微信 微博
扫一扫，手机阅读
相关阅读
央行：信用修复无需通过中介机构"""


def test_a_copys_credit_lines_and_page_furniture_are_not_its_lead():
    m = build_message({"title": "央行实施一次性信用修复政策", "url": "http://127.0.0.1/a", "body": EDITOR_COPY},
                      [], {}, "all-topics", lead_chars=400)
    assert m.lead == ("【编者按】征信是个人的“经济身份证”。本报今日转发此文，供读者参考。 "
                      "2025年12月22日，中国人民银行发布关于实施一次性信用修复政策有关安排的通知。")
    m = build_message({"title": "快讯：央行实施一次性信用修复政策", "url": "http://127.0.0.1/b", "body": FLASH_PAGE},
                      [], {}, "all-topics", lead_chars=400)
    assert m.lead == "中国人民银行12月22日发布通知，单笔金额不超过1万元人民币的个人逾期信息将不予展示。此次政策无需个人申请。"
    # a body that is nothing but such a line (a one-line 声明) is its own lead, as it is its own text
    statement = "声明：我行从未委托任何中介机构开展所谓征信修复业务。"
    assert lead_of(statement, 160) == statement


def test_a_statement_or_a_sentence_starting_like_a_credit_is_the_lead():
    # only credits are left out of a lead (`作者：`, `来源：`, `转自…`): a 声明 of several lines, or a first sentence
    # that starts 来源于…, is the news itself (the lead was the signature, or the second line)
    statement = "声明：近期有不法分子冒用我会名义发送“征信修复”短信，请公众提高警惕。\n特此声明。\n中国证券监督管理委员会"
    assert lead_of(statement, 120).startswith("声明：近期有不法分子冒用我会名义")
    report = "来源于某省地方金融管理局的消息显示，该省将清理整顿网络小贷公司。\n截至目前，已有12家机构退出。"
    assert lead_of(report, 120).startswith("来源于某省地方金融管理局")
    assert lead_of("来源：新华社\n" + report, 120).startswith("来源于某省地方金融管理局")


def test_disclaimers_and_reprint_notes_are_not_the_lead():
    body = ("来自：中国证券报\n免责声明：本文仅代表作者观点，不构成投资建议。\n转载请注明出处：某财经网\n"
            "监管部门要求持牌消费金融公司新发放贷款综合融资成本压降至20%以内。")
    assert lead_of(body, 120) == "监管部门要求持牌消费金融公司新发放贷款综合融资成本压降至20%以内。"
