"""A batch of articles on both engines: what the batch reports stored is stored, and text the web
sends (a NUL in a PDF's text) is stored on PostgreSQL as on SQLite."""

import sys
from pathlib import Path

import pytest

from regwatch.pipeline.classify import Classifier, load_topics
from regwatch.pipeline.extract import attachment_text
from regwatch.pipeline.process import Incoming, Processor

sys.path.insert(0, str(Path(__file__).parent))
from test_attachments import tiny_pdf  # noqa: E402

TEXT = "监管部门要求持牌消费金融公司新发放贷款综合融资成本压降至20%以内，年化利率上限进一步下调，第{n}号。"


def item(n: int, **kw) -> Incoming:
    return Incoming(url=f"http://x/{n}", source="s", title=f"综合融资成本压降至20%（{n}）", body=TEXT.format(n=n),
                    lang="zh", published_at=None, **kw)


def test_a_pdf_whose_text_has_a_nul_is_stored_on_both_engines(store):
    text, _ = attachment_text(tiny_pdf(r"The bank was fined \000 500000 yuan."))
    assert "fined" in text
    p = Processor(store, Classifier(load_topics()))
    out = p.process_many([item(1, attachment_url="http://x/1.pdf", attachment_text=text)])
    assert not isinstance(out[0], Exception), out[0]
    assert store.has_url("http://x/1")


def test_a_read_the_server_fails_mid_batch_loses_none_of_the_others(store, store_location):
    """A read of one article that the server fails (a statement timeout) leaves that article out alone:
    the others the batch says are stored are stored."""
    p = Processor(store, Classifier(load_topics()))
    has_url = store.has_url

    def slow_read(url):
        if url == "http://x/2":
            if store_location.startswith("postgres"):
                store.x("SET LOCAL statement_timeout = 1")
                store.one("SELECT pg_sleep(1)")         # cancelled by the server
            raise RuntimeError("the read failed")
        return has_url(url)

    store.has_url = slow_read
    out = p.process_many([item(i) for i in range(5)])
    store.has_url = has_url
    assert isinstance(out[2], Exception)
    said = {f"http://x/{i}" for i, o in enumerate(out) if o is not None and not isinstance(o, Exception)}
    assert {r["url"] for r in store.q("SELECT url FROM articles")} == said      # nothing said stored is lost
    assert said == {f"http://x/{i}" for i in (0, 1, 3, 4)}


def test_a_nul_in_a_list_title_keeps_the_workers_reading(store, monkeypatch):
    """The worker reads the article without the NULs the store will drop, so the main process uses its reading
    and never tags the article itself on its event loop (a hostile list's NUL made it read every article)."""
    from regwatch.pipeline import reading

    clf = Classifier(load_topics())
    job = {"list_title": "综合融资成本\x00压降至20%"}
    result = {"title": "", "body": TEXT.format(n=7) + "\x00", "attachment_text": ""}
    monkeypatch.setattr(reading, "_classifier", clf)
    reading.read_in_worker(job, result)
    assert result["reading"].tags
    monkeypatch.setattr(clf, "classify_article", lambda *_: pytest.fail("the main process read the article"))
    out = Processor(store, clf).process_many([Incoming(url="http://x/7", source="s", title=job["list_title"],
                                                       body=result["body"], lang="zh", published_at=None,
                                                       reading=result["reading"])])
    assert not isinstance(out[0], Exception), out[0]
    assert {t.topic for t in out[0].tags} == {t.topic for t in result["reading"].tags}
    assert "\x00" not in store.article(out[0].article_id)["title"]
