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


def refused_waiting_and_retrying(tmp_path, receiver):
    """One article matching four channels: Slack's refuses it (404 channel_not_found: broken), one waits for its
    digest, one answered HTTP 500 (retrying), one took it; the config's path and the article's id."""
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
    return path, done


def test_why_says_refused_digest_pending_and_retrying_not_alerted(tmp_path, receiver):
    path, done = refused_waiting_and_retrying(tmp_path, receiver)

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


def test_alerts_channel_shows_the_channel_state_and_only_its_alerts(tmp_path, receiver):
    """`alerts --channel NAME` (as `alerts resend` has): the channel's state first (broken since when and what it
    answered, or ok since when), then its alerts only; `--stats` has each channel's state now (review F2)."""
    path, _ = refused_waiting_and_retrying(tmp_path, receiver)
    r = regwatch("alerts", "--channel", "gone", "-c", path)
    assert r.returncode == 0, r.stderr
    first, *rest = r.stdout.splitlines()
    assert re.match(r"channel gone: broken since 20\d\d-.*: HTTP 404 channel_not_found", first), r.stdout
    assert any(" broken " in ln and " gone " in ln for ln in rest), r.stdout
    assert not any(name in r.stdout for name in (" fine ", " later ", " flaky ")), r.stdout
    r = regwatch("alerts", "--channel", "fine", "--json", "-c", path)
    assert r.returncode == 0, r.stderr
    rows = [json.loads(ln) for ln in r.stdout.splitlines()]
    assert [(x["channel"], x["status"]) for x in rows] == [("fine", "sent")]
    r = regwatch("alerts", "--channel", "flaky", "-c", path)        # HTTP 500: not broken, but not OK either
    assert re.match(r"channel flaky: failing: its messages are tried again from 20\d\d-", r.stdout), r.stdout
    r = regwatch("alerts", "--channel", "fine", "-c", path)
    assert re.match(r"channel fine: (ok since 20\d\d-|no answer recorded yet)", r.stdout), r.stdout
    r = regwatch("alerts", "--channel", "nope", "-c", path)
    assert r.returncode == 2 and "no channel named 'nope'; configured: fine, flaky, gone, later" in r.stderr
    r = regwatch("alerts", "--stats", "-c", path)
    assert r.returncode == 0, r.stderr
    assert re.search(r"^gone\s.*broken since 20\d\d-.*channel_not_found", r.stdout, re.M), r.stdout
    stats = json.loads(regwatch("alerts", "--stats", "--json", "-c", path).stdout)
    chans = {c["channel"]: c for c in stats["channels"]}
    assert chans["gone"]["state"] == "broken" and "channel_not_found" in chans["gone"]["last_error"]
