"""Prometheus metrics for the daemon (`[metrics] listen`): sources by state, articles, alerts by
status, crawl and delivery durations. Bound to 127.0.0.1 unless the config says otherwise."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Gauge, Histogram, start_http_server

from ..pipeline.store import Store
from .config import ConfigError


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
            self.server, self.thread = start_http_server(int(port), addr=host.strip("[]") or "127.0.0.1",
                                                         registry=self.registry)
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
