"""Articles that arrive together are stored together (one transaction for a batch), and an article and
its alerts are still stored together or not at all: a failing article is left out alone."""

import asyncio

from regwatch.crawler.pipelines import Batch
from regwatch.defaults import STORE_BATCH
from regwatch.pipeline.classify import Classifier, load_topics
from regwatch.pipeline.process import Incoming, Processor
from regwatch.pipeline.store import Store

TEXT = "监管部门要求持牌消费金融公司新发放贷款综合融资成本压降至20%以内，年化利率上限进一步下调，第{n}号。"
ORIGINAL = ("中国人民银行宣布一次性信用修复政策，2020年至2025年间单笔不超过1万元的逾期记录，借款人在2026年3月31日前"
            "足额还款的，将不予展示。人民银行有关负责人表示，此举旨在帮助个人重塑信用，预计上千万人受益。")


def item(n: int, **kw) -> Incoming:
    return Incoming(url=f"http://x/{n}", source="s", title=f"综合融资成本压降至20%（{n}）", body=TEXT.format(n=n),
                    lang="zh", published_at=None, **kw)


def alert(store: Store):
    def after(done):
        store.enqueue_alert(subscription="all", channel="gw", story_id=done.story_id, article_id=done.article_id,
                            idem_key=f"k{done.article_id}")
        return 1
    return after


def count(store: Store, table: str) -> int:
    return store.one(f"SELECT count(*) FROM {table}")


class Recording(Processor):
    def __init__(self, *a, **kw):
        super().__init__(*a, **kw)
        self.batches: list[int] = []

    def process_many(self, items):
        self.batches.append(len(items))
        return super().process_many(items)


def test_articles_extracted_together_share_a_transaction(tmp_path):
    store = Store(tmp_path / "rw.db")
    p = Recording(store, Classifier(load_topics()))
    batch = Batch(p)
    n = STORE_BATCH + 8

    async def burst():
        return await asyncio.gather(*(batch.store(item(i, after=alert(store))) for i in range(n)))

    done = asyncio.run(burst())
    assert all(d is not None and d.outcome == 1 for d in done)
    assert p.batches == [STORE_BATCH, 8]
    assert count(store, "articles") == n and count(store, "alerts") == n


def test_one_article_alone_waits_for_no_batch(tmp_path):
    store = Store(tmp_path / "rw.db")
    p = Recording(store, Classifier(load_topics()))
    batch = Batch(p)
    assert asyncio.run(batch.store(item(1))) is not None
    assert p.batches == [1]


def test_a_copy_joins_a_story_begun_earlier_in_its_batch(tmp_path):
    p = Processor(Store(tmp_path / "rw.db"), Classifier(load_topics()))
    first, copy, again = p.process_many([
        Incoming("http://a/1", "a", "央行推出一次性信用修复政策", ORIGINAL, "zh", None),
        Incoming("http://b/1", "b", "转载：央行推出一次性信用修复政策", "（本文转载自财经网）\n" + ORIGINAL, "zh", None),
        Incoming("http://a/1", "b", "央行推出一次性信用修复政策", ORIGINAL, "zh", None)])
    assert first.new_story and not copy.new_story and copy.story_id == first.story_id
    assert again is None                            # its URL was stored earlier in the batch


class FailsOn(Classifier):
    def classify_article(self, article):
        if "（2）" in article.title:
            raise ValueError("hostile text")
        return super().classify_article(article)


def test_an_article_that_fails_before_writing_is_left_out_alone(tmp_path):
    store = Store(tmp_path / "rw.db")
    p = Processor(store, FailsOn(load_topics()))
    out = p.process_many([item(i, after=alert(store)) for i in range(5)])
    assert isinstance(out[2], ValueError)
    assert [o.article_id is not None for i, o in enumerate(out) if i != 2] == [True] * 4
    assert count(store, "articles") == 4 and count(store, "alerts") == 4


def test_a_failure_while_writing_leaves_out_that_article_and_its_alerts_only(tmp_path):
    store = Store(tmp_path / "rw.db")
    p = Processor(store, Classifier(load_topics()))
    def failing(done):
        alert(store)(done)          # its alert is written, then its outbox write fails
        raise RuntimeError("outbox write failed")

    out = p.process_many([item(i, after=failing if i == 2 else alert(store)) for i in range(5)])
    assert isinstance(out[2], RuntimeError)
    assert [o.outcome for i, o in enumerate(out) if i != 2] == [1, 1, 1, 1]
    urls = {r["url"] for r in store.q("SELECT url FROM articles")}
    assert urls == {f"http://x/{i}" for i in (0, 1, 3, 4)}
    assert store.one("SELECT count(*) FROM alerts a JOIN articles r ON r.id = a.article_id") == 4
    assert count(store, "alerts") == 4
