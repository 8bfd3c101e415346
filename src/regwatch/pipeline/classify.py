"""The topic classifier: rules from topic packs (data files), every tag explained by its evidence.

A topic scores the weighted signals found in an article — terms, regular expressions, and
`near` pairs (a word of one list within a few characters of a word of another) — with title
hits counted `title_weight` times. Negative signals are the exclusions. A topic is tagged when
its `require` groups are all present and its score reaches its threshold. All terms of all
loaded topics are matched in one Aho–Corasick pass, so ten thousand terms cost what ten do.
"""

from __future__ import annotations

import math
import re
import tomllib
from bisect import bisect_left
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import ahocorasick

from .article import Article
from .normalize import normalize

PACK_DIR = Path(__file__).parent / "packs"
SECONDARY_SHARE = 0.5


class PackError(ValueError):
    """A topic pack cannot be loaded; str() names the file and the problem."""


@dataclass
class Signal:
    kind: str                 # "terms" | "regex" | "near"
    weight: float
    terms: list[str] = field(default_factory=list)
    other: list[str] = field(default_factory=list)   # the second list of a `near`
    window: int = 20
    regex: re.Pattern[str] | None = None
    label: str = ""

    def __post_init__(self) -> None:
        # look-ups go from the few terms an article contains to the signal, never over all terms
        self.term_set = frozenset(t.rstrip("*") for t in self.terms)
        self.other_set = frozenset(t.rstrip("*") for t in self.other)


@dataclass
class Topic:
    id: str
    name: str
    description: str
    threshold: float
    title_weight: float
    signals: list[Signal]
    require: list[list[str]]
    pack: str

    def __post_init__(self) -> None:
        self.require_sets = [frozenset(t.rstrip("*") for t in g) for g in self.require]


@dataclass
class Tag:
    topic: str
    score: float
    evidence: list[dict[str, Any]]
    probability: float | None = None     # the learned stage's, when a model is loaded


@dataclass
class _Hits:
    """Where each normalized term occurs: term → [(field, start, end)], terms in the order first found."""
    at: dict[str, list[tuple[str, int, int]]]


def _is_word_char(ch: str) -> bool:
    return ch.isascii() and (ch.isalnum() or ch == "_")


def _word_ends(text: str, i: int) -> bool:
    """An English word ends at i, allowing a plural `s` (so `loan` matches `loans`)."""
    if i < len(text) and text[i] == "s":
        i += 1
    return i >= len(text) or not _is_word_char(text[i])


_OPEN = re.compile(r"(?<=[a-z0-9]) (?=[a-z0-9])")
_HYPHENATED = re.compile(r"(?<=[a-z0-9])-(?=[a-z0-9])")


def _compound_forms(term: str) -> tuple[str, ...]:
    """An English term's other spellings: its open words hyphenated, its hyphens opened."""
    if not term.isascii():
        return ()
    return _OPEN.sub("-", term), _HYPHENATED.sub(" ", term)


def _rank(spot: tuple[str, int, int]) -> tuple[bool, int]:
    """Title first, then the earliest: the place a signal's evidence is shown from."""
    return spot[0] != "title", spot[1]


class Classifier:
    """The packs' rules; with a `model` (pipeline/learned.py), a learned stage over the rules' signals
    and the article's words decides the tags, and the rules' evidence explains them."""

    def __init__(self, topics: Iterable[Topic], model: Any = None):
        self.topics = list(topics)
        self.model = model
        self._automaton = ahocorasick.Automaton()
        # a term written with a trailing `*` matches as a word prefix (`regulat*`: regulator, regulation…)
        prefix = {t.rstrip("*") for topic in self.topics for t in self._all_terms(topic) if t.endswith("*")}
        known = {term.rstrip("*") for t in self.topics for term in self._all_terms(t)}
        for term in known:
            # ASCII terms match whole words only ("cap" must not hit "capital"): which ends to check
            whole_start = term[0].isascii() and term[0].isalnum()
            whole_end = term[-1].isascii() and term[-1].isalnum() and term not in prefix
            # English compounds are written open or hyphenated ("late payment", "late-payment"): a term
            # matches in both forms, counted as the term itself (unless the pack names the other form too)
            for form in {term, *_compound_forms(term)}:
                if form == term or form not in known:
                    self._automaton.add_word(form, (term, len(form), whole_start, whole_end))
        if len(self._automaton):
            self._automaton.make_automaton()
        # each term → the signals (and `require` groups) it belongs to, built once: an article's cost is
        # that of the terms it contains, however many signals and terms the packs hold
        self._in_terms: dict[str, list[tuple[int, int]]] = {}     # term → (topic, signal) of `terms` signals
        self._in_near: dict[str, list[tuple[int, int, int]]] = {}  # term → (topic, signal, list 0 or 1) of `near`
        self._in_require: dict[str, list[tuple[int, int]]] = {}    # term → (topic, group)
        for ti, topic in enumerate(self.topics):
            for si, sig in enumerate(topic.signals):
                if sig.kind == "terms":
                    for term in sig.term_set:
                        self._in_terms.setdefault(term, []).append((ti, si))
                elif sig.kind == "near":
                    for side, terms in ((0, sig.term_set), (1, sig.other_set)):
                        for term in terms:
                            self._in_near.setdefault(term, []).append((ti, si, side))
            for gi, group in enumerate(topic.require_sets):
                for term in group:
                    self._in_require.setdefault(term, []).append((ti, gi))

    @staticmethod
    def _all_terms(t: Topic) -> set[str]:
        terms: set[str] = set()
        for s in t.signals:
            terms.update(s.terms)
            terms.update(s.other)
        for group in t.require:
            terms.update(group)
        return terms

    def _scan(self, fields: dict[str, str]) -> _Hits:
        at: dict[str, list[tuple[str, int, int]]] = {}
        if not len(self._automaton):
            return _Hits(at)
        for name, text in fields.items():
            n = len(text)
            for end, (term, size, whole_start, whole_end) in self._automaton.iter(text):
                start = end - size + 1
                if whole_start and start > 0 and _is_word_char(text[start - 1]):
                    continue
                if whole_end and end + 1 < n and not _word_ends(text, end + 1):
                    continue
                spots = at.get(term)
                if spots is None:
                    at[term] = [(name, start, end + 1)]
                else:
                    spots.append((name, start, end + 1))
        return _Hits(at)

    def prepare(self) -> None:
        """Load what classifying needs beyond the rules (the learned stage's encoder), before the first article."""
        if self.model is not None:
            self.model.prepare()

    def classify(self, title: str, text: str) -> list[Tag]:
        return self._classify({"title": normalize(title or ""), "body": normalize(text or "")})

    def classify_article(self, article: Article) -> list[Tag]:
        """The topics of an article (its title, and its body with its attachment), from its normalized text."""
        return self._classify({"title": article.title_text, "body": article.text})

    def _classify(self, fields: dict[str, str]) -> list[Tag]:
        if self.model is not None:
            return self.model.tags(self.explain_fields(fields), fields)
        return self.rule_tags(fields)

    def rule_tags(self, fields: dict[str, str]) -> list[Tag]:
        """The packs' rules alone, on normalized title and body."""
        found = self._found(fields, self._scan(fields))
        tags = []
        for ti, topic in enumerate(self.topics):
            score, evidence, missing = self._raw_score(ti, topic, fields, found)
            if not missing and score >= topic.threshold:
                tags.append(Tag(topic.id, score, [e for e in evidence if e["weight"] > 0][:8]))
        return self._about(sorted(tags, key=lambda t: -t.score))

    @staticmethod
    def _about(tags: list[Tag]) -> list[Tag]:
        """Keep what the article is about: a topic only mentioned in passing in the body — no title
        evidence and under half the score of a topic the headline names — is a mention, not a subject."""
        lead = next((t for t in tags if any(e["where"] == "title" for e in t.evidence)), None)
        if lead is None:
            return tags
        return [t for t in tags if t is lead or any(e["where"] == "title" for e in t.evidence)
                or t.score >= SECONDARY_SHARE * lead.score]

    def explain(self, title: str, text: str) -> list[dict[str, Any]]:
        """Every topic's score and the signals behind it, tagged or not (for `classify --explain`); with a
        model, its probability, threshold and the words that weighed most too."""
        fields = {"title": normalize(title or ""), "body": normalize(text or "")}
        out = self.explain_fields(fields)
        if self.model is not None:
            self.model.annotate(out, fields)
        return out

    def explain_fields(self, fields: dict[str, str]) -> list[dict[str, Any]]:
        found = self._found(fields, self._scan(fields))
        out = []
        for ti, topic in enumerate(self.topics):
            score, evidence, missing = self._raw_score(ti, topic, fields, found)
            out.append({"topic": topic.id, "score": round(score, 2), "threshold": topic.threshold,
                        "tagged": not missing and score >= topic.threshold, "missing_required": missing,
                        "evidence": evidence})
        return out

    def _found(self, fields: dict[str, str], hits: _Hits) -> _Found:
        """From the terms found, through the term → signal index: each `terms` signal's best place, each
        `near` signal's two lists of places, and the `require` groups present."""
        best: dict[tuple[int, int], tuple[str, int, int]] = {}
        near: dict[tuple[int, int], tuple[list, list]] = {}
        groups: set[tuple[int, int]] = set()
        for term, spots in hits.at.items():
            top = min(spots, key=_rank)                 # the first of the best (as min over all places)
            for key in self._in_terms.get(term, ()):
                held = best.get(key)
                if held is None or _rank(top) < _rank(held):
                    best[key] = top
            for ti, si, side in self._in_near.get(term, ()):
                near.setdefault((ti, si), ([], []))[side].extend(spots)
            groups.update(self._in_require.get(term, ()))
        return _Found(best, near, groups)

    def _raw_score(self, ti: int, topic: Topic, fields: dict[str, str], found: _Found):
        missing = [g[0] for gi, g in enumerate(topic.require) if (ti, gi) not in found.groups]
        score = 0.0
        evidence: list[dict[str, Any]] = []
        for si, sig in enumerate(topic.signals):
            place = found.best.get((ti, si)) if sig.kind == "terms" else self._match(ti, si, sig, fields, found)
            if not place:
                continue
            where, start, end = place
            w = sig.weight * (topic.title_weight if where == "title" else 1.0)
            score += w
            text = fields[where]
            evidence.append({"term": text[start:end], "where": where, "weight": round(w, 2),
                             "snippet": _snippet(text, start, end), "signal": f"{si}:{sig.label}"})
        return score, evidence, missing

    @staticmethod
    def _match(ti: int, si: int, sig: Signal, fields: dict[str, str], found: _Found) -> tuple[str, int, int] | None:
        """The best place (title first) where the signal occurs, or None."""
        if sig.kind == "terms":
            return found.best.get((ti, si))
        if sig.kind == "regex":
            rx = sig.regex
            assert rx is not None                # (a regex signal is compiled with its pack)
            spots = [(name, m.start(), m.end()) for name, text in fields.items() for m in [rx.search(text)] if m]
        else:
            lists = found.near.get((ti, si))
            if lists is None:
                return None
            spots = _near_spots(*lists, sig.window)
        if not spots:
            return None
        return min(spots, key=_rank)


NEAR_LOOK = 64      # places of a `near` signal's second list ending near one place of its first that are compared


def _near_spots(a: list, b: list, window: int) -> list[tuple[str, int, int]]:
    """Each place of list `a` with a place of list `b` within `window` characters in the same field (b starting
    within `window` of a's end, or ending within `window` of a's start), as the span of both — b's earliest such
    place. Sorted places and bisection: linear in the places (a page repeating a term thousands of times is
    untrusted text, and pairing every place with every other was quadratic)."""
    by_field: dict[str, tuple[list, list, list]] = {}
    for f, sb, eb in b:
        by_field.setdefault(f, ([], [], []))[0].append((sb, eb))
    for starts, by_start, by_end in by_field.values():
        starts.sort()
        by_start.extend(x[0] for x in starts)
        by_end.extend(sorted((eb, sb) for sb, eb in starts))
    spots = []
    for fa, sa, ea in a:
        if fa not in by_field:
            continue
        starts, by_start, by_end = by_field[fa]
        best: tuple[int, int] | None = None
        i = bisect_left(by_start, ea - window)
        if i < len(by_start) and by_start[i] <= ea + window:
            best = starts[i]                                 # the earliest b starting near a's end
        j = bisect_left(by_end, (sa - window, -1))
        for eb, sb in by_end[j:j + NEAR_LOOK]:              # b ending near a's start (a bounded look)
            if eb > sa + window:
                break
            if best is None or sb < best[0]:
                best = (sb, eb)
        if best is not None:
            spots.append((fa, min(sa, best[0]), max(ea, best[1])))
    return spots


@dataclass
class _Found:
    best: dict[tuple[int, int], tuple[str, int, int]]     # (topic, signal) → a `terms` signal's place
    near: dict[tuple[int, int], tuple[list, list]]        # (topic, signal) → a `near` signal's places, per list
    groups: set[tuple[int, int]]                          # (topic, group) of the `require` groups present


def _snippet(text: str, start: int, end: int, pad: int = 30) -> str:
    s = max(0, start - pad)
    e = min(len(text), end + pad)
    return ("…" if s else "") + text[s:e].replace("\n", " ") + ("…" if e < len(text) else "")


# -- loading packs ------------------------------------------------------------------------------

# any name (反洗钱, "bnpl rules") but `*` (a subscription's "every topic"), control characters, or spaces at its ends
TOPIC_ID = re.compile(r"[^\s\x00-\x1f\x7f*](?:[^\x00-\x1f\x7f*]*[^\s\x00-\x1f\x7f*])?")


def _terms(values: Any, where: str, key: str) -> list[str]:
    if isinstance(values, str):
        values = [values]
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise PackError(f"{where}: `{key}` expected a list of strings")
    terms = [normalize(v) for v in values]
    if not terms:
        raise PackError(f"{where}: `{key}` is empty; it needs at least one term")
    for raw, t in zip(values, terms, strict=True):
        if not t.rstrip("*").strip():
            raise PackError(f"{where}: `{key}` has an empty term {raw!r}; a term needs at least one character besides `*`")
    return terms


def _number(raw: dict[str, Any], key: str, default: float, where: str, *, positive: bool = False,
            at_least_zero: bool = False) -> float:
    v = raw.get(key, default)
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise PackError(f"{where}: `{key}` must be a number, not {v!r}")
    if positive and v <= 0:
        raise PackError(f"{where}: `{key}` must be greater than 0, not {v!r}")
    if at_least_zero and v < 0:
        raise PackError(f"{where}: `{key}` must be 0 or more, not {v!r}")
    return float(v)


def _text(raw: dict[str, Any], key: str, default: str, where: str) -> str:
    v = raw.get(key, default)
    if not isinstance(v, str):
        raise PackError(f"{where}: `{key}` must be a string, not {v!r}")
    return v


def _table(raw: Any, where: str, what: str, known: set[str], like: str = "") -> None:
    """Refuse `raw` unless it is a table (`like`: an example, in the message) of only the keys `what` has."""
    if not isinstance(raw, dict):
        raise PackError(f"{where}: expected a table{like}")
    unknown = set(raw) - known
    if unknown:
        raise PackError(f"{where}: unknown key(s) {sorted(unknown)}; {what} has {sorted(known)}")


def _signal(raw: dict[str, Any], where: str) -> Signal:
    _table(raw, where, "a signal", {"terms", "regex", "near", "window", "weight", "label"},
           " like { terms = [...], weight = 2 }")
    kinds = [k for k in ("terms", "regex", "near") if k in raw]
    if len(kinds) > 1:
        raise PackError(f"{where}: a signal has one of `terms`, `regex` or `near`, not {' and '.join(kinds)}")
    if "window" in raw and "near" not in raw:
        raise PackError(f"{where}: `window` applies only to a `near` signal")
    weight = _number(raw, "weight", 1.0, where)
    label = _text(raw, "label", "", where)
    if "regex" in raw:
        if not isinstance(raw["regex"], str) or not raw["regex"]:
            raise PackError(f"{where}: `regex` must be a non-empty string, not {raw['regex']!r}")
        try:
            rx = re.compile(normalize(raw["regex"]))   # normalized as the text it runs on (NFKC, Simplified, lower case)
        except re.error as e:
            raise PackError(f"{where}: bad regex {raw['regex']!r}: {e}") from None
        return Signal("regex", weight, regex=rx, label=label)
    if "near" in raw:
        pair = raw["near"]
        if not (isinstance(pair, list) and len(pair) == 2):
            raise PackError(f"{where}: `near` takes two lists: near = [[...], [...]]")
        window = raw.get("window", 20)
        if isinstance(window, bool) or not isinstance(window, int) or window < 1:
            raise PackError(f"{where}: `window` must be a whole number of characters, 1 or more, not {window!r}")
        return Signal("near", weight, terms=_terms(pair[0], where, "near"), other=_terms(pair[1], where, "near"),
                      window=window, label=label)
    if "terms" in raw:
        return Signal("terms", weight, terms=_terms(raw["terms"], where, "terms"), label=label)
    raise PackError(f"{where}: a signal needs `terms`, `regex` or `near`")


def parse_pack(data: dict[str, Any], origin: str) -> list[Topic]:
    topics_raw = data.get("topics")
    if not isinstance(topics_raw, dict) or not topics_raw:
        raise PackError(f"{origin}: no [topics.ID] tables")
    pack = str(data.get("pack", {}).get("name", Path(origin).stem)) if isinstance(data.get("pack"), dict) else Path(origin).stem
    topics = []
    for tid, raw in topics_raw.items():
        where = f"{origin}: topics.{tid}"
        if not TOPIC_ID.fullmatch(tid):
            raise PackError(f"{origin}: topic id {tid!r}: not empty, no `*`, no control characters, no spaces at its ends")
        _table(raw, where, "a topic", {"name", "description", "threshold", "title_weight", "signals", "require"})
        raw_signals = raw.get("signals", [])
        if not isinstance(raw_signals, list):
            raise PackError(f"{where}: `signals` must be a list of tables ([[topics.{tid}.signals]])")
        signals = [_signal(s, f"{where}.signals[{i}]") for i, s in enumerate(raw_signals)]
        if not signals:
            raise PackError(f"{where}: no signals")
        raw_require = raw.get("require", [])
        if not isinstance(raw_require, list):
            raise PackError(f"{where}: `require` must be a list of lists of strings")
        require = [_terms(g, f"{where}.require[{i}]", "require") for i, g in enumerate(raw_require)]
        topics.append(Topic(id=tid, name=_text(raw, "name", tid, where), description=_text(raw, "description", "", where),
                            threshold=_number(raw, "threshold", 3.0, where, positive=True),
                            title_weight=_number(raw, "title_weight", 2.0, where, at_least_zero=True),
                            signals=signals, require=require, pack=pack))
    return topics


def load_pack_file(path: str | Path) -> list[Topic]:
    p = Path(path)
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise PackError(f"{p}: no such topic file") from None
    except tomllib.TOMLDecodeError as e:
        raise PackError(f"{p}: invalid TOML: {e}") from None
    return parse_pack(data, str(p))


def bundled_packs() -> list[str]:
    return sorted(p.stem for p in PACK_DIR.glob("*.toml"))


def load_topics(packs: Iterable[str] = ("cn-consumer-finance",), files: Iterable[str] = ()) -> list[Topic]:
    """The topics of the named bundled packs and the user's own files; a later topic id replaces an earlier one."""
    by_id: dict[str, Topic] = {}
    for name in packs:
        path = PACK_DIR / f"{name}.toml"
        if not path.exists():
            raise PackError(f"topic pack {name!r} is not bundled; bundled packs: {', '.join(bundled_packs())}")
        for t in load_pack_file(path):
            by_id[t.id] = t
    for f in files:
        for t in load_pack_file(f):
            by_id[t.id] = t
    return list(by_id.values())
