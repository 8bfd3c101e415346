"""Imported by the extraction workers' forkserver (`crawler/run.py`): the forkserver and its workers end with
the main process, even when it is killed outright (`kill -9`, the OOM killer) and stops nothing itself. Its
pipes do not tell them: each worker holds the write end of the forkserver's alive pipe, and waits on a job
queue nobody writes to any more. So the forkserver watches its parent (it exits when that is gone), and each
worker it forks asks Linux to kill it when the forkserver is gone (PR_SET_PDEATHSIG). Multiprocessing's
resource tracker then sees its pipe close and exits too."""

import ctypes
import os
import signal
import sys
import threading
import time

_PR_SET_PDEATHSIG = 1
_forkserver = os.getpid()
_main = os.getppid()
_libc = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


_forking_from = 0


def _before_fork() -> None:
    global _forking_from
    _forking_from = os.getpid()


def _die_with_forkserver() -> None:
    """In a worker just forked: killed when the forkserver goes (or at once, if it went already). A process a
    worker forks in its turn (the hook is inherited) is left alone."""
    if _forking_from != _forkserver:
        return
    if _libc is not None:
        _libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    if os.getppid() != _forkserver:
        os._exit(1)


def _watch_main() -> None:
    while os.getppid() == _main:
        time.sleep(0.5)
    os._exit(0)


os.register_at_fork(before=_before_fork, after_in_child=_die_with_forkserver)
threading.Thread(target=_watch_main, name="regwatch-watch-main", daemon=True).start()
