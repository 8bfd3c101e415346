"""Commands about alerts: `alerts` (the outbox, `--stats`), `alerts test`, `subscriptions`, `subscriptions test`.

Only `alerts test` sends, so only it needs the channel's `${VAR}` secrets.
"""

from __future__ import annotations

import json
from typing import Any

import click

from ...alerts.verdict import would_send
from ...defaults import RESEND_WINDOW
from ...pipeline.store import MessageStatus
from ...pipeline.timeutil import utcnow
from ..output import STATUS_STYLE, Table, echo, json_line, json_text, note, plural, safe
from .common import Setup, UserError, config_option, json_option, limit_option, since_option, user_errors

STATUSES = ["pending", "sending", "retry", "sent", "failed", "broken", "digest"]


@click.group(invoke_without_command=True)
@click.option("--status", type=click.Choice(STATUSES), help="Only alerts in this state.")
@click.option("--channel", default=None, help="Only this channel's alerts, after its state: ok, or broken since when "
                                              "and what it answered.")
@click.option("--stats", is_flag=True, help="Counts per subscription and per channel instead: stories matched, "
                                            "alerts sent, digests, failures.")
@since_option(what="queued")
@limit_option(50, "alerts")
@json_option
@config_option
@click.pass_context
@user_errors
def alerts(ctx: click.Context, status: str | None, channel: str | None, stats: bool, since: str | None, limit: int,
           as_json: bool, config_path: str | None) -> None:
    """The outbox, newest first: what was sent and when, what waits (a digest's send time), what failed and why."""
    if ctx.invoked_subcommand:
        return
    setup = Setup(config_path)
    if stats:
        _stats(setup, since, as_json)
        return
    cfg, clock = setup.cfg, setup.clock
    if channel is not None:
        names = {c.name for c in cfg.channels}
        if channel not in names:
            raise UserError(f"no channel named {channel!r}; configured: {', '.join(sorted(names)) or 'none'}")
        if not as_json:
            _channel_state(setup, channel)
    rows = setup.store.list_alerts(status, limit, setup.since_iso(since), channel)
    t = Table([("#", None, True), (f"time ({clock.label})", None, False), ("status", None, False),
               ("channel", 16, False), ("subscription", 20, False), ("tries", None, True), ("what", None, False)])
    for r in rows:
        r["last_error"] = cfg.error_shown(r["last_error"], channel=r["channel"]) or None
        payload = json.loads(r.pop("payload") or "{}")
        if as_json:
            json_line({**r, **{k: clock.iso(r[k]) for k in ("created_at", "sent_at", "next_attempt_at", "digest_at")}})
            continue
        under = []
        if r["status"] == "digest":
            under.append(f"waits for the {r['subscription']} digest: it goes out {clock.full(r['digest_at'])}")
        elif r["status"] in ("retry", "pending") and r["next_attempt_at"] and r["attempts"]:
            under.append(f"next attempt {clock.full(r['next_attempt_at'])}")
        if r["last_error"]:
            under.append(safe(r["last_error"]))
        if r["kind"] == "health":
            what = f"health: {payload.get('source', '?')} {payload.get('state', '')}".strip()
        else:
            what = safe(r["title"] or f"article #{r['article_id']}")
        when = r["sent_at"] if r["status"] == "sent" else r["created_at"]
        t.add(str(r["id"]), clock.short(when), (r["status"], STATUS_STYLE.get(r["status"])), r["channel"],
              r["subscription"], str(r["attempts"]), what, under=under)
    t.print()
    if not rows and not as_json:
        bits = [f"with status {status}"] * bool(status) + [f"queued since {clock.full(setup.since(since))}"] * bool(since)
        note("no alerts " + " and ".join(bits) if bits else "no alerts yet")


def _state_text(setup: Setup, channel: str, row: dict[str, Any] | None) -> tuple[str, str | None]:
    """A channel's state as one phrase: `ok since …`, `broken since …: what it answered`, `failing: …` (its last
    message is waiting out a retry the channel's failure caused: HTTP 5xx, a timeout), or that it never answered."""
    failing = setup.store.failing_until(channel) if row is None or row["state"] != "broken" else None
    if failing is not None:
        return f"failing: its messages are tried again from {setup.clock.full(failing)}", "warn"
    if row is None:
        return "no answer recorded yet (`regwatch alerts test " + channel + "` asks it)", "dim"
    said = f"{row['state']} since {setup.clock.full(row['since'])}"
    if row["state"] == "broken" and row["last_error"]:
        said += ": " + safe(setup.cfg.error_shown(row["last_error"], channel=channel))
    return said, STATUS_STYLE.get(row["state"])


def _channel_state(setup: Setup, channel: str) -> None:
    """`channel NAME: ok since …` (or broken since when, and its answer), above the channel's alerts."""
    said, style = _state_text(setup, channel, setup.store.channel_states().get(channel))
    echo((f"channel {channel}: ", "head"), (said, style))


def _stats(setup: Setup, since: str | None, as_json: bool) -> None:
    store, clock = setup.store, setup.clock
    start = setup.since_iso(since)
    subs = store.subscription_counts(start)
    chans = store.channel_counts(start)
    states = store.channel_states()
    for r in chans:
        st = states.get(r["channel"])
        r["state"] = st["state"] if st else None
        r["state_since"] = clock.iso(st["since"]) if st else None
        r["last_error"] = (setup.cfg.error_shown(st["last_error"], channel=r["channel"]) or None) if st else None
    if as_json:
        click.echo(json_text({"since": clock.iso(start), "subscriptions": subs, "channels": chans}))
        return
    period = f"since {clock.full(start)}" if start else "all time"
    echo((f"per subscription ({period})", "head"))
    t = Table([("subscription", 24, False), ("stories matched", None, True), ("alerts sent", None, True),
               ("in digests", None, True), ("failed", None, True), ("waiting", None, True)])
    for r in subs:
        t.add(r["subscription"], str(r["stories"]), str(r["sent"] or 0), str(r["in_digests"] or 0),
              (str(r["failed"] or 0), "bad" if r["failed"] else None), str(r["waiting"] or 0))
    t.print()
    if not subs:
        echo(("  no alerts", "dim"))
    echo("")
    echo((f"per channel ({period})", "head"))
    t = Table([("channel", 24, False), ("matches", None, True), ("alerts sent", None, True), ("digests sent", None, True),
               ("messages failed", None, True), ("health notices", None, True), ("state now", None, False)])
    for r in chans:
        t.add(r["channel"], str(r["matches"] or 0), str(r["alerts_sent"] or 0), str(r["digests"] or 0),
              (str(r["failed"] or 0), "bad" if r["failed"] else None), str(r["health"] or 0),
              _state_text(setup, r["channel"], states.get(r["channel"])))
    t.print()
    if not chans:
        echo(("  no messages", "dim"))


@alerts.command(name="test")
@click.argument("channel")
@config_option
@user_errors
def alerts_test(channel: str, config_path: str | None) -> None:
    """Send a test message to CHANNEL and say what the platform answered (exit 2 when it refused)."""
    from ...alerts.dispatcher import channel_answered, send_test
    from ...alerts.platforms import platform_for
    from ...defaults import ERROR_CHARS
    from .. import reactor

    setup = Setup(config_path)
    cfg = setup.cfg
    names = {c.name: c for c in cfg.channels}
    if channel not in names:
        raise UserError(f"no channel named {channel!r}; configured: {', '.join(names) or 'none'}")
    cfg.require_channel_secrets(channel)   # this one sends (to this channel only)
    outcome = reactor.run(lambda: send_test(names[channel], cfg.display.tz))
    # the channel's answer counts as any message's: a broken channel that takes the test is recovered (what it
    # refused is sent again by the next run or the daemon), and one that refuses it is broken
    said = platform_for(names[channel]).redact(outcome.error)[:ERROR_CHARS]     # as the dispatcher keeps it
    recovered = channel_answered(setup.store, cfg.alerts, channel, outcome, said) if setup.has_store() else None
    if not outcome.ok:
        raise UserError(f"{channel}: {outcome.action}: {platform_for(names[channel]).redact(outcome.error)}")
    echo((f"{channel}: sent", "ok"), f"; {recovered}" if recovered else "")


@alerts.command(name="resend")
@click.option("--channel", default=None, help="Only this channel's (default: every channel's).")
@since_option(default=f"{RESEND_WINDOW / 86400:g}d", what="queued")
@config_option
@user_errors
def alerts_resend(channel: str | None, since: str, config_path: str | None) -> None:
    """Queue again the alerts that failed (retries used up) or that a broken channel refused, queued since
    --since: the next run or the daemon sends them, each with its first idempotency key. (A channel that
    recovers gets its recent broken ones again by itself.)"""
    setup = Setup(config_path)
    names = {c.name for c in setup.cfg.channels}
    if channel is not None and channel not in names:
        raise UserError(f"no channel named {channel!r}; configured: {', '.join(sorted(names)) or 'none'}")
    start = setup.since(since)
    if start is None:
        raise UserError("--since: give a duration back from now (7d) or a date (2026-12-01)")
    n = setup.store.reopen_messages(statuses=[MessageStatus.FAILED, MessageStatus.BROKEN], since=start,
                                    now=utcnow(), channel=channel)
    if n:
        echo((f"{plural(n, 'alert')} queued again", "ok"), "; the next `regwatch run --once` or the daemon sends them")
    else:
        echo("nothing to send again: no failed or broken alert was queued since then")


# -- subscriptions ------------------------------------------------------------------------------------

@click.group(invoke_without_command=True)
@json_option
@config_option
@click.pass_context
@user_errors
def subscriptions(ctx: click.Context, as_json: bool, config_path: str | None) -> None:
    """The configured subscriptions: what each wants and where it sends (`subscriptions test NAME`: what it would send)."""
    if ctx.invoked_subcommand:
        return
    setup = Setup(config_path)
    if not setup.cfg.subscriptions:
        where = "" if setup.cfg.path in (None, "<embedded default>") else f" in {setup.cfg.path}"
        note(f"no subscriptions configured{where}: no article alerts are sent; add [[subscriptions]] with topics "
             "or keywords and channels (the README's config reference)")
        return
    t = Table([("subscription", 24, False), ("topics", 40, False), ("keywords", 30, False), ("sources", 24, False),
               ("digest", None, False), ("channels", None, False)])
    for s in setup.cfg.subscriptions:
        if as_json:
            json_line(s.model_dump())
            continue
        topics = ", ".join("any" if x == "*" else setup.topic_names.get(x, x) for x in s.topics or []) or "-"
        t.add(s.name, topics, ", ".join(s.keywords) or "-", ", ".join(s.sources) or "all", s.digest or "at once",
              ", ".join(s.channels))
    t.print()


@subscriptions.command(name="test")
@click.argument("name")
@since_option(default="30d", what="stored")
@click.option("--all", "everything", is_flag=True, help="Also the stories that matched but could not alert "
                                                        "(stored by a baseline, too old), with the reason.")
@limit_option(50, "stories")
@json_option
@config_option
@user_errors
def subscriptions_test(name: str, since: str, everything: bool, limit: int, as_json: bool, config_path: str | None) -> None:
    """What subscription NAME would have sent from the store, as stories, newest first — nothing is sent.

    Uses the topics stored with each article and the subscription as configured now: edit its topics
    or keywords and run this again to see the difference."""
    setup = Setup(config_path)
    cfg, clock = setup.cfg, setup.clock
    sub = next((s for s in cfg.subscriptions if s.name == name), None)
    if sub is None:
        raise UserError(f"no subscription named {name!r}; configured: {', '.join(s.name for s in cfg.subscriptions) or 'none'}")
    stories, held = would_send(setup.store, cfg, sub, setup.since_iso(since), everything, limit)
    if as_json:
        for w in stories[:limit]:
            a = w.article
            json_line({"story_id": w.story_id if w.story_id > 0 else None, "article_id": a["id"], "url": a["url"],
                       "title": a["title"], "source": a["source"], "published_at": clock.iso(a["published_at"]),
                       "stored_at": clock.iso(a["fetched_at"]), "topics": a["topics"], "keyword": w.keyword,
                       "copies": w.copies, "would_alert": w.held is None, "why_not": w.held,
                       "outbox": [x["status"] for x in w.alerts]})
        return
    how = f"as a {sub.digest} digest" if sub.digest else "at once"
    start = setup.since(since)
    alerting = [w for w in stories if w.held is None]
    echo((f"{name} would have sent {plural(len(alerting), 'story', 'stories')} stored since {clock.full(start)} "
          f"({how}, to {', '.join(sub.channels)})", "head"))
    t = Table([(f"stored ({clock.label})", None, False), ("source", 20, False), ("copies", None, True),
               ("outbox", None, False), ("title", None, False)])
    for w in stories[:limit]:
        a = w.article
        why = [f"topics {', '.join(setup.topic_names.get(x, x) for x in a['topics']) or '-'}"]
        if w.keyword:
            why.append(f"keyword {w.keyword}")
        under = [" · ".join(why), safe(a["url"])]
        if w.held:
            under.insert(0, f"would not alert: {w.held}")
        t.add(clock.short(a["fetched_at"]), a["source"], f"×{w.copies}", _outbox_state(w.alerts),
              (safe(a["title"] or a["url"]), "dim" if w.held else "title"), under=under)
    t.print()
    if len(stories) > limit:
        note(f"{len(stories) - limit} more (--limit)")
    if held:
        note(f"{plural(held, 'more story', 'more stories')} matched but could not alert: stored by a baseline, too old, "
             "or copies of baseline news (--all lists them)")


def _outbox_state(alerts: list[dict[str, Any]]) -> tuple[str, str | None]:
    """What the outbox holds for a story on this subscription's channels: `sent`, `digest`, `failed`… or `not sent`."""
    if not alerts:
        return "not sent", "dim"
    statuses = sorted({a["status"] for a in alerts})
    return ", ".join(statuses), STATUS_STYLE.get(statuses[0])

