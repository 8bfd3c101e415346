"""What regwatch reads from a page: the article's own title, body and time — not the sidebar's."""

import json
from pathlib import Path

from regwatch.pipeline.extract import extract_bytes, extract_job

FIX = Path(__file__).parent / "fixtures"


def test_gbk_page_read_from_raw_bytes():
    ex = extract_bytes((FIX / "gbk_article.html").read_bytes(), content_type="text/html")
    assert ex.title == "金融监管总局发布小额贷款公司监督管理暂行办法"
    assert "融资余额不得超过其净资产" in ex.body
    assert "征信修复广告" not in ex.body          # the sidebar is not the article
    assert ex.published_at.isoformat() == "2025-09-12T18:30:00+08:00"
    assert ex.lang == "zh"
    assert ex.outlet == "证券时报网"


def test_site_suffix_stripped_from_title_without_h1():
    html = ("<html><head><title>央行明确个人信用可一次性修复 - 新浪财经</title></head><body>"
            "<p>" + "中国人民银行发布一次性信用修复政策，符合条件的逾期记录不再展示。" * 5 + "</p></body></html>")
    assert extract_bytes(html.encode()).title == "央行明确个人信用可一次性修复"


def test_css_overrides_win():
    html = ("<html><body><div id='t'>真正的标题</div><h1>频道名</h1><div class='c'><p>"
            + "正文内容。" * 30 + "</p></div><div class='d'>2024年3月5日</div></body></html>")
    ex = extract_bytes(html.encode(), overrides={"title": "#t", "body": ".c", "date": ".d"})
    assert ex.title == "真正的标题" and ex.body.startswith("正文内容") and ex.published_at.day == 5


def test_a_page_without_text_is_an_error_not_a_crash():
    out = extract_job({"body": b"<html><body><script>var a=1</script></body></html>", "url": None})
    assert out["ok"] is False and "no article text" in out["error"]
    out = extract_job({"body": bytes(range(256)) * 10, "url": None})
    assert out["ok"] is False


def test_cli_extract_json_one_line_per_input(tmp_path, rw):
    r = rw("extract", "--json", FIX / "gbk_article.html", tmp_path / "missing.html")
    lines = [json.loads(line) for line in r.stdout.splitlines()]
    assert lines[0]["title"].startswith("金融监管总局") and lines[0]["published_at"].endswith("+08:00")
    assert "." not in lines[0]["published_at"]                  # to the second, in the display zone (one clock)
    plain = rw("extract", FIX / "gbk_article.html").stdout.splitlines()[1]
    assert "北京时间" in plain and "+00:00" not in plain, plain
    assert set(lines[0]) >= {"input", "title", "body", "published_at", "lang"}
    assert "error" in lines[1]


# Hard cases found by the extraction benchmark (bench/extraction.py), each as a small page.

def test_archive_wrapper_declares_the_encoding_without_meta():
    page = ('<text id="http://news.example.cn/a.shtml" title="央行发布通知" encoding="gb2312">\n<html><head>'
            '<title>央行发布通知</title></head><body><h1>央行发布通知</h1><p>'
            + "中国人民银行发布通知，要求各金融机构明示贷款年化利率，保护金融消费者的知情权。" * 4
            + "</p></body></html>").encode("gb18030")
    ex = extract_bytes(page)
    assert ex.encoding == "gb18030" and "明示贷款年化利率" in ex.body


def test_forum_layout_table_keeps_the_first_post_not_the_replies():
    post = "导游的收入很大一部分来自购物的回扣，这是业内的行规，境内游境外游都是这样的，属于国际惯例。"
    reply = "参与旅行社的一般都是弱势群体，谁忽悠了你，大家都来说说自己的经历吧，越详细越好。"
    page = ("<html><head><meta charset='utf-8'><title>论坛</title></head><body><table>"
            "<tr><td>首页</td><td>论坛</td><td>登录</td></tr>"
            "<tr><td>主题：你知道导游为什么热衷购物吗</td><td></td></tr>"
            "<tr><td>作者：某网友 时间：2005-08-22 19:13:18</td><td></td></tr>"
            f"<tr><td>{post * 3}</td><td></td></tr>"
            "<tr><td>回复：某人 08-11 16:06</td><td>298字</td></tr>"
            f"<tr><td>{reply * 3}</td><td></td></tr></table></body></html>").encode()
    ex = extract_bytes(page)
    assert post in ex.body and reply not in ex.body


def test_time_after_the_headline_wins_over_the_date_in_the_page_header():
    page = ("<html><head><meta charset='utf-8'><title>日本无性婚姻问题严重_新闻中心</title></head><body>"
            "<div class='top'><span class='date'>今天是2005年7月3日 星期日</span></div>"
            "<div>社会 | 声音 | 专题</div><h1>日本无性婚姻问题严重</h1><div>2005-04-05 06:40更新 来源：新华网</div>"
            "<div class='c'><p>" + "调查显示，多数受访夫妻表示婚姻生活有名无实，专家呼吁重视这一社会现象。" * 5
            + "</p></div></body></html>").encode()
    assert extract_bytes(page).published_at.isoformat() == "2005-04-05T06:40:00+08:00"


def test_a_guessed_day_that_the_page_never_writes_is_dropped():
    page = ("<html><head><meta charset='utf-8'><title>无日期的文章</title></head><body><h1>无日期的文章</h1><p>"
            + "这是一篇没有写明发布日期的文章，页面底部只有版权年份。" * 6
            + "</p><div>© 2005 某网站</div></body></html>").encode()
    assert extract_bytes(page).published_at is None


def test_a_one_sentence_flash_is_not_the_whole_page():
    # trafilatura returns the whole page for a main text this short: navigation and the sidebar's
    # headlines would then tag a one-line flash with every topic
    page = ("<html><head><meta charset='utf-8'><title>央行推出一次性信用修复政策_财经网</title></head><body>"
            "<div class='nav'><a href='/'>首页</a> | <a href='/f'>金融</a></div><h1>央行推出一次性信用修复政策</h1>"
            "<div class='info'>2025-12-22 15:41 来源：财经网</div>"
            "<div class='article'><p>中国人民银行宣布一次性信用修复政策，符合条件的逾期记录将不予展示。</p></div>"
            "<div class='sidebar'><h3>热门</h3><ul><li><a href='/x'>暴力催收专项整治启动</a></li>"
            "<li><a href='/y'>某银行收到千万罚单</a></li></ul></div></body></html>").encode()
    assert extract_bytes(page).body == "中国人民银行宣布一次性信用修复政策，符合条件的逾期记录将不予展示。"


def test_trafilatura_leaves_the_page_as_regwatch_reads_it():
    """regwatch reads the title, time and outlet from the tree it hands trafilatura (which works on its own
    copy), on the first pass and on the second one for a short notice."""
    import lxml.html
    import trafilatura

    from regwatch.pipeline.extract import _trafilatura

    long_page = (FIX / "gbk_article.html").read_bytes().decode("gbk", "replace")
    short_page = ("<html><head><title>快讯</title></head><body><div class='nav'>首页 | 金融</div><h1>快讯</h1>"
                  "<div class='article'><p>央行今日开展1000亿元逆回购操作。</p></div>"
                  "<ul class='side'><li>征信修复广告满天飞</li><li>暴力催收专项整治启动</li></ul></body></html>")
    for page in (long_page, short_page):
        tree = trafilatura.load_html(page)
        before = lxml.html.tostring(tree)
        assert _trafilatura(tree, "http://news.example.com/a/1.html") is not None
        assert lxml.html.tostring(tree) == before


def test_a_date_selector_that_finds_nothing_leaves_the_pages_own_date():
    html = ('<html><head><meta property="article:published_time" content="2024-03-05T10:00:00+08:00"></head><body>'
            "<h1>标题</h1><div class='c'><p>" + "正文内容。" * 30 + "</p></div></body></html>")
    ex = extract_bytes(html.encode(), overrides={"date": "span.nope"})
    assert ex.published_at.isoformat() == "2024-03-05T10:00:00+08:00" and ex.date_from == "meta" and ex.date_missed
    ex = extract_bytes(html.replace("<h1>", "<span class='d'>1970-01-01</span><h1>").encode(), overrides={"date": ".d"})
    assert ex.published_at.year == 2024 and ex.date_missed              # a date before 1990 is no date
    ex = extract_bytes(html.replace("<h1>", "<span class='d'>2024年3月6日</span><h1>").encode(), overrides={"date": ".d"})
    assert ex.published_at.day == 6 and ex.date_from == "selector" and not ex.date_missed


def test_a_sites_disclaimer_is_never_the_whole_body():
    # 和讯: a short article in a collapsed box ("read more": height and overflow set), the site's disclaimer
    # after it; trafilatura's low-floor pass kept only the disclaimer, and topics were read on it
    article = ('据财联社9月26日消息，今日从交通运输部行新闻发布会获悉，目前<a href="/f/1.shtml">京津冀</a>交通一体化建设'
               '各项工作取得积极成效，下一步将着力打造三地综合立体交通网络，实现区域内快速铁路覆盖所有地级及以上城市，'
               '形成相邻城市间基本实现“1.5小时交通圈”。')
    notice = ("【免责声明】本文仅代表作者本人观点，与和讯网无关。和讯网站对文中陈述、观点判断保持中立，不对所包含内容的准确性、"
              "可靠性或完整性提供任何明示或暗示的保证。请读者仅作参考，并请自行承担全部责任。")
    page = ('<html><head><title>交通运输部：着力打造京津冀区域综合立体交通网络-股票频道-和讯网</title></head><body>\n'
            '<div class="layout"><div class="w600"><div class="art_context">'
            '<div class="art_contextBox" style="visibility: visible; height: 500px; overflow: hidden; position: relative;">\n'
            f'<p style="text-indent:2em;">{article}</p>\n</div></div></div></div>\n'
            f'<div class="statement"><p>{notice}</p></div>\n</body></html>')
    body = extract_bytes(page.encode(), content_type="text/html; charset=utf-8").body
    assert "交通一体化建设各项工作取得积极成效" in body
