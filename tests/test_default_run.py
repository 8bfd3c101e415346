"""`make run` on a machine without internet: every bundled source fails cleanly, the daemon keeps
running, records each attempt, and stops cleanly on SIGTERM. (All traffic goes to a closed port on
127.0.0.1 through the proxy settings, so the test itself sends nothing out.)"""

import json
import os
import signal
import sqlite3
import subprocess
import time

from conftest import REGWATCH

from regwatch.service.source_packs import load_source_pack


def test_embedded_default_without_network(tmp_path, rw):
    env = dict(os.environ, http_proxy="http://127.0.0.1:9", https_proxy="http://127.0.0.1:9",
               HTTP_PROXY="http://127.0.0.1:9", HTTPS_PROXY="http://127.0.0.1:9")
    env.pop("REGWATCH_CONFIG", None)
    p = subprocess.Popen([REGWATCH, "run"], cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    names = {s.name for s in load_source_pack("cn-finance")}
    try:
        deadline = time.time() + 60
        seen = set()
        while time.time() < deadline and seen != names:
            time.sleep(1)
            if (tmp_path / "regwatch.db").exists():
                try:
                    seen = {r[0] for r in sqlite3.connect(tmp_path / "regwatch.db").execute("SELECT source FROM source_runs")}
                except sqlite3.OperationalError:
                    pass
        assert p.poll() is None, "the daemon must keep running"
    finally:
        p.send_signal(signal.SIGTERM)
        out, err = p.communicate(timeout=40)
    assert p.returncode == 0
    assert "Traceback" not in err
    assert seen == names
    r = rw("sources", "--json", cwd=tmp_path, env={"REGWATCH_CONFIG": ""})
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert {row["source"] for row in rows} == names
    assert all(row["state"] != "ok" and row["errors"] for row in rows)
