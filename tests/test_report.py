"""The report and Datasette: what users look at besides the chat."""

import asyncio
import html
import json
import os
import shutil
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from regwatch.pipeline.classify import Classifier, load_topics
from regwatch.pipeline.process import Processor
from regwatch.pipeline.store import Store
from regwatch.service.report import render

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def store(tmp_path, seed_articles):
    s = Store(tmp_path / "regwatch.db")
    p = Processor(s, Classifier(load_topics()))
    for a in seed_articles:
        p.process(url=f"http://x/{a['id']}", source="seed", title=a["title"], body=a["text"], lang=a["lang"],
                  published_at=datetime.now(UTC) - timedelta(days=int(a["id"][-1])), outlet=a.get("source"))
    s.update_source_state("seed", state="ok", last_success_at="2025-12-22T07:41:00+00:00")
    s.update_source_state("pbc-news", state="blocked", last_error="a JavaScript gate <script>alert(1)</script>")
    s.enqueue_alert(subscription="caps", channel="risk", story_id=1, article_id=1, idem_key="k1")
    return s


def test_report_is_self_contained_html_with_a_chart(store):
    page = render(store, datetime.now(UTC) - timedelta(days=30))
    assert page.startswith("<!DOCTYPE html>") and "<svg" in page and "polyline" in page
    assert "credit_repair" in page and "pbc-news" in page
    assert "<script>" not in page                       # text from the store is escaped
    assert "http://" not in page.replace("http://x/", "").replace("http://www.w3.org", "")  # nothing fetched at view time


def test_report_renders_in_headless_chromium(store, tmp_path):
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    if not browser:
        if os.environ.get("CI"):
            pytest.fail("CI installs Debian's chromium (.ci/run); it is missing")
        pytest.skip("no chromium here (CI installs it)")
    out = tmp_path / "report.html"
    out.write_text(render(store, datetime.now(UTC) - timedelta(days=30)), encoding="utf-8")
    shot = ROOT / "bench" / "out" / "report.png"
    shot.parent.mkdir(parents=True, exist_ok=True)
    r = subprocess.run([browser, "--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                        "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic",
                        f"--user-data-dir={tmp_path / 'profile'}", "--window-size=1000,1100",
                        f"--screenshot={shot}", out.as_uri()], capture_output=True, text=True, timeout=120)
    assert shot.exists() and shot.stat().st_size > 20_000, r.stderr[-500:]
    print(f"screenshot: {shot}")


def test_datasette_metadata_and_chinese_search(store):
    from datasette.app import Datasette

    ds = Datasette([store.path], metadata=json.loads(json.dumps(__import__("yaml").safe_load(
        (ROOT / "deploy/datasette/metadata.yml").read_text(encoding="utf-8")))),
        plugins_dir=str(ROOT / "deploy/datasette/plugins"))

    async def go():
        r = await ds.client.get("/regwatch/search.json?q=信用修复&_shape=objects")
        assert r.status_code == 200, r.text
        rows = r.json()["rows"]
        assert rows and all("修复" in x["title"] for x in rows), rows
        r = await ds.client.get("/regwatch/articles.json?_search=征信&_shape=objects")
        assert r.status_code == 200 and r.json()["rows"]
        r = await ds.client.get("/regwatch/source_health.json?_shape=objects")
        assert {x["source"] for x in r.json()["rows"]} >= {"seed", "pbc-news"}
    asyncio.run(go())


def test_a_long_error_is_cut_after_a_whole_word_and_shown_whole_on_hover(store):
    """The report sliced a source's last error at 160 characters mid-word (`…DNS lookup fai`); it is cut as `sources`
    cuts it on a terminal, after a whole word with `…`, and the whole error is the cell's title, escaped."""
    error = ('list page https://www.example.gov.cn/"news"/list.html: DNS lookup failed: no results for the host name '
             "www.example.gov.cn <from the resolver>, retried repeatedly during two minutes before giving up")
    assert len(error) > 160 and " " not in error[158:160]      # 159 characters and … end inside a word
    store.update_source_state("long-error", state="error", last_error=error)
    page = render(store, datetime.now(UTC) - timedelta(days=30))
    row = next(r for r in page.split("<tr") if "long-error" in r)
    cell = row[row.index("<td title="):]
    title, shown = cell.split(">", 1)[0], cell.split(">", 1)[1].split("</td>")[0]
    assert title == f'<td title="{html.escape(error)}"'                       # the whole of it, quotes and <> escaped
    assert shown.endswith("…") and len(html.unescape(shown)) <= 160
    assert error.startswith(html.unescape(shown)[:-1] + " ")                  # a whole word before the …
