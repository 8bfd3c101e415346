"""What every chat platform shares: the outcome of an attempt, the HTTP send, and digest packing.

A platform is one class (one file in this package) holding everything about it: its documented
limits and pacing, what a channel of it needs, how a `Message` looks in its format, how a request is
signed, and how its answers read. Like httpx's transports, the rest of regwatch only calls the small
surface here: `render`, `pack`, `send`, `check_secret` and the class attributes.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Awaitable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any, ClassVar, Protocol, TypeVar
from urllib.parse import urlencode

import httpx

from ...defaults import ERROR_CHARS, LATE_GRACE, RATE_LIMIT_DEFAULT_WAIT, SEND_DEADLINE
from ...pipeline.redact import redact, url_secrets
from ..message import Item, Message, clip

T = TypeVar("T")


class Channel(Protocol):
    """What a platform reads of a configured channel (`service.config.ChannelConfig`; alerts never import
    the service layer)."""

    @property
    def name(self) -> str: ...
    @property
    def type(self) -> str: ...
    @property
    def url(self) -> str | None: ...
    @property
    def secret(self) -> str | None: ...
    @property
    def chat_id(self) -> str | None: ...
    @property
    def keyword(self) -> str | None: ...
    @property
    def per_minute(self) -> int | None: ...
    @property
    def secrets(self) -> list[str]: ...       # the `${VAR}` values written in this channel's own table


@dataclass(frozen=True)
class Outcome:
    action: str                       # sent | retry | broken | payload
    error: str = ""
    retry_after: float | None = None
    cut: bool = False                 # regwatch's own stop cut the send off (not the platform's answer)

    @property
    def ok(self) -> bool:
        return self.action == "sent"


SENT = Outcome("sent")

# characters of a platform's own answer (its errmsg, description or body) quoted in an outcome's error; the
# whole error line is cut again to `defaults.ERROR_CHARS` when stored
ANSWER_CHARS = 200


def retry_after(resp: httpx.Response, default: float | None = None) -> float | None:
    """The seconds a `Retry-After` asks for: a number of seconds, or an HTTP date (RFC 9110 allows both)."""
    v = resp.headers.get("Retry-After", "").strip()
    if not v:
        return default
    try:
        return max(0.0, float(v))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(v)
    except (TypeError, ValueError, IndexError, OverflowError):
        return default
    if when.tzinfo is None:                 # (an HTTP date is GMT; a "-0000" zone parses naive)
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def json_body(resp: httpx.Response) -> dict[str, Any] | None:
    try:
        data = resp.json()
    except ValueError:
        return None
    return data if isinstance(data, dict) else None


def http_common(resp: httpx.Response) -> Outcome | None:
    """What every platform means by these statuses: rate limits and 5xx retry; a redirect, or a
    404/410 (a deleted robot or webhook), means the channel's URL needs fixing."""
    if resp.status_code == 429:
        return Outcome("retry", "HTTP 429 rate limited", retry_after(resp, RATE_LIMIT_DEFAULT_WAIT))
    if resp.status_code >= 500:
        return Outcome("retry", f"HTTP {resp.status_code}", retry_after(resp))
    if 300 <= resp.status_code < 400:
        return Outcome("broken", f"HTTP {resp.status_code} redirect: update the channel's url")
    if resp.status_code in (404, 410):
        answer = f"HTTP {resp.status_code} {resp.text[:ANSWER_CHARS].strip()}".rstrip()
        return Outcome("broken", f"{answer}: the robot or webhook is gone (deleted, or a wrong URL)")
    return None


def json_code(resp: httpx.Response, code_keys: tuple[str, ...] = ("errcode",),
              msg_keys: tuple[str, ...] = ("errmsg",)) -> Outcome | tuple[Any, str]:
    """For platforms that answer HTTP 200 with their verdict as a code in JSON (DingTalk, WeCom, Feishu): what
    the status means on its own, or the answer's (code, message), each from the first of its keys the body
    has, the message cut to `ANSWER_CHARS`."""
    common = http_common(resp)
    if common:
        return common
    data = json_body(resp)
    if data is None:
        return Outcome("retry", f"HTTP {resp.status_code}, unreadable answer")
    code = next((data[k] for k in code_keys if k in data), None)
    msg = next((data[k] for k in msg_keys if k in data), "")
    return code, str(msg)[:ANSWER_CHARS]


def code_verdict(label: str, code: Any, msg: str, *, rate_limited: Collection[Any] = (),
                 wait: float = RATE_LIMIT_DEFAULT_WAIT, broken: Collection[Any] = (), payload: Collection[Any] = (),
                 otherwise: str = "retry") -> Outcome:
    """What a platform's code means, from its own tables: 0 is sent; a rate limit retries after `wait`;
    `broken` and `payload` codes are not retried; any other code is `otherwise` (a passing error, by default)."""
    if code == 0:
        return SENT
    text = f"{label} {code} {msg}"
    if code in rate_limited:
        return Outcome("retry", text, wait)
    if code in broken:
        return Outcome("broken", text)
    if code in payload:
        return Outcome("payload", text)
    return Outcome(otherwise, text)


def utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def units(text: str) -> int:
    """Length in UTF-16 code units: a character beyond U+FFFF (an emoji, CJK Extension B) counts two. Slack,
    Discord and Telegram limits are measured so: whether a platform counts code points or UTF-16 units, a text
    within this many units is within its limit."""
    return len(text.encode("utf-16-le")) // 2


def cut(text: str, limit: int) -> str:
    """At most `limit` UTF-16 units (`units`), between whole characters (grapheme clusters), "…" marking the cut."""
    return clip(text, limit, units)


@dataclass
class Request:
    url: httpx.URL
    body: bytes
    headers: dict[str, str]


def with_query(url: str, params: dict[str, str]) -> httpx.URL:
    """The channel URL exactly as configured, with what signing adds appended to its query.

    httpx's `params=` *replaces* a URL's query: DingTalk's `access_token`, WeCom's `key` or
    Discord's `thread_id` would be dropped. Appending keeps them; each value is encoded once.
    """
    u = httpx.URL(url)
    if not params:
        return u
    added = urlencode(params).encode("ascii")      # "+", "/" and "=" of a signature: %2B %2F %3D, once
    return u.copy_with(query=u.query + b"&" + added if u.query else added)


class Platform:
    """One chat platform. Subclasses set the limits and override `render` / `sign` / `classify`."""

    type: ClassVar[str]
    per_minute: ClassVar[int] = 600           # documented messages per minute (a channel may set fewer)
    min_gap: ClassVar[float] = 0.0            # documented minimum seconds between two messages
    max_digest_items: ClassVar[int] = 50      # articles in one digest message, at most (size decides first)
    needs_url: ClassVar[bool] = True          # the channel must have a `url` (False: it has no use for one)
    web_url: ClassVar[bool] = True            # the url is http(s); False: any `scheme://` (the platform's own)
    needs_chat_id: ClassVar[bool] = False     # the channel must name its chat (`chat_id`; False: it has no use for one)
    signs: ClassVar[bool] = False             # the platform checks a signature made with the channel's `secret`
    takes_keyword: ClassVar[bool] = False     # the robot checks a custom keyword: the channel's `keyword` is in every message
    http: ClassVar[bool] = True               # sent by regwatch's HTTP client

    def __init__(self, channel: Channel):
        self.channel = channel
        self.name: str = channel.name
        self.keyword: str | None = channel.keyword
        # redacted from every error shown or stored: the signing secret, the whole URL and its key parts alone
        # (a receiver may echo its bare token), and the `${VAR}` values of its own table (not another table's:
        # a source's value may be an ordinary word of this channel's answer)
        self.secrets: tuple[str | None, ...] = (channel.secret, channel.url, *url_secrets(channel.url),
                                                *channel.secrets)

    @classmethod
    def check_secret(cls, secret: str) -> str | None:
        """Why a channel's `secret` cannot sign for this platform (the config's error), or None when it can."""
        return None

    # -- limits ---------------------------------------------------------------------------------

    @property
    def pace(self) -> tuple[int, float]:
        """(messages per minute, minimum seconds between two) for this channel."""
        return (min(self.channel.per_minute or self.per_minute, self.per_minute), self.min_gap)

    def fits(self, payload: dict[str, Any]) -> bool:
        """Whether a rendered payload is within the platform's documented limits."""
        return True

    # -- rendering ------------------------------------------------------------------------------

    def render(self, m: Message) -> dict[str, Any]:
        raise NotImplementedError

    def render_fitted(self, m: Message) -> dict[str, Any]:
        """A single message within the limits, whatever the article: its variable parts are shortened step by
        step until it fits (`Message.smaller`: the lead first, so the link survives). ValueError when even
        the heading alone does not fit (the alert fails with that line)."""
        payload = self.render(m)
        while not self.fits(payload):
            smaller = m.smaller()
            if smaller is None:
                raise ValueError(f"the message does not fit a {self.type} message's limits even cut to its heading")
            m = smaller
            payload = self.render(m)
        return payload

    def pack(self, m: Message) -> list[tuple[list[int], dict[str, Any]]]:
        """A digest as complete messages within the limits: (indexes of its items, payload) each.

        Items are never cut: a message holds as many whole items as fit (at most
        `max_digest_items`), and the next message goes on from there, titled (2/3) and so on.
        """
        groups: list[list[int]] = []
        current: list[int] = []
        for i in range(len(m.items)):
            trial = current + [i]
            if current and (len(trial) > self.max_digest_items
                            or not self.fits(self.render(m.with_items([m.items[j] for j in trial], 1, 2)))):
                groups.append(current)
                current = [i]
            else:
                current = trial
        if current:
            groups.append(current)
        out = []
        for n, g in enumerate(groups, 1):
            part = m.with_items([m.items[j] for j in g], n, len(groups))
            out.append((g, self.render_fitted(part)))
        return out

    def keyword_line(self, text: str) -> str:
        """The robot's custom keyword, when the message does not already carry it."""
        return f"\n\n{self.keyword}" if self.keyword and self.keyword not in text else ""

    # -- sending --------------------------------------------------------------------------------

    def sign(self, payload: dict[str, Any], key: str, now: float) -> tuple[dict[str, Any], dict[str, str], dict[str, str]]:
        """(payload, query parameters to add, headers to add) for one attempt at time `now`."""
        return payload, {}, {}

    def request(self, payload: dict[str, Any], key: str, now: float | None = None) -> Request:
        """The exact request for one attempt: signed now, carrying the message's idempotency key."""
        now = time.time() if now is None else now
        payload, params, extra = self.sign(dict(payload), key, now)
        body = self.body(payload)
        headers = {"Content-Type": "application/json; charset=utf-8", **extra}
        headers.update(self.body_headers(body, key, now))
        if self.channel.url is None:       # (the config refuses a channel of this platform without one)
            raise ValueError(f"channel {self.name} has no url")
        return Request(with_query(self.channel.url, params), body, headers)

    @staticmethod
    def body(payload: dict[str, Any]) -> bytes:
        """The bytes sent: compact JSON, UTF-8."""
        return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def body_headers(self, body: bytes, key: str, now: float) -> dict[str, str]:
        """Headers that sign the exact bytes (Standard Webhooks)."""
        return {}

    def classify(self, resp: httpx.Response) -> Outcome:
        raise NotImplementedError

    async def send(self, client: httpx.AsyncClient, payload: dict[str, Any], key: str) -> Outcome:
        req = self.request(payload, key)
        try:
            resp = await within_deadline(client.post(req.url, content=req.body, headers=req.headers), SEND_DEADLINE)
        except TimeoutError:
            return Outcome("retry", f"no whole answer within {SEND_DEADLINE:.0f} s; the message may have arrived")
        except (httpx.ConnectError, httpx.ConnectTimeout) as e:
            return Outcome("retry", self.redact(f"cannot connect: {type(e).__name__}"))
        except httpx.TimeoutException as e:
            return Outcome("retry", f"no answer in time ({type(e).__name__}); the message may have arrived")
        except (httpx.HTTPError, httpx.InvalidURL, ValueError) as e:
            return Outcome("retry", self.redact(f"{type(e).__name__}: {e}")[:ERROR_CHARS])
        return self.classify(resp)

    def redact(self, text: str) -> str:
        return redact(text, self.secrets) or ""


async def within_deadline(exchange: Awaitable[T], seconds: float) -> T:
    """`exchange` (an HTTP request and its answer), cut off with TimeoutError if unfinished `seconds` from now
    (httpx's timeout is per read: a trickle never ends it). The deadline cuts off waiting, never an answer that
    arrived in time: when the event loop reaches the deadline late (held up by a store call), what came in
    meanwhile is read first — the exchange gets LATE_GRACE more, again while the loop keeps coming late."""
    loop = asyncio.get_running_loop()
    task = asyncio.ensure_future(exchange)
    deadline = loop.time() + seconds
    try:
        while True:
            await asyncio.wait([task], timeout=max(0.0, deadline - loop.time()))
            if task.done():
                return task.result()
            if loop.time() - deadline < LATE_GRACE:     # reached in time, the loop free: nothing whole came
                raise TimeoutError
            deadline = loop.time() + LATE_GRACE
    finally:
        if not task.done():
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)    # (its connection closed before this returns)


def markdown_items(items: list[Item]) -> list[str]:
    """A digest's items as markdown list lines: the title is the link (every text in it is inert)."""
    return [f"- [{i.title}]({i.url}) · {i.tail()}" if i.url else f"- {i.title} · {i.tail()}" for i in items]


def markdown(m: Message, link_label: str = "阅读原文", heading: str = "### ") -> str:
    """The CommonMark-ish text DingTalk, WeCom and Teams read."""
    parts = [f"{heading}{m.label}"]
    if m.items:
        return "\n\n".join([*parts, "\n".join(markdown_items(m.items)), f"**触发** {m.trigger}" if m.trigger else ""]).rstrip()
    parts += [f"**{k}** {v}" for k, v in m.fields()]
    if m.lead:
        parts.append(f"> {m.lead}")
    if m.url:
        parts.append(f"[{link_label}]({m.url})")
    return "\n\n".join(parts)
