"""An extracted article through the rest of the pipeline: story → topics → store.

Articles are stored in small batches, one transaction each (a burst of new articles pays one commit
per batch, not per article). An article and its alerts (`after`) are stored together or not at all:
an article that fails before it writes is left out alone; a failure while writing undoes the batch,
which is then stored again one article per transaction, so that only the failing one is left out.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from .article import Article
from .classify import Classifier, Tag
from .normalize import web_text
from .reading import Reading
from .store import ArticleFields, ArticleRecord, Store
from .stories import StoryIndex, StoryMatch


@dataclass
class Processed:
    article_id: int
    story_id: int
    new_story: bool
    tags: list[Tag] = field(default_factory=list)
    story_reason: str = ""
    outcome: Any = None     # what `after` returned (read once the article is committed)


@dataclass
class Incoming(ArticleFields):
    """An extracted article on its way into the store: its fields (the store's `ArticleFields`), what runs
    after it is written, and the worker's reading. `after` runs inside the transaction that stores it
    (the outbox write): a crash leaves either the article and its alerts, or neither. It writes only to
    the store (a batch can be undone and stored again); what it returns is `Processed.outcome`."""

    after: Callable[[Processed], Any] | None = None
    reading: Reading | None = None      # made by the extraction worker, when it could


def _without_controls(item: Incoming) -> Incoming:
    """The article without control characters (`web_text`: a NUL of a PDF's text, which PostgreSQL's text cannot
    hold — an article refused there would be left out at every run —, an ESC of a feed's title), stored alike on
    both engines whatever path brought it. The worker read the same text without them (its reading stands: the
    main process never reads an article on its event loop because of a NUL in a page's title)."""
    texts = (item.title, item.body, item.attachment_text, item.outlet or "")
    title, body, attachment_text, outlet = map(web_text, texts)
    if (title, body, attachment_text, outlet) == texts:
        return item
    return replace(item, title=title, body=body, attachment_text=attachment_text, outlet=outlet or None)


class Processor:
    def __init__(self, store: Store, classifier: Classifier, story_window_days: float = 7):
        self.store = store
        self.classifier = classifier
        self.stories = StoryIndex(store, story_window_days)

    def process(self, **article: Any) -> Processed | None:
        """Store one article, given as `Incoming`'s keywords; None when its URL is already stored (a race
        between two list pages)."""
        result = self.process_many([Incoming(**article)])[0]
        if isinstance(result, Exception):
            raise result
        return result

    def process_many(self, items: list[Incoming]) -> list[Processed | None | Exception]:
        """Store several articles in one transaction, in order (a later one can join an earlier one's
        story). Each result is the stored article, None when its URL was stored already, or the error
        that kept it out."""
        items = [_without_controls(item) for item in items]
        try:
            # one transaction holding the story lock: the story search and the writes, one process at a
            # time (copies of one event fetched by two workers at once join one story, and alert once)
            with self.store.story_lock():
                out: list[Processed | None | Exception] = []
                for item in items:
                    try:
                        # a savepoint: a read the server failed (PostgreSQL aborts the transaction on any
                        # error, and its commit would then undo the whole batch) leaves the batch usable
                        with self.store.tx():
                            ready = self._prepare(item)
                    except Exception as e:  # (a bug, hostile text) before anything was written: it alone
                        out.append(e)
                        continue
                    out.append(None if ready is None else self._write(item, *ready))
                return out
        except Exception as e:
            if len(items) == 1:
                return [e]
        # a write failed and the batch was undone: each article again in its own transaction (inside a
        # caller's transaction, a savepoint each)
        return [self._alone(item) for item in items]

    def _alone(self, item: Incoming) -> Processed | None | Exception:
        try:
            with self.store.story_lock():
                ready = self._prepare(item)
                return None if ready is None else self._write(item, *ready)
        except Exception as e:
            return e

    def _prepare(self, item: Incoming) -> tuple[Article, StoryMatch, list[int], list[Tag]] | None:
        """An article's story and topics (reads only); None when its URL is stored already."""
        if self.store.has_url(item.url):
            return None
        r = item.reading
        if r is not None and r.title == item.title:
            article = Article.known(item.title, item.body, item.attachment_text, content_hash=r.content_hash,
                                    canonical=r.canonical, shingles=r.shingles, clean_title=r.clean_title,
                                    search_title=r.search_title, search_text=r.search_text)
            match, keys = self.stories.find(article, r.keys)
            return article, match, keys, r.tags
        article = Article(item.title, item.body, item.attachment_text)
        match, keys = self.stories.find(article)
        return article, match, keys, self.classifier.classify_article(article)

    def _write(self, item: Incoming, article: Article, match: StoryMatch, keys: list[int],
               tags: list[Tag]) -> Processed:
        outlet = item.outlet or item.source
        record = ArticleRecord.of(item, content_hash=article.content_hash, search_title=article.search_title,
                                  search_text=article.search_text)
        if match.story_id is None:
            aid = self.store.insert_article(record)
            story_id = self.store.new_story(aid, item.title, outlet)
            self.store.set_article_story(aid, story_id)
        else:
            story_id = match.story_id
            aid = self.store.insert_article(record, story_id)
            self.store.join_story(story_id, outlet)
        self.store.set_topics(aid, tags, new=True)
        self.store.forget_slow(item.url)      # a first timeout of its attachment, whichever source had it
        self.stories.index(aid, story_id, keys, article)
        done = Processed(aid, story_id, match.story_id is None, tags, match.reason)
        if item.after is not None:
            done.outcome = item.after(done)
        return done
