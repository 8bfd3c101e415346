"""Parsers fed arbitrary bytes: they answer with their own clear error, never anything else."""

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from regwatch.crawler.kinds import ListError, parser_for
from regwatch.pipeline.extract import extract_job
from regwatch.service.config import SourceConfig

SOURCES = {
    "feed": SourceConfig(name="f", kind="feed", url="http://127.0.0.1/f"),
    "sitemap": SourceConfig(name="s", kind="sitemap", url="http://127.0.0.1/s"),
    "listing": SourceConfig(name="l", kind="listing", url="http://127.0.0.1/l", links="ul a"),
    "json": SourceConfig(name="j", kind="json", url="http://127.0.0.1/j", items="data.list", link="url",
                         title="title", date="pubTime"),
}

# bytes that look like the real thing often enough to get past the first checks
SHAPES = st.one_of(
    st.binary(max_size=2000),
    st.builds(lambda a, b: b'<?xml version="1.0"?><rss version="2.0"><channel>' + a + b"<item><link>" + b + b"</link></item>",
              st.binary(max_size=300), st.binary(max_size=100)),
    st.builds(lambda a: b'{"data": {"list": [' + a + b"]}}", st.binary(max_size=300)),
    st.builds(lambda a: b"<html><body><ul><li><a href='" + a + b"'>x</a></li></ul></body></html>", st.binary(max_size=200)),
    st.builds(lambda a: b'<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"><url><loc>' + a + b"</loc></url></urlset>",
              st.binary(max_size=200)),
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(kind=st.sampled_from(sorted(SOURCES)), body=SHAPES)
def test_list_parsers_raise_only_their_own_error(kind, body):
    try:
        entries = parser_for(kind)(body, SOURCES[kind].url, SOURCES[kind], None)
    except ListError:
        return
    assert all(e.url.startswith(("http://", "https://")) or "://" not in e.url for e in entries)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=SHAPES)
def test_extraction_never_raises(body):
    out = extract_job({"body": body, "url": None})
    assert out["ok"] in (True, False)


def test_json_nested_past_pythons_recursion_limit_is_a_list_error():
    from regwatch.crawler.kinds.jsonapi import detail_body

    deep = b"[" * 200_000 + b"]" * 200_000
    for body in (deep, b'{"data": {"list": ' + deep + b"}}"):
        try:
            parser_for("json")(body, SOURCES["json"].url, SOURCES["json"], None)
        except ListError as e:
            assert "deeper than regwatch reads" in str(e)
        else:
            raise AssertionError("no error")
    source = SourceConfig(name="j", kind="json", url="http://127.0.0.1/j", items="data", link="url", detail="d",
                          body="body")
    try:
        detail_body(deep, None, source)
    except ListError:
        pass
    else:
        raise AssertionError("no error")


def test_a_json_number_past_pythons_digit_limit_is_a_bad_value_not_a_failed_list():
    big = "9" * 5000
    body = ('{"data": {"list": [{"url": "http://127.0.0.1/a/1", "title": "one", "pubTime": ' + big + '},'
            ' {"url": "http://127.0.0.1/a/2", "title": "two", "pubTime": "2024-05-01 10:00", "n": -' + big
            + '}]}}').encode()
    entries = parser_for("json")(body, SOURCES["json"].url, SOURCES["json"], None)
    assert [(e.url, e.title) for e in entries] == [("http://127.0.0.1/a/1", "one"), ("http://127.0.0.1/a/2", "two")]
    assert entries[0].published_at is None and entries[1].published_at is not None
