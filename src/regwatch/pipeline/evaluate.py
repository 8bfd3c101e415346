"""Precision, recall and F1 per topic against labeled articles, with the mistakes explained."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from .classify import Classifier


@dataclass
class TopicScore:
    tp: int = 0
    fp: int = 0
    fn: int = 0

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


@dataclass
class Report:
    topics: dict[str, TopicScore]
    mistakes: list[dict[str, Any]] = field(default_factory=list)
    negatives_tagged: int = 0
    negatives: int = 0
    n: int = 0

    @property
    def micro(self) -> TopicScore:
        s = TopicScore()
        for t in self.topics.values():
            s.tp += t.tp
            s.fp += t.fp
            s.fn += t.fn
        return s

    def to_json(self) -> dict[str, Any]:
        row = lambda s: {"precision": round(s.precision, 3), "recall": round(s.recall, 3), "f1": round(s.f1, 3),
                         "tp": s.tp, "fp": s.fp, "fn": s.fn}
        return {"articles": self.n, "micro": row(self.micro), "topics": {k: row(v) for k, v in self.topics.items()},
                "negatives": self.negatives, "negatives_tagged": self.negatives_tagged, "mistakes": self.mistakes}


def evaluate(classifier: Classifier, items: Iterable[dict[str, Any]]) -> Report:
    report = Report({t.id: TopicScore() for t in classifier.topics})
    for item in items:
        report.n += 1
        want = set(item.get("labels") or [])
        tags = {t.topic: t for t in classifier.classify(item.get("title", ""), item.get("text", ""))}
        got = set(tags)
        if not want:
            report.negatives += 1
            report.negatives_tagged += bool(got)
        for topic, score in report.topics.items():
            if topic in want and topic in got:
                score.tp += 1
            elif topic in got:
                score.fp += 1
                report.mistakes.append({"id": item.get("id"), "kind": "false positive", "topic": topic,
                                        "title": item.get("title"), "evidence": tags[topic].evidence[:4]})
            elif topic in want:
                score.fn += 1
                report.mistakes.append({"id": item.get("id"), "kind": "missed", "topic": topic,
                                        "title": item.get("title")})
    return report

