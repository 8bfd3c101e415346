"""Prometheus metrics for the daemon (`[metrics] listen`): sources by state, articles, alerts by
status, crawl and delivery durations. Bound to 127.0.0.1 unless the config says otherwise."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from prometheus_client import CollectorRegistry, Gauge, Histogram, make_wsgi_app

from ..defaults import METRICS_IDLE_TIMEOUT, METRICS_MAX_CONNECTIONS
from ..pipeline.store import Store
from .config import ConfigError


class _Handler(WSGIRequestHandler):
    """One connection: it must be over within METRICS_IDLE_TIMEOUT, else it is closed — prometheus_client's own
    server (`start_http_server`) waits for ever, a thread held per connection. The timeout of each read
    (`StreamRequestHandler.timeout`) closes an idle one; a deadline on the whole connection closes one that sends a
    byte every few seconds (each read within the timeout, the request never whole)."""

    timeout = METRICS_IDLE_TIMEOUT

    def setup(self) -> None:
        super().setup()
        self.server.watch(self.connection)       # type: ignore[attr-defined]

    def handle(self) -> None:
        try:
            super().handle()
        except OSError:       # (idle, half-sent or cut at the deadline: closed without an answer, nothing logged)
            self.close_connection = True

    def finish(self) -> None:
        self.server.unwatch(self.connection)     # type: ignore[attr-defined]
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: object) -> None:
        pass


class _Server(ThreadingMixIn, WSGIServer):
    """At most METRICS_MAX_CONNECTIONS connections are served at once, a thread each; one accepted past them is
    closed at once, without a thread (a flood of idle connections holds that many threads, each for the timeout)."""

    daemon_threads = True

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self._slots = threading.BoundedSemaphore(METRICS_MAX_CONNECTIONS)
        self._deadlines: dict[socket.socket, float] = {}
        self._watching = threading.Lock()
        self._closed = threading.Event()
        super().__init__(*args, **kwargs)
        threading.Thread(target=self._cut_late, name="metrics-deadlines", daemon=True).start()

    def watch(self, conn: socket.socket) -> None:
        with self._watching:
            self._deadlines[conn] = time.monotonic() + METRICS_IDLE_TIMEOUT

    def unwatch(self, conn: socket.socket) -> None:
        with self._watching:
            self._deadlines.pop(conn, None)

    def _cut_late(self) -> None:
        """One thread for every connection's deadline: a connection not over in time is shut down (its pending read
        ends; its handler with it)."""
        while not self._closed.wait(METRICS_IDLE_TIMEOUT / 20):
            now = time.monotonic()
            with self._watching:
                late = [conn for conn, deadline in self._deadlines.items() if deadline <= now]
                for conn in late:
                    del self._deadlines[conn]
            for conn in late:
                with contextlib.suppress(OSError):
                    conn.shutdown(socket.SHUT_RDWR)

    def server_close(self) -> None:
        self._closed.set()
        super().server_close()

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:           # no thread started: its slot is free again
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        """ThreadingMixIn's, with the slot freed before the connection is closed: a client that sees it closed
        finds the slot free."""
        try:
            self.finish_request(request, client_address)
        except Exception:
            self.handle_error(request, client_address)
        finally:
            self._slots.release()
            self.shutdown_request(request)


def _serve(host: str, port: int, registry: CollectorRegistry) -> tuple[WSGIServer, threading.Thread]:
    """prometheus_client's WSGI app (`make_wsgi_app`) on the standard library's threaded server, as
    `start_http_server` does, with `_Handler`'s timeout."""
    family, _, _, _, sockaddr = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)[0]

    class Server(_Server):
        address_family = family

    server = make_server(str(sockaddr[0]), port, make_wsgi_app(registry), Server, handler_class=_Handler)
    thread = threading.Thread(target=server.serve_forever, name="metrics", daemon=True)
    thread.start()
    return server, thread


class Metrics:
    def __init__(self, listen: str):
        self.registry = CollectorRegistry()
        self.sources = Gauge("regwatch_sources", "Sources by state", ["state"], registry=self.registry)
        self.articles = Gauge("regwatch_articles", "Articles in the store", registry=self.registry)
        self.alerts = Gauge("regwatch_alerts", "Alerts in the outbox by status", ["status"], registry=self.registry)
        self.crawl_seconds = Histogram("regwatch_crawl_seconds", "Duration of one crawl of the due sources",
                                       registry=self.registry, buckets=(0.5, 1, 2, 5, 10, 30, 60, 120, 300))
        self.delivery_seconds = Histogram("regwatch_delivery_seconds", "Duration of one delivery attempt",
                                          registry=self.registry, buckets=(0.05, 0.1, 0.25, 0.5, 1, 2, 5, 15))
        host, _, port = listen.rpartition(":")
        try:
            self.server, self.thread = _serve(host.strip("[]") or "127.0.0.1", int(port), self.registry)
        except OSError as e:    # a port in use, an address not of this machine: one line, before any crawl
            raise ConfigError(f"[metrics] listen = {listen!r}: {e.strerror or e}") from None

    def refresh(self, store: Store) -> None:
        self.sources.clear()
        for state, n in store.sources_by_state().items():
            self.sources.labels(state).set(n)
        self.articles.set(store.count_articles())
        self.alerts.clear()
        for status, n in store.alerts_by_status().items():
            self.alerts.labels(status).set(n)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()
