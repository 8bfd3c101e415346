"""An extraction worker's limits: its address space (set once as it starts) and each job's time (SIGALRM).

Kept apart from `extract.py` so that the main process, which sets no limit and only hands jobs to the
workers, does not import trafilatura (~0.25 s of CPU at every `run`)."""

from __future__ import annotations

import os
import resource
import signal


class JobTimeout(BaseException):
    """A job over its time limit (a BaseException: a library's `except Exception` cannot swallow it)."""


def _over_time(signum, frame):
    raise JobTimeout()


_memory_limited = False


def limit_worker(memory: int) -> None:
    """Pool-worker initializer: the worker's address space is capped at what it holds now (its code, the
    classifier) plus `memory`, so a page or PDF that needs more raises MemoryError in its own job instead
    of drawing the OOM killer onto the worker."""
    global _memory_limited
    if memory > 0:
        _memory_limited = True
        cap = _address_space() + memory
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (cap if hard == resource.RLIM_INFINITY else min(cap, hard), hard))


def _address_space() -> int:
    """This process's address space in bytes (Linux; 0 where /proc says nothing)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as f:
            return int(f.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


def out_of_memory(e: Exception) -> bool:
    """Whether an error is a failed allocation under the worker's limit: lxml and other C code report one as
    their own error ("Memory allocation failed", or libxml2's "unknown error" at line 0), not as MemoryError."""
    text = str(e).lower()
    return _memory_limited and ("memory" in text or ("unknown error" in text and "line 0" in text))


def run_limited(fn, args: tuple, seconds: float):
    """`fn(*args)` in a pool worker, interrupted by `JobTimeout` after `seconds` (SIGALRM: the worker's
    main thread). The parent still kills a worker that does not come back soon after (C code that
    never returns to Python)."""
    signal.signal(signal.SIGALRM, _over_time)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        return fn(*args)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
