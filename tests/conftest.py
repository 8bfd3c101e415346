import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support.servers import Receiver, Site

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
REGWATCH = str(Path(sys.executable).parent / "regwatch")
sys.path.insert(0, str(Path(__file__).parent))


@pytest.fixture
def site():
    s = Site()
    yield s
    s.stop()


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.stop()


def regwatch(*args, cwd=None, env=None, timeout=180, input=None):
    """Run the real `regwatch` command (crawls need a fresh process: the reactor runs once per process)."""
    e = dict(os.environ)
    e.update(env or {})
    return subprocess.run([REGWATCH, *map(str, args)], cwd=cwd, env=e, capture_output=True, text=True,
                          timeout=timeout, input=input)


@pytest.fixture
def rw():
    return regwatch


@pytest.fixture
def seed_articles():
    path = FIXTURES / "seed-articles" / "articles.jsonl"
    return [json.loads(l) for l in path.read_text(encoding="utf-8").splitlines() if l.strip()]
