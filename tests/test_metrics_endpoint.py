"""The metrics endpoint (`[metrics] listen`) closes a connection whose request does not come within
METRICS_IDLE_TIMEOUT: idle or half-sent connections do not each hold a thread for ever, and no more than
METRICS_MAX_CONNECTIONS hold one at once. A scrape is answered."""

import contextlib
import select
import socket
import threading
import time
import urllib.request

from regwatch.defaults import METRICS_IDLE_TIMEOUT, METRICS_MAX_CONNECTIONS
from regwatch.service.metrics import Metrics


def test_an_idle_connection_is_closed_after_the_timeout_and_scrapes_are_answered(capfd):
    m = Metrics("127.0.0.1:0")
    port = m.server.server_address[1]
    try:
        idle = socket.create_connection(("127.0.0.1", port))
        half = socket.create_connection(("127.0.0.1", port))
        half.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")       # never ends its headers
        start = time.monotonic()
        for s in (idle, half):
            s.settimeout(METRICS_IDLE_TIMEOUT + 10)
            assert s.recv(100) == b""                                          # closed by the server
        assert time.monotonic() - start < METRICS_IDLE_TIMEOUT + 3
        idle.close()
        half.close()
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert "regwatch_articles" in text
    finally:
        m.close()
    assert "Traceback" not in capfd.readouterr().err


def _handler_threads() -> int:
    return sum(1 for t in threading.enumerate() if t.name.endswith("(process_request_thread)"))


def test_connections_past_the_cap_are_closed_at_once_without_a_thread(capfd):
    m = Metrics("127.0.0.1:0")
    port = m.server.server_address[1]
    base = threading.active_count()         # the server's own threads (serving, deadlines) started with it
    slow = []
    try:
        for _ in range(METRICS_MAX_CONNECTIONS + 8):
            s = socket.create_connection(("127.0.0.1", port))
            s.sendall(b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\n")     # never ends its headers
            slow.append(s)
        most = 0
        open_ = list(slow)
        while open_:                        # until the server has closed every one of them
            most = max(most, _handler_threads(), threading.active_count() - base)     # nothing more per connection
            readable, _, _ = select.select(open_, [], [], 0.05)
            for s in readable:
                assert s.recv(100) == b""   # closed without an answer
                open_.remove(s)
        assert most <= METRICS_MAX_CONNECTIONS
        for s in slow:
            s.close()
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert "regwatch_articles" in text
    finally:
        for s in slow:
            s.close()
        m.close()
    assert "Traceback" not in capfd.readouterr().err


def test_a_request_trickled_a_byte_at_a_time_is_closed_at_the_deadline(capfd):
    """Each read comes within the timeout, the request never whole: the connection is closed all the same (the
    timeout of each read alone kept such a client's thread for as long as it kept sending)."""
    m = Metrics("127.0.0.1:0")
    port = m.server.server_address[1]
    request = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 1000
    s = socket.create_connection(("127.0.0.1", port))
    try:
        closed = False
        for byte in request[:20]:       # a byte every fifth of the timeout: 4 timeouts' worth at most
            readable, _, _ = select.select([s], [], [], METRICS_IDLE_TIMEOUT / 5)
            if readable:
                closed = True
                break
            try:
                s.sendall(bytes([byte]))
            except OSError:
                closed = True
                break
        assert closed                   # by the server, long before the request could be whole
        with contextlib.suppress(ConnectionResetError):
            assert s.recv(100) == b""   # without an answer
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5).read().decode()
        assert "regwatch_articles" in text
    finally:
        s.close()
        m.close()
    assert "Traceback" not in capfd.readouterr().err
