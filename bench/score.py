"""The article-extraction benchmark's metric, re-implemented: shingle precision / recall per page,
averaged over pages, F1 of the averages. Words for English; for Chinese, each CJK character is a token."""

from __future__ import annotations

import re
import statistics
from collections import Counter

_WORD = re.compile(r"\w+", re.UNICODE)
_CHAR = re.compile(r"[\u3400-\u9fff]|[^\W\u3400-\u9fff]+", re.UNICODE)


def tokens(text: str, chars: bool = False) -> list[str]:
    return (_CHAR if chars else _WORD).findall(text or "")


def shingles(text: str, n: int = 4, chars: bool = False) -> Counter:
    t = tokens(text, chars)
    return Counter(tuple(t[i : i + n]) for i in range(max(1, len(t) - n + 1)) if t[i : i + n])


def match(true: str, pred: str, chars: bool = False) -> tuple[float, float, float]:
    a, b = shingles(true, chars=chars), shingles(pred, chars=chars)
    tp = sum((a & b).values())
    fp = sum((b - a).values())
    fn = sum((a - b).values())
    s = tp + fp + fn
    return (tp / s, fp / s, fn / s) if s else (0.0, 0.0, 0.0)


def prf(rows: list[tuple[float, float, float]]) -> dict[str, float]:
    def p(tp, fp, fn):
        return 1.0 if fp == fn == 0 else (0.0 if tp == fp == 0 else tp / (tp + fp))

    def r(tp, fp, fn):
        return 1.0 if fp == fn == 0 else (0.0 if tp == fn == 0 else tp / (tp + fn))

    precision = statistics.mean([p(*x) for x in rows if x[0] + x[1] > 0] or [0.0])
    recall = statistics.mean([r(*x) for x in rows if x[0] + x[2] > 0] or [0.0])
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"f1": f1, "precision": precision, "recall": recall}
