"""The chat platforms regwatch speaks, one class (one file) each; `PLATFORMS` maps `type` to it."""

from __future__ import annotations

from ...pipeline.redact import redact
from .apprise import Apprise
from .base import SENT, Channel, Outcome, Platform
from .console import Console
from .dingtalk import DingTalk
from .discord import Discord
from .feishu import Feishu
from .slack import Slack
from .teams import Teams
from .telegram import Telegram
from .webhook import Webhook
from .wecom import WeCom

PLATFORMS: dict[str, type[Platform]] = {p.type: p for p in (
    DingTalk, WeCom, Feishu, Slack, Discord, Teams, Telegram, Webhook, Console, Apprise)}


def platform_for(channel: Channel) -> Platform:
    """The platform object of a configured channel."""
    return PLATFORMS[channel.type](channel)


__all__ = ["PLATFORMS", "SENT", "Channel", "Outcome", "Platform", "platform_for", "redact"]
