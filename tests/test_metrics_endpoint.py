"""The metrics endpoint (`[metrics] listen`) closes a connection whose request does not come within
METRICS_IDLE_TIMEOUT: idle or half-sent connections do not each hold a thread for ever. A scrape is answered."""

import socket
import time
import urllib.request

from regwatch.defaults import METRICS_IDLE_TIMEOUT
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
