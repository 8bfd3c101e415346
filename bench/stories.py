"""Story detection: copies of short pieces join their original, distinct pieces and template twins stay
apart, and assigning a new article costs the same at any store size — regwatch beside the previous
method (bench/stories_previous.py: bottom-k sketches and a regex facts veto), in the same run.

    .venv/bin/python bench/stories.py [--sizes 10000,100000[,1000000]] [--quality-only]

Sets:
- short-tune, short-holdout (bench/data/stories): short Chinese pieces (300–660 characters) written
  from real events of this field; the held-out one is measured, never tuned on. Each piece is
  republished nine ways (bench/story_copies.py: a reprint note, a new headline with the lead sentence
  dropped, a 70% excerpt, sentences reordered, a copy editor's regulator short names, and
  combinations) and twinned (the same wording with other figures, another institution, or two days of a sentence
  swapped).
- eval: the previous benchmark's set (eval/, 153 labeled articles of 84–200 characters) republished the
  four ways it was, for continuity with the figures measured before.

Quality: per set and method, a store of its own holds the eval articles as distractors, then the set's
pieces (each must start its own story); then every copy must find its original's story and no twin
may; and every pair of distinct pieces must be judged apart.

Scale: a store of N articles of this field's text (sentences of eval/ with fresh figures, and a
sentence of their own) with the set's pieces in the middle of it, all within the story window. Then:
the join rate of every copy at that size, and the time to assign a new article (find its story and
index it) for 200 new distinct articles and for the copies.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import timedelta
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import stories_previous  # noqa: E402
import story_copies  # noqa: E402

from regwatch.pipeline import stories as current  # noqa: E402
from regwatch.pipeline.article import Article  # noqa: E402
from regwatch.pipeline.process import Processor  # noqa: E402
from regwatch.pipeline.store import Store  # noqa: E402
from regwatch.pipeline.stories import StoryIndex  # noqa: E402
from regwatch.pipeline.timeutil import iso, utcnow  # noqa: E402

ROOT = HERE.parent
DATA = HERE / "data" / "stories"
METHODS = {"regwatch": (StoryIndex, current), "previous": (stories_previous.PreviousStoryIndex, stories_previous)}


def load(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def eval_items() -> list[dict]:
    return [it for f in ("dev.jsonl",) for it in load(ROOT / "eval" / f)]


# -- the previous benchmark's four copies and its twin, unchanged ------------------------------------

def _trim_lead(body: str) -> str:
    m = re.compile(r"[，,；;]").search(body, len(body) // 5)
    return body[m.end():] if m else body


def legacy_copies(item: dict, others=None) -> dict[str, tuple[str, str]]:
    t, body = item["title"], item["text"]
    ss = [s for s in re.split(r"(?<=[。！？.!?])\s*", body) if s.strip()]
    rng = random.Random(item["id"])
    shuffled = ss[:]
    rng.shuffle(shuffled)
    keep = max(1, int(len(body) * 0.7))
    return {
        "reprint": ("转载：" + t,
                    "（本文转载自" + rng.choice(["财经网", "经济观察网", "新浪财经"]) + "）\n" + body + "\n（责任编辑：李华）"),
        "new_headline_trimmed_lead": (t[len(t) // 3:] + "｜深度", " ".join(ss[1:]) if len(ss) > 2 else _trim_lead(body)),
        "excerpt_70": (t, body[:keep]),
        "reordered": (t, " ".join(shuffled)),
    }


def legacy_twins(item: dict) -> dict[str, tuple[str, str]]:
    body = item["text"]
    if re.search(r"\d+(?:\.\d+)?", body):
        return {"twin": (item["title"], re.sub(r"\d+(?:\.\d+)?", lambda m: str(int(float(m.group(0))) + 7), body, count=2))}
    m = re.search(r"[\u4e00-\u9fff]{2,6}(银行|公司|分行)", body)
    return {"twin": (item["title"], body.replace(m.group(0), "另一家" + m.group(1)))} if m else {}


# -- quality -----------------------------------------------------------------------------------------

class NoTopics:
    """Stories need no tagging."""

    def classify(self, title: str, text: str) -> list:
        return []

    def classify_article(self, article) -> list:
        return []


def processor(store: Store, method) -> Processor:
    p = Processor(store, NoTopics())
    p.stories = method(store)
    return p


def quality(method_name: str, items: list[dict], copy_fn, twin_fn, distractors: list[dict]) -> dict:
    method, module = METHODS[method_name]
    with tempfile.TemporaryDirectory() as d:
        store = Store(Path(d) / "q.db")
        p = processor(store, method)
        for i, it in enumerate(distractors):
            p.process(url=f"http://distractor/{i}", source="bench", title=it["title"], body=it["text"], lang="zh",
                      published_at=None)
        story, merged = {}, []
        for it in items:
            r = p.process(url=f"http://original/{it['id']}", source="bench", title=it["title"], body=it["text"],
                          lang="zh", published_at=None)
            story[it["id"]] = r.story_id
            if not r.new_story:
                merged.append(it["id"])
        joined: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        misses = []
        for it in items:
            for kind, (t, b) in copy_fn(it, items).items():
                m, _ = p.stories.find(Article(t, b))
                ok = m.story_id == story[it["id"]]
                joined[kind][0] += ok
                joined[kind][1] += 1
                if not ok:
                    misses.append(f"{it['id']} {kind}: {m.reason}; against its original: "
                                  f"{module.same_story(it['title'], it['text'], t, b)[1]}")
        twins = twin_merges = 0
        twin_kinds: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        for it in items:
            for kind, (t, b) in twin_fn(it).items():
                m, _ = p.stories.find(Article(t, b))
                twins += 1
                twin_kinds[kind][1] += 1
                if m.story_id == story[it["id"]]:
                    twin_merges += 1
                    twin_kinds[kind][0] += 1
                    misses.append(f"{it['id']} twin {kind} merged: {m.reason}")
        store.close()
    if copy_fn is story_copies.copies:
        # the other order: an aggregator's excerpt (lead dropped, 70%) is stored first, the full piece comes later
        with tempfile.TemporaryDirectory() as d:
            store = Store(Path(d) / "r.db")
            p = processor(store, method)
            for i, it in enumerate(distractors):
                p.process(url=f"http://distractor/{i}", source="bench", title=it["title"], body=it["text"], lang="zh",
                          published_at=None)
            first = {}
            for it in items:
                t, b = copy_fn(it, items)["new_headline_lead_dropped+excerpt_70"]
                first[it["id"]] = p.process(url=f"http://excerpt/{it['id']}", source="bench", title=t, body=b, lang="zh",
                                            published_at=None).story_id
            for it in items:
                m, _ = p.stories.find(Article(it["title"], it["text"]))
                ok = m.story_id == first[it["id"]]
                joined["original_after_its_excerpt"][0] += ok
                joined["original_after_its_excerpt"][1] += 1
                if not ok:
                    misses.append(f"{it['id']} original_after_its_excerpt: {m.reason}")
            store.close()
    pairs = apart = 0
    for a, b in itertools.combinations(items, 2):
        pairs += 1
        apart += not module.same_story(a["title"], a["text"], b["title"], b["text"])[0]
    n = sum(v[1] for v in joined.values())
    return {"pieces": len(items), "copies": n, "joined": round(sum(v[0] for v in joined.values()) / n, 4),
            "by_kind": {k: round(v[0] / v[1], 4) for k, v in joined.items()},
            "pieces_merged_into_another": len(merged), "distinct_pairs": pairs, "distinct_apart": round(apart / pairs, 5),
            "template_twins": twins, "twins_merged": twin_merges,
            "twins_merged_by_kind": {k: f"{v[0]} of {v[1]}" for k, v in twin_kinds.items()}, "misses": misses[:40]}


# -- scale -------------------------------------------------------------------------------------------

def sentence_pool() -> list[str]:
    pool = []
    for it in eval_items():
        if it.get("lang") == "zh":
            pool += [s for s in story_copies.sentences(it["text"]) if len(s) >= 12]
    return pool


class Background:
    """Articles of this field's text: sentences of the labeled reports with fresh figures, and one sentence
    of their own (so that most of an article's shingles are its own, as in real news)."""

    def __init__(self, seed: int):
        self.pool = sentence_pool()
        self.chars = [c for s in self.pool for c in s if "\u4e00" <= c <= "\u9fff"]
        self.seed = seed

    def articles(self, n: int, start: int = 0):
        rng = random.Random(f"{self.seed}/{start}")
        for i in range(start, start + n):
            ss = [re.sub(r"\d+(?:\.\d+)?", lambda m: str(rng.randint(1, 999)), s)
                  for s in rng.sample(self.pool, rng.randint(3, 5))]
            own = "".join(rng.choice(self.chars) for _ in range(rng.randint(20, 40))) + "。"
            ss.insert(rng.randrange(len(ss) + 1), own)
            yield i, ss[0][: rng.randint(10, 22)], "\n".join(ss)


def build(method_name: str, path: Path, n: int, pieces: list[dict], bg: Background) -> tuple[Store, dict]:
    """N background articles, the pieces in the middle of them (by time), all within the story window."""
    method, _ = METHODS[method_name]
    store = Store(path)
    idx = method(store)
    now = utcnow()
    half = n // 2
    seen = {"before": now - timedelta(days=3), "pieces": now - timedelta(days=2), "after": now - timedelta(days=1)}
    rows, keys, story = [], [], {}

    def add(aid, title, body, when):
        rows.append((aid, f"http://bench/{aid}", "bench", title, body, iso(when), aid))
        keys.extend((k, int(when.timestamp()), aid, aid) for k in idx.keys(title, body))
        if len(rows) >= 20000:
            flush()

    def flush():
        store.load_articles(rows)
        rows.clear()

    for aid, title, body in bg.articles(half, 1):
        add(aid, title, body, seen["before"])
    for j, it in enumerate(pieces):
        aid = n + 1 + j
        story[it["id"]] = aid
        add(aid, it["title"], it["text"], seen["pieces"])
    for aid, title, body in bg.articles(n - half, n + len(pieces) + 1):
        add(aid, title, body, seen["after"])
    flush()
    store.load_story_keys(keys)
    return store, story


def scale(method_name: str, n: int, pieces: list[dict]) -> dict:
    method, _ = METHODS[method_name]
    bg = Background(seed=7)
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        store, story = build(method_name, Path(d) / "s.db", n, pieces, bg)
        built = time.perf_counter() - t0
        index_bytes = store.table_bytes("story_keys") / (n + len(pieces))
        idx = method(store)
        copies = [(it["id"], kind, t, b) for it in pieces for kind, (t, b) in story_copies.copies(it, pieces).items()]
        joined: dict[str, list[int]] = defaultdict(lambda: [0, 0])
        t0 = time.perf_counter()
        for pid, kind, t, b in copies:
            m, _ = idx.find(Article(t, b))
            joined[kind][0] += m.story_id == story[pid]
            joined[kind][1] += 1
        per_copy = (time.perf_counter() - t0) / len(copies)
        fresh = list(Background(seed=99).articles(800, 10 * n + 1_000_000))
        rounds = []
        for r in range(4):      # the first round warms the page cache; the median of the rest counts
            t0 = time.perf_counter()
            for aid, title, body in fresh[r * 200:(r + 1) * 200]:
                m, keys = idx.find(Article(title, body))
                with store.tx():
                    idx.index(aid, m.story_id or aid, keys)
            rounds.append((time.perf_counter() - t0) / 200)
        store.close()
    per_new = statistics.median(rounds[1:])
    total = sum(v[1] for v in joined.values())
    out = {"stored": n, "method": method_name, "ms_per_new_article": round(per_new * 1000, 3),
           "ms_per_copy": round(per_copy * 1000, 3), "copies_joined": round(sum(v[0] for v in joined.values()) / total, 4),
           "by_kind": {k: round(v[0] / v[1], 4) for k, v in joined.items()}, "index_bytes_per_article": round(index_bytes),
           "build_s": round(built, 1)}
    print(f"stories at {n:>9,} stored  {method_name:9s} {per_new * 1000:6.2f} ms per new article, "
          f"{per_copy * 1000:6.2f} ms per copy, copies joined {out['copies_joined']:.3f}, index {index_bytes:.0f} bytes "
          f"per article  (store built in {built:.0f} s)",
          flush=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000")
    ap.add_argument("--quality-only", action="store_true")
    ap.add_argument("--sets", default="short-tune,short-holdout,eval", help="quality sets to measure")
    ap.add_argument("--out", default=str(HERE / "out" / "stories.json"))
    args = ap.parse_args()
    tune, holdout, ev = load(DATA / "short-tune.jsonl"), load(DATA / "short-holdout.jsonl"), eval_items()
    result: dict = {"quality": {}, "cost": []}
    for set_name, items, copy_fn, twin_fn, distractors in [
            ("short-tune", tune, story_copies.copies, story_copies.twins, ev),
            ("short-holdout", holdout, story_copies.copies, story_copies.twins, ev),
            ("eval", ev, legacy_copies, legacy_twins, [])]:
        if set_name not in args.sets.split(","):
            continue
        for method_name in METHODS:
            q = quality(method_name, items, copy_fn, twin_fn, distractors)
            result["quality"].setdefault(set_name, {})[method_name] = q
            kinds = "  ".join(f"{k} {v:.3f}" for k, v in q["by_kind"].items())
            print(f"stories {set_name:13s} {method_name:9s} joined {q['joined']:.3f} ({kinds}); distinct apart "
                  f"{q['distinct_apart']:.4f} of {q['distinct_pairs']} pairs, {q['pieces_merged_into_another']} pieces "
                  f"merged; twins merged {q['twins_merged']} of {q['template_twins']} "
                  f"({', '.join(f'{k} {v}' for k, v in q['twins_merged_by_kind'].items())})", flush=True)
    if not args.quality_only:
        for n in [int(x) for x in args.sizes.split(",")]:
            for method_name in METHODS:
                result["cost"].append(scale(method_name, n, tune + holdout))
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
