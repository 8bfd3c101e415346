"""Extraction benchmark: regwatch against trafilatura alone, same pages, same run.

    .venv/bin/python bench/extraction.py [--out bench/out/extraction.json]

Sets (bench/data, each with its LICENSE and PROVENANCE.md): the article-extraction benchmark (181 pages, English, body truth),
chinese-web-content-extraction (69 Chinese pages, body and date truth), gne-test-pages (62
Chinese article pages, title and date truth). Body F1 is the benchmark's shingle metric (word
4-grams; character 4-grams for Chinese). Baselines: trafilatura fed the raw bytes (what a naive
integration does) and fed text decoded with the page's declared charset.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
import score  # noqa: E402
import trafilatura  # noqa: E402

from regwatch.pipeline.decode import decode_html  # noqa: E402
from regwatch.pipeline.extract import ExtractError, extract_bytes  # noqa: E402

DATA = Path(__file__).resolve().parent / "data"


def english():
    root = DATA / "article-extraction-benchmark"
    truth = json.loads((root / "ground-truth.json").read_text(encoding="utf-8"))
    for key, t in truth.items():
        yield key, gzip.decompress((root / "html" / f"{key}.html.gz").read_bytes()), t["articleBody"], None, None


def chinese():
    root = DATA / "chinese-web-content-extraction"
    body = json.loads((root / "eval" / "cleaned_ground.json").read_text(encoding="utf-8"))
    dates = json.loads((root / "eval" / "date_ground.json").read_text(encoding="utf-8"))
    for key, t in body.items():
        d = (dates.get(key) or {}).get("articleBody", "")
        m = re.match(r"\s*(\d{4})-(\d{1,2})-(\d{1,2})", d or "")
        day = f"{int(m[1]):04d}-{int(m[2]):02d}-{int(m[3]):02d}" if m else None
        yield key, (root / "original" / f"{key}.html").read_bytes(), t["articleBody"], None, day


def gne():
    root = DATA / "gne-test-pages"
    truth = json.loads((root / "ground-truth-title-date.json").read_text(encoding="utf-8"))["pages"]
    for rel, t in truth.items():
        yield rel, gzip.decompress((root / rel).read_bytes()), None, t["title"], t.get("publish_date")


def run_regwatch(raw: bytes):
    try:
        ex = extract_bytes(raw)
    except ExtractError:
        return "", "", None
    return ex.body, ex.title, ex.published_at.date().isoformat() if ex.published_at else None


def run_trafilatura(raw: bytes, decoded: bool):
    doc = trafilatura.bare_extraction(decode_html(raw)[0] if decoded else raw, with_metadata=True)
    if not doc:
        return "", "", None
    return doc.text or "", doc.title or "", doc.date[:10] if doc.date else None


SYSTEMS = {
    "regwatch": run_regwatch,
    "trafilatura (raw bytes)": lambda raw: run_trafilatura(raw, False),
    "trafilatura (decoded)": lambda raw: run_trafilatura(raw, True),
}


def bench(name, pages, chars):
    out = {}
    for sysname, fn in SYSTEMS.items():
        for _, raw, *_ in pages[:3]:   # warm up (dateparser's locales, regex caches) outside the timing
            fn(raw)
        rows, titles, dates, n_title, n_date = [], 0, 0, 0, 0
        t0 = time.perf_counter()
        results = [(fn(raw), truth_body, truth_title, truth_day) for _, raw, truth_body, truth_title, truth_day in pages]
        elapsed = time.perf_counter() - t0
        for (body, title, day), truth_body, truth_title, truth_day in results:
            if truth_body is not None:
                rows.append(score.match(truth_body, body, chars))
            if truth_title:
                n_title += 1
                titles += title.strip() == truth_title.strip()
            if truth_day:
                n_date += 1
                dates += day == truth_day
        r = {"pages": len(pages), "pages_per_s": round(len(pages) / elapsed, 1)}
        if rows:
            r.update({k: round(v, 3) for k, v in score.prf(rows).items()})
        if n_title:
            r["titles_exact"] = round(titles / n_title, 3)
        if n_date:
            r["dates_day"] = round(dates / n_date, 3)
            r["dates_with_truth"] = n_date
        out[sysname] = r
        print(f"{name:10} {sysname:26} " + "  ".join(f"{k}={v}" for k, v in r.items()), flush=True)
    return out


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", default="bench/out/extraction.json")
    args = ap.parse_args()
    import logging
    logging.disable(logging.WARNING)
    result = {"english": bench("english", list(english()), False),
              "chinese": bench("chinese", list(chinese()), True),
              "gne": bench("gne", list(gne()), True)}
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1, ensure_ascii=False))


if __name__ == "__main__":
    main()
