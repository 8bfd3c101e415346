"""A backlog after a channel's outage: what came in while it failed goes out as digests within the channel's
minute, oldest first, one digest per subscription (findings of a long daemon trial)."""

import asyncio
import json
import re

from test_delivery import deliver, make, publish

from regwatch.alerts.dispatcher import Dispatcher


def stories(message):
    """The notice numbers (第N号) one message carries (a single alert, or a digest's items)."""
    return sorted({int(n) for n in re.findall(r"第(\d+)号", json.dumps(message["body"], ensure_ascii=False))})


def test_alerts_that_come_in_while_a_channel_fails_go_out_within_its_minute_every_story_once(tmp_path, receiver):
    cfg, store = make(tmp_path, receiver, {"wh": ("webhook", {"per_minute": 5})})
    receiver.fail = {"wh": ["500"] * 100}                  # the channel fails for a while

    async def outage():
        async with Dispatcher(store, cfg.channels, {"rate_cap": "利率上限"}, cfg.alerts) as d:
            for i in range(12):                            # one article after another while it fails
                publish(cfg, store, 1, start=i)
                await d.deliver_due()

    asyncio.run(outage())
    failed = len(receiver.messages)
    assert failed >= 1 and all(m["mode"] == "500" for m in receiver.messages)
    receiver.fail = {}                                     # … and answers again
    stats = deliver(cfg, store, wait=30)
    after = receiver.messages[failed:]
    assert stats.sent == 12
    assert len(after) <= 5, [stories(m) for m in after]   # within what the channel may take in a minute
    assert sorted(n for m in after for n in stories(m)) == list(range(12))      # every story, once
