"""deploy/: Datasette as compose.yaml runs it, on a store a running regwatch daemon is writing."""

import json
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import yaml
from conftest import REGWATCH, ROOT
from support.news import art, feed_to_webhook_config, publish

DATASETTE = str(Path(sys.executable).parent / "datasette")
COMPOSE = yaml.safe_load((ROOT / "deploy" / "compose.yaml").read_text(encoding="utf-8"))
OLD = "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定，零售业务占比提升。"
NEW = "中国人民银行宣布实施一次性信用修复政策，符合条件的个人逾期记录将不予展示，征信修复骗局需警惕。"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def compose_command(store: Path, port: int) -> list[str]:
    """compose.yaml's Datasette command line, with the container's paths and address mapped to this machine."""
    service = COMPOSE["services"]["datasette"]
    here = {"/data/regwatch.db": str(store), "0.0.0.0": "127.0.0.1", "8001": str(port), "datasette": DATASETTE}
    cmd = [here.get(a, a) for a in service["command"]]
    return [a.replace("/etc/regwatch/datasette", str(ROOT / "deploy" / "datasette")) for a in cmd]


def get_json(url: str):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())


def test_compose_opens_the_live_store_read_only_but_not_immutable():
    service = COMPOSE["services"]["datasette"]
    assert "--immutable" not in service["command"] and "-i" not in service["command"]
    assert service["build"]["target"] == "browse"
    assert "regwatch-data:/data" in service["volumes"]   # not :ro — a WAL reader shares the -shm index
    assert "--plugins-dir" in service["command"] and "-m" in service["command"]


def test_datasette_reads_fresh_rows_of_a_store_the_daemon_is_writing(tmp_path, site, receiver):
    publish(site, {"feed": [art("old", "银行发布年度报告", OLD, 100)]})
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    store = tmp_path / "rw.db"          # not regwatch.db: the metadata must apply whatever the name
    daemon = subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    ds = None
    try:
        deadline = time.time() + 60
        while time.time() < deadline and not (store.exists() and site.requests("/a/old")):
            time.sleep(0.2)
        assert site.requests("/a/old"), "the baseline crawl did not happen"
        port = free_port()
        ds = subprocess.Popen(compose_command(store, port), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        base = f"http://127.0.0.1:{port}"
        rows_url = f"{base}/rw/articles.json?_shape=array&_col=title&_sort_desc=id"
        rows = None
        while time.time() < deadline and rows is None:
            try:
                rows = [r["title"] for r in get_json(rows_url)]
            except OSError:
                time.sleep(0.3)
        assert rows is not None, ds.stderr.read() if ds.poll() is not None else "datasette did not answer"
        while time.time() < deadline and "银行发布年度报告" not in rows:
            time.sleep(0.3)
            rows = [r["title"] for r in get_json(rows_url)]
        assert "银行发布年度报告" in rows

        # a row the daemon writes now, while Datasette keeps running
        publish(site, {"feed": [art("old", "银行发布年度报告", OLD, 100), art("new", "央行推出一次性信用修复政策", NEW, 1)]})
        deadline = time.time() + 60
        while time.time() < deadline and "央行推出一次性信用修复政策" not in rows:
            time.sleep(0.3)
            rows = [r["title"] for r in get_json(rows_url)]
        assert "央行推出一次性信用修复政策" in rows, rows

        # the canned Chinese search (plugin + metadata) on a database not called regwatch
        q = urllib.parse.quote("信用修复")
        found = get_json(f"{base}/rw/search.json?q={q}&_shape=array")
        assert [r["title"] for r in found] == ["央行推出一次性信用修复政策"]
        table = get_json(f"{base}/-/metadata.json")["databases"]["rw"]["tables"]["articles"]
        assert table["fts_table"] == "articles_fts"
    finally:
        if ds is not None:
            ds.terminate()
            ds.communicate(timeout=20)
        daemon.send_signal(signal.SIGTERM)
        out, err = daemon.communicate(timeout=40)
    assert daemon.returncode == 0, err[-2000:]


def test_compose_workers_share_one_postgresql_store_through_their_example_config(tmp_path, pg_url, rw):
    """compose.yaml's `postgres` profile: two workers, each with regwatch.workers.example.toml, on the
    `postgres` service's database; the config, with that database at this test server's address, baselines."""
    workers = {name: s for name, s in COMPOSE["services"].items() if name.startswith("worker-")}
    assert len(workers) >= 2 and all(s["profiles"] == ["postgres"] for s in workers.values())
    mounts = {v.split(":")[0] for s in workers.values() for v in s["volumes"]}
    assert mounts == {"./regwatch.workers.example.toml"}
    db = COMPOSE["services"]["postgres"]["environment"]
    text = (ROOT / "deploy" / "regwatch.workers.example.toml").read_text(encoding="utf-8")
    url = f"postgresql://{db['POSTGRES_USER']}:${{POSTGRES_PASSWORD}}@postgres:5432/{db['POSTGRES_DB']}"
    assert url in text
    here = urllib.parse.urlsplit(pg_url)            # the test server: user postgres, no password
    cfg = tmp_path / "rw.toml"
    cfg.write_text(text.replace(url, f"postgresql://postgres:${{POSTGRES_PASSWORD}}@{here.netloc.split('@')[1]}{here.path}")
                   .replace('source_packs = ["cn-finance"]', "source_packs = []"), encoding="utf-8")
    out = rw("sources", "-c", cfg, env={"POSTGRES_PASSWORD": "unused"})
    assert out.returncode == 0, out.stderr
