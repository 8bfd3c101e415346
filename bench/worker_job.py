"""An extraction worker's job on the light burst's pages, in this process: `--dump FILE` writes what it
produces for each page (the extracted text/title/date, the reading's story keys, tags and evidence) as JSON
lines, to diff two versions byte for byte; `--profile` prints where its CPU goes (cProfile); `--stages` the CPU
ms per article of each stage, timed apart (no profiler's overhead); without any, the CPU ms per article of
`--reps` passes over the pages (the encoder's cache warm after the first).

    PYTHONPATH=src python bench/worker_job.py --dump /tmp/before.jsonl
    PYTHONPATH=src python bench/worker_job.py --profile
    PYTHONPATH=src python bench/worker_job.py --stages --reps 3
"""

from __future__ import annotations

import argparse
import cProfile
import dataclasses
import json
import logging
import pstats
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from flow import article_page, config, light_articles  # noqa: E402

PUBLISHED = datetime(2026, 12, 1, 9, 30, tzinfo=timezone(timedelta(hours=8)))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--light", type=int, default=400, help="articles (the light burst's)")
    ap.add_argument("--dump", help="write each page's outputs here (JSON lines)")
    ap.add_argument("--profile", action="store_true", help="print where the CPU goes")
    ap.add_argument("--stages", action="store_true", help="CPU ms per article of each stage")
    ap.add_argument("--reps", type=int, default=3, help="passes to time")
    args = ap.parse_args()

    from regwatch.pipeline import reading
    from regwatch.pipeline.extract import extract_job
    from regwatch.service.app import load_classifier
    from regwatch.service.config import load_config

    logging.disable(logging.WARNING)
    arts = light_articles(args.light)
    for a in arts:  # one fixed moment (not the run's): two runs' dumps compare byte for byte
        a["when"] = PUBLISHED
    jobs = [
        {
            "body": article_page(a).body,
            "url": f"http://127.0.0.1/a/{a['id']}.html",
            "content_type": "text/html; charset=utf-8",
            "tz": "Asia/Shanghai",
        }
        for a in arts
    ]
    with tempfile.TemporaryDirectory() as d:
        cfg = load_config(config(Path(d), '[[sources]]\nname = "light"\nkind = "feed"\nurl = "http://127.0.0.1:9/f"\n'))
        classifier = load_classifier(cfg)
        if classifier is not None:
            classifier.prepare()
        reading._classifier = classifier

        def one(job: dict) -> dict:
            result = extract_job(job)
            if result["ok"]:
                reading.read_in_worker(job, result)
            return result

        for job in jobs[:5]:  # warm
            one(job)
        if args.dump:
            with open(args.dump, "w", encoding="utf-8") as f:
                for job in jobs:
                    r = one(job)
                    rd = r.pop("reading", None)
                    if rd is not None:
                        rd = dataclasses.asdict(rd)
                        rd["shingles"] = sorted(rd["shingles"])
                    f.write(json.dumps({"result": r, "reading": rd}, ensure_ascii=False, sort_keys=True, default=str) + "\n")
        if args.profile:
            prof = cProfile.Profile()
            prof.enable()
            for job in jobs:
                one(job)
            prof.disable()
            pstats.Stats(prof).sort_stats("cumulative").print_stats(60)
            pstats.Stats(prof).sort_stats("tottime").print_stats(40)
        if args.stages:
            stages(jobs, classifier, args.reps)
        if not args.dump and not args.profile and not args.stages:
            for _ in range(args.reps):
                c0 = time.process_time()
                for job in jobs:
                    one(job)
                print(f"{(time.process_time() - c0) / len(jobs) * 1000:.2f} ms CPU an article", flush=True)


def stages(jobs: list[dict], classifier, reps: int) -> None:
    """CPU ms per article of each of a worker's stages, each timed over all the pages."""
    import trafilatura

    from regwatch.pipeline import meaning
    from regwatch.pipeline.article import Article
    from regwatch.pipeline.extract import extract_job
    from regwatch.pipeline.normalize import web_text
    from regwatch.pipeline.stories import article_keys

    def ms(f, items: list) -> float:
        c0 = time.process_time()
        for x in items:
            f(x)
        return round((time.process_time() - c0) / len(items) * 1000, 2)

    def views(a: Article) -> tuple:
        return a.title_text, a.text, a.content_hash, a.shingles, a.clean_title, a.search_title, a.search_text

    results = [extract_job(j) for j in jobs]
    texts = [(web_text(r["title"]), web_text(r["body"])) for r in results]
    bodies = [j["body"] for j in jobs]
    for _ in range(reps):
        out = {
            "trafilatura alone": ms(trafilatura.extract, bodies),
            "extraction (decode, trafilatura, second pass, metadata)": ms(extract_job, jobs),
        }
        arts = [Article(t, b) for t, b in texts]
        out["normalization and the article's views (hash, shingles, search text)"] = ms(views, arts)
        out["story keys"] = ms(article_keys, arts)
        if classifier is not None:
            fields = [{"title": a.title_text, "body": a.text} for a in arts]
            out["rules (explain_fields)"] = ms(classifier.explain_fields, fields)
            meaning.encoded.cache_clear()
            out["tagging, the encoder included"] = ms(classifier.classify_article, arts)
            out["tagging, the encoder's readings cached"] = ms(classifier.classify_article, arts)
        print(json.dumps(out, ensure_ascii=False), flush=True)


if __name__ == "__main__":
    main()
