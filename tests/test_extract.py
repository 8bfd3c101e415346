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
    lines = [json.loads(l) for l in r.stdout.splitlines()]
    assert lines[0]["title"].startswith("金融监管总局") and lines[0]["published_at"].endswith("+08:00")
    assert set(lines[0]) >= {"input", "title", "body", "published_at", "lang"}
    assert "error" in lines[1]
