"""Delivery from the outbox: at-least-once, paced below each platform's limits, retried with backoff.

Two steps, both through the store so that any number of processes on one store send each
alert once:

1. **compose** — due alerts become messages, once: one alert a message, except scheduled
   digests and bursts larger than what the channel may take this minute, which become digests.
   Alerts to a channel that is full this minute, or failing (its last attempt waits out a retry that
   was the channel's failure, not one message's alone), wait uncomposed, and are composed together
   with its next due alert.
   A digest is split where the platform's size limits need it, each part whole. A message's
   payload and idempotency key are fixed here, so a retry is the same message.
2. **send** — each channel is drained by its own task (a slow endpoint delays only itself: while
   one hangs, new alerts are composed and the other channels drained): a due message is claimed
   (a lease; a crashed sender's claim expires and another takes over), sent, and its outcome
   recorded on the message and its alerts.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import random
import socket
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from ..defaults import (
    ALSO_IN_EVENT,
    BACKOFF_CAP,
    BUSY_LOOK,
    CLAIM_LEASE,
    CUT_SEND,
    DAEMON_IDLE,
    DELIVERY_CONNECT_TIMEOUT,
    DISPLAY_TZ,
    ERROR_CHARS,
    FAILING_HOLD,
    HOLD_MIN,
    LATE_GRACE,
    PACE_MARGIN,
    PACE_WINDOW,
    RECORD_MARGIN,
    RESEND_WINDOW,
    SEND_DEADLINE,
    SHORT_WAIT,
    STOP_CUT_RETRY,
    USER_AGENT,
)
from ..pipeline.store import FAILED_ALONE, AlertKind, ChannelState, Failure, MessageStatus, Store, StoreError
from ..pipeline.timeutil import utcnow
from .message import Message, build_message, digest_message, health_message, health_summary_message, lead_text, plain
from .platforms import Outcome, Platform, platform_for, redact
from .subscriptions import enqueue_health, idem_key

log = logging.getLogger("regwatch.alerts")


@dataclass
class DeliveryStats:
    sent: int = 0           # alerts (a digest of ten counts ten)
    notices: int = 0        # health notices sent (not alerts)
    retried: int = 0
    failed: int = 0
    messages: int = 0
    errors: list[str] = field(default_factory=list)


def backoff(attempts: int) -> float:
    """2, 4, 8 … seconds, capped, with jitter so that retries do not arrive together."""
    base = min(BACKOFF_CAP, 2.0 ** min(attempts, 32))     # (a day of retries is hundreds of attempts)
    return base * random.uniform(0.8, 1.2)


class Dispatcher:
    def __init__(self, store: Store, channels: list, topic_names: dict[str, str], alerts_cfg: Any,
                 client: httpx.AsyncClient | None = None, echo: Callable[[str], None] | None = None,
                 tz: str = DISPLAY_TZ, shown: Callable[..., str | None] | None = None):
        self.store = store
        # a health notice's stored detail as shown (`Config.error_shown`: masked again with the secrets of the source
        # or channel it is of, as a notice queued by an older release kept it raw); without it, what URLs carry
        self.shown: Callable[..., str | None] = shown or (lambda text, **about: redact(text))
        self.platforms: dict[str, Platform] = {c.name: platform_for(c) for c in channels}
        if echo is not None:
            for p in self.platforms.values():
                if hasattr(p, "echo"):
                    p.echo = echo
        self.topic_names = topic_names
        self.cfg = alerts_cfg
        self.tz = tz
        self.client = client
        self._own_client = False
        self.worker = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.on_attempt: Callable[[float], None] = lambda seconds: None   # delivery-duration metric
        self.wake = asyncio.Event()
        self._until: float | None = None      # `hurry`: no waiting past this (a time.time())
        self._hurried = asyncio.Event()
        self._cut_timer: asyncio.TimerHandle | None = None   # `hurry`: sends still in flight at `_until` are cut off
        self._sending: set[asyncio.Task[Outcome]] = set()     # sends in flight
        self._cut: set[asyncio.Task[Outcome]] = set()         # … of them, cut off by `hurry`'s deadline
        self._finishing = False               # `finish`: the send in flight ends the loop, no new one starts
        self._failing: dict[str, str] = {}    # channel → the error its failing began with (logged once, and its end)

    def finish(self) -> None:
        """The daemon stops: `run_forever` returns once the sends in flight have their answers (a send cut off
        mid-request leaves its message claimed, and sent again after the lease though the platform had it)."""
        self._finishing = True
        self.wake.set()
        self._hurried.set()

    def resume(self) -> None:
        """Sends may start again (the stop's last pass for due alerts, which `hurry` gives its own seconds)."""
        self._finishing = False
        self._until = None
        if self._cut_timer is not None:
            self._cut_timer.cancel()
            self._cut_timer = None

    async def __aenter__(self) -> Dispatcher:
        if self.client is None:
            self.client = httpx.AsyncClient(timeout=httpx.Timeout(SEND_DEADLINE, connect=DELIVERY_CONNECT_TIMEOUT),
                                            follow_redirects=False, headers={"User-Agent": USER_AGENT})
            self._own_client = True
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._own_client and self.client is not None:
            await self.client.aclose()
            self.client = None

    # -- what an alert says -------------------------------------------------------------------

    def message_for(self, alert: dict[str, Any]) -> Message:
        payload = json.loads(alert["payload"] or "{}")
        if alert["kind"] == AlertKind.HEALTH:
            payload = self._health_shown(payload)
        if alert["kind"] == AlertKind.HEALTH and "changes" in payload:
            m = health_summary_message(payload["changes"], self.tz)
            m.data = plain(payload)
            return m
        if alert["kind"] == AlertKind.HEALTH:
            m = health_message(payload.get("source", "?"), payload.get("state", "?"), payload.get("detail"),
                               payload.get("recovered", False), self.tz)
            m.data = plain(payload)
            return m
        article = self.store.article(alert["article_id"]) or {}
        topics = self.store.topics_of(alert["article_id"])
        # copies that joined the story before the alert went out: "also reported by …", never alerts of their own
        own = article.get("outlet") or article.get("source")
        also = [o for o in self.store.story_outlets(alert["story_id"]) if o and o != own]
        m = build_message(article, topics, self.topic_names, alert["subscription"], self.cfg.lead_chars,
                          tz=self.tz, also=also, keyword=payload.get("keyword"))
        # (the page's own text, every string of it without what no output shows live: `plain`)
        m.data = plain({"subscription": alert["subscription"], "story_id": alert["story_id"],
                        "keyword": payload.get("keyword"),
                        "article": {k: article.get(k) for k in ("url", "title", "source", "outlet", "published_at", "lang")},
                        "topics": [{"id": t["topic"], "score": t["score"], "terms": [e["term"] for e in t["evidence"]]}
                                   for t in topics],
                        "lead": lead_text(article.get("body") or "", self.cfg.lead_chars, article.get("title") or ""),
                        "also_reported_by": also[:ALSO_IN_EVENT], "also_reported_count": len(also)})
        return m

    # -- compose ------------------------------------------------------------------------------

    def _health_shown(self, payload: dict[str, Any]) -> dict[str, Any]:
        """A health notice's payload, each change's `detail` as shown (`self.shown`)."""
        def one(change: dict[str, Any]) -> dict[str, Any]:
            if not change.get("detail"):
                return change
            about = str(change.get("source") or "")
            of = {"channel": about.removeprefix("channel ")} if about.startswith("channel ") else {"source": about}
            return {**change, "detail": self.shown(str(change["detail"]), **of)}

        if isinstance(payload.get("changes"), list):
            return {**payload, "changes": [one(c) if isinstance(c, dict) else c for c in payload["changes"]]}
        return one(payload)

    def compose(self) -> int:
        """Turn due alerts into messages (once); returns how many messages were made."""
        made = 0
        now = utcnow()
        with self.store.tx():
            by_channel: dict[str, list[dict[str, Any]]] = {}
            for a in self.store.alerts_to_compose(now, list(self.platforms)):
                by_channel.setdefault(a["channel"], []).append(a)
            for name, alerts in by_channel.items():
                platform = self.platforms.get(name)
                if platform is None:    # another process's channel (a config being rolled out): its to send
                    continue
                for kind, group in self._groups(platform, alerts, now):
                    made += self._compose_group(platform, kind, group, now)
        return made

    def _groups(self, platform: Platform, alerts: list[dict[str, Any]], now: datetime) -> list[tuple[str, list]]:
        """Scheduled digests per subscription; bursts over this minute's budget as digests; the rest alone."""
        out: list[tuple[str, list]] = []
        scheduled: dict[str, list] = {}
        burst: dict[str, list] = {}
        singles = []
        for a in alerts:
            if a["kind"] == AlertKind.ARTICLE and a["digest_at"]:
                scheduled.setdefault(a["subscription"], []).append(a)
            else:
                singles.append(a)
        articles = [a for a in singles if a["kind"] == AlertKind.ARTICLE]
        per_minute, gap = platform.pace
        budget = per_minute - self.store.messages_since(platform.name, now - timedelta(seconds=PACE_WINDOW), now)
        failing = self.store.failing_until(platform.name) if articles else None
        oldest = min((datetime.fromisoformat(a["created_at"]) for a in articles), default=now)
        latest = oldest + timedelta(seconds=FAILING_HOLD)
        # a wait the platform named (a rate limit) is waited out whole, not cut at FAILING_HOLD — by every process on
        # the store (a `run --once` from cron, another daemon), not only the one that was told
        told = self.store.told_until(platform.name, now) if failing is not None else None
        if told is not None and told > latest:
            latest = told
        if failing is not None and latest > now:
            # the channel's last attempt failed: what comes in meanwhile waits, uncomposed, for its next retry, and
            # goes out when it answers again — one digest per subscription when more than it may take that minute
            # (composed one a message, a backlog would use up the minutes after its recovery one article a message).
            # At most FAILING_HOLD: a retry's backoff reaches an hour (a message the channel refuses alone no longer
            # counts once the channel took another: `Store.finish_message`)
            until = min(max(failing, now + timedelta(seconds=HOLD_MIN)), latest)
            self.store.hold_alerts([a["id"] for a in articles], until)
            singles = [a for a in singles if a["kind"] != AlertKind.ARTICLE]
        elif failing is not None:
            # held FAILING_HOLD: they go now, together (one digest per subscription; one alone as itself), whatever
            # the channel's minute holds (its waiting retries count in it), and try the channel themselves
            if len(articles) > 1:
                for a in articles:
                    burst.setdefault(a["subscription"], []).append(a)
                singles = [a for a in singles if a["kind"] != AlertKind.ARTICLE]
        elif articles and budget <= 0:
            # the channel takes nothing more this minute: the alerts wait uncomposed until it can, and what gathers
            # meanwhile goes out together (one-article digests, one a compose, were the burst sent piecemeal)
            wait = self.store.pacing_wait(platform.name, now, per_minute=per_minute, min_gap=gap, window=PACE_WINDOW,
                                          margin=PACE_MARGIN)
            self.store.hold_alerts([a["id"] for a in articles], now + timedelta(seconds=max(wait, HOLD_MIN)))
            singles = [a for a in singles if a["kind"] != AlertKind.ARTICLE]
        elif len(articles) > budget:
            for a in articles:
                burst.setdefault(a["subscription"], []).append(a)
            singles = [a for a in singles if a["kind"] != AlertKind.ARTICLE]
        out += [(AlertKind.DIGEST, g) for g in scheduled.values()]
        out += [(AlertKind.DIGEST, g) for g in burst.values()]
        out += [(a["kind"], [a]) for a in singles]
        return out

    def _compose_group(self, platform: Platform, kind: str, group: list[dict[str, Any]], now: datetime) -> int:
        ids = [a["id"] for a in group]
        try:
            if kind != AlertKind.DIGEST:
                m = self.message_for(group[0])
                payload = self._payload(platform, m)
                self.store.add_message(channel=platform.name, kind=kind, idem_key=group[0]["idem_key"],
                                       payload=payload, alert_ids=ids, now=now)
                return 1
            parts = [self.message_for(a) for a in group]
            digest = digest_message(parts, group[0]["subscription"], self.tz)
            for item, m in zip(digest.items, parts, strict=True):
                item.data = m.data
            packed = platform.pack(digest)
            for indexes, payload in packed:
                members = [group[i] for i in indexes]
                self.store.add_message(channel=platform.name, kind=AlertKind.DIGEST,
                                       idem_key=idem_key("digest", platform.name, members[0]["idem_key"], len(members)),
                                       payload=payload, alert_ids=[a["id"] for a in members], now=now)
            return len(packed)
        except Exception as e:  # a broken article record must not stop the outbox
            log.warning("cannot render alerts %s for %s: %s", ids, platform.name, e)
            self.store.fail_alerts(ids, f"cannot render: {e}"[:ERROR_CHARS])
            return 0

    @staticmethod
    def _payload(platform: Platform, m: Message) -> dict[str, Any]:
        return platform.render_fitted(m)

    # -- send ---------------------------------------------------------------------------------

    async def _drain(self, name: str, stats: DeliveryStats) -> bool:
        """Send the channel's due messages in order, paced; True when at least one went out."""
        platform = self.platforms[name]
        per_minute, gap = platform.pace
        progressed = False
        while not self._finishing and not (self._until is not None and time.time() >= self._until):
            now = utcnow()
            msg, wait = self.store.claim_message(name, now, per_minute=per_minute, min_gap=gap, window=PACE_WINDOW,
                                                 margin=PACE_MARGIN, lease=CLAIM_LEASE, worker=self.worker)
            if msg is None:
                if 0 < wait <= SHORT_WAIT:
                    await asyncio.sleep(wait)
                    continue
                if wait > 0:
                    self.store.postpone_messages(name, now + timedelta(seconds=wait))
                return progressed
            if not self._time_to_send(msg):
                # the claim itself waited on the store (another process's lock, a stalled server): what is left of
                # its lease would not cover a whole send and the recording of its answer. Given back unsent, as it
                # was (its place in the channel's order, its attempts and pacing untouched), rather than sent with a
                # lease another sender might take over before its answer is recorded; the next pass claims it again
                log.warning("message %s to %s not sent now: claiming it took too long for a send within its lease",
                            msg["id"], platform.name)
                self._give_back(msg)
                return progressed
            progressed = True
            assert self.client is not None or not platform.http, "use the Dispatcher as `async with`"
            started = time.monotonic()
            send = asyncio.ensure_future(platform.send(self.client, json.loads(msg["payload"]), msg["idem_key"]))  # type: ignore[arg-type]
            self._sending.add(send)
            try:
                outcome = await send
            except asyncio.CancelledError:
                task = asyncio.current_task()
                if send not in self._cut or (task is not None and task.cancelling()):
                    raise               # this pass itself is cancelled: the message stays claimed until its lease
                log.warning("message %s to %s cut off by regwatch's stop before %s answered; it is retried after "
                            "%.0f s at the earliest (not by this stop)", msg["id"], platform.name, platform.name,
                            STOP_CUT_RETRY)
                outcome = Outcome("retry", CUT_SEND, retry_after=max(STOP_CUT_RETRY, backoff(msg["attempts"])), cut=True)
            except Exception as e:  # noqa: BLE001 - an answer no reading foresaw: the message is retried, not stuck
                log.exception("reading %s's answer failed", platform.name)
                outcome = Outcome("retry", f"an answer regwatch could not read ({type(e).__name__})")
            finally:
                self._sending.discard(send)
                self._cut.discard(send)
            if platform.http:
                self.on_attempt(time.monotonic() - started)
            await self._record(msg, platform, outcome, stats)
        return progressed

    def _time_to_send(self, msg: dict[str, Any]) -> bool:
        """Whether a claimed message's lease still covers a whole send and the recording of its answer."""
        need = timedelta(seconds=SEND_DEADLINE + self.store.finish_wait + RECORD_MARGIN)
        return utcnow() + need <= datetime.fromisoformat(msg["claimed_until"])

    def _give_back(self, msg: dict[str, Any]) -> None:
        try:
            self.store.release_message(msg, note="claimed too late to be sent within its lease; given back unsent")
        except StoreError as e:     # it stays claimed, unsent: another sender takes it over when the lease runs out
            log.warning("cannot give message %s back (%s): nothing was sent; it is sent after its claim runs out at %s",
                        msg["id"], e, msg["claimed_until"])
            raise

    def _gives_up(self, msg: dict[str, Any], now: datetime) -> bool:
        """Whether a message failing for a passing reason is given up: once it has had `max_attempts` and is older
        than `retry_for` (an outage shorter than that loses nothing, however often a cron run tries)."""
        if msg["attempts"] < self.cfg.max_attempts:
            return False
        return now - datetime.fromisoformat(msg["created_at"]) >= timedelta(seconds=self.cfg.retry_for)

    async def _finish(self, msg: dict[str, Any], **outcome: Any) -> Failure | bool:
        """Record a send's outcome on its message, tried again while the store cannot take it (a PostgreSQL restart
        or stall, an SQLite file another process holds): unrecorded, a message the platform accepted stays `sending`
        and is sent again when its lease runs out. The claim makes a later try safe (a message another sender took
        over is not touched), but only a try that ends within the lease keeps the message from being sent twice:
        a try is started again only if it can end — its store call waiting at most `store.finish_wait` — by
        RECORD_MARGIN before the lease the claim set (`claimed_until`: CLAIM_LEASE from when the claim held the
        lock, not from the end of the send) runs out. The first try is always made (past that point it is the only
        chance left). What `finish_message` returns: a retry's mark as the store judged it."""
        lease_end = datetime.fromisoformat(msg["claimed_until"])
        last_start = lease_end - timedelta(seconds=self.store.finish_wait + RECORD_MARGIN)
        pause = 1.0
        while True:
            try:
                return self.store.finish_message(msg, **outcome)
            except StoreError as e:
                # (checked again after the pause: other channels' store calls hold the loop meanwhile)
                if utcnow() + timedelta(seconds=pause) > last_start:
                    self._unrecorded(msg, outcome, e)
                    raise
                log.warning("cannot record message %s's answer (%s); trying again in %.0f s", msg["id"], e, pause)
                await asyncio.sleep(pause)
                pause = min(pause * 2, 8.0)
                if utcnow() > last_start:
                    self._unrecorded(msg, outcome, e)
                    raise

    @staticmethod
    def _unrecorded(msg: dict[str, Any], outcome: dict[str, Any], e: StoreError) -> None:
        log.warning("cannot record message %s's answer (%s) before its claim runs out at %s: %s; it stays "
                    "sending and may be sent again after that (at least once)",
                    msg["id"], outcome.get("status"), msg["claimed_until"], e)

    async def _record(self, msg: dict[str, Any], platform: Platform, outcome: Outcome, stats: DeliveryStats) -> None:
        err = platform.redact(outcome.error)[:ERROR_CHARS] if outcome.error else None
        now = utcnow()
        n = msg["items"]
        failure: Failure | bool = False
        if outcome.ok:
            await self._finish(msg, status=MessageStatus.SENT, sent_at=now)
            # the channel answers again: what waits out a backoff goes now, before what was composed after it
            self.store.hasten_retries(platform.name, now)
            if msg["kind"] == AlertKind.HEALTH:
                stats.notices += 1
            else:
                stats.sent += n
            stats.messages += 1
        elif outcome.action == "retry" and not self._gives_up(msg, now):
            delay = outcome.retry_after if outcome.retry_after is not None else backoff(msg["attempts"])
            if not math.isfinite(delay) or delay > BACKOFF_CAP:     # a hostile Retry-After: at most the cap
                delay = BACKOFF_CAP
            elif delay <= 0:                                         # "again at once" for a day: the backoff
                delay = backoff(msg["attempts"])
            # (whose the failure is — the channel's, this message's alone — the store judges as it records it)
            failure = await self._finish(msg, status=MessageStatus.RETRY, error=err,
                                         next_attempt_at=now + timedelta(seconds=delay),
                                         cut_at=now if outcome.cut else None, named_wait=outcome.retry_after is not None)
            stats.retried += n
        else:
            status = MessageStatus.BROKEN if outcome.action == "broken" else MessageStatus.FAILED
            if outcome.action == "retry":
                err = f"given up after {msg['attempts']} attempts: {err or 'no answer'}"[:ERROR_CHARS]
            await self._finish(msg, status=status, error=err)
            stats.failed += n
            stats.errors.append(f"{platform.name}: {err}")
            log.warning("message %s to %s %s: %s", msg["id"], platform.name, status, err)
        if failure not in FAILED_ALONE:
            self._log_failing(platform.name, outcome, err or "")
        self._channel_health(platform, outcome, err or "")

    def _log_failing(self, name: str, outcome: Outcome, err: str) -> None:
        """One log line when a channel starts failing (its first failed attempt since it last answered) and one
        when it answers again, not one per attempt."""
        if outcome.ok:
            if self._failing.pop(name, None) is not None:
                log.warning("channel %s answers again: its waiting alerts go out now", name)
        elif outcome.action == "retry" and not outcome.cut and name not in self._failing:
            self._failing[name] = err
            log.warning("channel %s failing: %s (its alerts are retried with backoff; `regwatch alerts`)", name,
                        err or "no answer")

    def _channel_health(self, platform: Platform, outcome: Outcome, err: str) -> None:
        channel_answered(self.store, self.cfg, platform.name, outcome, err)

    def hurry(self, seconds: float) -> None:
        """Wait no more than `seconds` from now for what is not yet due, start no send after them, and cut off a
        send still unanswered then (a stop: due alerts get these seconds, not the rest of `once_wait` nor a hanging
        endpoint's `SEND_DEADLINE`; what is cut off is recorded to be retried — the platform may have had it)."""
        until = time.time() + seconds
        if self._until is not None and self._until <= until:
            return
        self._until = until
        self._hurried.set()
        if self._cut_timer is not None:
            self._cut_timer.cancel()
        loop = asyncio.get_running_loop()
        self._cut_timer = loop.call_at(loop.time() + seconds, self._cut_sends, loop.time() + seconds)

    def _cut_sends(self, when: float) -> None:
        loop = asyncio.get_running_loop()
        if loop.time() - when >= LATE_GRACE:    # the loop came late (a store call held it): an answer that arrived
            self._cut_timer = loop.call_at(loop.time() + LATE_GRACE, self._cut_sends, loop.time() + LATE_GRACE)
            return                              # meanwhile is read and recorded first, not cut off
        self._cut_timer = None
        for send in list(self._sending):
            if not send.done():
                self._cut.add(send)
                send.cancel()

    async def deliver_due(self, wait_until: float | None = None) -> DeliveryStats:
        """Send what is due; then, until `wait_until` (a time.time()), wait out short backoffs and limits.

        Each channel's pass is a task of its own: while one waits on a hanging endpoint, the outbox is looked at
        again every `BUSY_LOOK` seconds and whenever another channel's pass ends, so new alerts are composed and
        the other channels drained meanwhile. A channel whose pass sent nothing is not started again for
        `BUSY_LOOK` seconds, or before the next nap (a message given back is not claimed again at once). A store
        that fails meanwhile starts no new pass; the failure is raised once the passes under way have ended."""
        stats = DeliveryStats()
        running: dict[asyncio.Task[bool], str] = {}
        idle: dict[str, float] = {}         # channel → when its pass ended having sent nothing (a time.monotonic())
        failed: list[BaseException] = []
        try:
            while True:
                if not failed and not self._finishing:
                    now = time.monotonic()
                    for name in [n for n, since in idle.items() if now - since >= BUSY_LOOK]:
                        del idle[name]
                    try:
                        self.compose()
                        due = self.store.channels_due(utcnow())
                    except Exception as trouble:  # (sends in flight still get their answers recorded: not cut off here)
                        failed.append(trouble)
                        due = []
                    busy = set(running.values()) | set(idle)
                    for name in due:
                        if name in self.platforms and name not in busy:
                            running[asyncio.ensure_future(self._drain(name, stats))] = name
                if running:
                    done, _ = await asyncio.wait(running, timeout=BUSY_LOOK, return_when=asyncio.FIRST_COMPLETED)
                    for task in done:
                        name = running.pop(task)
                        if task.cancelled():   # (cancelled on its own — not this pass, which `wait` would have raised)
                            failed.append(RuntimeError(f"the delivery pass of {name} was cancelled"))
                        elif (e := task.exception()) is not None:
                            failed.append(e)
                        elif not task.result():
                            idle[name] = time.monotonic()
                    continue
                # every channel's pass ended before a failure of one is raised: a send in flight on another channel
                # is neither left running on its own nor cut off unrecorded (its message then sent again after its
                # lease)
                for other in failed[1:]:        # (the first is raised, and logged where it is caught)
                    log.warning("delivery pass of another channel failed too: %s", other)
                if failed:
                    raise failed[0]
                nxt = self.store.next_due_at(list(self.platforms))
                if nxt is None or wait_until is None:
                    return stats
                until = wait_until if self._until is None else min(wait_until, self._until)
                pause = (datetime.fromisoformat(nxt) - utcnow()).total_seconds()
                if time.time() + max(pause, 0) > until:
                    return stats
                self._hurried.clear()
                try:        # a nap that `hurry` cuts short
                    await asyncio.wait_for(self._hurried.wait(), max(0.05, min(pause, until - time.time())))
                except TimeoutError:
                    pass
                idle.clear()
        finally:
            for task in running:            # (this pass cancelled: its channels' passes with it)
                task.cancel()
            if running:
                await asyncio.gather(*running, return_exceptions=True)

    async def run_forever(self) -> None:
        """The daemon's delivery loop: woken by new alerts, or at the next due time."""
        failed = 0
        while not self._finishing:
            try:
                await self.deliver_due()
                nxt = self.store.next_due_at(list(self.platforms))
                failed = 0
            except Exception as e:  # the outbox is in the store: nothing is lost, the next pass goes on
                failed += 1     # … after a pause that grows while the store keeps failing (a full disk)
                if failed > 1:
                    log.warning("delivery pass failed again (%d in a row)", failed)
                else:
                    pass_failed(e)
                nxt = (utcnow() + timedelta(seconds=min(DAEMON_IDLE, 2.0 ** failed))).isoformat()
            timeout = DAEMON_IDLE
            if nxt:
                timeout = min(timeout, max(0.05, (datetime.fromisoformat(nxt) - utcnow()).total_seconds()))
            try:
                await asyncio.wait_for(self.wake.wait(), timeout)
            except TimeoutError:
                pass
            self.wake.clear()


def pass_failed(e: Exception) -> None:
    """Log a delivery pass that raised: the store failing (PostgreSQL restarting or unreachable, a lock held past
    its wait, a full disk) in one line; anything else is a bug and keeps its traceback."""
    if isinstance(e, StoreError):
        log.error("delivery pass failed: %s (the outbox keeps the alerts; the next pass goes on)", e)
    else:
        log.exception("delivery pass failed")


def channel_answered(store: Store, alerts_cfg: Any, name: str, outcome: Outcome, err: str = "") -> str | None:
    """A channel's answer to a message (or to `regwatch alerts test`): one that turns broken (bad signature,
    revoked token, deleted robot) is reported once on the health channels, and so is its recovery, when what it
    refused while broken is sent again. "recovered: …" when it recovered."""
    if outcome.action == "broken":
        state = ChannelState.BROKEN
    elif outcome.ok:
        state = ChannelState.OK
    else:
        return None
    with store.tx():       # the change, the messages sent again and the notice: all or none
        prev = store.set_channel_state(name, state, err or None)
        if prev == state or (prev is None and state == ChannelState.OK):
            return None
        detail = err
        if state == ChannelState.OK:
            # what the channel refused while broken goes out now (a fixed token or a re-created robot
            # loses nothing); older than RESEND_WINDOW is left to `regwatch alerts resend`
            now = utcnow()
            again = store.reopen_messages(statuses=[MessageStatus.BROKEN], channel=name, now=now,
                                          since=now - timedelta(seconds=RESEND_WINDOW))
            if again:
                detail = f"{again} alert(s) refused while it was broken are sent again"
                log.warning("channel %s recovered: %s", name, detail)
        payload = {"source": f"channel {name}", "state": state, "detail": detail, "recovered": state == ChannelState.OK}
        enqueue_health(store, [ch for ch in alerts_cfg.health_channels if ch != name], payload, "channel", name, state)
    return ("recovered" + (f": {detail}" if detail else "")) if state == ChannelState.OK else None


async def send_test(channel: Any, tz: str = DISPLAY_TZ) -> Outcome:
    """`regwatch alerts test`: one real message through the channel, the platform's verdict back."""
    from .message import test_message

    platform = platform_for(channel)
    m = test_message(tz)
    payload = platform.render_fitted(m)
    key = "msg_test_" + uuid.uuid4().hex[:16]
    async with httpx.AsyncClient(timeout=httpx.Timeout(SEND_DEADLINE, connect=DELIVERY_CONNECT_TIMEOUT),
                                 follow_redirects=False, headers={"User-Agent": USER_AGENT}) as client:
        return await platform.send(client, payload, key)
