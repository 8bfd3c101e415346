"""The learned stage of tagging: a linear model per topic over the packs' signals and the article's words.

The rules know the vocabulary (from the regulations); what they cannot know is how much each signal
is worth in the company of others, nor the many small ways an article shows what it is about. The
model weighs both: for each topic, a logistic regression over

- the rules' signals (each signal's weight where it fired, the topic's score, its `require` met), and
- the article's words: Chinese character bigrams and English words and word pairs, title apart
  from body, scaled by the article's length, and
- the article's meaning: its embedding by a multilingual sentence encoder (`meaning.py`), in which a
  Chinese report and an English wire on one subject lie close, whatever words each uses.

A model with the meaning carries its **screen**: the same regression over signals and words alone. The screen
weighs an article first, and decides it when it is sure of every topic; the encoder reads only the others.

The bundled pack ships one (`packs/cn-consumer-finance.model.json`, trained on `eval/dev.jsonl`);
`regwatch train` makes another from labelled articles and a user's corrections in the store, used
with `[topics] model = "…"`. Inference is a few numpy products: scikit-learn is needed only to train.
Every tag keeps the rules' evidence, and names the words that weighed most.
"""

from __future__ import annotations

import copy
import hashlib
import json
import math
import os
import re
from collections.abc import Iterable
from dataclasses import dataclass
from itertools import repeat
from operator import add
from pathlib import Path
from typing import Any

from . import meaning
from .classify import Classifier, Tag, Topic

FORMAT = 1
TEXT_SCALE = 24.0          # the words' share against the signals' (chosen by cross-validation on the 1,540-article dev)
C = 1.0                    # inverse regularization strength (chosen with TEXT_SCALE; both re-checked on the 6,618 dev:
                           # C 0.5–4 and the words at 16–32× all inside the folds' spread — bench/HISTORY.md, Topic tagging)
THRESHOLD = 0.4            # probability at which the model tags a topic the rules do not tag
RULED_THRESHOLD = 0.3      # … and keeps one they tag: overturning the rules' evidence takes more confidence
                           # (5-fold CV by event on the 3,570 dev: 0.4 / 0.15 gave micro-F1 0.910, P 0.890, R 0.932;
                           # 0.4 / 0.3 gave 0.916, P 0.912, R 0.919, English R 0.911 — higher in each of the five
                           # folds; 0.5–0.6 / 0.3 no better. Earlier rounds had chosen 0.15 for recall when F1 was
                           # flat; with recall above its goal in CV and on round 13, and precision what round 13
                           # missed, F1 decides. Per-topic thresholds by a nested CV were tried before: F1 0.900, recall 0.893)
MEANING_SCALE = 12.0       # the meaning's share against the signals' (chosen by cross-validation on the 2,635-article
                           # dev: 6, 9, 12, 16, 20 gave micro-F1 0.908, 0.911, 0.913, 0.912, 0.910; without it 0.901)
MEANING = "m:"             # prefix of the meaning's features
SURE = 0.05                # a model with the meaning first weighs the article without it (its `screen`, trained
                           # alike): when every topic's probability there is within this of 0 or 1, that decides
                           # and the encoder is not run (chosen by `regwatch eval --folds 5` on the 2,635 dev:
                           # 0.05 decided 63% and left the figures as they were; 0.1 decided 73% and lost recall)
MIN_DF = 2                 # a word seen in fewer training articles is not a feature
MIN_EVENTS = 3             # … or in fewer events: names of one event's firms, places and people (CV on the 3,199 dev,
                           # by event and by round held out: F1 equal, recall +0.002 and +0.003; half the features)
PRUNE = 0.02               # weights smaller than this are left out of the file (tags unchanged on eval/dev.jsonl)
SELECT_FOLDS = 5           # a topic keeps the model only where it beats the rules in this many folds by event
SELECT_MARGIN = 0.005      # … by more than this F1
_WORD = re.compile(r"[a-z][a-z0-9'-]+")
_HAN = re.compile(r"[\u4e00-\u9fff]+")


class ModelError(ValueError):
    """A model file cannot be used; str() names the file and the problem."""


def pack_signature(topics: Iterable[Topic]) -> str:
    """What a model was trained against: the topics' ids and their signals' labels, in order."""
    text = "|".join(f"{t.id}:{','.join(s.label for s in t.signals)}" for t in topics)
    return hashlib.sha1(text.encode("utf-8")).hexdigest()[:16]


def signal_features(explained: list[dict[str, Any]]) -> dict[str, float]:
    out: dict[str, float] = {}
    for t in explained:
        tid = t["topic"]
        out[f"score:{tid}"] = t["score"] / 5.0
        out[f"req:{tid}"] = 0.0 if t["missing_required"] else 1.0
        for e in t["evidence"]:
            out[f"sig:{tid}:{e.get('signal', e['term'])}"] = float(e["weight"])
    return out


def word_features(fields: dict[str, str]) -> dict[str, float]:
    """Chinese character bigrams, English words (a plural `s` folded) and word pairs; title apart from body."""
    seen: set[str] = set()
    for name, text in fields.items():
        p = "t:" if name == "title" else "b:"
        words = [w[:-1] if len(w) > 3 and w.endswith("s") else w for w in _WORD.findall(text)]
        seen.update(p + w for w in words)
        seen.update(f"{p}{a}_{b}" for a, b in zip(words, words[1:], strict=False))
        for run in _HAN.findall(text):
            seen.update(map(p.__add__, map(add, run, run[1:])))     # its bigrams (in C loops)
    if not seen:
        return {}
    v = TEXT_SCALE / math.sqrt(len(seen))
    return {f: v for f in seen}


_MEANING_NAMES = [f"{MEANING}{j}" for j in range(meaning.DIM)]


def meaning_features(fields: dict[str, str]) -> dict[str, float]:
    """The article's embedding (title and the start of the body), one feature per dimension."""
    vec = meaning.embedding(meaning.text_of(fields))
    # (the float32 numbers as float64, then scaled: the same numbers as `float(v) * MEANING_SCALE`, in one C loop)
    return dict(zip(_MEANING_NAMES, (vec.astype("float64") * MEANING_SCALE).tolist(), strict=True))


def features(explained: list[dict[str, Any]], fields: dict[str, str], with_meaning: bool = False) -> dict[str, float]:
    out = signal_features(explained)
    out.update(word_features(fields))
    if with_meaning:
        out.update(meaning_features(fields))
    return out


@dataclass
class TopicModel:
    bias: float
    weights: dict[str, float]
    threshold: float                     # to tag a topic the rules do not tag
    ruled_threshold: float | None = None    # to keep a topic they tag (None: `threshold`)

    def decides(self, p: float, rules_tagged: bool) -> bool:
        cut = self.ruled_threshold if rules_tagged and self.ruled_threshold is not None else self.threshold
        return p >= cut


@dataclass
class _Weights:
    """A model's weights as arrays, for `Model.probabilities`: a row per topic, a column per feature any
    topic weighs."""

    topics: list[str]
    index: dict[str, int]
    matrix: Any             # topics × features (float64)
    bias: Any               # per topic
    meaning: Any            # per feature: one of the meaning's dimensions

    @classmethod
    def of(cls, topics: dict[str, TopicModel]) -> _Weights:
        # (imported here, not at the top: a command that tags nothing does not pay numpy's import)
        import numpy as np

        index: dict[str, int] = {}
        for m in topics.values():
            for f in m.weights:
                index.setdefault(f, len(index))
        matrix = np.zeros((len(topics), len(index)))
        for row, m in enumerate(topics.values()):
            matrix[row, [index[f] for f in m.weights]] = list(m.weights.values())
        return cls(list(topics), index, matrix, np.array([m.bias for m in topics.values()]),
                   np.array([f[:2] == MEANING for f in index], dtype=bool))


class Model:
    """A trained model: `tags()` for the classifier, `annotate()` for `--explain`."""

    def __init__(self, topics: dict[str, TopicModel], signature: str, meta: dict[str, Any] | None = None,
                 screen: Model | None = None):
        self.topics = topics
        self.signature = signature
        self.meta = meta or {}
        self.meaning = bool(self.meta.get("meaning"))     # trained on the articles' embeddings too
        self.screen = screen        # with the meaning: the same model without it, which decides when it is sure
        self._weights: _Weights | None = None     # the weights as arrays, built on first use

    # -- inference ------------------------------------------------------------------------------

    def prepare(self) -> None:
        """Load what reading an article needs (the sentence encoder), before the first article."""
        if self.meaning:
            meaning.load()

    def _compiled(self) -> _Weights:
        if self._weights is None:
            self._weights = _Weights.of(self.topics)
        return self._weights

    def probabilities(self, feats: dict[str, float]) -> dict[str, tuple[float, list[tuple[str, float]]]]:
        """Per topic: the probability, and the features that pushed it most (name, contribution; the
        meaning's dimensions summed as one, `meaning`)."""
        import numpy as np

        w = self._compiled()
        keys = list(feats)
        # (in order) the features any topic weighs: their columns and values, looked up in C loops (no Python
        # step per feature: an article has hundreds); `at`: where each is in `keys`
        cols = np.fromiter(map(w.index.get, keys, repeat(-1)), dtype=np.intp, count=len(keys))
        at = np.flatnonzero(cols >= 0)
        cols = cols[at]
        values = np.fromiter(feats.values(), dtype=np.float64, count=len(keys))[at]
        contrib = w.matrix[:, cols] * values              # topics × the article's features
        z = w.bias + contrib.sum(axis=1)
        if self.meaning:        # the meaning's dimensions as one contribution, after the others
            sense = w.meaning[cols]
            at = at[~sense]
            contrib = np.column_stack([contrib[:, ~sense], contrib[:, sense].sum(axis=1)])
        p = 1.0 / (1.0 + np.exp(-np.clip(z, -60.0, 60.0)))
        # the first five by contribution, ties by the feature's name: the columns in the names' order, then a stable
        # sort (the features' own order is a set's, which the hash seed changes from one run to the next)
        where = at.tolist()
        labels = np.array([*(keys[j] for j in where), *(["meaning"] if self.meaning else [])], dtype=str)
        by_name = np.argsort(labels, kind="stable")
        first = by_name[np.argsort(-contrib[:, by_name], axis=1, kind="stable")[:, :5]]
        names = [keys[where[j]] if j < len(where) else "meaning" for j in first.ravel().tolist()]
        tops = np.take_along_axis(contrib, first, axis=1).tolist()
        k = first.shape[1]
        return {tid: (pr, list(zip(names[row * k:(row + 1) * k], tops[row], strict=True)))
                for row, (tid, pr) in enumerate(zip(w.topics, p.tolist(), strict=True))}

    @staticmethod
    def consulted(explained: list[dict[str, Any]]) -> bool:
        """Whether the model weighs this article: only when some topic's signals found something in it. An
        article with no evidence for any topic is nobody's (no such article of `eval/dev.jsonl` is about a
        topic), and is not read by the encoder: most of a general news feed costs the rules alone."""
        return any(e["weight"] > 0 for t in explained for e in t["evidence"])

    def weigh(self, explained: list[dict[str, Any]],
              fields: dict[str, str]) -> tuple[Model, dict[str, tuple[float, list[tuple[str, float]]]]]:
        """The stage that decides the article, and its `probabilities()`: the screen (signals and words)
        when it is sure of every topic (within `SURE` of 0 or 1), else this model, meaning and all."""
        feats = features(explained, fields)
        if self.screen is not None:
            probs = self.screen.probabilities(feats)
            if all(p <= SURE or p >= 1.0 - SURE for p, _ in probs.values()):
                return self.screen, probs
        if self.meaning:        # the signals and words as the screen read them, and the embedding
            feats.update(meaning_features(fields))
        return self, self.probabilities(feats)

    def tags(self, explained: list[dict[str, Any]], fields: dict[str, str]) -> list[Tag]:
        if not self.consulted(explained):
            return []
        stage, probs = self.weigh(explained, fields)
        tags = []
        for t in explained:
            p, top = probs.get(t["topic"], (0.0, []))
            model = stage.topics.get(t["topic"])
            if not (model.decides(p, t["tagged"]) if model is not None else t["tagged"]):
                continue        # (a topic the model was not trained for: the rules decide it)
            evidence = [e for e in t["evidence"] if e["weight"] > 0][:8]
            # (words only: a Chinese feature is a pair of characters — 款公 of 贷款公司, 向借 of 向借款人 — which a
            # reader takes for a word; `why` and `classify --explain` list the pairs as the features they are)
            words = [w for w, c in top if c > 0 and w[:2] in ("t:", "b:") and not _HAN.search(w)][:3]
            if words or not evidence:
                evidence.append({"term": "、".join(dict.fromkeys(_readable(w) for w in words)) or "(model)", "where": "model",
                                 "weight": round(p, 3), "snippet": "the learned stage: the words that weighed most"})
            tags.append(Tag(t["topic"], t["score"], evidence, probability=round(p, 3)))
        return sorted(tags, key=lambda x: -(x.probability or 0))

    def annotate(self, explained: list[dict[str, Any]], fields: dict[str, str]) -> None:
        """Add each topic's probability, threshold and its weightiest features to `explain()` output (none for
        an article the model does not weigh: see `consulted`)."""
        if not self.consulted(explained):
            return
        stage, probs = self.weigh(explained, fields)
        for t in explained:
            if t["topic"] not in stage.topics:
                continue
            p, top = probs[t["topic"]]
            m = stage.topics[t["topic"]]
            if self.screen is not None:
                t["model_stage"] = "without the meaning (sure)" if stage is self.screen else "with the meaning"
            t["rules_tagged"] = t["tagged"]
            t["tagged"] = m.decides(p, t["tagged"])
            t["probability"] = round(p, 3)
            t["model_threshold"] = m.ruled_threshold if t["rules_tagged"] and m.ruled_threshold is not None else m.threshold
            t["model_evidence"] = [{"feature": _readable(f), "contribution": round(c, 3)} for f, c in top if c > 0]

    # -- files ----------------------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        out = {"format": FORMAT, "signature": self.signature, "meta": copy.deepcopy(self.meta),
               "topics": _topics_json(self.topics)}
        if self.screen is not None:
            out["screen"] = _topics_json(self.screen.topics)
        return out

    def save(self, path: str | Path) -> None:
        """Written beside its place and moved there whole: a run loading the model meanwhile (a cron `run --once`, a
        daemon restarting) reads the old file or the new one, never half of one."""
        path = Path(path)
        part = path.with_name(f".{path.name}.{os.getpid()}.part")
        try:
            part.write_text(json.dumps(self.to_json(), ensure_ascii=False, separators=(",", ":")), encoding="utf-8")
            os.replace(part, path)
        finally:
            part.unlink(missing_ok=True)

    @classmethod
    def load(cls, path: str | Path, topics: list[Topic]) -> Model:
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ModelError(f"{path}: no such model file (make one with `regwatch train`)") from None
        except (OSError, ValueError) as e:
            raise ModelError(f"{path}: not a regwatch model: {e}") from None
        if not isinstance(data, dict) or data.get("format") != FORMAT:
            raise ModelError(f"{path}: not a regwatch model of format {FORMAT}")
        if data.get("signature") != pack_signature(topics):
            raise ModelError(f"{path}: trained for other topic packs than the loaded ones; "
                             "retrain it with `regwatch train` (or remove `[topics] model`)")
        try:
            tm = _topics_of(data["topics"])
            screen = _topics_of(data["screen"]) if data.get("screen") is not None else None
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise ModelError(f"{path}: a damaged model ({e})") from None
        meta = data.get("meta") or {}
        used = meta.get("meaning")
        if used and (not isinstance(used, dict) or used.get("encoder") != meaning.ENCODER
                     or used.get("chars") != meaning.CHARS or used.get("scale") != MEANING_SCALE
                     # (a model from before English articles were read further read 1,000 characters of every article)
                     or used.get("chars_latin", meaning.CHARS) != meaning.CHARS_LATIN):
            raise ModelError(f"{path}: trained with another sentence encoder or reading ({used}); "
                             "retrain it with `regwatch train`")
        return cls(tm, data["signature"], meta,
                   cls(screen, data["signature"], {}) if screen is not None and used else None)


def _topics_json(topics: dict[str, TopicModel]) -> dict[str, Any]:
    return {t: {"bias": round(m.bias, 5), "threshold": m.threshold,
                **({} if m.ruled_threshold is None else {"ruled_threshold": m.ruled_threshold}),
                "weights": {f: round(w, 4) for f, w in sorted(m.weights.items()) if abs(w) >= PRUNE or f[:2] == MEANING}}
            for t, m in topics.items()}


def _topics_of(data: dict[str, Any]) -> dict[str, TopicModel]:
    return {t: TopicModel(float(m["bias"]), {str(f): float(w) for f, w in m["weights"].items()}, float(m["threshold"]),
                          None if m.get("ruled_threshold") is None else float(m["ruled_threshold"]))
            for t, m in data.items()}


def ships_model(packs: list[str]) -> bool:
    """A single bundled pack with a model shipped beside it (`[topics] model = "auto"` uses a learned stage)."""
    from .classify import PACK_DIR

    return len(packs) == 1 and (PACK_DIR / f"{packs[0]}.model.json").exists()


def bundled_model(packs: list[str], topics: list[Topic]) -> Model | None:
    """The model shipped beside a single bundled pack, when the loaded topics are exactly that pack's."""
    from .classify import PACK_DIR

    if not ships_model(packs):
        return None
    try:
        return Model.load(PACK_DIR / f"{packs[0]}.model.json", topics)
    except ModelError:
        return None          # other topics than the pack's (a user's own topic file): the rules decide


def _readable(feature: str) -> str:
    if feature == "meaning":
        return "the article's meaning (sentence encoder)"
    name = feature.split(":", 1)[1] if feature[:2] in ("t:", "b:") else feature
    return name.replace("_", " ")


# -- training ------------------------------------------------------------------------------------

def train(clf: Classifier, items: list[dict[str, Any]], c: float = C, threshold: float = THRESHOLD,
          select: bool = False, ruled_threshold: float | None = RULED_THRESHOLD, with_meaning: bool = True) -> Model:
    """A model from labelled items (`labels`; items from the store also carry `not_labels`, and only the
    topics they name are learned from them). With `select`, each topic keeps the model only where it
    beats the rules in a cross-validation by event over the same items (the rules decide the others).
    `with_meaning`: the articles' embeddings are features too (the default; ~20 ms an article to read).
    Needs scikit-learn (`pip install 'regwatch[train]'`)."""
    from .normalize import normalize

    rows = []
    for it in items:
        fields = {"title": normalize(it.get("title") or ""), "body": normalize(it.get("text") or it.get("body") or "")}
        explained = clf.explain_fields(fields)
        rows.append((features(explained, fields, with_meaning), {t["topic"] for t in explained if t["tagged"]}))
    model = _fit(clf, items, [r[0] for r in rows], c, threshold, ruled_threshold)
    screen = None
    if with_meaning:
        plain = [{f: v for f, v in r[0].items() if f[:2] != MEANING} for r in rows]
        screen = _fit(clf, items, plain, c, threshold, ruled_threshold)
        model = Model(model.topics, model.signature,
                      {**model.meta, "meaning": {"encoder": meaning.ENCODER, "chars": meaning.CHARS,
                                                 "chars_latin": meaning.CHARS_LATIN, "scale": MEANING_SCALE}}, screen)
    if select and len(items) >= 4 * SELECT_FOLDS:
        scores = _compare(clf, items, rows, c, threshold, ruled_threshold)
        kept = {t: m for t, m in model.topics.items() if scores[t]["model"] > scores[t]["rules"] + SELECT_MARGIN}
        if screen is not None:
            screen = Model({t: m for t, m in screen.topics.items() if t in kept}, model.signature)
        model = Model(kept, model.signature, {**model.meta, "selection_f1": scores}, screen)
    return model


def file_judges(topics: Iterable[Topic], items: list[dict[str, Any]]) -> set[str]:
    """The topics the items of labelled files judge: a bundled pack's (the project's eval files are labelled
    against them) and any topic some file article's `labels` name. A topic of the user's own pack that no file
    names is judged by the corrections in the store alone — the project's eval/dev.jsonl knows nothing of it,
    and counting its articles (some on that very topic) as "not about it" taught the model to overrule the
    rules on every such article."""
    from .classify import bundled_packs

    bundled = set(bundled_packs())
    named = {t for it in items if "not_labels" not in it for t in it.get("labels") or []}
    return {t.id for t in topics if t.pack in bundled or t.id in named}


def judged(topic: str, items: list[dict[str, Any]], by_files: bool = True) -> tuple[list[int], list[bool]]:
    """The items that judge a topic, and whether each is about it: every item of a labelled file (about it when
    its `labels` name it) when the files judge the topic (`by_files`, see `file_judges`), an item from the store
    (with `not_labels`) only when its corrections name the topic."""
    idx = [i for i, it in enumerate(items)
           if ("not_labels" not in it and by_files) or ("not_labels" in it and (
               topic in (it.get("labels") or []) or topic in it["not_labels"]))]
    return idx, [topic in (items[i].get("labels") or []) for i in idx]


def unlearnable(topics: Iterable[Topic], items: list[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """The topics `train` can learn nothing for from these items, with their (positives, negatives): a topic's
    model needs at least one article about it and one judged not about it; the rules decide the others."""
    out = {}
    topics = list(topics)
    by_files = file_judges(topics, items)
    for topic in topics:
        _, about = judged(topic.id, items, topic.id in by_files)
        positives = sum(about)
        if not positives or positives == len(about):
            out[topic.id] = (positives, len(about) - positives)
    return out


def _f1(tp: int, fp: int, fn: int) -> float:
    return 2 * tp / (2 * tp + fp + fn) if tp else 0.0


def _compare(clf: Classifier, items: list[dict[str, Any]], rows: list, c: float, threshold: float,
             ruled_threshold: float | None) -> dict[str, Any]:
    """Per topic, F1 of the model and of the rules on held-out folds by event (pooled over the folds)."""
    from .evaluate import _bucket, event_of

    counts = {t.id: {"model": [0, 0, 0], "rules": [0, 0, 0]} for t in clf.topics}
    by_files = file_judges(clf.topics, items)
    fold = [_bucket("select:" + event_of(it), SELECT_FOLDS) for it in items]
    for k in range(SELECT_FOLDS):
        train_i = [i for i in range(len(items)) if fold[i] != k]
        held = [i for i in range(len(items)) if fold[i] == k]
        if not held:
            continue
        m = _fit(clf, [items[i] for i in train_i], [rows[i][0] for i in train_i], c, threshold, ruled_threshold)
        for i in held:
            want = set(items[i].get("labels") or [])
            judged = want | set(items[i].get("not_labels") or []) if "not_labels" in items[i] else by_files
            probs = m.probabilities(rows[i][0])
            for tid, cnt in counts.items():
                if tid not in judged:
                    continue
                ruled = tid in rows[i][1]
                got_model = m.topics[tid].decides(probs[tid][0], ruled) if tid in m.topics else ruled
                for name, got in (("model", got_model), ("rules", tid in rows[i][1])):
                    cnt[name][0 if (got and tid in want) else 1 if got else 2] += got or (tid in want)
    return {t: {name: round(_f1(*v), 3) for name, v in cnt.items()} for t, cnt in counts.items()}


def _fit(clf: Classifier, items: list[dict[str, Any]], rows: list[dict[str, float]], c: float,
         threshold: float, ruled_threshold: float | None = None) -> Model:
    try:
        import numpy as np
        from sklearn.feature_extraction import DictVectorizer
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise ModelError("training needs scikit-learn: pip install 'regwatch[train]'") from None
    # words seen in fewer than MIN_DF articles, or in fewer than MIN_EVENTS events, say nothing general
    from .evaluate import event_of

    df: dict[str, int] = {}
    seen_in: dict[str, set[str]] = {}
    for it, r in zip(items, rows, strict=True):
        ev = event_of(it)
        for f in r:
            if f[:2] in ("t:", "b:"):
                df[f] = df.get(f, 0) + 1
                seen_in.setdefault(f, set()).add(ev)
    rows = [{f: v for f, v in r.items() if f[:2] not in ("t:", "b:") or (df[f] >= MIN_DF and len(seen_in[f]) >= MIN_EVENTS)}
            for r in rows]
    dv = DictVectorizer()
    x_all = dv.fit_transform(rows)
    names = dv.get_feature_names_out()
    out: dict[str, TopicModel] = {}
    by_files = file_judges(clf.topics, items)
    for topic in clf.topics:
        idx, about = judged(topic.id, items, topic.id in by_files)
        y = np.array(about, dtype=bool)
        if not y.any() or y.all():
            continue            # nothing to learn this topic from (see `unlearnable`): the rules decide it
        m = LogisticRegression(C=c, class_weight="balanced", max_iter=5000).fit(x_all[idx], y)
        weights = {str(names[j]): float(w) for j, w in enumerate(m.coef_[0])
                   if abs(w) >= 1e-4 or names[j][:2] == MEANING}
        out[topic.id] = TopicModel(float(m.intercept_[0]), weights, threshold, ruled_threshold)
    meta = {"articles": len(items), "C": c, "text_scale": TEXT_SCALE, "min_df": MIN_DF}
    return Model(out, pack_signature(clf.topics), meta)
