"""The previous story detection (regwatch before story_keys, main at b2226ab), kept as the baseline of
bench/stories.py: a bottom-k sketch (the 16 smallest shingle hashes) per article and the headline's
key, candidates sharing two of them (postings read oldest first, 50 per key, as its query did), and
a regex "facts" veto. Its functions are unchanged; only its two queries go through the Store's
story-key methods, into a store of its own.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from datetime import timedelta

from regwatch.pipeline.normalize import normalize, strip_boilerplate
from regwatch.pipeline.store import Store
from regwatch.pipeline.stories import StoryMatch
from regwatch.pipeline.timeutil import iso, utcnow

SHINGLE = 4
ANCHORS = 16
MIN_SHARED_ANCHORS = 2
JOIN_CONTAINMENT = 0.6
TITLE_JOIN_CONTAINMENT = 0.45
RETOLD_CONTAINMENT = 0.15   # a new summary of one piece under the same headline
RETOLD_TITLE = 12           # characters: short headlines (快讯, 公告) repeat across distinct stories

_KEEP = re.compile(r"[^\w\u4e00-\u9fff]+", re.UNICODE)
_TITLE_NOISE = re.compile(r"^(转载|转发|原创|独家|深度|重磅|快讯|最新)\s*[:：丨|]\s*|\s*[|｜丨_-]\s*(深度|独家|快讯)\s*$")
# clock times and numeric byline dates belong to the page (when this copy went up), not to the story
_BYLINE_TIME = re.compile(r"\d{4}[-/.]\d{1,2}[-/.]\d{1,2}(\s+\d{1,2}:\d{2}(:\d{2})?)?|\d{1,2}:\d{2}(:\d{2})?")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*\s*(?:%|亿元|万元|亿|万|元|千万|百万|bn|billion|million|m\b)?", re.I)
_INSTITUTION = re.compile(r"[\u4e00-\u9fff]{2,14}?(?:银行|分行|支行|农商行|信用社|公司|小贷|保险|证券|集团|分局|监管局)")


def canonical_text(text: str) -> str:
    return _KEEP.sub("", normalize(strip_boilerplate(text)))


def content_hash(title: str, body: str) -> str:
    return hashlib.sha1(canonical_text(body).encode()).hexdigest()


_UNIT = re.compile(r"[\u3400-\u9fff]|[^\W\u3400-\u9fff_]+")


def shingles(text: str) -> set[int]:
    """Hashes of 4 consecutive units — a Chinese character, or a whole word of other scripts (character
    shingles of English are common to every English text: "tion", "ther")."""
    units = _UNIT.findall(normalize(strip_boilerplate(text)))
    if len(units) < SHINGLE:
        return {zlib.crc32("".join(units).encode())} if units else set()
    return {zlib.crc32("\x1f".join(units[i : i + SHINGLE]).encode()) for i in range(len(units) - SHINGLE + 1)}


def anchors(sh: set[int]) -> list[int]:
    return sorted(sh)[:ANCHORS]


def facts(text: str) -> set[str]:
    """Figures (with units) and named institutions: what distinguishes one template notice from another."""
    t = _BYLINE_TIME.sub(" ", normalize(strip_boilerplate(text)))
    nums = {re.sub(r"\s+", "", m.group(0)) for m in _NUMBER.finditer(t)}
    names = set(_INSTITUTION.findall(t))
    return nums | names


_AMOUNT = re.compile(r"\d+(?:[.,]\d+)*\s*(?:亿元|万元|千万元|百万元|元|亿|万|billion|million|yuan)", re.I)


def _strong_facts(text: str) -> set[str]:
    """Amounts of money and named institutions: what two retellings of one piece cannot disagree on."""
    t = normalize(strip_boilerplate(text))
    return {re.sub(r"\s+", "", m.group(0)) for m in _AMOUNT.finditer(t)} | set(_INSTITUTION.findall(t))


def containment(a: set[int], b: set[int]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def clean_title(title: str) -> str:
    return canonical_text(_TITLE_NOISE.sub("", title or ""))


def same_story(title_a: str, body_a: str, title_b: str, body_b: str) -> tuple[bool, str]:
    """Whether b is a copy of a, and why (the reason is shown by `regwatch` when asked)."""
    sa, sb = shingles(body_a), shingles(body_b)
    c = containment(sa, sb)
    ta, tb = clean_title(title_a), clean_title(title_b)
    titles_match = bool(ta and tb and (ta in tb or tb in ta))
    if c < JOIN_CONTAINMENT and titles_match and c >= RETOLD_CONTAINMENT and min(len(ta), len(tb)) >= RETOLD_TITLE:
        # one piece summarized anew under its own headline (aggregators do this): the same long headline
        # and some shared wording join, unless the amounts or institutions named differ
        conflict = _strong_facts(body_a) ^ _strong_facts(body_b)
        if conflict:
            return False, f"same headline, other facts: {sorted(conflict)[:3]}"
        return True, f"same headline, retold (containment {c:.2f})"
    if c < JOIN_CONTAINMENT and not (titles_match and c >= TITLE_JOIN_CONTAINMENT):
        return False, f"texts differ (containment {c:.2f})"
    short, long_ = (body_a, body_b) if len(sa) <= len(sb) else (body_b, body_a)
    fs, fl = facts(short), facts(long_)
    # an excerpt may drop facts but never brings its own; two texts of about the same length must
    # carry the same ones (a template notice issued twice differs only there)
    missing = (fs - fl) if min(len(sa), len(sb)) < 0.95 * max(len(sa), len(sb)) else (fs ^ fl)
    if missing:
        return False, f"same wording, other facts: {sorted(missing)[:3]}"
    return True, f"copy (containment {c:.2f})"


TITLE_BAND = 1 << 32        # the headline's keys, apart from the shingle hashes (its `band` column)


def title_key(title: str) -> int | None:
    t = clean_title(title)
    return TITLE_BAND + zlib.crc32(t.encode()) if len(t) >= RETOLD_TITLE else None


class PreviousStoryIndex:
    name = "previous (bottom-k sketch)"

    def __init__(self, store: Store, window_days: float = 7):
        self.store = store
        self.window = timedelta(days=window_days)

    def keys(self, title: str, body: str) -> list[int]:
        keys = anchors(shingles(body))
        tk = title_key(title)
        return keys + [tk] if tk is not None else keys

    def find(self, article) -> tuple[StoryMatch, list[int]]:
        title, body = article.title, article.body
        since = utcnow() - self.window
        keys = self.keys(title, body)
        sid = self.store.story_of_identical_text(content_hash(title, body), iso(since))
        if sid is not None:
            return StoryMatch(sid, "identical text"), keys
        counts: dict[int, int] = {}
        for key, postings in self.store.story_key_postings(keys, int(since.timestamp()), 50, newest_first=False).items():
            for aid, _ in postings:
                counts[aid] = counts.get(aid, 0) + (MIN_SHARED_ANCHORS if key >= TITLE_BAND else 1)
        for _, aid in sorted(((n, a) for a, n in counts.items() if n >= MIN_SHARED_ANCHORS), reverse=True)[:10]:
            cand = self.store.story_candidate(aid)
            if cand and cand[2] is not None:
                ok, why = same_story(cand[0], cand[1], title, body)
                if ok:
                    return StoryMatch(cand[2], why), keys
        return StoryMatch(None, "new story"), keys

    def index(self, article_id: int, story_id: int, keys: list[int], article=None) -> None:
        seen = int(utcnow().timestamp())
        self.store.add_story_keys((k, seen, article_id, story_id) for k in keys)
