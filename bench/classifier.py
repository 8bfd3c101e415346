"""Classifier speed: articles of ~2 KB tagged per second on one core — the packs' rules, and the rules
with the bundled learned stage (the default) — and the cost against the number of terms (the bundled
pack vs the same pack with 10,000 extra terms).

    .venv/bin/python bench/classifier.py
"""

from __future__ import annotations

import json
import random
import time
from pathlib import Path

from regwatch.pipeline.classify import Classifier, load_topics, parse_pack
from regwatch.pipeline.learned import bundled_model

ROOT = Path(__file__).resolve().parent.parent


def corpus(n: int = 2000) -> list[tuple[str, str]]:
    items = [json.loads(line) for f in ("dev.jsonl",)
             for line in (ROOT / "eval" / f).read_text(encoding="utf-8").splitlines() if line.strip()]
    rng = random.Random(0)
    docs = []
    for _ in range(n):
        parts = rng.sample(items, 6)
        text = "\n".join(p["text"] for p in parts)
        while len(text.encode()) < 2048:
            text += "\n" + rng.choice(items)["text"]
        cut = text.encode()[:2048].decode("utf-8", "ignore")   # 2 KB of UTF-8
        docs.append((parts[0]["title"], cut))
    return docs


def rate(clf: Classifier, docs) -> float:
    for t, b in docs[:50]:
        clf.classify(t, b)
    t0 = time.perf_counter()
    for t, b in docs:
        clf.classify(t, b)
    return len(docs) / (time.perf_counter() - t0)


def main() -> None:
    docs = corpus()
    base = Classifier(load_topics())
    big_topics = load_topics() + parse_pack({"topics": {"extra": {"threshold": 99, "signals": [
        {"terms": [f"术语{i}号" for i in range(10000)], "weight": 1}]}}}, "extra.toml")
    big = Classifier(big_topics)
    topics = load_topics()
    learned = Classifier(topics, model=bundled_model(["cn-consumer-finance"], topics))
    r1, r2, r3 = rate(base, docs), rate(big, docs), rate(learned, docs)
    kb = sum(len((t + b).encode()) for t, b in docs) / len(docs) / 1024
    out = {"docs": len(docs), "avg_kb": round(kb, 2), "docs_per_s": round(r1), "docs_per_s_with_10k_more_terms": round(r2),
           "docs_per_s_with_the_learned_stage": round(r3)}
    print(f"classifier: {r1:.0f} docs/s ({kb:.1f} KB each, one core); with 10,000 more terms {r2:.0f} docs/s; "
          f"rules and the learned stage {r3:.0f} docs/s")
    (ROOT / "bench" / "out").mkdir(parents=True, exist_ok=True)
    (ROOT / "bench" / "out" / "classifier.json").write_text(json.dumps(out))


if __name__ == "__main__":
    main()
