"""`search --limit` up to its documented 1,000,000: more matches than the ranking window are all returned."""

from regwatch.pipeline.classify import Classifier, load_topics
from regwatch.pipeline.process import Processor
from regwatch.pipeline.store import Store
from regwatch.pipeline.store.shared.articles import RANK_WINDOW
from regwatch.service.queries import search


def test_a_limit_past_the_ranking_window_returns_that_many(tmp_path):
    s = Store(str(tmp_path / "r.db"))
    p = Processor(s, Classifier(load_topics()))
    n = RANK_WINDOW + 20
    for i in range(n):
        p.process(url=f"http://x/{i}", source="src-a", title=f"征信修复第{i}号", body=f"个人征信记录 {i} 号",
                  lang="zh", published_at=None)
    assert len(search(s, "征信", limit=n + 100)) == n
    assert len(search(s, "征信", limit=20)) == 20
