"""An extracted article through the rest of the pipeline: story → topics → store."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Callable

from .classify import Classifier, Tag
from .stories import StoryIndex, content_hash
from .store import ArticleRecord, Store


@dataclass
class Processed:
    article_id: int
    story_id: int
    new_story: bool
    tags: list[Tag] = field(default_factory=list)
    story_reason: str = ""


class Processor:
    def __init__(self, store: Store, classifier: Classifier, story_window_days: float = 7):
        self.store = store
        self.classifier = classifier
        self.stories = StoryIndex(store, story_window_days)

    def process(self, *, url: str, source: str, title: str, body: str, lang: str,
                published_at: datetime | None, outlet: str | None = None, attachment_url: str | None = None,
                attachment_text: str = "", baseline: bool = False,
                after: Callable[[Processed], None] | None = None) -> Processed | None:
        """Store one article; None when its URL is already stored (a race between two list pages).

        `after` runs inside the same transaction (the outbox write): a crash leaves either the
        article and its alerts, or neither — never a stored article whose alert was lost."""
        if self.store.has_url(url):
            return None
        chash = content_hash(title, body)
        tags = self.classifier.classify(title, body + ("\n" + attachment_text if attachment_text else ""))
        # one transaction, one process at a time: the story search and the writes (copies of one event
        # fetched by two workers at once join one story, and alert once)
        with self.store.story_lock():
            if self.store.has_url(url):             # another worker stored it meanwhile
                return None
            match, keys = self.stories.find(title, body, chash)
            aid = self.store.insert_article(ArticleRecord(
                url=url, source=source, title=title, body=body, lang=lang, published_at=published_at,
                outlet=outlet, content_hash=chash, attachment_url=attachment_url,
                attachment_text=attachment_text or None, baseline=baseline))
            if match.story_id is None:
                story_id = self.store.new_story(aid, title, outlet or source)
            else:
                story_id = match.story_id
                self.store.join_story(story_id, outlet or source)
            self.store.set_article_story(aid, story_id)
            self.store.set_topics(aid, tags)
            self.stories.index(aid, story_id, keys)
            done = Processed(aid, story_id, match.story_id is None, tags, match.reason)
            if after is not None:
                after(done)
        return done
