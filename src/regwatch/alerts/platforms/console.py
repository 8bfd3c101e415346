"""The terminal: plain text on stdout (the embedded default's channel, and the demo's)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import Any

import httpx

from ..message import Message
from .base import SENT, Channel, Outcome, Platform


class Console(Platform):
    type = "console"
    per_minute = 100_000
    needs_url = False
    http = False

    def __init__(self, channel: Channel):
        super().__init__(channel)
        self.echo: Callable[[str], None] = lambda s: print(s, flush=True)

    def render(self, m: Message) -> dict[str, Any]:
        return {"text": m.plain()}

    async def send(self, client: httpx.AsyncClient, payload: dict[str, Any], key: str) -> Outcome:
        try:
            self.echo(payload["text"] + "\n")
        except BrokenPipeError:
            sys.stdout = None    # the reader went away (| head): nothing more to print
        return SENT

    def classify(self, resp: httpx.Response) -> Outcome:
        return SENT
