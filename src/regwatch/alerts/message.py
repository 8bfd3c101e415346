"""What an alert says, before any platform's format: built from the store, text made inert.

Text from articles is untrusted: it can never mention anyone, open markup, or forge a link.
`inert()` replaces the characters that any of the platforms reads as markup or mentions (`<`,
`>`, `[`, `]`, `@`, `*`, `_`, `` ` ``, `#`, `|`, `~`) with their full-width look-alikes,
which every client shows as the same text and none interprets.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from datetime import datetime
from urllib.parse import quote, urlsplit, urlunsplit
from zoneinfo import ZoneInfo

_INERT = str.maketrans({"<": "＜", ">": "＞", "[": "［", "]": "］", "@": "＠", "*": "＊", "_": "＿", "`": "｀",
                        "#": "＃", "|": "｜", "~": "～", "\\": "＼", "&": "＆", "{": "｛", "}": "｝"})
_CONTROL = re.compile(r"[\u0000-\u0008\u000b-\u001f\u007f\u200b-\u200f\u202a-\u202e\u2060-\u2064\ufeff]")


def inert(text: str | None, limit: int | None = None) -> str:
    """Untrusted text made safe for every chat platform's markup, one line, at most `limit` characters."""
    t = _CONTROL.sub("", unicodedata.normalize("NFC", text or ""))
    t = re.sub(r"\s+", " ", t).strip().translate(_INERT)
    if limit is not None and len(t) > limit:
        t = t[: max(0, limit - 1)].rstrip() + "…"
    return t


def safe_url(url: str) -> str:
    """An http(s) URL with the characters that could end a markdown or Slack link percent-encoded."""
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        return ""
    return urlunsplit(parts._replace(path=quote(parts.path, safe="/%:=+,;$!'-._~"),
                                     query=quote(parts.query, safe="/%:=&?+,;$!'-._~"), fragment=""))


@dataclass
class TopicLine:
    id: str
    name: str
    terms: list[str]


@dataclass
class Item:
    """One article in a digest; every text field is inert."""

    title: str
    url: str
    outlet: str
    topics: str


@dataclass
class Message:
    """One alert, in neutral form; every text field is already inert."""

    title: str
    url: str
    outlet: str
    published: str
    topics: list[TopicLine]
    lead: str
    subscription: str
    also: list[str] = field(default_factory=list)
    heading: str = "regwatch"
    kind: str = "article"
    items: list[Item] = field(default_factory=list)   # a digest's articles

    def topic_text(self) -> str:
        return "；".join(f"{t.name}（{'、'.join(t.terms)}）" if t.terms else t.name for t in self.topics)

    def plain(self) -> str:
        lines = [f"【{self.heading}】{self.title}", f"来源: {self.outlet} · {self.published}"]
        if self.topics:
            lines.append(f"主题: {self.topic_text()}")
        if self.lead:
            lines.append(f"摘要: {self.lead}")
        if self.also:
            lines.append(f"另见: {'、'.join(self.also)}")
        lines += [f"- {i.title} · {i.outlet} · {i.topics}\n  {i.url}" for i in self.items]
        if self.url:
            lines.append(f"原文: {self.url}")
        return "\n".join(lines)


def local_time(iso: str | None, tz: str = "Asia/Shanghai") -> str:
    if not iso:
        return "时间未知"
    dt = datetime.fromisoformat(iso).astimezone(ZoneInfo(tz))
    off = dt.strftime("%z")
    return dt.strftime("%Y-%m-%d %H:%M") + f" (UTC{off[:3]}:{off[3:]})"


def lead_of(body: str, limit: int) -> str:
    first = next((p for p in (body or "").split("\n") if len(p.strip()) > 20), body or "")
    return inert(first, limit)


def build_message(article: dict, topics: list[dict], topic_names: dict[str, str], subscription: str,
                  lead_chars: int = 160, tz: str = "Asia/Shanghai", also: list[str] | None = None) -> Message:
    lines = []
    for t in topics:
        terms = list(dict.fromkeys(inert(e["term"], 40) for e in t["evidence"] if e.get("term")))[:4]
        lines.append(TopicLine(t["topic"], inert(topic_names.get(t["topic"], t["topic"]), 40), terms))
    return Message(
        title=inert(article.get("title") or "(无标题)", 200),
        url=safe_url(article["url"]),
        outlet=inert(article.get("outlet") or article.get("source") or "", 40),
        published=local_time(article.get("published_at"), tz),
        topics=lines,
        lead=lead_of(article.get("body") or "", lead_chars),
        subscription=inert(subscription, 60),
        also=[inert(a, 40) for a in (also or [])],
    )


def health_message(source: str, state: str, detail: str | None, recovered: bool) -> Message:
    what = "通道" if source.startswith("channel ") else "数据源"
    name = source.removeprefix("channel ")
    title = f"{what} {name} 已恢复" if recovered else f"{what} {name} 状态: {state}"
    return Message(title=inert(title, 200), url="", outlet=inert(source, 60), published=local_time(
        datetime.now(ZoneInfo("UTC")).isoformat()), topics=[], lead=inert(detail or "", 300),
        subscription="health", heading="regwatch 健康", kind="health")


def digest_message(messages: list[Message], subscription: str) -> Message:
    """Several alerts of one channel as one message (a scheduled digest, or a burst over the rate limit)."""
    items = [Item(m.title, m.url, m.outlet, "、".join(t.name for t in m.topics)) for m in messages]
    return Message(title=inert(f"{subscription}：{len(items)} 篇新文章", 200), url="", outlet="regwatch",
                   published=messages[0].published if messages else "", topics=[], lead="",
                   subscription=inert(subscription, 60), heading="regwatch 摘要", kind="digest", items=items)
