"""An article's fields have one home (the store's `ArticleFields`): the processor's `Incoming` and the store's
`ArticleRecord` both extend it, and an article goes into the store with each field as it came."""

import pickle
from dataclasses import fields
from datetime import UTC, datetime

from regwatch.pipeline.classify import Classifier, load_topics
from regwatch.pipeline.process import Incoming, Processor
from regwatch.pipeline.store import ArticleFields, ArticleRecord, Store

BODY = "监管部门要求持牌消费金融公司新发放贷款综合融资成本压降至20%以内，年化利率上限进一步下调。"


def test_incoming_and_record_extend_the_article_fields():
    names = [f.name for f in fields(ArticleFields)]
    assert [f.name for f in fields(Incoming)][:len(names)] == names
    assert [f.name for f in fields(ArticleRecord)][:len(names)] == names
    # nothing else repeats an article's field: Incoming adds what is its own, ArticleRecord what the processor made
    assert [f.name for f in fields(Incoming)][len(names):] == ["after", "reading"]
    assert [f.name for f in fields(ArticleRecord)][len(names):] == ["content_hash", "search_title", "search_text"]


def test_each_field_is_stored_as_it_came(tmp_path):
    store = Store(str(tmp_path / "a.db"))
    when = datetime(2026, 3, 1, 8, 30, tzinfo=UTC)
    full = Incoming("http://x/1", "s", "综合融资成本压降至20%", BODY, "zh", when, "财经网", "http://x/1.pdf", "附件正文",
                    True)
    bare = Incoming(url="http://x/2", source="t", title="年化利率上限下调", body=BODY + "第二篇", lang="en",
                    published_at=None)
    assert pickle.loads(pickle.dumps(full)) == full      # what a worker's queue would carry
    done = Processor(store, Classifier(load_topics())).process_many([full, bare])
    cols = "url, source, title, body, lang, published_at, outlet, attachment_url, attachment_text, baseline"
    rows = [store.all(f"SELECT {cols} FROM articles WHERE id = ?", (d.article_id,))[0] for d in done]
    assert rows[0] == ("http://x/1", "s", "综合融资成本压降至20%", BODY, "zh", "2026-03-01T08:30:00+00:00", "财经网",
                       "http://x/1.pdf", "附件正文", 1)
    assert rows[1] == ("http://x/2", "t", "年化利率上限下调", BODY + "第二篇", "en", None, None, None, None, 0)
    # one stored directly (no attachment text) keeps NULL, as before
    aid = store.insert_article(ArticleRecord(url="http://x/3", source="s", title="t", body="b", lang="zh",
                                             published_at=None))
    assert store.one("SELECT attachment_text FROM articles WHERE id = ?", (aid,)) is None
    store.close()
