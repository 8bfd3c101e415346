"""`regwatch why` tells where each alert is, as `regwatch alerts` does: `alerted` only once the channel took it; an
alert a broken channel refused (`refused`, with since when the channel is broken and what it answered), one waiting
for its subscription's digest (`pending in digest`, with its time) and one waiting out a retry (`retrying`, with
until when) are each said so — never `alerted` (first-hour review F9)."""

import json
import re

from conftest import regwatch
from support.config import chat, write_config
from test_delivery import deliver, publish

from regwatch.pipeline.store import Store
from regwatch.service.config import load_config


def test_why_says_refused_digest_pending_and_retrying_not_alerted(tmp_path, receiver):
    path = write_config(tmp_path, channels=[chat(receiver, "gone", "slack"), chat(receiver, "later"),
                                            chat(receiver, "flaky"), chat(receiver, "fine")],
                        subscriptions=[{"name": "caps", "topics": ["rate_cap"], "channels": ["gone", "flaky", "fine"]},
                                       {"name": "daily", "topics": ["rate_cap"], "channels": ["later"],
                                        "digest": "daily"}])
    cfg = load_config(path)
    store = Store(cfg.store.path)
    try:
        [done] = publish(cfg, store, 1)
        receiver.fail = {"gone": ["broken"], "flaky": ["500"]}
        deliver(cfg, store, wait=1)
    finally:
        store.close()
    assert [m["answer"] for m in receiver.messages if m["route"] == "gone"] == ["broken"]

    r = regwatch("why", str(done.article_id), "--json", "-c", path)
    assert r.returncode == 0, r.stderr
    v = {s["channel"]: s for s in json.loads(r.stdout)["subscriptions"]}
    assert v["fine"]["outcome"] == "alerted" and v["fine"]["alert"]["status"] == "sent"
    assert v["gone"]["outcome"] == "refused" and v["gone"]["alert"]["status"] == "broken"
    assert v["later"]["outcome"] == "pending in digest" and v["later"]["alert"]["status"] == "digest"
    assert v["flaky"]["outcome"] == "retrying" and v["flaky"]["alert"]["status"] == "retry"

    r = regwatch("why", str(done.article_id), "-c", path)
    assert r.returncode == 0, r.stderr
    lines = {ln.split()[1]: ln for ln in r.stdout.splitlines() if re.match(r"(caps|daily)\s", ln)}
    assert re.search(r"\brefused\s+refused: channel broken since 20\d\d-.*: HTTP 404 channel_not_found", lines["gone"])
    assert re.search(r"\bpending in digest\s+digest pending: it goes out 20\d\d-", lines["later"])
    assert re.search(r"\bretrying\s+retrying at 20\d\d-.*: HTTP 500", lines["flaky"])
    assert re.search(r"\balerted\s+sent 20\d\d-", lines["fine"])
    assert "alerted" not in lines["gone"] + lines["later"] + lines["flaky"]
