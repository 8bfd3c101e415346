"""Precision, recall and F1 per topic against labeled articles, with the mistakes explained."""

from __future__ import annotations

import hashlib
import statistics
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import meaning
from .classify import Classifier
from .extract import detect_lang

TEST_SHARE = 5          # one event in five goes to the test split (read only at the end of a change)


@dataclass
class TopicScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    # None where a score is undefined (0/0): nothing tagged has no precision, nothing labelled no recall,
    # neither no F1 — never a perfect score

    @property
    def precision(self) -> float | None:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else None

    @property
    def recall(self) -> float | None:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else None

    @property
    def f1(self) -> float | None:
        return 2 * self.tp / (2 * self.tp + self.fp + self.fn) if self.tp + self.fp + self.fn else None


@dataclass
class Report:
    topics: dict[str, TopicScore]
    mistakes: list[dict[str, Any]] = field(default_factory=list)
    negatives_tagged: int = 0
    negatives: int = 0              # articles labelled with no topic (a labelled file's)
    nots: int = 0                   # judgments "not about this topic" (`not_labels`: `regwatch label --not`) …
    nots_tagged: int = 0            # … of which the article is tagged with that topic
    n: int = 0
    by_lang: dict[str, TopicScore] = field(default_factory=dict)   # micro-averaged per language

    @property
    def micro(self) -> TopicScore:
        s = TopicScore()
        for t in self.topics.values():
            s.tp += t.tp
            s.fp += t.fp
            s.fn += t.fn
        return s

    def to_json(self) -> dict[str, Any]:
        return {"articles": self.n, "micro": _row(self.micro), "topics": {k: _row(v) for k, v in self.topics.items()},
                "by_lang": {k: _row(v) for k, v in sorted(self.by_lang.items())},
                "negatives": self.negatives, "negatives_tagged": self.negatives_tagged,
                "not_labels": self.nots, "not_labels_tagged": self.nots_tagged, "mistakes": self.mistakes}


def evaluate(classifier: Classifier, items: Iterable[dict[str, Any]]) -> Report:
    """Score the classifier on labelled items (`labels`: the topics; with `not_labels`, only the
    topics named in either list are judged — a user's corrections in the store)."""
    report = Report({t.id: TopicScore() for t in classifier.topics})
    for item in items:
        report.n += 1
        want = set(item.get("labels") or [])
        judged = want | set(item.get("not_labels") or []) if "not_labels" in item else None
        tags = {t.topic: t for t in classifier.classify(item.get("title", ""), item.get("text", ""))}
        got = set(tags) if judged is None else set(tags) & judged
        if not want and judged is None:
            report.negatives += 1
            report.negatives_tagged += bool(got)
        nots = set(item.get("not_labels") or []) - want
        report.nots += len(nots)
        report.nots_tagged += len(nots & got)
        # the item's `lang`, else the language regwatch gives a page of that text (a user's file rarely says)
        lang = report.by_lang.setdefault(str(item.get("lang") or detect_lang(
            f"{item.get('title') or ''}\n{item.get('text') or ''}")), TopicScore())
        for topic, score in report.topics.items():
            if topic in want and topic in got:
                score.tp += 1
                lang.tp += 1
            elif topic in got:
                lang.fp += 1
                score.fp += 1
                report.mistakes.append({"id": item.get("id"), "kind": "false positive", "topic": topic,
                                        "title": item.get("title"), "evidence": tags[topic].evidence[:4]})
            elif topic in want:
                score.fn += 1
                lang.fn += 1
                report.mistakes.append({"id": item.get("id"), "kind": "missed", "topic": topic,
                                        "title": item.get("title")})
    return report



# -- splits by event, and cross-validation ------------------------------------------------------

def event_of(item: dict[str, Any]) -> str:
    """The real event an article reports: every copy and retelling of it shares one key."""
    return str(item.get("event") or item.get("id") or item.get("title"))


def _bucket(key: str, n: int) -> int:
    return int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % n


def split_of(item: dict[str, Any]) -> str:
    """`test` (one event in five, fixed by the event's hash) or `dev`: all of an event on one side."""
    return "test" if _bucket("split:" + event_of(item), TEST_SHARE) == 0 else "dev"


def folds_by_event(items: Sequence[dict[str, Any]], k: int) -> list[list[dict[str, Any]]]:
    """k folds with every event wholly in one of them."""
    out: list[list[dict[str, Any]]] = [[] for _ in range(k)]
    for item in items:
        out[_bucket("fold:" + event_of(item), k)].append(item)
    return out


@dataclass
class CrossValidation:
    folds: list[Report]

    def pooled(self, topic: str) -> TopicScore:
        """A topic's counts over all folds together."""
        return _sum(f.topics[topic] for f in self.folds)

    def summary(self) -> dict[str, Any]:
        def stat(scores: Iterable[float | None]) -> dict[str, float | None]:
            """Mean, spread and range over the folds where the score is defined (None: in none of them)."""
            values = [v for v in scores if v is not None]
            if not values:
                return {"mean": None, "sd": None, "min": None, "max": None}
            return {"mean": round(statistics.mean(values), 3),
                    "sd": round(statistics.stdev(values), 3) if len(values) > 1 else 0.0,
                    "min": round(min(values), 3), "max": round(max(values), 3)}

        micro = [f.micro for f in self.folds]
        out: dict[str, Any] = {"folds": len(self.folds), "articles": sum(f.n for f in self.folds),
                               "micro_f1": stat([m.f1 for m in micro]), "precision": stat([m.precision for m in micro]),
                               "recall": stat([m.recall for m in micro])}
        topics = self.folds[0].topics.keys() if self.folds else []
        # a topic's F1 over all folds pooled (a fold without the topic would score 0 or 1 on a handful of
        # articles), and its spread over the folds that hold it
        out["topics_f1"] = {t: {"pooled": _round(self.pooled(t).f1),
                                **stat(f.topics[t].f1 for f in self.folds if f.topics[t].tp + f.topics[t].fn)}
                            for t in topics}
        langs = sorted({lang for f in self.folds for lang in f.by_lang})
        out["recall_by_lang"] = {lang: stat([f.by_lang[lang].recall for f in self.folds if lang in f.by_lang])
                                 for lang in langs}
        # every article is held out exactly once: the counts of all folds together, micro, per topic, per language
        out["pooled"] = {"micro": _row(_sum(f.micro for f in self.folds)),
                         "topics": {t: _row(self.pooled(t)) for t in topics},
                         "by_lang": {lang: _row(_sum(f.by_lang[lang] for f in self.folds if lang in f.by_lang))
                                     for lang in langs}}
        return out


def _row(s: TopicScore) -> dict[str, Any]:
    return {"precision": _round(s.precision), "recall": _round(s.recall), "f1": _round(s.f1),
            "tp": s.tp, "fp": s.fp, "fn": s.fn}


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 3)


def _sum(scores: Iterable[TopicScore]) -> TopicScore:
    out = TopicScore()
    for s in scores:
        out.tp += s.tp
        out.fp += s.fp
        out.fn += s.fn
    return out


class SplitError(ValueError):
    """The items cannot be split as asked (too few writers, or a held-out part that leaves nothing to train on)."""


def writer_of(item: dict[str, Any]) -> str:
    """Who wrote an article: its `writer`, else its id's prefix (`w13-007` → `w13`)."""
    return str(item.get("writer") or str(item.get("id") or "").rsplit("-", 1)[0] or "?")


def holdouts_by_writer(items: Sequence[dict[str, Any]]) -> list[tuple[list[dict[str, Any]], list[dict[str, Any]]]]:
    """Leave one writer out: for each writer, (their articles, the training articles). Training leaves out
    every article about an event the held writer wrote about too, so no event sits on both sides."""
    writers: dict[str, list[dict[str, Any]]] = {}
    for item in items:
        writers.setdefault(writer_of(item), []).append(item)
    if len(writers) < 2 or len(writers) > len(items) / 2:
        raise SplitError(f"{len(items)} articles by {len(writers)} writers: leaving one writer out needs at least two, "
                         "each with several articles (a `writer` field, or ids such as `w1-001`)")
    out = []
    for _, held in sorted(writers.items()):
        events = {event_of(x) for x in held}
        out.append((held, [x for x in items if event_of(x) not in events]))
    return out


def cross_validate(items: Sequence[dict[str, Any]], k: int,
                   make: Callable[[list[dict[str, Any]]], Classifier], by: str = "event") -> CrossValidation:
    """Cross-validation: `make(training items)` builds the classifier for each fold (rules ignore the
    training items; a learned stage is trained on them), scored on the held-out fold. `by="event"`: k folds,
    every event wholly in one; `by="writer"`: one fold per writer (k unused), their events out of training."""
    if by == "writer":
        pairs = holdouts_by_writer(items)
    else:
        folds = folds_by_event(items, k)
        pairs = [(held, [x for j, f in enumerate(folds) if j != i for x in f]) for i, held in enumerate(folds)]
    if any(held and not train for held, train in pairs):
        if by == "writer":
            raise SplitError("a held-out part leaves nothing to train on (one writer's events cover all the articles)")
        events = len({event_of(x) for x in items})
        why = ("the articles have no `event` keys (each counts as its own event, by its id, else its title): "
               "add them, or more articles" if not any(x.get("event") for x in items) else
               "each event's articles stay in one fold: give articles of more events")
        raise SplitError(f"{len(items)} articles, {events} event{'s' * (events != 1)}: all fell in one of the {k} folds "
                         f"by event, leaving nothing to train on — too few events for {k} folds; {why}")
    with meaning.held():        # each article's embedding read once, not once a fold
        return CrossValidation([evaluate(make(train), held) for held, train in pairs if held])
