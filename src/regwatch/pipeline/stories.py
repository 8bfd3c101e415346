"""Story detection: a republished copy (转载 notes, new headline, lead dropped, excerpt, sentences
reordered, regulators' names shortened) joins its original's story; two notices that share a
template but differ in their figures, dates, institutions or names never do.

Candidates come from an index of winnowed shingle fingerprints (`story_keys`): of every WINNOW
consecutive shingles (4 characters each), the one with the smallest hash is a key of the article
(Schleimer, Wilkerson, Aiken: "Winnowing", SIGMOD 2003). Two texts that share a passage of
WINNOW + 3 = 19 characters therefore share at least one key, and a passage of k·WINNOW + 3
characters at least k keys. That is the recall the index states: a copy that keeps two such
passages of a piece of up to 800 characters (all of whose keys are indexed: MAX_KEYS) has it as a
candidate, however large the store — unless the passages are boilerplate. A bottom-k sample, which
a partial copy may not share, gave no such bound. Each key's postings are read newest first, at most
POSTINGS of them; a key whose postings span BOILERPLATE stories is boilerplate (中国人民银行, a
template's wording) and counts for nothing, while the keys of one much-republished story, carried
by all its copies, stay evidence. Cost per new article: at most MAX_KEYS bounded index ranges and
CANDIDATES verifications, at any store size.

A candidate joins when enough of the smaller text is shared (JOIN_CONTAINMENT) and no sentence of
one text is the other's with something put in place of something else: a figure, date, institution
or name (template twins differ exactly there; copies drop, add and move sentences, cut them short,
shorten regulators' names and open with their own credit, but do not substitute).
"""

from __future__ import annotations

import re
import zlib
from collections import Counter, OrderedDict, deque
from collections.abc import Set as AbstractSet
from dataclasses import dataclass
from datetime import datetime, timedelta
from difflib import SequenceMatcher
from itertools import accumulate
from operator import itemgetter
from typing import TYPE_CHECKING

from .article import SHINGLE, Article, clean_title  # noqa: F401 (SHINGLE: the stories' constants)
from .timeutil import iso, utcnow

if TYPE_CHECKING:     # (only named: an extraction worker reads story keys and never imports the store)
    from .store import Store

WINNOW = 16                 # a key in every 16 consecutive shingles: any 19 shared characters share a key
WINNOW_WORDS = 6            # for texts mostly of words (English): any 9 shared words share a key
MAX_KEYS = 96               # keys per article (a piece of 800 characters has ~94); a longer text keeps a nested sample
POSTINGS = 16               # articles read per key, newest first
BOILERPLATE = 8             # ... and a key whose articles are of this many stories is boilerplate, not evidence
CANDIDATES = 8              # verified per new article, most shared keys first
MIN_SHARED = 2              # keys a candidate must share (a headline key counts as two)
JOIN_CONTAINMENT = 0.5
TITLE_JOIN_CONTAINMENT = 0.45
RETOLD_CONTAINMENT = 0.15   # a new summary of one piece under the same headline
RETOLD_TITLE = 12           # characters: short headlines (快讯, 公告) repeat across distinct stories
SENTENCE_MATCH = 0.6        # bigram containment at which two sentences are one sentence, edited
SENTENCE_MAX = 300          # characters compared per sentence (a longer one is cut at its commas)
SENTENCES = 200             # sentences compared per text (a page of untrusted text is bounded work)
IDENTICAL_MIN = 12          # characters of canonical text below which "identical text" proves nothing (an empty body)
RECENT_SHINGLES = 20_000       # the latest stored articles kept read (their copies come soon), in shingles
_TITLE_SALT = b"title\x1f"

_AMOUNT = re.compile(r"(?<![\d.,])\d+(?:[.,]\d+)*\s*(?:亿元|万元|千万元|百万元|元|亿|万|billion|million|yuan)", re.I)
_INSTITUTION = re.compile(r"[\u4e00-\u9fff]{2,14}?(?:银行|分行|支行|农商行|信用社|公司|小贷|保险|证券|集团|分局|监管局)")
# a decision's or notice's number (某金罚决字〔2024〕21号, 银发[2024]5号) and a person named on a form (姓名：张某某):
# one table of a template against another person differs there, and its wording may differ everywhere else
_DOC_NUMBER = re.compile(r"[\u4e00-\u9fff]{0,10}[〔\[【(（]\s*\d{4}\s*[〕\]】)）]\s*第?\s*\d+\s*号")
_PERSON = re.compile(r"(?:姓名|当事人|被处罚人|责任人)\s*[:：]\s*([\u4e00-\u9fff·]{2,6})")
_SENTENCE_END = re.compile(r"[。！？!?；;\n]+|(?<=\.)\s+")
_CLAUSE_END = re.compile(r"[，,、：:]+")
_DIFF_DROP = re.compile(r"[^\w\u4e00-\u9fff.%]+|_|(?<!\d)\.|\.(?!\d)", re.UNICODE)
_DIGIT = re.compile(r"\d")
# a date as a compared sentence holds it (punctuation gone): 2025年12月22日, 12月22日, 20240220 (from 2024-02-20)
_SENTENCE_DATE = re.compile(r"(?<!\d)(?:(\d{4})年)?(\d{1,2})月(\d{1,2})日"
                            r"|(?<!\d)((?:19|20)\d\d)(0[1-9]|1[0-2])(0[1-9]|[12]\d|3[01])(?!\d)")
# a day without its month (人民银行20日发布): not part of a date, a count (第5日) or a term (30日内)
_BARE_DAY = re.compile(r"(?<![\d月个第])([12]?\d|3[01])日(?![内前])")
# in a compared sentence, where a date stood that the other sentence names too: a mark of its own for each date
# (the same date the same mark in both sentences), from U+E000 on — private use, which a compared sentence never holds
_SHARED_DATE = 0xE000
_SHARED_DATE_MARK = re.compile("[\ue000-\uf8ff]")
# how an editor opens a lead in place of the original's date or credit: 据财联社报道, 本报讯, 12月5日, 近日
_DATELINE = re.compile(r"(据.{1,12}(报道|消息|获悉)|(本报|本刊|[\u4e00-\u9fff]{1,8}(网|社|报|台|新闻))讯"
                       r"|记者.{0,8}(获悉|了解到|注意到)"
                       r"|\d{1,2}月\d{1,2}日|\d{1,2}日"
                       r"|近日|日前|今日|今天|昨日|昨天|上午|下午|晚间|当天|当日)+")
# words of when, relative to the report (日前, 当天): editors swap them for one another, and put them where the
# other text has its date
_WHEN = ("日前", "近日", "近期", "此前", "今日", "今天", "当天", "当日", "昨日", "昨天")
# words editors swap for one another (日前 → 近日): not names
_EDITORIAL = {*_WHEN, "目前", "表示", "指出", "称", "说", "认为", "强调", "介绍", "发布", "印发", "公布", "出台", "下发",
              "推出", "宣布", "要求", "明确", "规定", "提出", "将", "会", "要", "已", "已经", "等", "的", "之", "和", "及",
              "与", "以及", "并", "同时", "此外", "另外", "联合", "共同", "正式", "决定"}
# what a copy may put where the other text has a date and still tell the same event: a word of time, or where it
# was published (周三, 晚间, 于, 在其官网); any other word there (杭州分行, 董事长, 对中信证券, 杭州) names another party
_TIME_WORDS = re.compile(r"(?:于|在|在其|通过|周[一二三四五六日天]|星期[一二三四五六日天]|礼拜[一二三四五六日天]|上午|下午|中午|"
                         r"晚间|晚上|早间|早上|凌晨|夜间|深夜|前日|本周|上周|刚刚|官网|官方网站|网站|微信公众号|公众号|"
                         + "|".join(_WHEN) + ")+")


def shingle_hashes(text: str) -> list[int]:
    """Hashes of 4 consecutive units in text order — a Chinese character, or a whole word of other scripts
    (character shingles of English are common to every English text: "tion", "ther")."""
    return Article("", text).shingle_hashes


def shingles(text: str) -> frozenset[int]:
    return Article("", text).shingles


def winnow(hashes: list[int], w: int = WINNOW) -> list[int]:
    """The smallest hash of every window of w consecutive hashes (the rightmost on ties), each position once:
    texts sharing a run of w hashes share that run's key."""
    if len(hashes) <= w:
        return [min(hashes)] if hashes else []
    out: list[int] = []
    window: deque[int] = deque()
    last = -1
    for i, h in enumerate(hashes):
        while window and hashes[window[-1]] >= h:
            window.pop()
        window.append(i)
        if window[0] <= i - w:
            window.popleft()
        if i >= w - 1 and window[0] != last:
            last = window[0]
            out.append(hashes[last])
    return out


def _window_minima(hashes: list[int], w: int) -> set[int]:
    """The values `winnow` picks (the smallest hash of every window of w), as a set: each window's minimum
    is the lesser of its first block's suffix minimum and its second block's prefix minimum (blocks of w;
    van Herk / Gil-Werman), all at C speed."""
    if len(hashes) <= w:
        return {min(hashes)} if hashes else set()
    prefix: list[int] = []
    suffix: list[int] = []
    for at in range(0, len(hashes), w):
        block = hashes[at:at + w]
        prefix.extend(accumulate(block, min))
        suffix.extend(reversed(list(accumulate(reversed(block), min))))
    return set(map(min, suffix[:len(hashes) - w + 1], prefix[w - 1:]))


def _level(key: int) -> int:
    """A key's level: trailing zero bits of a mix of it. Keys of level ≥ n are a nested 2⁻ⁿ sample."""
    x = (key * 0x9E3779B1) & 0xFFFFFFFF
    return (x & -x).bit_length() - 1 if x else 32


def body_keys(hashes: list[int], words: bool = False) -> list[int]:
    """The keys an article is indexed and looked up under: its fingerprints; past MAX_KEYS, those of the
    lowest level that keeps at most MAX_KEYS (nested, so a short excerpt still meets a long original's)."""
    keys = sorted(_window_minima(hashes, WINNOW_WORDS if words else WINNOW))
    if len(keys) <= MAX_KEYS:
        return keys
    levels = sorted((_level(k) for k in keys), reverse=True)
    floor = levels[MAX_KEYS - 1] + (1 if levels[MAX_KEYS - 1] == levels[MAX_KEYS] else 0)
    return [k for k in keys if _level(k) >= floor]


def article_keys(article: Article) -> list[int]:
    """The keys an article is indexed under: its body's fingerprints and its headline's key."""
    units = article.units
    words = (len(units) - list(map(len, units)).count(1)) * 2 > len(units)     # most units are words
    keys = body_keys(article.shingle_hashes, words)
    tk = _title_key(article.clean_title)
    return keys + [tk] if tk is not None and tk not in keys else keys


def title_key(title: str) -> int | None:
    """The headline's key, for finding one piece retold under the same headline (long headlines only)."""
    return _title_key(clean_title(title))


def _title_key(clean: str) -> int | None:
    return zlib.crc32(_TITLE_SALT + clean.encode()) if len(clean) >= RETOLD_TITLE else None


def containment(a: AbstractSet[int], b: AbstractSet[int]) -> float:
    if not a or not b:
        return 0.0
    return len(a & b) / min(len(a), len(b))


def _as_article(a: Article | str) -> Article:
    return a if isinstance(a, Article) else Article("", a)


def _strong_facts(article: Article | str) -> set[str]:
    """Amounts of money and named institutions: what two retellings of one piece cannot disagree on."""
    t = _as_article(article).stripped
    return {re.sub(r"\s+", "", m.group(0)) for m in _AMOUNT.finditer(t)} | set(_INSTITUTION.findall(t))


def _doc_numbers(article: Article) -> set[str]:
    """The decision and document numbers the text names (某金罚决字〔2024〕21号), spaces gone."""
    return {re.sub(r"\s+", "", m.group(0)) for m in _DOC_NUMBER.finditer(article.stripped)}


def _people(article: Article) -> set[str]:
    """The people a form names (被处罚当事人姓名：张某某)."""
    return set(_PERSON.findall(article.stripped))


def _sentences(article: Article | str) -> list[str]:
    """The text's sentences as compared: punctuation and spaces gone (decimal points and % kept); a sentence
    longer than SENTENCE_MAX in its clauses, and what is still longer left out; at most SENTENCES."""
    out: list[str] = []
    for sentence in _SENTENCE_END.split(_as_article(article).matching):
        parts = [sentence] if len(sentence) <= SENTENCE_MAX else _CLAUSE_END.split(sentence)
        joined: list[str] = []
        for s in parts:
            s = _DIFF_DROP.sub("", s)
            if joined and len(s) < 6:
                joined[-1] += s         # a short clause (编号12) stays with the one before: its figure still counts
            else:
                joined.append(s)
        for s in joined:
            if 6 <= len(s) <= SENTENCE_MAX:
                out.append(s)
                if len(out) >= SENTENCES:
                    return out
    return out


def _bigrams(s: str) -> set[str]:
    return {s[i : i + 2] for i in range(len(s) - 1)}


def substitution(text_a: Article | str, text_b: Article | str) -> str | None:
    """A figure, date, institution or name that one text has where the other has another, in a sentence they
    share: '5050→5052', '中国银行→建设银行' — or None. Sentences only one text has are not compared (an
    excerpt drops them, a reprint adds notes), nor a sentence cut short at either end, nor the credit or date
    an editor opens a sentence with in place of the original's (据财联社报道 for 12月5日)."""
    text_a, text_b = _as_article(text_a), _as_article(text_b)
    sa, sb = _sentences(text_a), _sentences(text_b)
    if sum(map(len, sa)) > sum(map(len, sb)):
        sa, sb = sb, sa
        text_a, text_b = text_b, text_a
    raw = {id(sa): text_a.body_text, id(sb): text_b.body_text}
    grams_b = [(s, _bigrams(s)) for s in sb]
    seen = set(sb)
    for s in sa:
        if s in seen:
            continue
        g = _bigrams(s)
        best, score = None, 0.0
        for t, gt in grams_b:
            c = len(g & gt) / (min(len(g), len(gt)) or 1)
            if c > score:
                best, score = t, c
        if best is not None and score >= SENTENCE_MATCH and (s in best or best in s):
            short, long_ = (s, best) if s in best else (best, s)
            at = long_.find(short)
            # a figure that goes on past the sentence's end (编号1 → 编号12), where that end is the sentence's own
            # full stop, or before its start, where a sentence begins — not an excerpt cut mid-figure
            text = raw[id(sa) if short is s else id(sb)]
            ends_on_figure = short[-1:].isdigit() and long_[at + len(short):at + len(short) + 1].isdigit() \
                and re.search(re.escape(short[-3:]) + r"[。！？!?；;]", text)
            starts_on_figure = short[:1].isdigit() and long_[at - 1:at].isdigit() \
                and re.search(r"[。！？!?；;\n]\s*" + re.escape(short[:3]), text)
            if ends_on_figure or starts_on_figure:
                return f"{short}→{long_}"   # not cut short: a figure that ends (or begins) it goes on (编号1 → 编号12)
        if best is None or score < SENTENCE_MATCH or s in best or best in s:
            continue            # unmatched (added or dropped), or cut short at either end
        # a date one sentence adds (a flash folds its date into the lead) is no other fact; a date where the
        # other has another one is (the LPR of 2月20日 is not that of 3月20日), wherever in the sentences they stand
        # a day without its month (人民银行20日发布…, as the press writes a day of the current month) is the
        # other sentence's date of that day
        s, best = _month_added(s, best), _month_added(best, s)
        dates_s, dates_b = _dates(s), _dates(best)
        only_s = [d for d in dates_s if not any(_same_date(d, e) for e in dates_b)]
        only_b = [d for d in dates_b if not any(_same_date(d, e) for e in dates_s)]
        if only_s and only_b:
            return f"{only_s[0][0]}→{only_b[0][0]}"
        # ... and so is a day without its month where the other names a date of another day (人民银行21日发布 /
        # 5月20日，人民银行发布)
        days_s, days_b = _BARE_DAY.findall(s), _BARE_DAY.findall(best)
        for days, other_days, only in ((days_s, days_b, only_b), (days_b, days_s, only_s)):
            lone = [d for d in days if d not in other_days and not any(e[3] == int(d) for e in only)]
            if lone and only:
                return f"{lone[0]}日→{only[0][0]}"
        # a date both name, however written (2024年5月20日, 5月20日 — a retelling drops the year —, 20240520 from
        # 2024-05-20) and wherever it stands (人民银行5月20日发布 for 5月20日，人民银行发布) is no other fact: each
        # such date is a mark of its own in both sentences, and a mark moved or beside other words is left out when
        # their wording is compared — but a mark where the other sentence has another one is a date where the
        # other names another (自6月1日起施行，应于5月20日前… / 自5月20日起施行，应于6月1日前…: the dates swapped)
        marks: dict[tuple[int, int], str] = {}
        s, written_s = _shared_dates_marked(s, dates_b, marks)
        best, written_b = _shared_dates_marked(best, dates_s, marks)
        matcher = SequenceMatcher(None, s, best, autojunk=False)
        for op, i1, i2, j1, j2 in matcher.get_opcodes():
            mark_x, mark_y = _SHARED_DATE_MARK.search(s, i1, i2), _SHARED_DATE_MARK.search(best, j1, j2)
            if op == "replace" and mark_x and mark_y:     # (a replaced span shares no character with its other side)
                return f"{written_s[mark_x[0]]}→{written_b[mark_y[0]]}"
        for i1, i2, j1, j2 in _whole_words(_edits(matcher), s, best):
            x, y = _SHARED_DATE_MARK.sub("", s[i1:i2]), _SHARED_DATE_MARK.sub("", best[j1:j2])
            if not x and not y:
                continue        # a date both name, moved
            # a credit or date an editor opens with (据财联社报道 for 12月5日), or a word swapped for its like
            # (日前 → 近日), is not a name put in another's place
            editorial = (i1 == 0 and j1 == 0 and any(len(z) <= 24 and _DATELINE.fullmatch(z) for z in (x, y))) \
                or (x in _EDITORIAL and y in _EDITORIAL)
            bare_x, bare_y = _SENTENCE_DATE.sub("", x), _SENTENCE_DATE.sub("", y)
            if (bare_x, bare_y) != (x, y) and not _DIGIT.search(bare_x + bare_y):
                # whole dates, checked above (one merely added, or the same date moved), and words: an editor's
                # lead folding the date in (人民银行12月22日发布通知，… for 通知明确，…) says only what the other
                # text says elsewhere, its date included; any other word put in place of another is a name
                lead = i1 == 0 and j1 == 0 and (_told(x, sb) and _told(y, sa) or any(
                    len(z) <= 24 and _DATELINE.fullmatch(z) for z in (bare_x, bare_y)))
                # (a date in one where the other has a word — 3月5日 for 杭州分行, 董事长, 杭州 — is a name too, unless
                # that word tells a time or where it was published — 周三, 晚间, 在其官网 — or a date is only added
                # with its 于)
                if not lead and ((bare_x and bare_y and not (bare_x in _EDITORIAL and bare_y in _EDITORIAL))
                                 or (x and y and any(b and not _TIME_WORDS.fullmatch(b) for b in (bare_x, bare_y)))):
                    return f"{x}→{y}"
                continue
            if _DIGIT.search(x + y):
                # a figure or date changed: digits on both sides (7月 → 8月), or digits added to or dropped
                # from a number (5050 → 50); a whole figure dropped (2020年12月 → 12月) is an editor's cut
                beside = s[i1 - 1:i1] + s[i2:i2 + 1] + best[j1 - 1:j1] + best[j2:j2 + 1]
                if (_DIGIT.search(x) and _DIGIT.search(y)) or _DIGIT.search(beside):
                    return f"{x or '∅'}→{y or '∅'}"
                if x and y and not editorial:
                    return f"{x}→{y}"
            elif x and y and not editorial:
                return f"{x}→{y}"   # a name: 中国银行 → 建设银行, 恒大地产 → 碧桂园, 张某明 → 张某华
    return None


def _dates(sentence: str) -> list[tuple[str, int | None, int, int]]:
    """The dates a compared sentence names: (as written, year or None, month, day)."""
    out: list[tuple[str, int | None, int, int]] = []
    for m in _SENTENCE_DATE.finditer(sentence):
        year, month, day = (m.group(1, 2, 3) if m.group(2) else m.group(4, 5, 6))
        out.append((m.group(0), int(year) if year else None, int(month), int(day)))
    return out


def _same_date(a: tuple[str, int | None, int, int], b: tuple[str, int | None, int, int]) -> bool:
    """One day, a year written on one side only (12月22日 is 2025年12月22日)."""
    return a[2:] == b[2:] and (a[1] is None or b[1] is None or a[1] == b[1])


def _month_added(sentence: str, other: str) -> str:
    """The sentence with each day it names without a month (20日, not 20日内) given the month of the one date
    of that day the other sentence names and this one does not (18日 is 3月18日 beside 自4月18日起施行)."""
    own = _dates(sentence)
    def month(m: re.Match[str]) -> str:
        months = {d[2] for d in _dates(other) if d[3] == int(m[1]) and not any(_same_date(d, e) for e in own)}
        return f"{months.pop()}月{m[1]}日" if len(months) == 1 else m.group(0)
    return _BARE_DAY.sub(month, sentence)


def _shared_dates_marked(sentence: str, others: list[tuple[str, int | None, int, int]],
                         marks: dict[tuple[int, int], str]) -> tuple[str, dict[str, str]]:
    """The sentence with a mark in place of each date that the other sentence also names (the mark keeps the
    words on either side apart: 明确 → 提出 before the date, a clause cut after it), and each mark's date as this
    sentence writes it. `marks`: each day's mark, shared by the two sentences (one day, one mark; another day,
    another mark), added to as new days come."""
    written: dict[str, str] = {}
    def day(m: re.Match[str]) -> str:
        d = _dates(m.group(0))[0]
        if not any(_same_date(d, e) for e in others):
            return m.group(0)
        mark = marks.setdefault((d[2], d[3]), chr(_SHARED_DATE + len(marks)))
        written.setdefault(mark, m.group(0))
        return mark
    return _SENTENCE_DATE.sub(day, sentence), written


_EDITORIAL_WORDS = re.compile("|".join(sorted((w for w in _EDITORIAL if len(w) > 1), key=len, reverse=True)))


def _told(words: str, sentences: list[str]) -> bool:
    """Whether the other text says each of these words (an editor's verbs aside) and names each of their dates
    somewhere."""
    told = "\x1f".join(sentences)
    dates = _dates(told)
    pieces = _EDITORIAL_WORDS.sub("\x1f", _SENTENCE_DATE.sub("\x1f", words)).split("\x1f")
    return all(any(_same_date(d, e) for e in dates) for d in _dates(words)) and all(p in told for p in pieces if p)


def _edits(matcher: SequenceMatcher) -> list[tuple[int, int, int, int]]:
    """The changed spans, neighbouring changes merged (科创板 → 创业板 is one change, not a deletion of 科
    and an insertion of 业 around a shared 创)."""
    out: list[list[int]] = []
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if out and i1 - out[-1][1] <= 2 and j1 - out[-1][3] <= 2:
            out[-1][1], out[-1][3] = i2, j2
        else:
            out.append([i1, i2, j1, j2])
    return [(i1, i2, j1, j2) for i1, i2, j1, j2 in out]


def _whole_words(edits: list[tuple[int, int, int, int]], a: str, b: str) -> list[tuple[int, int, int, int]]:
    """The changed spans, each widened over the shared characters to the whole of a date or an editor's word it
    cuts into (3月5日 → 近日 is one change, not 3月5 → 近 beside a shared 日; 此前 → 日前, not 此 → 日)."""
    out = []
    for i1, i2, j1, j2 in edits:
        for side, text in enumerate((a, b)):
            for m in (*_SENTENCE_DATE.finditer(text), *_EDITORIAL_WORDS.finditer(text)):
                lo, hi = (i1, i2) if side == 0 else (j1, j2)
                if m.start() < hi and m.end() > lo or m.start() < lo == hi < m.end():
                    back, ahead = max(0, lo - m.start()), max(0, m.end() - hi)
                    if back <= min(i1, j1) and a[i1 - back:i1] == b[j1 - back:j1] \
                            and a[i2:i2 + ahead] == b[j2:j2 + ahead]:
                        i1, j1, i2, j2 = i1 - back, j1 - back, i2 + ahead, j2 + ahead
        out.append((i1, i2, j1, j2))
    return out


def same_story(title_a: str, body_a: str, title_b: str, body_b: str) -> tuple[bool, str]:
    """Whether b is a copy of a, and why (the reason is shown by `regwatch` when asked)."""
    return judge(Article(title_a, body_a), Article(title_b, body_b))


def judge(a: Article, b: Article) -> tuple[bool, str]:
    """Whether article b is a copy of article a, and why."""
    c = containment(a.shingles, b.shingles)
    ta, tb = a.clean_title, b.clean_title
    titles_match = bool(ta and tb and (ta in tb or tb in ta))
    if c < JOIN_CONTAINMENT and titles_match and c >= RETOLD_CONTAINMENT and min(len(ta), len(tb)) >= RETOLD_TITLE:
        # one piece summarized anew under its own headline (aggregators do this): the same long headline
        # and some shared wording join, unless the amounts or institutions named differ
        conflict = _strong_facts(a) ^ _strong_facts(b)
        if conflict:
            return False, f"same headline, other facts: {sorted(conflict)[:3]}"
        for named in (_doc_numbers, _people):
            na, nb = named(a), named(b)
            if na and nb and not (na <= nb or nb <= na):   # a retelling may leave one out, not name another
                return False, f"same headline, other facts: {sorted(na ^ nb)[:3]}"
        return True, f"same headline, retold (containment {c:.2f})"
    if c < JOIN_CONTAINMENT and not (titles_match and c >= TITLE_JOIN_CONTAINMENT):
        return False, f"texts differ (containment {c:.2f})"
    sub = substitution(a, b)
    if sub:
        return False, f"same wording, other facts: {sub}"
    return True, f"copy (containment {c:.2f})"


@dataclass
class StoryMatch:
    story_id: int | None
    reason: str
    refused: tuple[int, str] | None = None      # a new story's nearest earlier candidate, judged not a copy, and why


def candidates(store: Store, keys: list[int], tk: int | None, since: int, before: int | None = None) -> list[int]:
    """Articles sharing at least MIN_SHARED keys (the headline's counts for MIN_SHARED), most first.
    A key that the newest articles of BOILERPLATE stories carry is boilerplate and counts for none (the
    copies of one much-republished story all carry its keys: those stay evidence). `before`: only articles
    stored before that one, as they stood when it was stored (`regwatch why`)."""
    counts: Counter[int] = Counter()
    per_key = POSTINGS if before is None else POSTINGS * 8     # later articles read past, then left out
    for key, postings in store.story_key_postings(keys, since, per_key).items():
        if before is not None:
            postings = [p for p in postings if p[0] < before][:POSTINGS]
        if len(set(map(itemgetter(1), postings))) >= BOILERPLATE:
            continue
        articles = set(map(itemgetter(0), postings))
        counts.update(articles)
        if key == tk:                               # the headline's key counts MIN_SHARED times
            counts.update(dict.fromkeys(articles, MIN_SHARED - 1))
    need = max(1, min(MIN_SHARED, len(keys) - (tk in keys)))    # a body too short for two keys needs one
    ranked = sorted(((n, aid) for aid, n in counts.items() if n >= need), reverse=True)
    return [aid for _, aid in ranked[:CANDIDATES]]


def nearest_candidate(store: Store, article: Article, article_id: int, stored_at: datetime,
                      window_days: float = 7) -> tuple[int, bool, str] | None:
    """For `regwatch why` on an article that began its story: the earlier article its story check compared
    first (the most keys shared, stored within the window before it), whether it is a copy of that one, and
    why — judged again now; the first refused one when some candidate is a copy now. None: no candidate
    (none shared enough text, or the index no longer holds that time)."""
    since = int((stored_at - timedelta(days=window_days)).timestamp())
    keys = article_keys(article)
    first: tuple[int, bool, str] | None = None
    for aid in candidates(store, keys, _title_key(article.clean_title), since, before=article_id):
        cand = store.story_candidate(aid)
        if cand is None or cand[2] is None:
            continue
        ok, why = judge(Article(cand[0], cand[1]), article)
        if not ok:
            return aid, ok, why
        first = first or (aid, ok, why)
    return first


class StoryIndex:
    """Assigns articles to stories in the store, within a window (default 7 days)."""

    def __init__(self, store: Store, window_days: float = 7):
        self.store = store
        self.window = timedelta(days=window_days)
        self._recent: OrderedDict[int, Article] = OrderedDict()
        self._recent_size = 0
        if store.legacy_story_sketches():
            self._reindex_window()

    def prune_due(self, every: float, now: float) -> bool:
        """Whether the index was last pruned `every` seconds or more before `now` (by any process)."""
        last = self.store.story_keys_pruned_at()
        return last is None or now - last >= every

    def prune(self, limit: int | None = None) -> int:
        """Drop the index rows of articles older than the window (they are never read again): at most
        `limit` in one short transaction (call again until fewer go); how many went."""
        return self.store.prune_story_keys(int((utcnow() - self.window).timestamp()), limit)

    def pruned(self, now: float) -> None:
        self.store.set_story_keys_pruned_at(now)

    def keys(self, title: str, body: str) -> list[int]:
        """The keys an article is indexed under: its body's fingerprints and its headline's key."""
        return article_keys(Article(title, body))

    def find(self, article: Article, keys: list[int] | None = None) -> tuple[StoryMatch, list[int]]:
        """The story this article belongs to, and the keys to index it under (`keys`: computed already)."""
        since = utcnow() - self.window
        keys = article_keys(article) if keys is None else keys
        sid = None
        if len(article.canonical) >= IDENTICAL_MIN:
            sid = self.store.story_of_identical_text(article.content_hash, iso(since))
        if sid is not None:
            return StoryMatch(sid, "identical text"), keys
        tk = _title_key(article.clean_title)
        refused: tuple[int, str] | None = None
        for aid in candidates(self.store, keys, tk, int(since.timestamp())):
            cand = self.store.story_candidate(aid)
            if cand and cand[2] is not None:
                ok, why = judge(self._recent_article(aid, cand[0], cand[1]), article)
                if ok:
                    return StoryMatch(cand[2], why), keys
                refused = refused or (aid, why)
        return StoryMatch(None, "new story", refused), keys

    def index(self, article_id: int, story_id: int, keys: list[int], article: Article | None = None) -> None:
        seen = int(utcnow().timestamp())
        self.store.add_story_keys((k, seen, article_id, story_id) for k in keys)
        if article is not None:
            self._remember(article_id, article)

    def _recent_article(self, article_id: int, title: str, body: str) -> Article:
        """A stored article as a candidate: the value already read when it was stored recently (its copies
        come soon after it), else read anew."""
        known = self._recent.get(article_id)
        if known is not None and known.title == title and known.body == body:
            return known
        return Article(title, body)

    def _remember(self, article_id: int, article: Article) -> None:
        """Keep the latest articles' values for judging their copies (at most RECENT_SHINGLES shingles in all)."""
        size = len(article.shingles)
        if size > RECENT_SHINGLES:
            return
        self._recent[article_id] = article
        self._recent_size += size
        while self._recent_size > RECENT_SHINGLES:
            _, old = self._recent.popitem(last=False)
            self._recent_size -= len(old.shingles)

    def _reindex_window(self) -> None:
        """A store from before `story_keys`: index the window's articles once, then drop the old sketches."""
        with self.store.tx():
            if not self.store.legacy_story_sketches():
                return                                  # another process did it
            since = iso(utcnow() - self.window)
            rows: list[tuple[int, int, int, int]] = []
            for aid, title, body, fetched_at, sid in list(self.store.articles_for_story_index(since)):
                seen = int(datetime.fromisoformat(fetched_at).timestamp())
                rows.extend((k, seen, aid, sid) for k in self.keys(title, body))
            self.store.load_story_keys(rows)
            self.store.drop_legacy_story_sketches()
