"""Imported first by the extraction workers' forkserver (`crawler/run.py`): SIGINT, SIGTERM and SIGHUP ignored
there, and so in every worker forked from it. A Ctrl-C in a terminal (or a SIGTERM to the process group, or the
hangup of a closed terminal or ssh session, which the daemon ignores and `run --once` takes as a stop) reaches
every process; the main process stops the crawl itself — the articles in hand stored, then the workers ended
by it (SIGKILL) — which a worker killed by the same signal, or a forkserver interrupted in its imports printing
a traceback, would spoil. (When the main process is gone, the workers and the forkserver end:
`worker_lifetime`.)"""

import signal

for _sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
    signal.signal(_sig, signal.SIG_IGN)
