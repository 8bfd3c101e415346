"""A network partition between regwatch and its PostgreSQL store (tests/support/partition.py: a proxy on loopback
that stops forwarding both ways, keeps the sockets open and drops what arrives; no FIN, no RST). The proxy's kernel
still acknowledges what regwatch sends, as a pooler or load balancer on the way would: TCP's keepalives and user
timeout never end a wait; only regwatch's own bound on a statement's answer (PG_ANSWER_WAIT) does."""

import threading

import pytest
from support.partition import Partition
from support.postgres import failing_calls

from regwatch.pipeline.store import Store, StoreError
from regwatch.pipeline.store.postgres import connection

BOUND = 2.0            # the answer's bound in these tests (PG_ANSWER_WAIT: a minute)
SAFETY = 60            # seconds a test lets a call run before it counts it as hung (never a timing asserted)


@pytest.fixture
def partition(pg_url, monkeypatch):
    monkeypatch.setattr(connection, "PG_ANSWER_WAIT", BOUND)
    part = Partition(pg_url)
    yield part
    part.heal()
    part.close()


def outcome(call) -> tuple[bool, object]:
    """Run `call` in a thread: (whether it ended within SAFETY seconds, its result or exception)."""
    got: list[object] = []

    def run():
        try:
            got.append(call())
        except Exception as e:
            got.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    t.join(SAFETY)
    return (not t.is_alive(), got[0] if got else None)


def fill_pool(store, n=4):
    """n calls at once: the pool holds n connections, idle afterwards."""
    go = threading.Barrier(n)

    def busy():
        go.wait(10)
        store.one("SELECT pg_sleep(0.3)")

    threads = [threading.Thread(target=busy) for _ in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert store.pool.get_stats()["pool_available"] == n


def test_a_call_during_a_partition_fails_once_its_answer_is_overdue_it_does_not_wait_forever(partition):
    """A call whose query went into the partition waited for its answer for as long as the partition lasted (TCP
    never gave up: what it sent was acknowledged): a daemon's crawl or delivery pass stuck on it. It fails once its
    answer is overdue, in one line that says why."""
    store = Store(partition.url)
    try:
        assert store.one("SELECT 1") == 1
        partition.blackhole()
        ended, result = outcome(lambda: store.one("SELECT 1"))
        assert ended, "the call still waits on a partitioned server"
        assert isinstance(result, StoreError), result
        assert f"no answer from the server within {BOUND:g} s" in str(result), result
        assert partition.dropped > 0
    finally:
        partition.heal()
        store.close()


def test_the_failing_call_waits_once_not_once_more_for_each_idle_connection(partition):
    """The call that finds its connection lost had the pool check each idle connection (one query each): on a
    partition each check waited for its answer in turn, on that same call — four waits, not one. The idle
    connections are closed and replaced instead, without a wait; once the link is back, calls work at once."""
    store = Store(partition.url)
    try:
        fill_pool(store)
        cuts = connection._WATCHDOG.cuts
        partition.blackhole()
        ended, result = outcome(lambda: store.one("SELECT 1"))
        assert ended and isinstance(result, StoreError), result
        assert connection._WATCHDOG.cuts - cuts == 1, f"{connection._WATCHDOG.cuts - cuts} waits cut for one call"
        partition.heal()
        failed = failing_calls(store)
        assert failed == 0, f"{failed} of 6 calls failed once the partition healed"
    finally:
        partition.heal()
        store.close()


def test_after_a_long_partition_the_server_forgot_the_sessions_one_call_fails_not_each_idle_connection(partition):
    """A partition longer than the server's keepalives (a minute): the server ended every session of the pool, and
    each idle connection is dead when the link comes back. One call fails, not one per pooled connection."""
    store = Store(partition.url)
    try:
        fill_pool(store)
        partition.blackhole()
        partition.heal(forget=True)          # every connection reset: the server gave them up meanwhile
        failed = failing_calls(store)
        assert failed == 1, f"{failed} of 6 calls failed after the partition"
    finally:
        store.close()


def test_opening_the_store_behind_another_processs_migration_waits_uncut(pg_url, monkeypatch):
    """Opening the store waits for another process's migration however long it takes: that wait is not cut."""
    import psycopg

    monkeypatch.setattr(connection, "PG_ANSWER_WAIT", BOUND)
    Store(pg_url).close()
    with psycopg.connect(pg_url, autocommit=True) as other:
        other.execute("SELECT pg_advisory_lock(%s, %s)", (connection.LOCK_NS, connection.LOCK_MIGRATE))
        opened: list[object] = []
        t = threading.Thread(target=lambda: opened.append(Store(pg_url)), daemon=True)
        t.start()
        cuts = connection._WATCHDOG.cuts
        t.join(BOUND * 2)          # (longer than the bound: a cut would have come by then)
        assert t.is_alive() and not opened
        other.execute("SELECT pg_advisory_unlock(%s, %s)", (connection.LOCK_NS, connection.LOCK_MIGRATE))
        t.join(SAFETY)
    assert opened and connection._WATCHDOG.cuts == cuts
    opened[0].close()


def test_a_sends_outcome_during_a_partition_fails_its_try_at_the_finish_bound_then_is_recorded_once(pg_url, monkeypatch):
    """A message claimed and sent, then the link to the store cut as its outcome is recorded: the try waited for the
    server's answer as long as any call (a minute; before, as long as the partition lasted), past what the claim's
    lease leaves for tries — the message stayed `sending` and was sent again when the lease ran out. The statements
    that record an outcome are cut at their own bound (PG_FINISH_ANSWER, counted in `finish_wait`): the try fails
    soon, and a later one, once the link is back, records the send — within the lease, so it is not sent twice."""
    from datetime import UTC, datetime

    from regwatch.pipeline.store.postgres import outbox
    from regwatch.pipeline.store.statuses import MessageStatus

    monkeypatch.setattr(connection, "PG_ANSWER_WAIT", 600.0)   # any other call: longer than the test lets it run
    monkeypatch.setattr(outbox, "PG_FINISH_ANSWER", BOUND)
    part = Partition(pg_url)
    store = Store(part.url)
    try:
        now = datetime.now(UTC)
        with store.tx():
            store.add_message(channel="ch", kind="article", idem_key="k", payload={}, alert_ids=[], now=now)
        msg, _ = store.claim_message("ch", now, per_minute=60, min_gap=0, window=60, margin=0, lease=90, worker="w")
        assert msg is not None
        part.blackhole()                      # the send went out; the store is cut off
        ended, result = outcome(lambda: store.finish_message(msg, status=MessageStatus.SENT, sent_at=now))
        assert ended, "recording the outcome still waits on a partitioned server"
        assert isinstance(result, StoreError) and f"within {BOUND:g} s" in str(result), result
        part.heal()
        assert store.finish_message(msg, status=MessageStatus.SENT, sent_at=now) is True
        assert store.one("SELECT status FROM messages") == MessageStatus.SENT
    finally:
        part.heal()
        store.close()
        part.close()


def test_a_statement_the_server_cancels_leaves_the_pools_connections_as_they_are(pg_url):
    """A lock timeout or a statement timeout is the server's answer on a live connection: the pool's connections
    are kept (closing them all after each would make the pool connect again and again under contention)."""
    store = Store(pg_url)
    try:
        fill_pool(store)
        made = store.pool.get_stats()["connections_num"]
        with pytest.raises(StoreError, match="statement timeout"), store.tx():
            store.x("SET LOCAL statement_timeout = '10ms'")
            store.one("SELECT pg_sleep(1)")
        assert store.pool.get_stats().get("connections_num", 0) == made
        assert store.pool.get_stats()["pool_available"] == 4
    finally:
        store.close()
