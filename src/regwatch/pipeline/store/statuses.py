"""The named states the store keeps. Each value is the text stored in its column (and what users'
SQL and Datasette read), so a member compares equal to, and is stored as, that string."""

from __future__ import annotations

from enum import StrEnum

from ...defaults import NEVER_RUN


class AlertStatus(StrEnum):
    """`alerts.status`: where an alert is on its way out."""

    PENDING = "pending"      # due now, not yet sent (or composed into a message that is due)
    DIGEST = "digest"        # waits for its subscription's digest time
    SENDING = "sending"      # its message is claimed by a sender
    RETRY = "retry"          # an attempt failed for now: tried again at next_attempt_at
    SENT = "sent"
    FAILED = "failed"        # given up (attempts exhausted, a message that cannot be rendered…)
    BROKEN = "broken"        # the channel refused it for good (revoked token, bad signature, deleted robot)


class MessageStatus(StrEnum):
    """`messages.status`: one message (one alert, or a digest of several) to a channel."""

    PENDING = "pending"
    SENDING = "sending"
    RETRY = "retry"
    SENT = "sent"
    FAILED = "failed"
    BROKEN = "broken"


class Failure(StrEnum):
    """`messages.failure`: whose a failed attempt waiting out its retry was (empty for any other status, and for a
    send regwatch's stop cut off)."""

    CHANNEL = "channel"      # the channel's: it took no message since this one's previous failed attempt
    ALONE = "alone"          # this message's alone: the channel took another since its previous failed attempt
    WAIT = "wait"            # the platform named a wait (a rate limit: Retry-After, DingTalk 130101…): the channel's
    ALONE_WAIT = "alone-wait"  # refused alone (as `alone`) and the platform named it a wait (a gateway's 500 +
    #                          Retry-After to that payload): the wait is its own retry's, not the channel's, and holds it
    #                          even once another message fails after it (it stays `alone-wait`, where `alone` becomes
    #                          `channel`: the channel's failing is that one's)


# a retry's failure that was the message's alone: says nothing of the channel, holds no alerts, keeps its own wait
FAILED_ALONE = frozenset({Failure.ALONE, Failure.ALONE_WAIT})


class AlertKind(StrEnum):
    """`alerts.kind` and `messages.kind`."""

    ARTICLE = "article"      # a story matched a subscription
    HEALTH = "health"        # a source or channel changed state
    DIGEST = "digest"        # (messages only) several article alerts in one message


class SourceState(StrEnum):
    """`source_state.state` and `source_runs.state`: a source's health."""

    NEW = "new"              # never run
    OK = "ok"
    ERROR = "error"          # the last run had errors, fewer than `failing_after` in a row: shown, not alerted
    FAILING = "failing"      # errors in `failing_after` runs in a row
    EMPTY = "empty"          # the list yields no links: a selector broken by a redesign
    BLOCKED = "blocked"      # a challenge page or HTTP 412 instead of content
    STALE = "stale"          # nothing new for longer than `expect_every`


def shown_state(state: str) -> str:
    """A source's state as users read it: `new` — no run has settled one yet: none ran, or the first was cut short
    by regwatch's stop, which changes no state — is shown as `never run`."""
    return NEVER_RUN if state == SourceState.NEW else state


class ChannelState(StrEnum):
    """`channel_state.state`: whether a chat channel takes messages."""

    OK = "ok"
    BROKEN = "broken"


class UrlState(StrEnum):
    """`source_urls.state`: an article URL a source has settled without storing it."""

    SKIPPED = "skipped"      # robots.txt, 404/410, a binary file: never fetched again
    BASELINE = "baseline"    # named by the source's baseline run: stored later, it is baseline too
    MISSING = "missing"      # answered 404/410 since `at`: asked again each run until MISSING_GRACE, then skipped
    SLOW = "slow"            # its attachment took longer than extract_timeout once (`at`): not stored then, fetched
                             # again next run; over it again, stored without the attachment's text (the row goes)


# The outbox's working sets
ALERT_WAITING = (AlertStatus.PENDING, AlertStatus.RETRY, AlertStatus.DIGEST)      # not yet in a message
MESSAGE_DUE = (MessageStatus.PENDING, MessageStatus.RETRY)                         # to send at next_attempt_at
MESSAGE_OPEN = (MessageStatus.PENDING, MessageStatus.RETRY, MessageStatus.SENDING)  # not finished
