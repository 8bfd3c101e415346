"""An extracted article through the rest of the pipeline: story → topics → store.

Articles are stored in small batches, one transaction each (a burst of new articles pays one commit
per batch, not per article); within it each article has a savepoint, so an article and its alerts
(`after`) are stored together or not at all, and one that fails is undone alone.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from .article import Article
from .classify import Classifier, Tag
from .stories import StoryIndex
from .store import ArticleRecord, Store


@dataclass
class Processed:
    article_id: int
    story_id: int
    new_story: bool
    tags: list[Tag] = field(default_factory=list)
    story_reason: str = ""


@dataclass
class Incoming:
    """An extracted article on its way into the store. `after` runs inside the transaction that stores it
    (the outbox write): a crash leaves either the article and its alerts, or neither."""

    url: str
    source: str
    title: str
    body: str
    lang: str
    published_at: datetime | None
    outlet: str | None = None
    attachment_url: str | None = None
    attachment_text: str = ""
    baseline: bool = False
    after: Callable[[Processed], None] | None = None


class Processor:
    def __init__(self, store: Store, classifier: Classifier, story_window_days: float = 7):
        self.store = store
        self.classifier = classifier
        self.stories = StoryIndex(store, story_window_days)

    def process(self, *, url: str, source: str, title: str, body: str, lang: str,
                published_at: datetime | None, outlet: str | None = None, attachment_url: str | None = None,
                attachment_text: str = "", baseline: bool = False,
                after: Callable[[Processed], None] | None = None) -> Processed | None:
        """Store one article; None when its URL is already stored (a race between two list pages)."""
        result = self.process_many([Incoming(url, source, title, body, lang, published_at, outlet, attachment_url,
                                             attachment_text, baseline, after)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def process_many(self, items: list[Incoming]) -> list[Processed | None | Exception]:
        """Store several articles in one transaction, in order (a later one can join an earlier one's
        story). Each result is the stored article, None when its URL was stored already, or the error
        that kept it out (it alone is undone)."""
        out: list[Processed | None | Exception] = []
        with self.store.tx():
            for item in items:
                try:
                    with self.store.tx():       # inside the batch: a savepoint
                        out.append(self._one(item))
                except Exception as e:  # one article's failure (a bug, hostile text) is that article's
                    out.append(e)
        return out

    def _one(self, item: Incoming) -> Processed | None:
        if self.store.has_url(item.url):
            return None
        article = Article(item.title, item.body, item.attachment_text)
        match, keys = self.stories.find(article)
        tags = self.classifier.classify_article(article)
        outlet = item.outlet or item.source
        record = ArticleRecord(
            url=item.url, source=item.source, title=item.title, body=item.body, lang=item.lang,
            published_at=item.published_at, outlet=item.outlet, content_hash=article.content_hash,
            attachment_url=item.attachment_url, attachment_text=item.attachment_text or None,
            baseline=item.baseline, search_title=article.search_title, search_text=article.search_text)
        if match.story_id is None:
            aid = self.store.insert_article(record)
            story_id = self.store.new_story(aid, item.title, outlet)
            self.store.set_article_story(aid, story_id)
        else:
            story_id = match.story_id
            aid = self.store.insert_article(record, story_id)
            self.store.join_story(story_id, outlet)
        self.store.set_topics(aid, tags, new=True)
        self.stories.index(aid, story_id, keys)
        done = Processed(aid, story_id, match.story_id is None, tags, match.reason)
        if item.after is not None:
            item.after(done)
        return done
