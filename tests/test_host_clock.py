"""A host whose clock is off from a PostgreSQL store's server keeps the store's times by the server's clock (the
processes sharing a store on several hosts decide claims, leases and retries by one clock) and says so; on SQLite the
store's times are the host's own."""

import logging
from datetime import UTC, datetime, timedelta

import pytest

from regwatch.pipeline import timeutil
from regwatch.pipeline.store import open_store

AHEAD = 120     # seconds: a host clock two minutes fast (the scale-out review's skew)


@pytest.fixture
def host_clock(monkeypatch):
    """Set this host's clock `seconds` off the true time (as a host without NTP is); what `utcnow` follows is put
    back after the test."""
    monkeypatch.setattr(timeutil, "_behind", timedelta(0))

    def off(seconds: float) -> None:
        class Skewed(datetime):
            @classmethod
            def now(cls, tz=None):
                return datetime.now(tz) + timedelta(seconds=seconds)

        monkeypatch.setattr(timeutil, "datetime", Skewed)
    return off


def off_true_time() -> float:
    return (timeutil.utcnow() - datetime.now(UTC)).total_seconds()


def test_a_host_clock_ahead_of_postgresqls_takes_no_lease_still_held_and_deletes_no_live_worker(pg_url, host_clock,
                                                                                               caplog):
    first = open_store(pg_url)             # a daemon on a host in step
    assert first.claim_sources({"s": "2000-01-01T00:00:00+00:00"}, worker="A", now=timeutil.utcnow(), lease=60) == ["s"]
    assert first.worker_seen("A", tags=[], now=timeutil.utcnow(), ttl=60) == 1
    host_clock(AHEAD)                      # another on a host two minutes fast
    with caplog.at_level(logging.WARNING, logger="regwatch"):
        second = open_store(pg_url)
    try:
        # by its own clock A's 60 s lease and keep-alive ran out a minute ago and the source (every 30 s) is due
        # again: taken over while A crawls it, A's row deleted (before)
        due = timeutil.iso_ms(timeutil.utcnow() - timedelta(seconds=30))
        assert second.claim_sources({"s": due}, worker="B", now=timeutil.utcnow(), lease=60) == []
        assert second.worker_seen("B", tags=[], now=timeutil.utcnow(), ttl=60) == 2
        assert abs(off_true_time()) < 1, "its times follow the server's clock, not the host's"
        assert "this host's clock is 120.0 s ahead of the store's server's" in caplog.text
    finally:
        second.close()
        first.close()


def test_the_clock_is_followed_again_while_the_daemon_runs_and_said_when_back_in_step(pg_url, host_clock, caplog):
    store = open_store(pg_url)
    try:
        assert abs(off_true_time()) < 1 and not caplog.text
        host_clock(-AHEAD)                 # the host's clock stepped back two minutes while it runs
        with caplog.at_level(logging.WARNING, logger="regwatch"):
            store.follow_clock()           # (the daemon's keep-alive tick)
            store.follow_clock()           # said once, not at every tick
        assert abs(off_true_time()) < 1
        assert caplog.text.count("120.0 s behind the store's server's") == 1
        caplog.clear()
        host_clock(0)                      # NTP put it right
        with caplog.at_level(logging.WARNING, logger="regwatch"):
            store.follow_clock()
        assert "in step with the store's server's again" in caplog.text
        assert abs(off_true_time()) < 1 and timeutil._behind == timedelta(0)
    finally:
        store.close()


def test_sqlite_keeps_the_hosts_own_clock(tmp_path, host_clock, caplog):
    host_clock(AHEAD)
    with caplog.at_level(logging.WARNING, logger="regwatch"):
        store = open_store(tmp_path / "rw.db")
    store.close()
    assert abs(off_true_time() - AHEAD) < 1 and "clock" not in caplog.text


def test_a_runs_start_is_written_by_the_stores_clock_as_its_end(pg_url, host_clock, monkeypatch):
    import time
    from types import SimpleNamespace

    from regwatch.crawler.report import SourceReport
    from regwatch.service import health
    from regwatch.service.config import AlertsConfig

    host_clock(AHEAD)
    fast = SimpleNamespace(time=lambda: time.time() + AHEAD)        # (the host's epoch clock, two minutes fast too)
    monkeypatch.setattr(health, "time", fast)
    store = open_store(pg_url)
    try:
        report = SourceReport("s", started=fast.time() - 3)      # a run of 3 s, timed by this host's clock
        health.record(store, report, None, AlertsConfig())
        run = store.recent_runs("s", 1)[0]
        assert run["started_at"] <= run["finished_at"], "a run began after it ended (its start by the host's clock)"
        assert abs((datetime.fromisoformat(run["finished_at"]) - datetime.now(UTC)).total_seconds()) < 2
    finally:
        store.close()
