"""Story detection: quality on copies made from real articles, and cost per article as the store grows.

    .venv/bin/python bench/stories.py [--sizes 10000,100000,1000000] [--quality-only]

Quality: every labeled article in eval/ (real reports) is republished four ways — a reprint note,
a new headline with a trimmed lead, a 70% excerpt, its sentences reordered — and each copy must join
its original; every pair of distinct articles must stay apart; a "template twin" (the same text
with other figures or another institution) must never join. Cost: a synthetic store of N articles,
then the time to assign 200 new articles, at each size.
"""

from __future__ import annotations

import argparse
import itertools
import json
import random
import re
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

from regwatch.pipeline.stories import StoryIndex, same_story, shingles
from regwatch.pipeline.store import Store
from regwatch.pipeline.timeutil import iso, utcnow

ROOT = Path(__file__).resolve().parent.parent


def sentences(text: str) -> list[str]:
    return [s for s in re.split(r"(?<=[。！？.!?])\s*", text) if s.strip()]


def _trim_lead(body: str) -> str:
    """Drop the opening clause, as an editor trims a lead: at a comma after the first fifth."""
    m = re.compile(r"[，,；;]").search(body, len(body) // 5)
    return body[m.end():] if m else body


def copies(item: dict) -> dict[str, tuple[str, str]]:
    t, body = item["title"], item["text"]
    ss = sentences(body)
    rng = random.Random(item["id"])
    shuffled = ss[:]
    rng.shuffle(shuffled)
    keep = max(1, int(len(body) * 0.7))
    return {
        "reprint": ("转载：" + t, "（本文转载自" + rng.choice(["财经网", "经济观察网", "新浪财经"]) + "）\n" + body + "\n（责任编辑：李华）"),
        "new_headline_trimmed_lead": (t[len(t) // 3:] + "｜深度", " ".join(ss[1:]) if len(ss) > 2 else _trim_lead(body)),
        "excerpt_70": (t, body[:keep]),
        "reordered": (t, " ".join(shuffled)),
    }


_NUM = re.compile(r"\d+(?:\.\d+)?")


def twin(item: dict) -> tuple[str, str] | None:
    """The same notice with other figures, or another institution: a different story."""
    body = item["text"]
    if _NUM.search(body):
        return item["title"], _NUM.sub(lambda m: str(int(float(m.group(0))) + 7), body, count=2)
    m = re.search(r"[\u4e00-\u9fff]{2,6}(银行|公司|分行)", body)
    if m:
        return item["title"], body.replace(m.group(0), "另一家" + m.group(1))
    return None


def quality(items: list[dict]) -> dict:
    joined = {k: [0, 0] for k in ("reprint", "new_headline_trimmed_lead", "excerpt_70", "reordered")}
    for it in items:
        for kind, (t, b) in copies(it).items():
            joined[kind][0] += same_story(it["title"], it["text"], t, b)[0]
            joined[kind][1] += 1
    apart = total = 0
    for a, b in itertools.combinations(items, 2):
        total += 1
        apart += not same_story(a["title"], a["text"], b["title"], b["text"])[0]
    twins = merged = 0
    for it in items:
        tw = twin(it)
        if tw:
            twins += 1
            merged += same_story(it["title"], it["text"], *tw)[0]
    n_copies = sum(v[1] for v in joined.values())
    return {"articles": len(items), "copies_joined": round(sum(v[0] for v in joined.values()) / n_copies, 4),
            "by_kind": {k: round(v[0] / v[1], 4) for k, v in joined.items()},
            "distinct_pairs": total, "distinct_apart": round(apart / total, 5),
            "template_twins": twins, "twins_merged": merged}


def synthetic_store(path: Path, n: int) -> Store:
    """N stored articles with their sketches (random Chinese text; only the index's size matters)."""
    store = Store(path)
    rng = random.Random(n)
    now = iso(utcnow())
    conn = store.conn
    conn.execute("DROP INDEX story_bands_key")        # bulk load first, index after: minutes faster
    conn.execute("BEGIN")
    batch_a, batch_b = [], []
    for i in range(1, n + 1):
        batch_a.append((i, f"http://bench/{i}", "bench", now, i))
        batch_b.extend((0, rng.getrandbits(31), i, now) for _ in range(ANCHORS))
        if len(batch_a) >= 20000:
            conn.executemany("INSERT INTO articles (id, url, source, fetched_at, story_id) VALUES (?,?,?,?,?)", batch_a)
            conn.executemany("INSERT INTO story_bands (band, hash, article_id, seen_at) VALUES (?,?,?,?)", batch_b)
            batch_a, batch_b = [], []
    if batch_a:
        conn.executemany("INSERT INTO articles (id, url, source, fetched_at, story_id) VALUES (?,?,?,?,?)", batch_a)
        conn.executemany("INSERT INTO story_bands (band, hash, article_id, seen_at) VALUES (?,?,?,?)", batch_b)
    conn.execute("COMMIT")
    conn.execute("CREATE INDEX story_bands_key ON story_bands(band, hash, seen_at, article_id)")
    return store


def cost(sizes: list[int], items: list[dict]) -> list[dict]:
    out = []
    for n in sizes:
        with tempfile.TemporaryDirectory() as d:
            t0 = time.perf_counter()
            store = synthetic_store(Path(d) / "s.db", n)
            built = time.perf_counter() - t0
            idx = StoryIndex(store)
            probe = (items * 3)[:200]
            rounds = []
            for r in range(4):   # the first round warms the page cache; the median of the rest counts
                t0 = time.perf_counter()
                for k, it in enumerate(probe):
                    match, anc = idx.find(it["title"], it["text"] + f"（{r}）", f"h{r}-{k}")
                    idx.index(10_000_000 + r * 1000 + k, anc)   # (band, hash) keys
                rounds.append((time.perf_counter() - t0) / len(probe))
            per = statistics.median(rounds[1:])
            out.append({"stored": n, "ms_per_article": round(per * 1000, 3), "build_s": round(built, 1)})
            print(f"stories: {n:>9} stored  {per * 1000:7.3f} ms per new article  (store built in {built:.1f} s)", flush=True)
            store.close()
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="10000,100000,1000000")
    ap.add_argument("--quality-only", action="store_true")
    ap.add_argument("--out", default="bench/out/stories.json")
    args = ap.parse_args()
    items = [json.loads(l) for f in ("labeled-tune.jsonl", "labeled-holdout.jsonl")
             for l in (ROOT / "eval" / f).read_text(encoding="utf-8").splitlines() if l.strip()]
    q = quality(items)
    print("stories quality:", json.dumps(q, ensure_ascii=False))
    result = {"quality": q}
    if not args.quality_only:
        result["cost"] = cost([int(x) for x in args.sizes.split(",")], items)
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
