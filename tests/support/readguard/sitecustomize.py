"""Tests read only the repository: an audit hook (sys.addaudithook) that records every file,
directory or SQLite database a Python process opens outside the repository, its virtualenv and
Python installation, the temporary directory, and the system's own (/etc, /usr, /dev, /proc, /sys);
beside the repository (a sibling folder or checkout) counts as outside even under /tmp.

tests/conftest.py installs it in the pytest process and, through PYTHONPATH (this file is a
`sitecustomize`), in every Python process a test starts (`regwatch`, `datasette`); those write
what they saw to $REGWATCH_READ_GUARD_LOG. A test that read outside fails (tests/conftest.py).
"""

from __future__ import annotations

import os
import sys
import tempfile

ENV_ROOT = "REGWATCH_READ_GUARD_ROOT"
ENV_LOG = "REGWATCH_READ_GUARD_LOG"
# the system's own files; /var/db/zoneinfo: where tzlocal (APScheduler) looks for the local time zone
SYSTEM = ("/etc", "/usr", "/lib", "/lib64", "/dev", "/proc", "/sys", "/run", "/var/db/zoneinfo")
EVENTS = {"open", "os.listdir", "os.scandir", "sqlite3.connect", "sqlite3.connect/handle"}
OFF = False     # set by tests/conftest.py in a pytest process (an xdist worker) that watches itself in-process


PYTHON = tuple({os.path.realpath(p) for p in (sys.prefix, sys.exec_prefix, sys.base_prefix, sys.base_exec_prefix)})


def allowed_roots(repo: str) -> tuple[str, ...]:
    """Where a test may read besides the repository: Python (the venv and the installation), /tmp, the system."""
    return tuple(sorted({*PYTHON, *(os.path.realpath(r) for r in (tempfile.gettempdir(), "/tmp", *SYSTEM))}))


def _under(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip("/") + "/")


def outside(path, repo: str, roots: tuple[str, ...]) -> str | None:
    """The real path when it lies outside the repository and every root, else None. Beside the
    repository (its parent folder, a sibling checkout) is outside even under /tmp."""
    if isinstance(path, int) or path is None:
        return None
    if isinstance(path, bytes):
        path = os.fsdecode(path)
    path = os.fspath(path)
    if path.startswith("file:"):   # an SQLite URI
        path = path[5:].split("?")[0]
    if not path or path == ":memory:":
        return None
    real = os.path.realpath(path)
    if _under(real, repo) or any(_under(real, p) for p in PYTHON):
        return None
    parent = os.path.dirname(repo)
    if _under(real, parent) and parent not in roots:
        return real
    return None if any(_under(real, r) for r in roots) else real


def install(repo: str, report) -> None:
    """Call `report(event, real_path)` for every read outside the roots."""
    repo, roots = os.path.realpath(repo), allowed_roots(repo)
    busy = False

    def hook(event, args):
        nonlocal busy
        if event not in EVENTS or busy or not args:
            return
        busy = True
        try:
            where = outside(args[0], repo, roots)
            if where is not None:
                report(event, where)
        except Exception:   # the guard never breaks what it watches
            pass
        finally:
            busy = False

    sys.addaudithook(hook)


def _from_env() -> None:
    repo, log = os.environ.get(ENV_ROOT), os.environ.get(ENV_LOG)
    if not repo or not log:
        return

    def report(event, where):
        if OFF:
            return
        with open(log, "a", encoding="utf-8") as f:
            f.write(f"{os.getpid()} {' '.join(sys.argv[:2])}: {event} {where}\n")

    install(repo, report)


if __name__ == "sitecustomize":     # (not when tests/conftest.py loads this file as a module)
    _from_env()
