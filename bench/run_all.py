"""`make bench`: every benchmark, each against its baseline in the same run; a table at the end.

Sizes are chosen so that the whole run stays under ten minutes on 2 cores; the README quotes the
larger runs (stories and search at 1,000,000 articles, 100 daemon cycles) with the commands that
produced them.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
OUT = HERE / "out"
PY = sys.executable

STEPS = [
    ("extraction", [PY, str(HERE / "extraction.py")]),
    ("classifier", [PY, str(HERE / "classifier.py")]),
    ("stories", [PY, str(HERE / "stories.py"), "--sizes", "10000,100000"]),
    ("search", [PY, str(HERE / "search.py"), "--sizes", "100000"]),
    ("flow", [PY, str(HERE / "flow.py"), "--cycles", "50"]),
    ("workers", [PY, str(HERE / "workers.py")]),
]


def main() -> None:
    OUT.mkdir(exist_ok=True)
    t0 = time.time()
    for name, cmd in STEPS:
        print(f"== {name}", flush=True)
        subprocess.run(cmd, check=True, cwd=HERE.parent)
    print(f"\n== all benchmarks in {time.time() - t0:.0f} s; results in {OUT}/*.json")
    for f in sorted(OUT.glob("*.json")):
        print(f"{f.name}: {json.dumps(json.loads(f.read_text()), ensure_ascii=False)[:400]}")


if __name__ == "__main__":
    main()
