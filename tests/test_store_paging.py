"""The commands that replay the whole store (`subscriptions test`, `eval --store`) read it a page at a time:
`stored_articles` gives the same rows, with their topics, whatever the page size, on both engines."""

from regwatch.pipeline.store import ArticleRecord


class Tag:
    def __init__(self, topic, score):
        self.topic, self.score, self.evidence = topic, score, []


def test_stored_articles_come_a_page_at_a_time_with_their_topics(store):
    ids = []
    for i in range(7):
        aid = store.insert_article(ArticleRecord(url=f"http://x/{i}", source="s", title=f"第{i}号", body="正文",
                                                 lang="zh", published_at=None))
        store.set_topics(aid, [Tag("rate_cap", 5.0), Tag("enforcement", 9.0)] if i % 3 == 0 else [], new=True)
        ids.append(aid)
    whole = list(store.stored_articles(page=1000))
    assert [r["id"] for r in whole] == ids
    assert [r["topics"] for r in whole] == [["enforcement", "rate_cap"] if i % 3 == 0 else [] for i in range(7)]
    for page in (1, 2, 3, 7):
        assert list(store.stored_articles(page=page)) == whole
    assert list(store.stored_articles()) == whole
    later = whole[4]["fetched_at"]
    assert [r["id"] for r in store.stored_articles(later, page=2)] == [r["id"] for r in whole if r["fetched_at"] >= later]
    assert list(store.stored_articles("2999-01-01", page=2)) == []
