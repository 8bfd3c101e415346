"""The Store interface on both engines: each test runs against an SQLite file and a PostgreSQL
database (a throwaway server on 127.0.0.1, tests/support/postgres.py), and the claims that let
several processes share one store hold under real concurrency."""

import threading
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest

from regwatch.pipeline.classify import Classifier, load_topics
from regwatch.pipeline.process import Processor
from regwatch.pipeline.store import ArticleRecord, MessageStatus, SourceState, Store, UrlState
from regwatch.pipeline.timeutil import iso_ms

T0 = datetime(2026, 1, 5, 8, 0, tzinfo=UTC)


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def article(store, url, title="征信修复骗局频发", body="不法中介宣称可以修复征信，收取高额费用。", **kw):
    return store.insert_article(ArticleRecord(url=url, source=kw.pop("source", "src"), title=title, body=body, lang="zh",
                                              published_at=kw.pop("published_at", None), **kw))


def test_every_engine_implements_the_whole_interface():
    from regwatch.pipeline.store.postgres import PostgresStore
    from regwatch.pipeline.store.sqlite import SQLiteStore

    assert SQLiteStore.__abstractmethods__ == frozenset() == PostgresStore.__abstractmethods__


def test_the_largest_stories_name_their_first_articles_topics(store):
    from regwatch.pipeline.classify import Tag

    a = article(store, "http://x/1", published_at=at(0))
    sid = store.new_story(a, "征信修复骗局频发", "财经网")
    store.set_article_story(a, sid)
    store.set_topics(a, [Tag("credit_repair", 9.0, [])], new=True)
    lone = article(store, "http://x/2", title="Rate cap")
    store.set_article_story(lone, store.new_story(lone, "Rate cap", None))
    rows = store.largest_stories("2000-01-01")
    assert [(r["title"], r["topics"], r["url"]) for r in rows] == [("征信修复骗局频发", "credit_repair", "http://x/1"),
                                                                   ("Rate cap", None, "http://x/2")]
    store.set_topics(a, [Tag("credit_repair", 9.0, []), Tag("fraud", 4.0, [])])
    assert sorted(store.largest_stories("2000-01-01")[0]["topics"].split(",")) == ["credit_repair", "fraud"]


def test_articles_topics_and_labels(store):
    a = article(store, "http://x/1", outlet="财经网", attachment_text="附件：征信管理办法")
    b = article(store, "http://x/2", title="Rate cap", body="A 20% cap on consumer loans.", source="other")
    assert store.has_url("http://x/1") and not store.has_url("http://x/3")
    assert store.find_article(f"#{a}")["url"] == "http://x/1" == store.find_article("http://x/1")["url"]
    assert store.article(b)["title"] == "Rate cap" and store.article(10**6) is None

    class Tag:
        def __init__(self, topic, score):
            self.topic, self.score, self.evidence = topic, score, [{"term": "征信", "where": "title"}]

    store.set_topics(a, [Tag("credit_repair", 9.1234), Tag("enforcement", 3.0)])
    store.set_topics(a, [Tag("credit_repair", 9.1234), Tag("enforcement", 3.0)])      # replaced, not added
    assert [(t["topic"], t["score"]) for t in store.topics_of(a)] == [("credit_repair", 9.123), ("enforcement", 3.0)]
    assert store.topics_of(a)[0]["evidence"] == [{"term": "征信", "where": "title"}]
    assert store.topics_by_article([a, b]) == {a: ["credit_repair", "enforcement"], b: []}
    assert sorted(topic for _, topic in store.topic_times("2000")) == ["credit_repair", "enforcement"]
    assert store.count_articles() == 2 and store.count_articles(source="other") == 1
    assert [r["url"] for r in store.stored_articles()] == ["http://x/1", "http://x/2"]
    assert [(r["url"], r["topics"], r["story_size"]) for r in store.export_articles()] == \
        [("http://x/1", ["credit_repair", "enforcement"], 1), ("http://x/2", [], 1)]
    assert [r["url"] for r in store.export_articles(topic="enforcement")] == ["http://x/1"]
    # the attachment's text is searched too
    assert [r["url"] for r in store.search("管理办法")] == ["http://x/1"]
    assert set(store.search("管理办法")[0]) == {"id", "url", "title", "source", "outlet", "published_at", "fetched_at",
                                              "story_id", "story_size", "body"}          # the interface's columns

    store.set_label(a, "credit_repair", True)
    store.set_label(a, "enforcement", True)
    store.set_label(a, "enforcement", False)                   # changed, not added
    [item] = store.labelled_articles()
    assert item["labels"] == ["credit_repair"] and item["not_labels"] == ["enforcement"]
    assert "附件" in item["text"]


def test_search_ranks_title_over_body_among_the_newest_and_filters(store):
    old = article(store, "http://x/old", title="征信新规", body="正文无关。", published_at=at(0))
    article(store, "http://x/body", title="一般新闻", body="文中提到征信。", published_at=at(3600))
    assert [r["url"] for r in store.search("征信")] == ["http://x/old", "http://x/body"]    # the title weighs more
    assert [r["url"] for r in store.search("征信", since=at(1800))] == ["http://x/body"]
    assert [r["url"] for r in store.search("征信", until=at(1800))] == ["http://x/old"]
    assert store.search("征信", source="nowhere") == []
    r = store.search("征信新规")[0]
    assert (r["id"], r["story_size"], r["body"]) == (old, 1, "正文无关。")


def test_stories_and_their_keys(store):
    a = article(store, "http://x/a", content_hash="h1")
    sid = store.new_story(a, "征信修复骗局频发", "财经网")
    store.set_article_story(a, sid)
    b = article(store, "http://x/b", content_hash="h1")
    store.join_story(sid, "新华网")
    store.join_story(sid, "新华网")
    store.set_article_story(b, sid)
    assert store.story_outlets(sid) == ["财经网", "新华网"]
    assert store.story_of_identical_text("h1", "2000-01-01") == sid and store.story_of_identical_text("h2", "2000") is None
    assert store.story_candidate(b) == ("征信修复骗局频发", "不法中介宣称可以修复征信，收取高额费用。", sid)
    store.add_story_keys([(7, 100, a, sid), (7, 200, b, sid), (4_000_000_000, 150, a, sid)])
    store.add_story_keys([(7, 100, a, sid)])                    # a row already there is kept
    assert store.story_key_postings([7, 4_000_000_000, 9], since=0, per_key=16) == \
        {7: [(b, sid), (a, sid)], 4_000_000_000: [(a, sid)]}
    assert store.story_key_postings([7], since=150, per_key=16) == {7: [(b, sid)]}
    assert store.story_key_postings([7], since=0, per_key=1, newest_first=False) == {7: [(a, sid)]}
    store.load_story_keys([(8, 1, a, sid), (7, 100, a, sid)])
    assert store.story_key_postings([8], 0, 5) == {8: [(a, sid)]}
    assert store.count_stories() == 1 and not store.story_started_in_baseline(sid)
    assert [r["copies"] for r in store.largest_stories("2000-01-01")] == [3]
    assert store.story(sid)["title"] == "征信修复骗局频发" and store.story(sid + 99) is None
    assert [r["id"] for r in store.story_articles(sid)] == [a, b]
    assert [r[0] for r in store.articles_for_story_index("2000-01-01")] == [a, b]
    # rows older than the window go; the window's stay readable
    assert store.prune_story_keys(before=150) == 2      # (7, 100) and (8, 1)
    assert store.story_key_postings([7, 8, 4_000_000_000], since=0, per_key=16) == \
        {7: [(b, sid)], 4_000_000_000: [(a, sid)]}
    assert store.prune_story_keys(before=150) == 0


def test_the_story_index_is_pruned_in_chunks_and_remembers_when(store):
    a = article(store, "http://x/a")
    sid = store.new_story(a, "t", None)
    store.load_story_keys([(k, 100 + k % 3, a, sid) for k in range(2500)] + [(k, 900, a, sid) for k in range(40)])
    assert store.story_keys_pruned_at() is None
    assert [store.prune_story_keys(before=500, limit=1000) for _ in range(4)] == [1000, 1000, 500, 0]
    assert store.story_key_postings(list(range(40)), since=0, per_key=16) == {k: [(a, sid)] for k in range(40)}
    store.set_story_keys_pruned_at(1_800_000_000.5)
    store.set_story_keys_pruned_at(1_800_000_123.25)            # replaced
    assert store.story_keys_pruned_at() == 1_800_000_123.25


def test_identical_text_in_two_stories_names_the_first(store):
    first = article(store, "http://x/1", content_hash="same")
    later = article(store, "http://x/2", content_hash="same")
    s2 = store.new_story(later, "t", "o")
    store.set_article_story(later, s2)
    s1 = store.new_story(first, "t", "o")
    store.set_article_story(first, s1)
    assert store.story_of_identical_text("same", "2000-01-01") == s1


def test_sources_runs_lists_and_settled_urls(store):
    assert store.source_state("feed")["state"] == SourceState.NEW
    store.update_source_state("feed", state=SourceState.OK, baselined_at="2026-01-01T00:00:00+00:00",
                              url="http://x/feed.xml")
    assert store.baselined_on_url("http://x/feed.xml") == ["feed"] and store.known_sources() == ["feed"]
    run = store.record_run(source="feed", started_at="2026-01-01T00:00:00+00:00", state="ok", found=3, new=1,
                           statuses={"200": 4}, worker="w1")
    store.record_run(source="feed", started_at="2026-01-01T00:10:00+00:00", state="ok")
    runs = store.recent_runs("feed", 5)
    assert [r["id"] for r in runs][1] == run and runs[1]["statuses"] == '{"200": 4}' and runs[1]["worker"] == "w1"
    assert store.source_health()[0]["state"] == "ok" and store.sources_by_state() == {"ok": 1}

    assert store.list_cache("feed", "http://x/feed.xml") is None
    store.save_list_cache("feed", "http://x/feed.xml", '"e1"', None, "hash", ["http://x/child.xml"])
    store.save_list_cache("feed", "http://x/feed.xml", '"e2"', "Mon", "hash", ["http://x/child.xml"])
    cache = store.list_cache("feed", "http://x/feed.xml")
    assert (cache["etag"], cache["last_modified"], cache["children"]) == ('"e2"', "Mon", ["http://x/child.xml"])
    # a configured URL (it may carry a token) is kept as its digest, and found by it
    store.save_list_cache("feed", "https://x/api?token=s3cret", None, None, "h")
    assert store.list_cache("feed", "https://x/api?token=s3cret")["body_hash"] == "h"
    raw = [*store.copy_rows("list_cache", ("source", "url")), *store.copy_rows("source_state", ("source", "url"))]
    assert len(raw) == 3 and all(str(r[1]).startswith("sha256:") for r in raw) and "s3cret" not in repr(raw)
    store.forget_list_cache("feed", "https://x/api?token=s3cret")
    store.forget_list_cache("feed", "http://x/feed.xml")
    assert store.list_cache("feed", "http://x/feed.xml") is None

    article(store, "http://x/stored")
    store.skip_url("feed", "http://x/gone", "HTTP 410")
    store.mark_baseline_urls("feed", ["http://x/later", "http://x/gone"])
    assert store.known_urls("feed", ["http://x/stored", "http://x/gone", "http://x/new"]) == {"http://x/stored",
                                                                                               "http://x/gone"}
    assert store.known_urls("other", ["http://x/gone"]) == set()               # skipped by that source only
    assert store.is_baseline_url("feed", "http://x/later") and not store.is_baseline_url("feed", "http://x/gone")
    assert [r["url"] for r in store.skipped_urls("feed")] == ["http://x/gone"] and store.count_skipped("feed") == 1
    assert [s.value for s in UrlState] == ["skipped", "baseline", "missing", "slow"]
    first = store.missing_since("feed", "http://x/late")                     # recorded the first time
    assert first and store.missing_since("feed", "http://x/late") == first
    assert store.missing_since("feed", "http://x/later") is None              # a baseline named it
    assert store.known_urls("feed", ["http://x/late"]) == set()               # asked again
    store.mark_baseline_urls("feed", ["http://x/late"])                       # missing while the baseline ran
    assert store.is_baseline_url("feed", "http://x/late") and not store.is_baseline_url("feed", "http://x/gone")
    assert store.baseline_named("feed", ["http://x/later", "http://x/late", "http://x/new"]) == {"http://x/later",
                                                                                                 "http://x/late"}
    assert [(r["source"], r["state"], r["reason"]) for r in store.url_states("http://x/gone")] == \
        [("feed", "skipped", "HTTP 410")]
    # an attachment over extract_timeout: the first time remembered (`slow`), the second said; gone once stored
    assert not store.attachment_timed_out("feed", "http://x/pdf", "slow")
    assert store.attachment_timed_out("feed", "http://x/pdf", "")
    assert store.known_urls("feed", ["http://x/pdf"]) == set() and not store.is_baseline_url("feed", "http://x/pdf")
    store.source_state("mirror")
    assert not store.attachment_timed_out("mirror", "http://x/pdf", "slow")  # another source's first timeout of it
    store.forget_slow("http://x/pdf")                              # stored: forgotten for every source
    assert store.url_states("http://x/pdf") == [] and not store.attachment_timed_out("feed", "http://x/pdf", "slow")
    assert store.missing_since("feed", "http://x/pdf")                       # then missing: not taken as baseline
    assert not store.attachment_timed_out("feed", "http://x/b", "slow")      # a baseline run's: baseline, the time kept
    store.mark_baseline_urls("feed", ["http://x/b"])
    assert store.is_baseline_url("feed", "http://x/b") and store.attachment_timed_out("feed", "http://x/b", "")
    assert not store.attachment_timed_out("feed", "http://x/later", "slow") and store.is_baseline_url("feed", "http://x/later")
    assert store.attachment_timed_out("feed", "http://x/later", "")


def test_a_first_attachment_timeout_is_forgotten_for_every_source_once_any_source_stores_the_article(store):
    """A `slow` row goes when the article is stored, whichever source stores it (one with no `attachment` setting
    too) and whichever holds the row (one without a `source_state` row: renamed, or before its first run ended)."""
    store.source_state("feed")
    assert not store.attachment_timed_out("feed", "http://x/n1", "slow")
    assert not store.attachment_timed_out("renamed", "http://x/n1", "slow")     # no source_state row
    assert not store.attachment_timed_out("feed", "http://x/n2", "slow")
    assert sorted((r["source"], r["state"]) for r in store.url_states("http://x/n1")) == [("feed", "slow"),
                                                                                          ("renamed", "slow")]
    Processor(store, Classifier(load_topics())).process(url="http://x/n1", source="mirror", title="行政处罚信息公开表",
                                                        body="见附件。", lang="zh", published_at=None)
    assert store.url_states("http://x/n1") == []
    assert [(r["source"], r["state"]) for r in store.url_states("http://x/n2")] == [("feed", "slow")]   # another's kept


def test_the_outbox_composes_claims_paces_and_finishes(store):
    first = store.enqueue_alert(subscription="s", channel="ch", story_id=1, article_id=None, idem_key="k1")
    assert store.enqueue_alert(subscription="s", channel="ch", story_id=1, article_id=None, idem_key="k1b") is None
    assert store.has_alert("ch", 1) and not store.has_alert("ch", 2) and not store.has_alert("other", 1)
    # one alert per story per channel: another subscription's alert with the same key (story and channel) is refused
    assert store.enqueue_alert(subscription="t", channel="ch", story_id=1, article_id=None, idem_key="k1") is None
    second = store.enqueue_alert(subscription="s", channel="ch", story_id=2, article_id=None, idem_key="k2")
    later = store.enqueue_alert(subscription="s", channel="ch", story_id=3, article_id=None, idem_key="k3",
                                digest_at=datetime.now(UTC) + timedelta(days=1))
    now = datetime.now(UTC)
    with store.tx():
        due = store.alerts_to_compose(now, ["ch"])
        assert store.alerts_to_compose(now, ["other"]) == []
        assert [a["id"] for a in due] == [first, second]               # the digest waits for its time
        m1 = store.add_message(channel="ch", kind="article", idem_key="k1", payload={"t": "一"}, alert_ids=[first], now=now)
        store.add_message(channel="ch", kind="article", idem_key="k2", payload={"t": "二"}, alert_ids=[second], now=now)
    assert store.alerts_to_compose(now, ["ch"]) == [] and store.channels_due(now) == ["ch"]
    assert store.messages_since("ch", now - timedelta(seconds=60), now) == 2

    pace = dict(per_minute=1, min_gap=0, window=60, margin=0.25, lease=90, worker="w1")
    msg, wait = store.claim_message("ch", now, **pace)
    assert msg["id"] == m1 and msg["status"] == MessageStatus.SENDING and msg["claimed_by"].startswith("w1@") and wait == 0
    assert store.list_alerts()[-1]["status"] == "sending"
    nothing, wait = store.claim_message("ch", now + timedelta(seconds=1), **pace)    # one a minute: wait
    assert nothing is None and 58 < wait <= 60.25
    assert store.pacing_wait("ch", now + timedelta(seconds=1), per_minute=1, min_gap=0, window=60, margin=0.25) == wait
    store.postpone_messages("ch", now + timedelta(seconds=wait))
    assert store.next_due_at(["ch"]) >= iso_ms(now + timedelta(seconds=59)) and store.next_due_at(["other"]) is None
    assert store.finish_message(msg, status=MessageStatus.SENT, sent_at=now)
    assert not store.finish_message({**msg, "claimed_by": "someone else"}, status=MessageStatus.FAILED)
    assert store.alerts_by_status() == {"sent": 1, "pending": 1, "digest": 1}
    assert store.count_alerts(status="sent") == 1 and store.count_alerts() == 3
    assert [dict(r) for r in store.subscription_counts("2000")] == [
        {"subscription": "s", "stories": 3, "alerts": 3, "sent": 1, "in_digests": 0, "failed": 0, "waiting": 2}]
    assert [dict(r) for r in store.channel_counts(None)] == [
        {"channel": "ch", "matches": 3, "alerts_sent": 1, "messages_sent": 1, "digests": 0, "failed": 0, "health": 0}]
    assert [(r["id"], r["status"], r["message_kind"]) for r in store.story_alerts(1)] == [(first, "sent", "article")]
    assert [r["id"] for r in store.list_alerts(since="2000")] == [later, second, first]
    assert store.list_alerts(since="2999") == []
    assert [r["id"] for r in store.list_alerts(channel="ch")] == [later, second, first]       # `alerts --channel`
    assert store.list_alerts(channel="other") == []
    assert store.channel_states() == {}
    store.set_channel_state("gone", "broken", "HTTP 404 channel_not_found")
    [(name, row)] = store.channel_states().items()
    assert name == "gone" and (row["state"], row["last_error"]) == ("broken", "HTTP 404 channel_not_found") and row["since"]

    msg2, _ = store.claim_message("ch", now + timedelta(seconds=61), **pace)
    assert store.finish_message(msg2, status=MessageStatus.RETRY, error="HTTP 500",
                                next_attempt_at=now + timedelta(seconds=70))
    assert store.list_alerts(status="retry")[0]["last_error"] == "HTTP 500"
    msg2, _ = store.claim_message("ch", now + timedelta(seconds=131), **pace)
    assert store.finish_message(msg2, status=MessageStatus.FAILED, error="given up after 8 attempts")
    assert store.count_alerts(status="failed") == 1 and store.channels_due(now + timedelta(days=1)) == []
    store.fail_alerts([later], "cannot render")
    assert store.count_alerts(status="failed") == 2
    assert store.set_channel_state("ch", "broken", "gone") is None and store.set_channel_state("ch", "ok") == "broken"
    # what did not get out, and sending it again: msg2 failed (given up); msg sent stays sent
    assert store.undelivered(now - timedelta(days=1), ["ch", "other"]) == (0, 1)
    assert store.reopen_messages(statuses=["failed", "broken"], since=now - timedelta(days=1), now=now,
                                 channel="other") == 0
    # msg2's alert and the one that could not be rendered: composed anew (the channel's config may have changed)
    assert store.reopen_messages(statuses=["failed", "broken"], since=now - timedelta(days=1), now=now) == 2
    assert store.count_alerts(status="pending") == 2 and store.count_alerts(status="sent") == 1
    assert store.undelivered(now - timedelta(days=1), ["ch"]) == (2, 0)
    assert store.one("SELECT count(*) FROM messages WHERE id = ?", (msg2["id"],)) == 0     # the refused body went
    with store.tx():
        assert [a["id"] for a in store.alerts_to_compose(now + timedelta(seconds=1), ["ch"])] == [second, later]
        store.add_message(channel="ch", kind="article", idem_key="k2", payload={"t": "二, again"}, alert_ids=[second],
                          now=now)
    again, _ = store.claim_message("ch", now + timedelta(seconds=200), **pace)
    assert again["attempts"] == 1 and again["idem_key"] == "k2" and "again" in again["payload"]
    # alerts a full channel cannot take wait uncomposed (one already in a message is not touched)
    held = store.enqueue_alert(subscription="s", channel="ch", story_id=4, article_id=None, idem_key="k4")
    store.hold_alerts([held, first, later], now + timedelta(seconds=300))
    assert store.alerts_to_compose(now + timedelta(seconds=299), ["ch"]) == []
    assert [a["id"] for a in store.alerts_to_compose(now + timedelta(seconds=301), ["ch"])] == [later, held]
    assert store.list_alerts(status="sent")[0]["id"] == first


def test_queries_are_written_with_question_marks_on_both_engines(store):
    """A query is written once, with `?`: PostgreSQL's connection hands psycopg `%s`, and a literal `%` stays one."""
    assert store.one("SELECT CAST(? AS TEXT) || '%'", ("50",)) == "50%"
    assert store.one("SELECT '100%'") == "100%"                     # without parameters the SQL goes as it is
    store.skip_url("s", "http://x/100%", "HTTP 404")
    assert store.all("SELECT url FROM source_urls WHERE url LIKE '%/100%' AND source = ?", ("s",)) == [("http://x/100%",)]
    assert store.insert("INSERT INTO stories (title, copies) VALUES (?, ?)", ("t", 1)) == store.one("SELECT max(id) FROM stories")


def test_a_nested_transaction_is_a_savepoint(store):
    with store.tx():
        store.update_source_state("kept", state=SourceState.OK)
        with pytest.raises(RuntimeError), store.tx():
            store.update_source_state("undone", state=SourceState.FAILING)
            store.skip_url("undone", "http://x/1", "HTTP 404")
            raise RuntimeError("the inner block fails")
        store.skip_url("kept", "http://x/2", "HTTP 410")
    assert store.source_state("kept")["state"] == "ok"
    assert store.count_skipped("kept") == 1 and store.count_skipped("undone") == 0
    assert [r["source"] for r in store.source_health()] == ["kept"]


def test_an_outer_transaction_that_fails_leaves_nothing(store):
    with pytest.raises(RuntimeError), store.tx():
        with store.tx():
            store.skip_url("s", "http://x/1", "HTTP 404")
        raise RuntimeError
    assert store.count_skipped("s") == 0


def test_a_source_is_leased_once_per_cycle_and_a_lease_runs_out(store):
    due = {"a": iso_ms(at(0)), "b": iso_ms(at(0))}
    assert store.claim_sources(due, worker="w1", now=at(1), lease=10) == ["a", "b"]
    assert store.claim_sources(due, worker="w2", now=at(2), lease=10) == []             # held
    assert store.renew_sources(["a", "b"], worker="w1", now=at(5), lease=10) == ["a", "b"]
    store.release_sources(["b"], worker="w1")
    assert store.claim_sources(due, worker="w2", now=at(6), lease=10) == []             # crawled this cycle
    later = {"a": iso_ms(at(7)), "b": iso_ms(at(7))}
    assert store.claim_sources(later, worker="w2", now=at(8), lease=10) == ["b"]        # a: w1's lease holds
    assert store.claim_sources(later, worker="w2", now=at(16), lease=10) == ["a"]       # w1 died: it ran out
    assert store.renew_sources(["a"], worker="w1", now=at(17), lease=10) == []          # w1 lost it
    assert store.source_state("a")["claimed_by"] == "w2"
    # least recently claimed first, at most `limit`
    store.release_sources(["a", "b"], worker="w2")
    assert store.claim_sources({"a": iso_ms(at(20)), "b": iso_ms(at(20)), "c": iso_ms(at(20))},
                               worker="w3", now=at(20), lease=10, limit=2) == ["b", "c"]


def test_a_dead_workers_unfinished_crawls_are_freed_and_due_again(store):
    due = {"a": iso_ms(at(0)), "b": iso_ms(at(0))}
    assert store.claim_sources(due, worker="dead", now=at(1), lease=3600) == ["a", "b"]
    store.release_sources(["b"], worker="dead")                 # b's crawl finished, a's did not
    assert store.lease_holders(at(2)) == ["dead"]
    assert store.claim_sources(due, worker="w2", now=at(2), lease=10) == []            # held / crawled
    assert store.free_leases_of("dead") == ["a"]
    assert store.lease_holders(at(2)) == []
    assert store.claim_sources(due, worker="w2", now=at(3), lease=10) == ["a"]         # due again at once
    assert store.free_leases_of("w3") == []


def test_live_daemons_are_counted_by_their_tags(store):
    assert store.worker_seen("w1", tags=[], now=at(0), ttl=30) == 1
    assert store.worker_seen("w2", tags=[], now=at(10), ttl=30) == 2
    assert store.worker_seen("cn", tags=["cn-mainland"], now=at(10), ttl=30) == 1
    assert store.worker_seen("w2", tags=[], now=at(45), ttl=30) == 1                    # w1 stopped saying so
    store.worker_gone("w2")
    assert store.worker_seen("w3", tags=[], now=at(46), ttl=30) == 1


def test_a_daemon_not_renewed_within_its_lease_is_gone_from_workers_at_another_ones_keep_alive(store):
    """`workers` is the running daemons: a row not renewed within its own `[worker] lease` (a daemon killed,
    its keep-alive every third of the lease never came) is removed at another daemon's keep-alive; a live one,
    or one with a longer lease still within it, stays."""
    store.worker_seen("killed", tags=[], now=at(0), ttl=30)
    store.worker_seen("slow", tags=["x"], now=at(0), ttl=600)      # another daemon's lease: 10 minutes
    store.worker_seen("live", tags=[], now=at(0), ttl=30)
    store.worker_seen("live", tags=[], now=at(25), ttl=30)
    store.worker_seen("other", tags=[], now=at(31), ttl=30)
    assert sorted(r["worker"] for r in store.q("SELECT worker FROM workers")) == ["live", "other", "slow"]
    store.worker_seen("other", tags=[], now=at(601), ttl=30)
    assert sorted(r["worker"] for r in store.q("SELECT worker FROM workers")) == ["other"]


# -- under real concurrency: each thread has its own store (its own connections), as a process has ----

def _together(n, fn):
    start, errors = threading.Barrier(n), []

    def run(i):
        start.wait()
        try:
            fn(i)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors


def test_workers_claiming_at_once_each_get_other_sources(store_location, store):
    sources = {f"s{i:02}": iso_ms(at(0)) for i in range(40)}
    store.claim_sources({}, worker="none", now=at(0), lease=60)
    got: dict[int, list[str]] = {}

    def claim(i):
        own = Store(store_location)
        got[i] = []
        for _ in range(10):
            got[i] += own.claim_sources(sources, worker=f"w{i}", now=at(1), lease=60, limit=4)
        own.close()

    _together(4, claim)
    everything = [s for names in got.values() for s in names]
    assert sorted(everything) == sorted(sources)          # each source leased once, none left


def test_copies_processed_at_once_by_two_workers_join_one_story(store_location, store):
    classifier = Classifier(load_topics())
    text = ("中国人民银行宣布实施一次性信用修复政策，符合条件的个人逾期记录将不予展示，征信修复骗局需警惕。"
            "此次政策覆盖2020年1月1日至2025年12月31日期间的逾期信息，编号{n}。")
    rounds = 8

    def worker(i):              # a worker's store, opened in its own thread (SQLite's connections stay in theirs)
        processor = Processor(Store(store_location), classifier)
        for n in range(rounds):
            start.wait()
            processor.process(url=f"http://site{i}/a/{n}.html", source=f"src{i}", title=f"央行推出一次性信用修复政策（{n}）",
                              body=text.format(n=1000 + n), lang="zh", published_at=None)
        processor.store.close()

    start = threading.Barrier(2)
    _together(2, worker)
    assert store.count_articles() == 2 * rounds
    assert store.count_stories() == rounds                 # one story per pair of copies, whoever came first


def test_senders_of_one_channel_keep_its_pacing_and_never_share_a_message(store_location, store):
    now = datetime.now(UTC)
    with store.tx():
        for i in range(12):
            store.add_message(channel="ch", kind="article", idem_key=f"k{i}", payload={}, alert_ids=[], now=now)
    claimed: list[int] = []

    def send(i):
        own = Store(store_location)
        for _ in range(10):
            msg, _ = own.claim_message("ch", now, per_minute=5, min_gap=0, window=60, margin=0, lease=90, worker=f"w{i}")
            if msg is not None:
                claimed.append(msg["id"])
        own.close()

    _together(3, send)
    assert len(claimed) == 5 == len(set(claimed))           # the channel's five a minute, across the three senders


def test_a_message_whose_lease_ran_out_waits_for_the_channels_pacing_too(store):
    """A sender died mid-send and the channel is at its pacing limit: the message is taken over when the pacing
    allows, and the outbox's next due time says so (it stayed in the past: the delivery loop polled every 50 ms)."""
    now = datetime.now(UTC)
    with store.tx():
        store.add_message(channel="ch", kind="article", idem_key="k", payload={}, alert_ids=[], now=now)
    msg, _ = store.claim_message("ch", now, per_minute=1, min_gap=0, window=60, margin=0, lease=1, worker="dead")
    assert msg is not None
    later = now + timedelta(seconds=2)                       # its lease ran out; the pacing says 58 s more
    nothing, wait = store.claim_message("ch", later, per_minute=1, min_gap=0, window=60, margin=0, lease=90, worker="w")
    assert nothing is None and wait > 50
    store.postpone_messages("ch", later + timedelta(seconds=wait))
    assert store.next_due_at(["ch"]) >= iso_ms(later + timedelta(seconds=wait - 1))


def test_a_message_given_back_unsent_is_as_it_was_before_its_claim(store):
    """A claim that came too late to send within its lease is given back: the message and its alert are due as
    they were, the attempt not counted and the channel's pacing slot free — a first attempt and a retry alike —,
    and a sender that lost the claim meanwhile cannot give it back."""
    now = datetime.now(UTC)
    alert = store.enqueue_alert(subscription="s", channel="ch", story_id=1, article_id=None, idem_key="k")
    with store.tx():
        mid = store.add_message(channel="ch", kind="article", idem_key="k", payload={}, alert_ids=[alert], now=now)
    pace = dict(per_minute=1, min_gap=0, window=60, margin=0, lease=90, worker="w")
    msg, _ = store.claim_message("ch", now, **pace)
    assert store.release_message(msg, note="claimed too late")
    row = store.q("SELECT status, attempts, claimed_at, claimed_by, claimed_until, last_error FROM messages")[0]
    assert row == {"status": "pending", "attempts": 0, "claimed_at": None, "claimed_by": None, "claimed_until": None,
                   "last_error": "claimed too late"}
    assert [(a["status"], a["attempts"]) for a in store.list_alerts()] == [("pending", 0)]
    assert store.messages_since("ch", now - timedelta(seconds=60), now) == 1      # waiting to go, no slot taken
    again, wait = store.claim_message("ch", now + timedelta(seconds=1), **pace)   # one a minute: still free
    assert again is not None and again["id"] == mid and wait == 0 and again["attempts"] == 1
    assert not store.release_message({**again, "claimed_by": "another sender"}, note="x")
    store.finish_message(again, status=MessageStatus.RETRY, error="HTTP 500", next_attempt_at=now)
    first_try = store.one("SELECT claimed_at FROM messages")
    retry, _ = store.claim_message("ch", now + timedelta(seconds=61), **pace)
    assert store.release_message(retry, note="late")
    assert store.q("SELECT status, attempts, claimed_at FROM messages")[0] == {
        "status": "retry", "attempts": 1, "claimed_at": first_try}
    assert [(a["status"], a["attempts"]) for a in store.list_alerts()] == [("retry", 1)]


def test_a_claims_lease_counts_from_when_it_had_the_lock(store):
    """A sender reads the time, then its claim may wait for the lock (another process's write, a channel's
    pacing lock): the lease runs from when the claim holds the lock, so the wait does not eat the time a send
    and the recording of its answer need (a claim that had waited 60 s kept only 30 s of its 90)."""
    before = datetime.now(UTC) - timedelta(seconds=120)
    with store.tx():
        store.add_message(channel="ch", kind="article", idem_key="k", payload={}, alert_ids=[], now=before)
    start = datetime.now(UTC)
    waited = start - timedelta(seconds=60)                  # the time the sender read before a 60 s wait
    msg, _ = store.claim_message("ch", waited, per_minute=60, min_gap=0, window=60, margin=0, lease=90, worker="w")
    assert msg is not None
    assert datetime.fromisoformat(msg["claimed_until"]) >= start + timedelta(seconds=90)


def test_a_try_to_record_an_outcome_waits_no_longer_than_finish_wait(store_location, monkeypatch):
    """What another process holds — SQLite's write lock; on PostgreSQL the message's row — is waited for only as
    long as `finish_wait` counts (the sender starts a try only if it can end within its claim's lease): then the
    try fails with a StoreError, and a later one records the outcome. (The waits shortened for the test.)"""
    from regwatch.pipeline.store import StoreError
    from regwatch.pipeline.store.postgres import outbox as pg_outbox
    from regwatch.pipeline.store.sqlite import connection as sqlite_connection

    monkeypatch.setattr(sqlite_connection, "STORE_LOCK_WAIT", 0.2)
    monkeypatch.setattr(pg_outbox, "PG_FINISH_STATEMENT", 0.2)
    store = Store(store_location)
    try:
        now = datetime.now(UTC)
        with store.tx():
            store.add_message(channel="ch", kind="article", idem_key="k", payload={}, alert_ids=[], now=now)
        msg, _ = store.claim_message("ch", now, per_minute=60, min_gap=0, window=60, margin=0, lease=90, worker="w")
        with _locked_elsewhere(store_location, "SELECT id FROM messages FOR UPDATE"), pytest.raises(StoreError):
            store.finish_message(msg, status=MessageStatus.SENT, sent_at=now)
        assert store.one("SELECT status FROM messages") == MessageStatus.SENDING
        assert store.finish_message(msg, status=MessageStatus.SENT, sent_at=now)
        assert store.one("SELECT status FROM messages") == MessageStatus.SENT
    finally:
        store.close()


@contextmanager
def _locked_elsewhere(location: str, pg_lock: str):
    """Another process in a transaction holding the store's write lock (SQLite) or what `pg_lock` takes (PostgreSQL:
    every message row, a table as a schema change does…)."""
    if location.startswith("postgresql"):
        import psycopg

        with psycopg.connect(location) as pg:
            # (held 20 s at most: a store call that waits for the lock without end fails the test, not hangs it)
            pg.execute("SET idle_in_transaction_session_timeout = '20s'")
            pg.execute(pg_lock)
            yield
            pg.rollback()
        return
    import sqlite3

    conn = sqlite3.connect(location, isolation_level=None)
    try:
        conn.execute("BEGIN IMMEDIATE")
        yield
        conn.execute("ROLLBACK")
    finally:
        conn.close()


def test_a_channel_recovery_seen_by_two_senders_at_once_is_theirs_once(store_location, store):
    """Each sender records the change it saw; the one whose write changed the row reports it. The second
    reads the row before the first commits (on PostgreSQL) and waits for it at its write."""
    store.set_channel_state("ch", "broken", "gone")
    seen: dict[str, str | None] = {}

    def other():
        own = Store(store_location)
        try:
            with own.tx():
                seen["second"] = own.set_channel_state("ch", "ok")
        finally:
            own.close()

    with store.tx():
        seen["first"] = store.set_channel_state("ch", "ok")
        t = threading.Thread(target=other)
        t.start()
        _waiting_for_a_lock(store_location, t)
    t.join(60)
    assert seen == {"first": "broken", "second": "ok"}       # one "recovered", not two


def _waiting_for_a_lock(location: str, t: threading.Thread) -> None:
    """Until another connection waits for a row lock (PostgreSQL), or a moment for the thread to reach
    its transaction (SQLite: it waits to begin one)."""
    if not location.startswith("postgresql"):
        t.join(0.5)
        return
    import psycopg

    with psycopg.connect(location, autocommit=True) as pg:
        for _ in range(600):
            if pg.execute("SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'").fetchone()[0]:
                return
            t.join(0.05)
    raise AssertionError("the second sender never waited for the first")


def _behind_its_back(location: str, *statements: str) -> list[tuple]:
    """Run SQL on a store's database as an older regwatch would; the `url` columns of both tables after."""
    dump = "SELECT url FROM list_cache UNION ALL SELECT url FROM source_state"
    if location.startswith("postgresql"):
        import psycopg

        with psycopg.connect(location, autocommit=True) as pg:
            for q in statements:
                pg.execute(q)
            return pg.execute(dump).fetchall()
    import sqlite3

    conn = sqlite3.connect(location)
    try:
        for q in statements:
            conn.execute(q)
        conn.commit()
        return conn.execute(dump).fetchall()
    finally:
        conn.close()


def test_a_store_keeping_configured_urls_as_text_gets_them_as_digests(store_location):
    """Before m11 / p2 a source's list URL (which may carry a token) was stored as text: the step re-keys
    the rows, and the store finds them by the URL as before."""
    secret_url = "https://x/api/list?token=s3cret"
    Store(store_location).close()
    old_cache = ("INSERT INTO list_cache (source, url, etag, body_hash, checked_at) "
                 f"VALUES ('feed', '{secret_url}', 'e', 'h', 't')")
    old_state = f"INSERT INTO source_state (source, state, baselined_at, url) VALUES ('feed', 'ok', '2026-01-01', '{secret_url}')"
    if store_location.startswith("postgresql"):
        undo = ["DELETE FROM regwatch_migrations WHERE name = 'p2_url_digests'"]
    else:
        undo = ["DELETE FROM _sqlite_migrations WHERE name = 'm11_url_digests'", "PRAGMA user_version=10"]
    _behind_its_back(store_location, old_cache, old_state, *undo)
    s = Store(store_location)
    after = _behind_its_back(store_location)
    assert len(after) == 2 and all(u.startswith("sha256:") for (u,) in after) and "s3cret" not in repr(after)
    assert s.list_cache("feed", secret_url)["etag"] == "e" and s.baselined_on_url(secret_url) == ["feed"]
    # an older regwatch still running beside this one (a rolling upgrade) writes the URL itself again:
    # the next write of this version takes that row away
    assert "s3cret" in repr(_behind_its_back(store_location, old_cache))
    s.save_list_cache("feed", secret_url, "e2", None, "h")
    after = _behind_its_back(store_location)
    assert len(after) == 2 and "s3cret" not in repr(after) and s.list_cache("feed", secret_url)["etag"] == "e2"
    s.close()


def test_a_call_waiting_for_another_processs_lock_gives_up_after_the_store_lock_wait(store_location, monkeypatch):
    """A table locked by another process (a schema change's ACCESS EXCLUSIVE on PostgreSQL, the write lock on
    SQLite) is waited for STORE_LOCK_WAIT on both engines — SQLite's busy timeout, PostgreSQL's lock_timeout —,
    then the call fails with a StoreError (one line from a command), not a wait without end. (The wait shortened.)"""
    import time

    from regwatch.pipeline.store import StoreError
    from regwatch.pipeline.store.postgres import connection as pg_connection
    from regwatch.pipeline.store.sqlite import connection as sqlite_connection

    monkeypatch.setattr(sqlite_connection, "STORE_LOCK_WAIT", 0.5)
    monkeypatch.setattr(pg_connection, "STORE_LOCK_WAIT", 0.5)
    store = Store(store_location)
    try:
        a = article(store, "http://x/1")
        with _locked_elsewhere(store_location, "LOCK TABLE articles IN ACCESS EXCLUSIVE MODE"):
            started = time.monotonic()
            with pytest.raises(StoreError, match="lock"):
                if store_location.startswith("postgresql"):
                    store.search("征信")            # a read waits for a table locked for a schema change
                else:
                    store.set_label(a, "rate_cap", True)   # (SQLite readers never wait: a write does)
            assert time.monotonic() - started < 10
        assert [r["id"] for r in store.search("征信")] == [a]
    finally:
        store.close()
