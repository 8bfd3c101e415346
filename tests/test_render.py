"""Messages per platform: the platform's own shape and limits, and untrusted text always inert."""

import json
import re

import pytest

from regwatch.alerts.message import build_message, inert
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
