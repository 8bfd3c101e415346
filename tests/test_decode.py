"""Decoding: header, BOM, meta, then detection; GB2312/GBK read as GB18030."""

from regwatch.pipeline.decode import decode_html

TEXT = "央行明确:个人信用可一次性修复,镕(rong)字不在GB2312里"


def test_gbk_declared_in_meta_without_header():
    body = (f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head>'
            f'<body>{TEXT}</body></html>').encode("gb18030")
    text, enc = decode_html(body, "text/html")
    assert TEXT in text and enc == "gb18030"


def test_header_charset_wins():
    body = f"<html><body>{TEXT}</body></html>".encode("gbk")
    text, enc = decode_html(body, "text/html; charset=GBK")
    assert TEXT in text


def test_a_header_that_lies_is_passed_over():
    body = f'<html><head><meta charset="gbk"></head><body>{TEXT}</body></html>'.encode("gbk")
    text, _ = decode_html(body, "text/html; charset=utf-8")
    assert TEXT in text


def test_undeclared_gbk_is_detected_over_the_whole_body():
    body = ("<html><body>" + TEXT * 20 + "</body></html>").encode("gb18030")
    text, _ = decode_html(body, None)
    assert "个人信用可一次性修复" in text


def test_bom():
    text, enc = decode_html("\ufeff<html>征信</html>".encode("utf-8-sig"))
    assert text.lstrip("\ufeff").startswith("<html>征信")


def test_a_single_byte_header_loses_to_the_pages_own_gbk_meta():
    body = f'<html><head><meta charset="gbk"></head><body>{TEXT}</body></html>'.encode("gbk")
    text, enc = decode_html(body, "text/html; charset=ISO-8859-1")
    assert TEXT in text and enc == "gb18030"


def test_a_single_byte_header_loses_to_a_confident_reading_of_a_chinese_page():
    body = ("<html><body>" + TEXT * 3 + "</body></html>").encode("gbk")        # no meta at all
    text, _ = decode_html(body, "text/html; charset=iso-8859-1")
    assert TEXT in text
    utf8 = ("<html><body>" + TEXT + "</body></html>").encode("utf-8")
    assert TEXT in decode_html(utf8, "text/html; charset=windows-1252")[0]


def test_a_single_byte_header_still_holds_for_a_latin_page():
    body = "<html><body>Café au lait, naïve résumé, déjà vu.</body></html>".encode("cp1252")
    text, enc = decode_html(body, "text/html; charset=ISO-8859-1")
    assert "Café au lait, naïve résumé" in text and enc == "cp1252"


def test_a_gbk_article_served_as_iso_8859_1_is_stored_readable(tmp_path, site, rw):
    import sqlite3

    from support.config import write_config
    from support.news import art, article_page, feed_source, publish

    a = art("g1", "央行：个人信用可一次性修复",
            "中国人民银行宣布实施一次性信用修复政策，镕字也在。符合条件的个人逾期记录将不予展示。", 30)
    publish(site, {"feed": [a]})
    page = article_page(a, "gbk")
    page.ctype = "text/html; charset=ISO-8859-1"      # the server's default, not the page's
    site.pages["/a/g1.html"] = page
    cfg = write_config(tmp_path, name="c.toml", sources=[feed_source(site)])
    assert rw("run", "--once", "-c", cfg).returncode == 0
    title, body = sqlite3.connect(tmp_path / "rw.db").execute("SELECT title, body FROM articles").fetchone()
    assert title == "央行：个人信用可一次性修复" and "镕字也在" in body
