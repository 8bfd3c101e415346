"""`regwatch alerts test CHANNEL`: one real message through the channel's sender."""

from __future__ import annotations

import httpx

from ..alerts.message import Message, local_time
from ..alerts.render import RENDERERS
from ..alerts.senders import Outcome, send
from ..pipeline.timeutil import iso, utcnow


async def send_test(channel) -> Outcome:
    m = Message(title="regwatch 测试消息 / test message", url="https://example.com/regwatch-test", outlet="regwatch",
                published=local_time(iso(utcnow())), topics=[], lead="如果你看到这条消息，说明通道配置正确。",
                subscription="test", heading="regwatch")
    if channel.type == "console":
        print(m.plain())
        return Outcome("sent")
    payload = (RENDERERS["telegram"](m, channel.keyword, chat_id=channel.chat_id) if channel.type == "telegram"
               else RENDERERS[channel.type](m, channel.keyword))
    async with httpx.AsyncClient(timeout=httpx.Timeout(15.0, connect=5.0)) as client:
        return await send(client, channel, payload, "msg_test_" + iso(utcnow()).replace(":", "").replace("+", "")[:15])
