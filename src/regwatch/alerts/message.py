"""What an alert says, before any platform's format: built from the store, text made inert.

Text from articles is untrusted: it can never mention anyone, open markup, or forge a link.
`inert()` replaces the characters that any of the platforms reads as markup or mentions (`<`,
`>`, `[`, `]`, `@`, `*`, `_`, `` ` ``, `#`, `|`, `~`, …) with their full-width look-alikes,
which every client shows as the same text and none interprets. URLs are rebuilt from their
parsed parts (`safe_url`): no user part, a host of letters, digits, dots and hyphens only, and
every character that could end a link percent-encoded (the `#fragment` kept: hash-routed sites' links).
Text is cut between whole characters as a reader sees them (grapheme clusters: a flag, an emoji
sequence, a letter and its accents stay whole), "…" marking the cut.

A `Message` is one article, one digest (several `Item`s) or one health notice. Its lines are
assembled once here (`Message.fields`); each platform only chooses the markup around them.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

import regex

from ..defaults import ALSO_SHOWN, DISPLAY_TIME, DISPLAY_TZ, TERM_SHOWN, UNSAFE_CHARS, display_zone_label
from ..pipeline.normalize import clip, credit_lines, strip_chrome

_INERT = str.maketrans({"<": "＜", ">": "＞", "[": "［", "]": "］", "@": "＠", "*": "＊", "_": "＿", "`": "｀",
                        "#": "＃", "|": "｜", "~": "～", "\\": "＼", "&": "＆", "{": "｛", "}": "｝"})
_CONTROL = re.compile(f"[{UNSAFE_CHARS}]")
_WS = re.compile(r"\s+")
_HOST = re.compile(r"[a-z0-9.-]+|\[[0-9a-f:.]+\]")
_LINK_SAFE = "/%:=&?+,;$!'-._~"      # what stays as written in a URL's query and fragment: nothing that ends a link
TITLE_MIN = 20                       # characters a title keeps however small a message must be


def plain(value: Any) -> Any:
    """Untrusted data for machines (a webhook event's data), every text in it as it was but without the
    characters no output shows live (controls, bidi overrides, invisible formatting: `UNSAFE_CHARS`); in a
    dict or list, each of its values. A URL keeps them percent-encoded (`plain_url`)."""
    if isinstance(value, str):
        return _CONTROL.sub("", value)
    if isinstance(value, dict):
        return {k: plain_url(v) if k == "url" else plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def plain_url(url: Any) -> Any:
    """A URL with the characters of `UNSAFE_CHARS` percent-encoded: the same address, never shown live."""
    return _CONTROL.sub(lambda m: quote(m.group(), safe=""), url) if isinstance(url, str) else plain(url)


def inert(text: str | None, limit: int | None = None) -> str:
    """Untrusted text made safe for every chat platform's markup, one line, at most `limit` characters."""
    t = _CONTROL.sub("", unicodedata.normalize("NFC", text or ""))
    t = _WS.sub(" ", t).strip().translate(_INERT)
    return t if limit is None else clip(t, limit)


# `_` inside an identifier (`channel_not_found`, `sign_not_match`): between two ASCII letters or digits
_IDENT_UNDERSCORE = re.compile("(?<=[A-Za-z0-9])＿(?=[A-Za-z0-9])")


def inert_answer(text: str | None, limit: int | None = None) -> str:
    """A platform's answer (a health notice's detail: `HTTP 404 channel_not_found: …`) made inert as `inert` does,
    but an error code keeps its `_`: one between two ASCII letters or digits opens no markup on any platform that
    renders it (DingTalk's, WeCom's and Feishu's markdown italicise with `*` only — and Feishu's notices are
    `plain_text`; Slack's `_italic_`, Discord's, Teams' CommonMark emphasis need a `_` at a word's edge; Telegram's
    HTML and the console have no `_` markup), so the operator can copy the code the platform documents."""
    return _IDENT_UNDERSCORE.sub("_", inert(text, limit))


def safe_url(url: str | None) -> str:
    """An http(s) URL rebuilt from its parts, or "" when it is not one.

    The user part is dropped (`http://x><!channel><@host/` puts markup there), the host must be
    letters, digits, dots and hyphens (IDNA-encoded) or a bracketed IPv6 address, and the path
    query and fragment are percent-encoded so that no character can end a markdown, Slack or HTML link.
    """
    try:
        parts = urlsplit((url or "").strip())
        host = parts.hostname or ""
        port = parts.port
    except ValueError:
        return ""
    if parts.scheme.lower() not in ("http", "https") or not host:
        return ""
    try:
        host = host.encode("idna").decode("ascii").lower() if not host.isascii() else host.lower()
    except UnicodeError:
        return ""
    if ":" in host:
        host = f"[{host}]"
    if not _HOST.fullmatch(host):
        return ""
    netloc = host + (f":{port}" if port is not None else "")
    path = quote(parts.path, safe="/%:=+,;$!'-._~")
    query = quote(parts.query, safe=_LINK_SAFE)
    fragment = quote(parts.fragment, safe=_LINK_SAFE)
    return urlunsplit((parts.scheme.lower(), netloc, path or "/", query, fragment))


def local_time(iso: str | None, tz: str = DISPLAY_TZ) -> str:
    """`2025-12-22 15:41 北京时间` (the display zone's name; its UTC offset for other zones)."""
    if not iso:
        return "时间未知"
    dt = datetime.fromisoformat(iso)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(ZoneInfo(tz)).strftime(DISPLAY_TIME) + " " + display_zone_label(tz, dt)


@dataclass
class TopicLine:
    id: str
    name: str
    terms: list[str]


def topic_text(topics: list[TopicLine]) -> str:
    return "；".join(f"{t.name}（{'、'.join(t.terms)}）" if t.terms else t.name for t in topics)


def also_text(names: list[str], total: int = 0) -> str:
    """The other outlets of a story: the names given, and how many there are in all when that is more
    (`A、B 等 45 家`)."""
    if total <= len(names):
        return "、".join(names)
    return f"{'、'.join(names)} 等 {total} 家" if names else f"{total} 家"


def shorter(text: str) -> str:
    """A title one step shorter (seven tenths), but never below `TITLE_MIN` characters."""
    return clip(text, max(TITLE_MIN, len(text) * 7 // 10)) if len(text) > TITLE_MIN else text


@dataclass
class Item:
    """One article of a digest; every text field is inert, the URL safe."""

    title: str
    url: str
    outlet: str
    topics: str
    also: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)   # the same article for machines (webhook events)
    also_total: int = 0                               # the story's other outlets in all (`also` names the first)

    def tail(self) -> str:
        """What follows the linked title: outlet, topics, other outlets."""
        bits = [b for b in (self.outlet, self.topics) if b]
        if self.also or self.also_total:
            bits.append(f"另见 {also_text(self.also, self.also_total)}")
        return " · ".join(bits)

    def smaller(self) -> Item | None:
        """This item one step shorter (its 另见 names, then its title, then its topics), or None."""
        if self.also:
            return replace(self, also=self.also[: len(self.also) // 2], also_total=max(self.also_total, len(self.also)))
        if shorter(self.title) != self.title:
            return replace(self, title=shorter(self.title))
        if self.topics:
            return replace(self, topics=clip(self.topics, len(self.topics) // 2))
        return None


@dataclass
class Message:
    """One alert, digest or health notice in neutral form; every text field is already inert."""

    title: str
    url: str = ""
    outlet: str = ""
    published: str = ""
    topics: list[TopicLine] = field(default_factory=list)
    lead: str = ""
    subscription: str = ""
    trigger: str = ""                                 # which subscription (and keyword) sent it
    also: list[str] = field(default_factory=list)     # other outlets of the story ("另见"), the first of them
    also_total: int = 0                               # … and how many there are in all
    heading: str = "regwatch"
    kind: str = "article"                             # article | digest | health | test
    items: list[Item] = field(default_factory=list)   # a digest's articles
    data: dict[str, Any] = field(default_factory=dict)   # the same alert for machines (webhook events)

    @property
    def label(self) -> str:
        return f"【{self.heading}】{self.title}"

    def fields(self) -> list[tuple[str, str]]:
        """The labelled lines of a single alert, in order (the lead and the link come after)."""
        out: list[tuple[str, str]] = []
        if self.outlet or self.published:
            out.append(("来源", " · ".join(x for x in (self.outlet, self.published) if x)))
        if self.topics:
            out.append(("主题", topic_text(self.topics)))
        if self.also or self.also_total:
            out.append(("另见", also_text(self.also, self.also_total)))
        if self.trigger:
            out.append(("触发", self.trigger))
        return out

    def with_items(self, items: list[Item], part: int = 0, parts: int = 1) -> Message:
        """The same digest carrying only `items` (part `part` of `parts`)."""
        title = self.title if parts <= 1 else f"{self.title}（{part}/{parts}）"
        return replace(self, items=items, title=title)

    def smaller(self) -> Message | None:
        """This message one step shorter, or None when nothing is left to cut: the lead first, then the 另见
        names (counted instead), the digest's items (theirs, then their titles), the title, the topic words and
        topics, and last the link (one longer than the platform takes)."""
        if self.lead:
            return replace(self, lead=clip(self.lead, len(self.lead) * 7 // 10))
        if self.also:
            return replace(self, also=self.also[: len(self.also) // 2], also_total=max(self.also_total, len(self.also)))
        items = [i.smaller() for i in self.items]
        if any(i is not None for i in items):
            return replace(self, items=[s or i for s, i in zip(items, self.items, strict=True)])
        if shorter(self.title) != self.title:
            return replace(self, title=shorter(self.title))
        if any(t.terms for t in self.topics):
            return replace(self, topics=[replace(t, terms=[]) for t in self.topics])
        if len(self.topics) > 1:
            return replace(self, topics=self.topics[: len(self.topics) // 2])
        if self.trigger or self.url or any(i.url for i in self.items):
            return replace(self, trigger="", url="", items=[replace(i, url="") for i in self.items])
        return None

    def plain(self) -> str:
        lines = [self.label]
        lines += [f"{k}: {v}" for k, v in self.fields()]
        if self.lead:
            lines.append(f"摘要: {self.lead}")
        lines += [f"- {i.title} · {i.tail()}\n  {i.url}" for i in self.items]
        if self.url:
            lines.append(f"原文: {self.url}")
        return "\n".join(lines)


_BYLINE = re.compile(r"\d{4}\s*[-年/.]\s*\d{1,2}|(来源|作者|编辑|记者|责编|发布时间|原标题)\s*[:：]|转载|转自|^source\s*[:：]",
                     re.I)     # (a reprint's note too: 本文转载自…, 转自…)
# an English byline: "By" and names only ("By Jane Doe", "By Reuters Staff", "By Ann Lee and Bo Chen, Reuters"),
# not a sentence that begins with the word ("By the end of 2026, lenders must …")
_BY_NAMES = re.compile(r"(?i:by)\s+[A-Z][\w'’.-]*(?:(?:\s+|\s*,\s*|\s+and\s+|\s*&\s*)[A-Z][\w'’.-]*){0,6}")


def lead_of(body: str, limit: int, title: str = "") -> str:
    """The lead (`lead_text`) made inert: for a message a chat platform renders."""
    return inert(lead_text(body, limit, title), limit)


def lead_text(body: str, limit: int, title: str = "") -> str:
    """The page's own text, as it was (for a webhook event's data: a program's, not markup): up to `limit`
    characters of the text from its first paragraph that is not a label (8 characters or fewer),
    a dateline or a byline (`2026-12-02 来源：…`), the headline repeated atop the text left out, later paragraphs
    joined on until it is full; credit and reprint lines (`作者：… 本文来源：…`, `责任编辑：…`, `转自…`; a `声明` is news)
    and page furniture (`分享到…`, `扫一扫…`, a related-articles list) are never part of it."""
    if limit <= 0:
        return ""
    headline = "".join(_CONTROL.sub("", title).split())     # (invisible characters the body lost kept apart)
    text = ""
    credits = set(credit_lines(body or ""))     # a copy's credit and reprint lines (作者：… 本文来源：…, 责任编辑：…)
    for i, p in enumerate(strip_chrome(body or "").split("\n")):     # (share buttons, a related list: gone)
        p = " ".join(p.split())
        if i in credits:
            continue
        if not text and (len(p) <= 8 or (len(p) <= 60 and (_BYLINE.search(p) or _BY_NAMES.fullmatch(p)))):
            continue
        if not p or "".join(_CONTROL.sub("", p).split()) == headline:
            continue
        text = f"{text} {p}" if text else p
        if len(text) >= limit:
            break
    return clip(_WS.sub(" ", _CONTROL.sub("", unicodedata.normalize("NFC", text or body or ""))).strip(), limit)


def trigger_text(subscription: str, keyword: str | None = None) -> str:
    s = f"订阅 {inert(subscription, 60)}"
    return s + (f"（关键词：{inert(keyword, 40)}）" if keyword else "")


_LATIN = r"A-Za-z\u00c0-\u024f"


def whole_words(term: str, snippet: str) -> str:
    """A match cut inside a Latin word (`collector humiliat`) completed to the whole words its snippet shows."""
    at = snippet.find(term) if term else -1
    if at < 0:
        return term
    before = regex.search(f"[{_LATIN}]*$", snippet[:at]) if regex.match(f"[{_LATIN}]", term) else None
    after = regex.match(f"[{_LATIN}]*", snippet[at + len(term):]) if regex.search(f"[{_LATIN}]$", term) else None
    return (before.group() if before else "") + term + (after.group() if after else "")


def topic_lines(topics: list[dict], topic_names: dict[str, str]) -> list[TopicLine]:
    """Each tagged topic by its name, with the distinct words that matched (at most four): each whole (a match
    ending inside a word completed from its snippet), none longer than `TERM_SHOWN` characters (a long pattern's
    match is left out), the learned stage's words one by one."""
    lines = []
    for t in topics:
        seen: dict[str, str] = {}
        for e in t.get("evidence") or []:
            raw = str(e.get("term") or "")
            for word in raw.split("、") if e.get("where") == "model" else [raw]:
                term = inert(whole_words(word, str(e.get("snippet") or "")))
                if term and len(term) <= TERM_SHOWN:
                    seen.setdefault(term.casefold(), term)
        lines.append(TopicLine(t["topic"], inert(topic_names.get(t["topic"], t["topic"]), 40), list(seen.values())[:4]))
    return lines


def build_message(article: dict, topics: list[dict], topic_names: dict[str, str], subscription: str,
                  lead_chars: int = 160, tz: str = DISPLAY_TZ, also: list[str] | None = None,
                  keyword: str | None = None) -> Message:
    return Message(
        title=inert(article.get("title") or "(无标题)", 200),
        url=safe_url(article.get("url")),
        outlet=inert(article.get("outlet") or article.get("source") or "", 40),
        published=local_time(article.get("published_at"), tz),
        topics=topic_lines(topics, topic_names),
        lead=lead_of(article.get("body") or "", lead_chars, article.get("title") or ""),
        subscription=inert(subscription, 60),
        trigger=trigger_text(subscription, keyword),
        also=[inert(a, 40) for a in (also or [])[:ALSO_SHOWN]],
        also_total=len(also or []),
    )


def item_of(m: Message) -> Item:
    return Item(m.title, m.url, m.outlet, "、".join(t.name for t in m.topics), list(m.also), also_total=m.also_total)


def digest_message(messages: list[Message], subscription: str, tz: str = DISPLAY_TZ) -> Message:
    """Several alerts of one channel as one message (a scheduled digest, or a burst over the rate limit)."""
    items = [item_of(m) for m in messages]
    return Message(title=inert(f"{subscription}：{len(items)} 篇新文章", 200), outlet="regwatch",
                   published=local_time(datetime.now(UTC).isoformat(), tz),
                   subscription=inert(subscription, 60), trigger=trigger_text(subscription),
                   heading="regwatch 摘要", kind="digest", items=items, data=plain({"subscription": subscription}))


def health_message(source: str, state: str, detail: str | None, recovered: bool, tz: str = DISPLAY_TZ) -> Message:
    what = "通道" if source.startswith("channel ") else "数据源"
    name = source.removeprefix("channel ")
    title = f"{what} {name} 已恢复" if recovered else f"{what} {name} 状态: {state}"
    return Message(title=inert_answer(title, 200), outlet=inert_answer(source, 60),
                   published=local_time(datetime.now(UTC).isoformat(), tz),
                   lead=inert_answer(detail or "", 300), subscription="health", heading="regwatch 健康", kind="health")


def health_summary_message(changes: list[dict], tz: str = DISPLAY_TZ) -> Message:
    """Several sources' changes of one cycle as one notice (a lost network is one message, not one per source)."""
    def name(c: dict) -> str:
        return str(c.get("source") or "?").removeprefix("channel ")

    bad = [c for c in changes if not c.get("recovered")]
    good = [c for c in changes if c.get("recovered")]
    counts = [f"{len(bad)} 个异常"] * bool(bad) + [f"{len(good)} 个已恢复"] * bool(good)
    title = f"{len(changes)} 个数据源状态变化：{'，'.join(counts)}"
    lines = [f"{name(c)}: {c.get('state')}" + (f"（{inert_answer(c.get('detail'), 80)}）" if c.get("detail") else "")
             for c in bad] + [f"{name(c)} 已恢复" for c in good]
    return Message(title=inert(title, 200), outlet="regwatch",
                   published=local_time(datetime.now(UTC).isoformat(), tz),
                   lead=inert_answer("；".join(lines), 2000), subscription="health", heading="regwatch 健康",
                   kind="health")


def test_message(tz: str = DISPLAY_TZ) -> Message:
    return Message(title="regwatch 测试消息 / test message", url="https://example.com/regwatch-test", outlet="regwatch",
                   published=local_time(datetime.now(UTC).isoformat(), tz),
                   lead="如果你看到这条消息，说明通道配置正确。", subscription="test", kind="test")
