"""A stop signal that comes while `run --once` or `baseline` is still starting (importing Scrapy, loading the
topics: a second or two) stops it as a signal does later, instead of killing it silently.

`hold` is called first thing (`cli`, before the commands are imported): until the command's own handlers exist
(`App.stoppable`), a SIGTERM, SIGINT or SIGHUP is only noted; `App.stoppable` then acts on it — the run is
stopped before its crawl starts, says so in its one line and exits 128 + the signal. A second signal ends the
process at once, as later; so does the first, with the same line, when the command is still starting
`EARLY_STOP_WAIT` after it (its store's open waiting on another process's lock). A SIGHUP ignored when the process
started (`nohup`) stays ignored. Standard library only: importing this costs nothing.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from types import FrameType

from ..defaults import EARLY_STOP_WAIT

# what stops `run --once` and `baseline` as the daemon stops (exit 128 + the signal); the daemon ignores SIGHUP
STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)
_held: list[int] = []
_waiting: list[threading.Timer] = []


def stops_on_signal(args: list[str]) -> bool:
    """The command line is `run --once` or `baseline` (the commands a signal stops cleanly, `App.stoppable`)."""
    return bool(args) and (args[0] == "baseline" or (args[0] == "run" and "--once" in args[1:]))


def hold(args: list[str]) -> None:
    """For `run --once` and `baseline`: note a stop signal from now on, until `App.stoppable` takes over."""
    if not stops_on_signal(args):
        return
    for sig in STOP_SIGNALS:
        if signal.getsignal(sig) is not signal.SIG_IGN:
            signal.signal(sig, _note)


def stop_line(signum: int) -> str:
    """What a stopped `run --once` or `baseline` says last."""
    return f"regwatch: stopped by {signal.Signals(signum).name}: what this run left is fetched next run"


def _note(signum: int, frame: FrameType | None) -> None:
    if _held:
        os._exit(128 + signum)      # a second signal: now (nothing has been written yet)
    _held.append(signum)
    timer = threading.Timer(EARLY_STOP_WAIT, _give_up, (signum,))
    timer.daemon = True
    _waiting.append(timer)
    timer.start()


def _give_up(signum: int) -> None:
    """Still starting EARLY_STOP_WAIT after the signal: ended now, as a second signal would (a store's transactions
    are atomic; no crawl has begun)."""
    sys.stderr.write(stop_line(signum) + "\n")
    sys.stderr.flush()
    os._exit(128 + signum)


def held() -> int | None:
    """The stop signal that came before the command's own handlers existed, if one did (they take over from here:
    the process is no longer ended `EARLY_STOP_WAIT` after it)."""
    for timer in _waiting:
        timer.cancel()
    return _held[0] if _held else None
