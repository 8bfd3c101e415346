"""Any Apprise URL (email, ntfy, Matrix, …), for platforms regwatch does not sign itself (optional extra)."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx

from ..message import Message
from .base import SENT, Outcome, Platform


class Apprise(Platform):
    type = "apprise"
    per_minute = 30
    min_gap = 0.5
    web_url = False                 # Apprise URLs have their own schemes (mailto://, ntfy://, …)
    http = False

    def render(self, m: Message) -> dict[str, Any]:
        """Plain text: Apprise formats for each of its services itself."""
        return {"title": m.label, "body": m.plain()}

    async def send(self, client: httpx.AsyncClient, payload: dict[str, Any], key: str) -> Outcome:
        try:
            import apprise
        except ImportError:
            return Outcome("broken", "apprise is not installed: pip install 'regwatch[apprise]'")
        ap = apprise.Apprise()
        if not ap.add(self.channel.url or ""):
            return Outcome("broken", "not a URL Apprise understands (see its documentation for the service)")
        # Apprise's senders block (requests): off the event loop
        ok = await asyncio.to_thread(ap.notify, body=payload["body"], title=payload["title"])
        return SENT if ok else Outcome("retry", "Apprise reported a failed delivery (it does not say why)")

    def classify(self, resp: httpx.Response) -> Outcome:
        return SENT
