"""Decoding: header, BOM, meta, then detection; GB2312/GBK read as GB18030."""

from regwatch.pipeline.decode import decode_html

TEXT = "央行明确:个人信用可一次性修复,镕(rong)字不在GB2312里"


def test_gbk_declared_in_meta_without_header():
    body = f'<html><head><meta http-equiv="Content-Type" content="text/html; charset=gb2312"></head><body>{TEXT}</body></html>'.encode("gb18030")
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
