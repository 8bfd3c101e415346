"""What an extraction worker does with an article page: extracts it, then reads it (`Reading`: its story keys,
topics and the views storing it needs), so that the main process does only the store's part.

The workers' forkserver imports this module, not `process` (which imports the store): a worker never touches
the store, and imports none of it.
"""

from __future__ import annotations

import signal
from dataclasses import dataclass
from typing import Any

from .article import Article
from .classify import Classifier, Tag
from .limits import limit_worker
from .normalize import web_text
from .stories import article_keys


@dataclass
class Reading:
    """What storing an article needs from its text alone, without the store: computed where the text is
    (the extraction worker that read the page, in parallel with the others), so that the main process
    does only the store's part. `title` is the headline it was read with."""

    title: str
    content_hash: str
    canonical: str          # (story matching's identical-text check reads its length: not normalized again)
    shingles: frozenset[int]
    clean_title: str
    search_title: str
    search_text: str
    keys: list[int]
    tags: list[Tag]


def read(article: Article, classifier: Classifier) -> Reading:
    return Reading(article.title, article.content_hash, article.canonical, article.shingles, article.clean_title,
                   article.search_title, article.search_text, article_keys(article), classifier.classify_article(article))


_classifier: Classifier | None = None     # an extraction worker's (from `start_worker`)


def start_worker(memory: int, classifier: Classifier | None) -> None:
    """An extraction worker's initializer: the classifier it reads articles with, loaded before the first job
    (so its load counts neither against a job's time limit nor against the memory limit), then the limit."""
    global _classifier
    for sig in (signal.SIGINT, signal.SIGTERM):     # the main process's to handle: it ends the workers itself
        signal.signal(sig, signal.SIG_IGN)
    if classifier is not None:
        classifier.prepare()
    limit_worker(memory)
    _classifier = classifier


def read_in_worker(job: dict[str, Any], result: dict[str, Any]) -> None:
    """After a worker extracted a page: its reading, if it can (else the main process reads it)."""
    if _classifier is None:
        return
    try:
        title, body, attachment = (web_text(t) for t in (result["title"] or job.get("list_title") or "", result["body"],
                                                         result.get("attachment_text") or ""))
        result["reading"] = read(Article(title, body, attachment), _classifier)
    except Exception:  # noqa: BLE001 - the main process reads it again, and reports what fails there
        pass


def extract_in_worker(job: dict[str, Any], seconds: float) -> dict[str, Any]:
    """A worker's job for an article page: extracted under its time limit, then read (`read_in_worker`).
    Extraction is imported here, in the worker (its forkserver preloads it): the main process, which only
    hands the page over, never loads trafilatura."""
    from .extract import limited_extract_job

    return limited_extract_job(job, seconds, read_in_worker)


def attachment_in_worker(data: bytes, seconds: float) -> dict[str, Any]:
    """A worker's job for an article's attachment, under its own time limit (`extract.limited_attachment_job`)."""
    from .extract import limited_attachment_job

    return limited_attachment_job(data, seconds)
