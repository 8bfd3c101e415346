"""Full-text search at scale: regwatch's bigram index against the alternatives, on N stored articles.

    .venv/bin/python bench/search.py [--sizes 100000,1000000]

Articles are made of sentences of the labeled real reports in eval/ (three random sentences each),
so term frequencies are those of this field. Measured: the median time of `regwatch search` for
two-character terms (征信, 催收, 罚款, 助贷, 小贷), a four-character term and an English word; and,
as the baseline, SQLite's FTS5 trigram tokenizer (which returns nothing for two characters) and a
LIKE scan.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import tempfile
import time
from pathlib import Path

from regwatch.pipeline.searchtext import fts_text
from regwatch.pipeline.store import Store
from regwatch.service.queries import search

ROOT = Path(__file__).resolve().parent.parent
TERMS = ["征信", "催收", "罚款", "助贷", "小贷", "信用修复", "loan"]


def sentence_pool() -> list[str]:
    out = []
    for f in ("dev.jsonl",):
        for line in (ROOT / "eval" / f).read_text(encoding="utf-8").splitlines():
            if line.strip():
                out += [s for s in re.split(r"(?<=[。！？.!?])\s*", json.loads(line)["text"]) if len(s) > 8]
    return out


def build(path: Path, n: int, pool: list[str]) -> Store:
    store = Store(path)
    rng = random.Random(n)
    conn = store.conn
    conn.execute("CREATE VIRTUAL TABLE tri USING fts5(body, tokenize='trigram')")
    conn.execute("BEGIN")
    rows, fts, tri = [], [], []
    for i in range(1, n + 1):
        body = " ".join(rng.sample(pool, 3)) + f" 编号{i}"
        rows.append((i, f"http://bench/{i}", "bench", f"标题{i}", body, "2025-01-01T00:00:00+00:00", i))
        fts.append((i, f"标题{i}", fts_text(body)))
        tri.append((i, body))
        if len(rows) >= 20000:
            _flush(conn, rows, fts, tri)
            rows, fts, tri = [], [], []
    _flush(conn, rows, fts, tri)
    conn.execute("COMMIT")
    conn.execute("INSERT INTO articles_fts(articles_fts) VALUES ('optimize')")
    return store


def _flush(conn, rows, fts, tri):
    conn.executemany("INSERT INTO articles (id, url, source, title, body, fetched_at, story_id) VALUES (?,?,?,?,?,?,?)", rows)
    conn.executemany("INSERT INTO articles_fts(rowid, title, body) VALUES (?,?,?)", fts)
    conn.executemany("INSERT INTO tri(rowid, body) VALUES (?,?)", tri)


def timed(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) * 1000, result


def bench(n: int, pool: list[str]) -> dict:
    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        store = build(Path(d) / "s.db", n, pool)
        built = time.perf_counter() - t0
        size_mb = (Path(d) / "s.db").stat().st_size / 1e6
        rows = {}
        for term in TERMS:
            ms, res = timed(lambda term=term: search(store, term, limit=20))
            tri_ms, tri_res = timed(lambda term=term: store.conn.execute(
                "SELECT rowid FROM tri WHERE tri MATCH ? ORDER BY rank LIMIT 20", (f'"{term}"',)).fetchall())
            like_ms, like_res = timed(lambda term=term: store.conn.execute(
                "SELECT id FROM articles WHERE body LIKE ? LIMIT 20", (f"%{term}%",)).fetchall(), repeat=1)
            total = store.one("SELECT count(*) FROM articles_fts WHERE articles_fts MATCH ?", (f'"{fts_text(term)}"',))
            rows[term] = {"regwatch_ms": round(ms, 2), "matches": total, "returned": len(res),
                          "trigram_ms": round(tri_ms, 2), "trigram_returned": len(tri_res),
                          "like_first20_ms": round(like_ms, 2)}
            print(f"search {n:>8} {term:6} regwatch {ms:7.2f} ms ({total} matches, {len(res)} shown) | "
                  f"trigram {tri_ms:7.2f} ms ({len(tri_res)} shown) | LIKE {like_ms:7.2f} ms", flush=True)
        two = [rows[t]["regwatch_ms"] for t in TERMS if len(t) == 2]
        store.close()
    return {"articles": n, "build_s": round(built, 1), "db_mb": round(size_mb), "two_char_median_ms": statistics.median(two),
            "terms": rows}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--sizes", default="100000,1000000")
    ap.add_argument("--out", default="bench/out/search.json")
    args = ap.parse_args()
    pool = sentence_pool()
    out = [bench(int(n), pool) for n in args.sizes.split(",")]
    for r in out:
        print(f"search: {r['articles']} articles ({r['db_mb']} MB): two-character terms, median {r['two_char_median_ms']} ms")
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(out, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
