"""The `regwatch.toml` config: pydantic models, `${VAR}` expansion, and one clear line per mistake."""

from __future__ import annotations

import functools
import os
import re
import tomllib
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import quote, urlsplit

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from ..crawler.hostnames import host_refusal
from ..defaults import (
    DISPLAY_TZ,
    EXTRACT_MEMORY,
    EXTRACT_TIMEOUT,
    MAX_ARTICLES_PER_SOURCE,
    SOURCE_TZ,
    USER_AGENT,
    WORKER_LEASE,
    cores,
)
from ..pipeline.redact import redact
from .durations import format_duration, parse_duration

CONFIG_ENV = "REGWATCH_CONFIG"
DEFAULT_PATH = "regwatch.toml"


class ConfigError(Exception):
    """A mistake in the user's config; str() is the one line shown to the user."""


Duration = Annotated[float, BeforeValidator(parse_duration)]


def _between(low: float, high: float) -> AfterValidator:
    """A duration from `low` to `high` seconds, said in the user's units when it is not
    (`Annotated[Duration, _between(low, high)]`)."""
    def check(v: float) -> float:
        if not low <= v <= high:
            raise ValueError(f"{format_duration(v)} is out of range: write from {format_duration(low)} "
                             f"to {format_duration(high)}")
        return v
    return AfterValidator(check)


_SIZE = re.compile(r"\s*(\d+)\s*([kmg]i?b?|b)?\s*", re.I)
_SIZE_UNITS = {"": 1, "b": 1, "k": 1024, "m": 1024**2, "g": 1024**3}


def parse_size(value: Any) -> int:
    """Bytes: a number, or `512KB`, `10MB`, `1GB` (powers of 1024)."""
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    else:
        m = _SIZE.fullmatch(str(value)) if isinstance(value, str) else None
        if not m:
            raise ValueError(f"{value!r} is not a size: write bytes, or e.g. 512KB, 10MB, 1GB")
        n = int(m.group(1)) * _SIZE_UNITS[(m.group(2) or "").lower()[:1]]
    if n < 0:
        raise ValueError("a size cannot be negative")
    return n


Size = Annotated[int, BeforeValidator(parse_size)]


def _size_between(low: int, high: int) -> AfterValidator:
    """A size from `low` to `high` bytes (`Annotated[Size, _size_between(low, high)]`)."""
    def check(v: int) -> int:
        if not low <= v <= high:
            raise ValueError(f"{v} bytes is out of range: write from {_human(low)} to {_human(high)}")
        return v
    return AfterValidator(check)


def _human(n: int) -> str:
    for unit, size in (("GB", 1024**3), ("MB", 1024**2), ("KB", 1024)):
        if n >= size and n % size == 0:
            return f"{n // size}{unit}"
    return f"{n} bytes"


def check_zone(v: str) -> str:
    """An IANA time zone name, checked now (a typo would otherwise fail at the first time shown)."""
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"{v!r} is not a time zone name (IANA names such as Asia/Shanghai, "
                         "Asia/Hong_Kong, Europe/London, UTC)") from None
    return v


def check_url(url: str, web: bool = True) -> str:
    """A URL that can be connected to: http(s) (`web`) or any `scheme://`, a host, a port in 1–65535."""
    if any(ch.isspace() or ord(ch) < 32 for ch in url):
        raise ValueError(f"{url!r} has spaces or control characters in it")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as e:   # "Port out of range 0-65535", a bad IPv6 literal…
        raise ValueError(f"{url!r} is not a URL: {e}") from None
    if web and parts.scheme.lower() not in ("http", "https"):
        raise ValueError(f"{url!r} is not an http:// or https:// URL")
    if not parts.scheme or "://" not in url:
        raise ValueError(f"{url!r} is not a URL (scheme://host/…)")
    if web and not parts.hostname:
        raise ValueError(f"{url!r} has no host")
    if port == 0:
        raise ValueError(f"{url!r}: port 0 cannot be connected to")
    return url


class _Model(BaseModel):
    # strict: a TOML value of the wrong type is refused, not converted (`per_domain = true` is not 1, `obey_robots =
    # "yes"` not true); durations and sizes read their strings in their own BeforeValidator
    model_config = ConfigDict(extra="forbid", populate_by_name=True, strict=True)


class _WithSecrets(_Model):
    """The `${VAR}` values written in this table of the config (a source's API key, a channel's token, the
    store's password; `Config.secrets`: every table's), as `table_secrets` finds them: redacted from this
    table's messages wherever they are shown or stored."""

    _secrets: list[str] = PrivateAttr(default_factory=list)

    @property
    def secrets(self) -> list[str]:
        return self._secrets

    @secrets.setter
    def secrets(self, values: list[str]) -> None:
        self._secrets = list(values)


class StoreConfig(_WithSecrets):
    path: str = "regwatch.db"         # SQLite: one file, one machine
    url: str | None = None            # PostgreSQL: postgresql://user@host/db, shared by several workers

    @field_validator("path")
    @classmethod
    def _path(cls, v: str) -> str:
        if not v.strip():          # (SQLite would fail later with "unable to open database file", naming no key)
            raise ValueError(f"{v!r} is no file name: write the SQLite file's path (e.g. \"regwatch.db\"), or `url`")
        return v

    @field_validator("url")
    @classmethod
    def _url(cls, v: str | None) -> str | None:
        if v is not None and not re.match(r"(?i)postgres(ql)?://", v):
            raise ValueError(f"{_masked(v)!r} is not a postgresql:// URL (for an SQLite file, write `path`)")
        # (read from the masked URL: a password with a "/" in it, written unencoded, is not taken for a port)
        hosts = urlsplit(_masked(v)).netloc.rpartition("@")[2] if v is not None else ""
        for host in hosts.split(","):           # (libpq takes several hosts: h1:5432,h2:5433)
            port = re.search(r":([^:\]]*)$", host)
            if port and port.group(1) and not (port.group(1).isdigit() and 1 <= int(port.group(1)) <= 65535):
                raise ValueError(f"{_masked(v or '')!r}: port {port.group(1)!r} is not a port (1 to 65535)")
        return v

    @model_validator(mode="after")
    def _one(self) -> StoreConfig:
        if self.url is not None and "path" in self.model_fields_set:
            raise ValueError("give `path` (SQLite) or `url` (PostgreSQL), not both")
        return self

    @property
    def location(self) -> str:
        """What `Store()` opens: the PostgreSQL URL, else the SQLite file."""
        return self.url or self.path


def _masked(url: str) -> str:
    return re.sub(r"(://[^:/@\s]*):\S*@", r"\1:***@", url)        # (to the last @: a password may hold / and @)


class WorkerConfig(_Model):
    # which sources this process crawls: those with one of these tags; [] = those without tags
    tags: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]] = []
    # a dead worker's sources are taken over after this (renewed every third)
    lease: Annotated[Duration, _between(2, 86400)] = WORKER_LEASE

    def takes(self, source: SourceConfig) -> bool:
        """Whether this worker crawls the source: a source's tags pin it to workers with one of them."""
        if not self.tags and not source.tags:
            return True
        return bool(set(self.tags) & set(source.tags))


class CrawlConfig(_Model):
    user_agent: str = USER_AGENT
    obey_robots: bool = True
    # older articles are stored but never alert: under an hour, a crawl's own delay (a source read every 10m,
    # a list that names an article late) would leave nothing young enough to alert ("0": nothing ever would)
    max_article_age: Annotated[Duration, _between(3600, 10 * 366 * 86400)] = 3 * 86400
    timeout: Annotated[Duration, _between(1, 600)] = 30
    max_size: Annotated[Size, _size_between(1024, 1024**3)] = 10 * 1024 * 1024
    concurrency: int = Field(16, ge=1, le=1000)
    per_domain: int = Field(2, ge=1, le=100)
    delay: Annotated[Duration, _between(0, 3600)] = 0.25
    extract_timeout: Annotated[Duration, _between(1, 600)] = EXTRACT_TIMEOUT
    extract_memory: Annotated[Size, _size_between(256 * 1024**2, 64 * 1024**3)] = EXTRACT_MEMORY
    workers: int = Field(default_factory=cores, ge=1, le=256)   # extraction processes (default: the cores regwatch may use)
    block_private_networks: bool = True   # links in pages reach their source's origin and public addresses only
    max_articles_per_source: int = Field(MAX_ARTICLES_PER_SOURCE, ge=1, le=1_000_000)   # the rest wait for the next run

    @field_validator("user_agent")
    @classmethod
    def _user_agent(cls, v: str) -> str:
        if not v.strip():          # (Scrapy would send no User-Agent header at all)
            raise ValueError(f"{v!r} is blank: the User-Agent is sent on every request; write one that says who "
                             f"crawls (e.g. \"{USER_AGENT}\"), or leave the key out for the default")
        return v


class ExtractOverride(_Model):
    title: str | None = None
    body: str | None = None
    date: str | None = None

    @field_validator("title", "body", "date")
    @classmethod
    def _selector(cls, v: str | None) -> str | None:
        if v:                # compiled as pipeline.extract's `tree.cssselect` will (lxml: no ::text / ::attr)
            from cssselect import SelectorError
            from lxml.cssselect import CSSSelector

            try:
                CSSSelector(v, translator="html")
            except SelectorError as e:
                raise ValueError(f"bad CSS selector {v!r}: {e}") from None
        return v


# the keys only one kind of source reads (a feed's `items` would silently do nothing)
_KIND_KEYS = {"links": "listing", **dict.fromkeys(("items", "link", "title", "date", "detail", "body", "attachment"), "json")}


def check_host(url: str) -> str:
    """A source URL whose host parsers read alike (a crawl refuses the others: `crawler.hostnames`)."""
    why = host_refusal(url)
    if why is not None:
        raise ValueError(f"{url!r}: its host {why}")
    return url


class SourceConfig(_WithSecrets):
    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    kind: Literal["feed", "sitemap", "listing", "json"]
    url: Annotated[str, AfterValidator(check_url), AfterValidator(check_host)]
    every: Annotated[Duration, _between(1, 366 * 86400)] = 600
    cron: str | None = None
    tz: str | None = None
    lang: Literal["zh", "en"] | None = None     # what extraction detects (`detect_lang`): forced instead
    expect_every: Annotated[Duration, _between(1, 10 * 366 * 86400)] | None = None
    enabled: bool = True
    tags: list[Annotated[str, Field(pattern=r"^[A-Za-z0-9_.-]+$")]] = []   # pins it to workers with one of them
    links: str | None = None
    items: str | None = None
    link: str | None = None
    title: str | None = None
    date: str | None = None
    detail: str | None = None
    body: str | None = None
    attachment: str | None = None
    method: Literal["GET", "POST"] = "GET"
    headers: dict[str, str] = {}
    form: dict[str, str] = {}
    encoding: str | None = None
    max_size: Annotated[Size, _size_between(1024, 1024**3)] | None = None
    extract: ExtractOverride = ExtractOverride()
    note: str | None = None
    @field_validator("tz")
    @classmethod
    def _tz(cls, v: str | None) -> str | None:
        return v if v is None else check_zone(v)

    @field_validator("links")
    @classmethod
    def _links(cls, v: str | None) -> str | None:
        from ..crawler.kinds.listing import check_links

        error = v and check_links(v)
        if error:
            raise ValueError(error)
        return v

    @field_validator("items", "link", "title", "date", "detail", "body", "attachment")
    @classmethod
    def _paths(cls, v: str | None, info: ValidationInfo) -> str | None:
        from ..crawler.kinds.jsonapi import check_path

        error = v and check_path(v, template=info.field_name != "items")
        if error:
            raise ValueError(error)
        return v

    @field_validator("encoding")
    @classmethod
    def _encoding(cls, v: str | None) -> str | None:
        """A codec pages are decoded with (an unknown one, or base64 / rot13, would be passed over unsaid)."""
        if v:                                             # ("": no override, as when it is left out)
            from ..pipeline.decode import canonical

            try:      # the name as decode_html reads it (codecs.lookup, GBK widened); base64, rot13 … decode no text
                b"a".decode(canonical(v) or v, "replace")
            except LookupError:
                raise ValueError(f"{v!r} is not a text encoding (e.g. gb18030, utf-8, big5)") from None
        return v

    @model_validator(mode="after")
    def _kind_fields(self) -> SourceConfig:
        if self.cron and "every" in self.model_fields_set:
            raise ValueError("give `every` or `cron`, not both")
        for key, kind in _KIND_KEYS.items():
            if getattr(self, key) is not None and self.kind != kind:
                raise ValueError(f"`{key}` is read by {kind} sources only: remove it from this {self.kind} source")
        if self.form and self.method != "POST":
            raise ValueError('`form` is the body of a POST request: add method = "POST", or remove `form`')
        if self.expect_every is not None and not self.cron and self.expect_every < self.every:
            # (health is judged at each run: nothing new since the last one would be `stale` nearly every time)
            raise ValueError(f"expect_every ({format_duration(self.expect_every)}) is shorter than every "
                             f"({format_duration(self.every)}): the source would be reported stale at nearly every "
                             f"run; write expect_every = \"{format_duration(self.every)}\" or more")
        if self.kind == "listing" and not self.links:
            raise ValueError("a listing source needs `links` (a CSS selector of article links)")
        if self.kind == "json" and not self.items:
            raise ValueError("a json source needs `items` (a JMESPath to the list)")
        if self.kind == "json" and not (self.link or self.detail):
            raise ValueError("a json source needs `link` (field of the article URL) or `detail` (URL template)")
        if self.cron:
            from apscheduler.triggers.cron import CronTrigger

            try:
                trigger = CronTrigger.from_crontab(self.cron, timezone=self.timezone())
            except ValueError as e:
                raise ValueError(f"cron {self.cron!r} is not a crontab line: {e}") from None
            if trigger.get_next_fire_time(None, datetime.now(trigger.timezone)) is None:
                raise ValueError(f"cron {self.cron!r} never fires (no date matches it): the source would never run")
            gap = cron_longest_gap(self.cron) if self.expect_every is not None else None   # (the dearer check)
            if gap is not None and self.expect_every is not None and self.expect_every < gap:
                raise ValueError(f"expect_every ({format_duration(self.expect_every)}) is shorter than the longest wait "
                                 f"between two runs of cron {self.cron!r} ({format_duration(gap)}): the source would be "
                                 f"reported stale after it; write expect_every = \"{format_duration(gap)}\" or more")
        return self

    def timezone(self) -> str:
        return self.tz or SOURCE_TZ


@functools.cache
def cron_longest_gap(cron: str) -> float | None:
    """The longest wait, in seconds, between two runs of a crontab line as APScheduler fires it (None: it never
    fires). Its times of day are the same on every day it runs, so the longest wait is the longest between two times
    of one day, or from the last time of a day it runs to the first of the next such day (days found over 400 of
    them, at least a year: every month and weekday; read in UTC: a DST shift of an hour is not counted)."""
    from apscheduler.triggers.cron import CronTrigger

    minute, hour, day, month, day_of_week = cron.split()
    start = datetime(2001, 1, 1, tzinfo=UTC)

    def fires(line: str, until: datetime, most: int) -> list[datetime]:
        trigger = CronTrigger.from_crontab(line, timezone=UTC)
        out: list[datetime] = []
        while len(out) < most:
            t = trigger.get_next_fire_time(out[-1] if out else None, out[-1] + timedelta(seconds=1) if out else start)
            if t is None or t >= until:
                break
            out.append(t)
        return out

    days = fires(f"0 0 {day} {month} {day_of_week}", start + timedelta(days=8 * 366), 400)   # (29 Feb: 2 in 8 years)
    if not days:
        return None
    times = fires(f"{minute} {hour} * * *", start + timedelta(days=1), 24 * 60)
    within = max((b - a for a, b in zip(times, times[1:], strict=False)), default=timedelta(0))
    longest_days = max(((b - a).days for a, b in zip(days, days[1:], strict=False)), default=8 * 366)
    return max(within, timedelta(days=longest_days) - (times[-1] - times[0])).total_seconds()


class TopicsConfig(_Model):
    packs: list[str] = ["cn-consumer-finance"]
    files: list[str] = []
    # the learned stage: "auto" = the model shipped with the bundled pack (when the topics are exactly
    # that pack's); "" = the packs' rules alone; or the path of a model made by `regwatch train`
    model: str = "auto"

    @model_validator(mode="after")
    def _some_topics(self) -> TopicsConfig:
        if not self.packs and not self.files:
            raise ValueError("packs = [] and no topic files: nothing could ever be tagged or alert; name a pack "
                             '(packs = ["cn-consumer-finance"]) or your own files (files = ["my-topics.toml"])')
        return self


class ChannelConfig(_WithSecrets):
    name: str
    type: str
    url: str | None = None
    secret: str | None = None
    chat_id: str | None = None
    keyword: str | None = None
    per_minute: int | None = Field(None, ge=1, le=10000)

    @field_validator("type")
    @classmethod
    def _type(cls, v: str) -> str:
        from ..alerts.platforms import PLATFORMS

        if v not in PLATFORMS:
            raise ValueError(f"{v!r} is not a channel type; one of {', '.join(PLATFORMS)}")
        return v

    @model_validator(mode="after")
    def _platform_needs(self) -> ChannelConfig:
        from ..alerts.platforms import PLATFORMS

        platform = PLATFORMS[self.type]
        if platform.needs_url and not self.url:
            raise ValueError(f"a {self.type} channel needs `url`")
        if self.url is not None and not platform.needs_url:
            raise ValueError(f"a {self.type} channel sends to no url: remove `url`")
        if self.chat_id is not None and not platform.needs_chat_id:
            raise ValueError(f"a {self.type} channel names no chat: remove `chat_id` (for "
                             f"{', '.join(t for t, p in PLATFORMS.items() if p.needs_chat_id)} channels only)")
        if self.keyword is not None and not platform.takes_keyword:
            raise ValueError(f"a {self.type} channel's robot checks no keyword: remove `keyword` (for "
                             f"{', '.join(t for t, p in PLATFORMS.items() if p.takes_keyword)} channels only)")
        if self.url and not unset_in(self.url):
            check_url(self.url, web=platform.web_url)
        if platform.needs_chat_id and not self.chat_id:
            raise ValueError(f"a {self.type} channel needs `chat_id`")
        if self.per_minute is not None and self.per_minute > platform.per_minute:
            raise ValueError(f"per_minute = {self.per_minute} is above {self.type}'s limit of {platform.per_minute} "
                             "a minute (per_minute can only lower the pacing)")
        if self.secret is not None and not platform.signs:
            raise ValueError(f"a {self.type} channel signs nothing: remove `secret` (its webhook is authenticated by "
                             "the key in its url)")
        if self.secret is not None and not self.secret.strip():
            raise ValueError(f"secret = {self.secret!r} is blank: every message would go out unsigned; write the "
                             "secret, or remove the key")
        if self.secret is not None and not unset_in(self.secret):
            error = platform.check_secret(self.secret)
            if error:
                raise ValueError(error)
        return self


class SubscriptionConfig(_Model):
    name: str
    topics: list[str] | None = None
    keywords: list[str] = []
    channels: list[str] = Field(min_length=1)
    sources: list[str] = []
    digest: str = ""

    @field_validator("keywords")
    @classmethod
    def _keywords(cls, v: list[str]) -> list[str]:
        for i, k in enumerate(v):
            if not k.strip():        # (matched_keyword passes over it: a subscription of blanks matches nothing)
                raise ValueError(f"item {i} ({k!r}) is blank: it matches nothing; remove it, or write a word")
        return v

    @field_validator("digest")
    @classmethod
    def _digest(cls, v: str) -> str:
        if v and not re.fullmatch(r"hourly|daily( ([01]\d|2[0-3]):[0-5]\d)?", v):
            raise ValueError(f'{v!r} is not a digest: write "", "hourly", "daily HH:MM" (e.g. "daily 17:30") or "daily" '
                             '(at 09:00)')
        return v

    @model_validator(mode="after")
    def _something_to_match(self) -> SubscriptionConfig:
        if not self.topics and not self.keywords:
            raise ValueError("a subscription needs `topics` or `keywords` (or both)")
        return self


class AlertsConfig(_Model):
    once_wait: Annotated[Duration, _between(0, 86400)] = 60
    failing_after: int = Field(3, ge=1, le=1000)
    health_channels: list[str] = []
    lead_chars: int = Field(160, ge=0, le=4000)
    max_attempts: int = Field(8, ge=1, le=100)
    # … and a message failing for a passing reason (no connection, a timeout, 5xx, a rate limit) is retried until
    # it has had max_attempts and is older than this: an outage shorter than it loses nothing
    retry_for: Annotated[Duration, _between(60, 30 * 86400)] = 86400


class DisplayConfig(_Model):
    tz: Annotated[str, AfterValidator(check_zone)] = DISPLAY_TZ    # every time shown: CLI, report, messages


class StoriesConfig(_Model):
    # copies are joined to stories first seen within this period (0 would join none, not even an identical copy:
    # every republication its own alert)
    window: Annotated[Duration, _between(3600, 10 * 366 * 86400)] = 7 * 86400

    @property
    def window_days(self) -> float:
        """The window in days, as the story index counts it."""
        return self.window / 86400


class MetricsConfig(_Model):
    listen: str = ""    # "127.0.0.1:9108" serves Prometheus metrics while the daemon runs; "" = off

    @field_validator("listen")
    @classmethod
    def _listen(cls, v: str) -> str:
        if v and not re.fullmatch(r"[\w.:\[\]-]+:\d{1,5}", v):
            raise ValueError(f"{v!r} is not HOST:PORT (e.g. 127.0.0.1:9108)")
        if v and not 1 <= int(v.rpartition(":")[2]) <= 65535:
            raise ValueError(f"{v!r}: the port must be from 1 to 65535")
        return v


class Config(_WithSecrets):
    store: StoreConfig = StoreConfig()
    worker: WorkerConfig = WorkerConfig()
    crawl: CrawlConfig = CrawlConfig()
    sources: list[SourceConfig] = []
    topics: TopicsConfig = TopicsConfig()
    channels: list[ChannelConfig] = []
    subscriptions: list[SubscriptionConfig] = []
    alerts: AlertsConfig = AlertsConfig()
    metrics: MetricsConfig = MetricsConfig()
    stories: StoriesConfig = StoriesConfig()
    display: DisplayConfig = DisplayConfig()
    source_packs: list[str] = []
    exclude_sources: list[str] = []
    # the file it was read from (set by `parse_config`, not a key a config can write: a top-level `path` is unknown)
    _path: str | None = PrivateAttr(None)
    _unset: list[tuple[str, str]] = PrivateAttr(default_factory=list)      # (channel, what is not set)

    @property
    def path(self) -> str | None:
        return self._path

    @path.setter
    def path(self, value: str | None) -> None:
        self._path = value

    def error_shown(self, text: str | None, *, channel: str | None = None, source: str | None = None) -> str | None:
        """A stored error as shown (`alerts`, `why`, `sources`, `report`, and their `--json`): redacted again with the
        current rules, as an older release may have stored it raw — the secrets of the channel (as its platform
        masks them) or of the source it is of, and the store's; of one no longer configured, every secret of the
        config."""
        from ..alerts.platforms import platform_for

        channels = {c.name: c for c in self.channels}
        sources = {s.name: s for s in self.sources}
        secrets: list[str | None] = list(self.store.secrets)
        if channel in channels:
            secrets += platform_for(channels[channel]).secrets
        elif source in sources:
            secrets += sources[source].secrets
        else:
            secrets += [*self.secrets, *(x for c in self.channels for x in platform_for(c).secrets)]
        return redact(text, secrets)

    def require_channel_secrets(self, channel: str | None = None) -> None:
        """What sends needs every channel's `${VAR}` set (`channel`: only that one's, as `alerts test` sends to it
        alone); commands that only read do not (see `parse_config`)."""
        for name, error in self._unset:
            if channel is None or name == channel:
                raise ConfigError(error)

    @model_validator(mode="after")
    def _references(self) -> Config:
        _unique("sources", [s.name for s in self.sources])
        _unique("channels", [c.name for c in self.channels])
        _unique("subscriptions", [s.name for s in self.subscriptions])
        channels = {c.name for c in self.channels}
        for i, sub in enumerate(self.subscriptions):
            for ch in sub.channels:
                if ch not in channels:
                    raise ValueError(
                        f"subscriptions[{i}] ({sub.name}): channel {ch!r} is not defined; "
                        f"add a [[channels]] entry named {ch!r} or use one of {sorted(channels)}"
                    )
        for ch in self.alerts.health_channels:
            if ch not in channels:
                raise ValueError(f"alerts.health_channels: channel {ch!r} is not defined")
        return self

    @model_validator(mode="after")
    def _tags_need_postgres(self) -> Config:
        """Tags share the sources among several workers on one PostgreSQL store; on SQLite (one process) a
        tagged source, or a worker with tags, would leave sources that nothing ever crawls."""
        if self.store.url is not None:
            return self
        if self.worker.tags:
            raise ValueError("worker.tags: [worker] tags share the sources among workers on a PostgreSQL store "
                             "([store] url); on SQLite this one process must crawl them all: remove them")
        for i, s in enumerate(self.sources):
            if s.tags:
                raise ValueError(f"sources[{i}] ({s.name}).tags: tags pin a source to workers with those [worker] tags, "
                                 "on a PostgreSQL store ([store] url); on SQLite it would never be crawled: remove them")
        return self

    def source(self, name: str) -> SourceConfig:
        for s in self.sources:
            if s.name == name:
                return s
        raise KeyError(name)


def _unique(what: str, names: list[str]) -> None:
    seen: set[str] = set()
    for n in names:
        if n in seen:
            raise ValueError(f"{what}: the name {n!r} is used twice; names must be unique")
        seen.add(n)


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
_URL_KEY = re.compile(r"(store|sources\[\d+\]|channels\[\d+\])\.url")
_AUTHORITY_END = re.compile(r"[/?#]")


def _encoded_at(url: str, at: int) -> bool:
    """Whether a `${VAR}` at `at` of a URL as written sits in its userinfo (`user:${PW}@host`) or in a query value
    (`?key=${KEY}`): there its value is percent-encoded, so that a `/ @ : # ? & %` in it stays part of the value
    (anywhere else — the whole URL, its host, its path — the value is put in as it is)."""
    scheme = url.find("://")
    if scheme < 0 or at < scheme:
        return False
    end = _AUTHORITY_END.search(url, scheme + 3)
    authority_end = end.start() if end else len(url)
    if at < authority_end:
        return "@" in url[at:authority_end]            # before the host's @
    query = url.find("?", authority_end)
    fragment = url.find("#", authority_end)
    if query < 0 or at < query or 0 <= fragment < at:
        return False
    return "=" in url[query + 1:at].rpartition("&")[2]


def unset_in(value: str) -> bool:
    """Whether a value still holds a `${VAR}` (a channel's variable that is not set: see `expand_env`)."""
    return bool(_VAR.search(value))


def expand_env(data: Any, where: str = "", found: list[tuple[str, str]] | None = None,
               unset: list[str] | None = None) -> Any:
    """Replace `${VAR}` in every string with the environment's value (percent-encoded in a `url`'s userinfo or
    query value: `_encoded_at`); unset is an error. The values
    put into `sources`, `channels` and `store` are added to `found` as (where, value): secrets, redacted
    wherever a message is shown or stored. With `unset`, a channel's unset variable is left as
    written and its error added there: only what sends needs the channels' secrets."""
    if isinstance(data, dict):
        return {k: expand_env(v, f"{where}.{k}" if where else k, found, unset) for k, v in data.items()}
    if isinstance(data, list):
        return [expand_env(v, f"{where}[{i}]", found, unset) for i, v in enumerate(data)]
    if isinstance(data, str):
        in_url = bool(_URL_KEY.fullmatch(where))

        def sub(m: re.Match[str]) -> str:
            name = m.group(1)
            if name not in os.environ:
                error = f"{where}: environment variable {name} is not set (export it, or write the value)"
                if unset is not None and where.startswith("channels"):
                    unset.append(error)
                    return m.group(0)
                raise ConfigError(error)
            value = os.environ[name]
            put = quote(value, safe="") if in_url and _encoded_at(data, m.start()) else value
            if found is not None and where.startswith(("sources", "channels", "store")):
                found.extend((where, v) for v in dict.fromkeys((value, put)))    # both forms are redacted
            return put

        return _VAR.sub(sub, data)
    return data


def table_secrets(found: list[tuple[str, str]], table: str = "") -> list[str]:
    """The `${VAR}` values `expand_env` put into `table` (`sources[2]`, `channels[0]`, `store`; "" = all of them):
    the one way to learn a table's secrets (`sources[1]` is not `sources[10]`)."""
    return list(dict.fromkeys(v for where, v in found
                              if not table or where == table or where.startswith((f"{table}.", f"{table}["))))


def _loc(loc: tuple[Any, ...], data: Any) -> str:
    """`sources[2].every` from pydantic's location, with the item's name when it has one."""
    out = ""
    node = data
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
            try:
                node = node[part]
                if isinstance(node, dict) and "name" in node:
                    out += f" ({node['name']})"
            except (IndexError, KeyError, TypeError):
                node = None
        else:
            out += f".{part}" if out else str(part)
            node = node.get(part) if isinstance(node, dict) else None
    return out


_RANGE_ERRORS = {"greater_than_equal", "less_than_equal", "greater_than", "less_than"}


def _field_bounds(loc: tuple[Any, ...]) -> tuple[Any, Any]:
    """The documented range of the number at `loc` in the config (its field's ge/gt and le/lt; None: unbounded)."""
    import typing

    node: Any = Config
    info = None
    for part in loc:
        if isinstance(part, int):
            continue            # a list's item: the list's own type says
        models = [t for t in (node, *typing.get_args(node)) if isinstance(t, type) and issubclass(t, BaseModel)]
        field = next((m.model_fields[part] for m in models if part in m.model_fields), None)
        if field is None:
            return None, None
        info, node = field, field.annotation
        while typing.get_origin(node) is list or (typing.get_args(node) and not any(
                isinstance(t, type) and issubclass(t, BaseModel) for t in (node, *typing.get_args(node)))):
            args = [a for a in typing.get_args(node) if a is not type(None)]
            if not args:
                break
            node = args[0]
    low = high = None
    for m in info.metadata if info is not None else ():
        low = getattr(m, "ge", None) if getattr(m, "ge", None) is not None else getattr(m, "gt", low)
        high = getattr(m, "le", None) if getattr(m, "le", None) is not None else getattr(m, "lt", high)
    return low, high


def _out_of_range(err: Any, loc: tuple[Any, ...]) -> str:
    """A number outside its field's range, in regwatch's words: `-3 is out of range: 1 to 1000`."""
    low, high = _field_bounds(loc)
    ctx = err.get("ctx") or {}
    low = low if low is not None else ctx.get("ge", ctx.get("gt"))
    high = high if high is not None else ctx.get("le", ctx.get("lt"))
    span = (f"{low} to {high}" if low is not None and high is not None
            else f"at least {low}" if low is not None else f"at most {high}")
    return f"{err['input']} is out of range: {span}"


def format_validation_error(e: ValidationError, data: Any) -> str:
    err = e.errors()[0]
    loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
    msg = err["msg"].removeprefix("Value error, ")
    if err["type"] in _RANGE_ERRORS:
        msg = _out_of_range(err, loc)
    elif err["type"] == "extra_forbidden":
        msg = "unknown key (check its spelling against the README's config reference)"
    elif err["type"] == "missing":
        msg = "is required"
    where = _loc(loc, data)
    more = f" (and {len(e.errors()) - 1} more)" if len(e.errors()) > 1 else ""
    return f"{where}: {msg}{more}" if where else f"{msg}{more}"


def parse_config(data: dict[str, Any], origin: str = "<config>", base: Path | None = None) -> Config:
    """A validated config, the bundled source packs it asks for merged in (then the names that
    refer to sources are checked, so a subscription may name a bundled source). A relative
    `store.path`, topic file or model is read from `base` (the config file's folder). A channel's unset `${VAR}` is an
    error only when something sends (`Config.require_channel_secrets`)."""
    found: list[tuple[str, str]] = []
    unset: list[str] = []
    try:
        data = expand_env(data, found=found, unset=unset)
        cfg = Config.model_validate(data)
        for i, s in enumerate(cfg.sources):     # before the packs' sources join the list
            s.secrets = table_secrets(found, f"sources[{i}]")
        cfg = with_source_packs(cfg)
        check_source_names(cfg)
    except ConfigError as e:
        raise ConfigError(redact(f"{origin}: {e}", table_secrets(found))) from None
    except ValidationError as e:
        raise ConfigError(redact(f"{origin}: {format_validation_error(e, data)}", table_secrets(found))) from None
    cfg.path = origin
    cfg.secrets = table_secrets(found)      # (the config's own messages: one may quote any table)
    for i, c in enumerate(cfg.channels):    # a channel's errors hide its own values, not another table's words
        c.secrets = table_secrets(found, f"channels[{i}]")
    cfg.store.secrets = table_secrets(found, "store")
    cfg._unset = []
    for missing in unset:
        i = int(re.match(r"channels\[(\d+)\]", missing).group(1))        # type: ignore[union-attr]
        name = cfg.channels[i].name
        said = missing.replace(f"channels[{i}]", f"channels[{i}] ({name})", 1)
        cfg._unset.append((name, redact(f"{origin}: {said}", cfg.secrets)))
    if base is not None:     # a config's files are where it says from its own folder, not from the shell's
        if cfg.store.path != ":memory:" and not Path(cfg.store.path).is_absolute():
            cfg.store.path = str(base / cfg.store.path)
        cfg.topics.files = [f if Path(f).is_absolute() else str(base / f) for f in cfg.topics.files]
        if cfg.topics.model not in ("", "auto") and not Path(cfg.topics.model).is_absolute():
            cfg.topics.model = str(base / cfg.topics.model)
    return cfg


def check_source_names(cfg: Config) -> None:
    """Subscriptions' `sources` and `exclude_sources` name sources that exist (own or bundled)."""
    names = {s.name for s in cfg.sources}
    for i, sub in enumerate(cfg.subscriptions):
        for src in sub.sources:
            if src in cfg.exclude_sources:
                raise ConfigError(f"subscriptions[{i}] ({sub.name}): source {src!r} is left out by exclude_sources")
            if src not in names:
                raise ConfigError(f"subscriptions[{i}] ({sub.name}): source {src!r} is not defined "
                                  f"(neither in [[sources]] nor in source_packs {cfg.source_packs})")


def check_topics(cfg: Config, known: set[str]) -> None:
    """Subscriptions' `topics` name topics of the loaded packs (or `*`)."""
    for i, sub in enumerate(cfg.subscriptions):
        for t in sub.topics or []:
            if t != "*" and t not in known:
                raise ConfigError(f"{cfg.path}: subscriptions[{i}] ({sub.name}).topics: topic {t!r} is not in the "
                                  f"loaded packs; known topics: {', '.join(sorted(known))}")


def load_config(path: str | os.PathLike[str] | None) -> Config:
    """Load and validate a config file; `None` means `$REGWATCH_CONFIG`, `./regwatch.toml`, or the embedded default."""
    explicit = path is not None or bool(os.environ.get(CONFIG_ENV))
    p = Path(path or os.environ.get(CONFIG_ENV) or DEFAULT_PATH)
    if not p.exists():
        if explicit:
            raise ConfigError(f"{p}: no such config file (write one with `regwatch init {p}`)")
        return default_config()
    try:
        data = tomllib.loads(p.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise ConfigError(f"{p}: invalid TOML: {e}") from None
    except (OSError, UnicodeDecodeError) as e:
        raise ConfigError(f"{p}: cannot read: {e}") from None
    return parse_config(data, str(p), base=p.parent)


def default_config() -> Config:
    """The embedded default: the bundled source pack, the bundled topic pack, a console channel."""
    text = (Path(__file__).parent / "default.toml").read_text(encoding="utf-8")
    return parse_config(tomllib.loads(text), "<embedded default>")


def with_source_packs(cfg: Config) -> Config:
    """Add the bundled source packs' sources the config asks for; the config's own win by name.
    A name in `exclude_sources` that is no source at all is an error (a typo would exclude nothing)."""
    own = {s.name for s in cfg.sources}
    extra: list[SourceConfig] = []
    bundled: set[str] = set()
    if cfg.source_packs:
        from .source_packs import load_source_pack

        for pack in cfg.source_packs:
            for s in load_source_pack(pack):
                bundled.add(s.name)
                if s.name not in own and s.name not in cfg.exclude_sources and s.name not in {e.name for e in extra}:
                    extra.append(s)
    unknown = [n for n in cfg.exclude_sources if n not in own | bundled]
    if unknown:
        where = "the source packs " + ", ".join(cfg.source_packs) if cfg.source_packs else "this config (no source_packs)"
        raise ConfigError(f"exclude_sources: {', '.join(map(repr, unknown))} is not a source of {where}"
                          " nor of [[sources]] (see `regwatch sources --pack`)")
    cfg.sources = [s for s in cfg.sources if s.name not in cfg.exclude_sources] + extra
    return cfg
