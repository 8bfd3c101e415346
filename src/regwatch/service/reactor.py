"""Run a coroutine on Twisted's asyncio reactor, so that Scrapy, APScheduler and httpx share one loop.

The reactor must be installed before anything imports `twisted.internet.reactor`, so crawling
commands call `run()` first thing.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any, cast


def run(main: Callable[[], Awaitable[Any]]) -> Any:
    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet import reactor as installed
    from twisted.internet.asyncioreactor import AsyncioSelectorReactor

    reactor = cast(AsyncioSelectorReactor, installed)

    result: dict[str, Any] = {}

    def start() -> None:
        fut = asyncio.ensure_future(main())

        def done(f: asyncio.Future) -> None:
            try:
                result["value"] = f.result()
            except BaseException as e:  # re-raised below, outside the reactor
                result["error"] = e
            reactor.callLater(0, reactor.stop)

        fut.add_done_callback(done)

    reactor.callWhenRunning(start)
    reactor.run(installSignalHandlers=False)
    if "error" in result:
        raise result["error"]
    return result.get("value")
