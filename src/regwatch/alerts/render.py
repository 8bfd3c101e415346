"""A `Message` in each platform's own format and limits (see the README's "Alerts" section)."""

from __future__ import annotations

from typing import Any, Callable

from .message import Message


def _fit_bytes(text: str, limit: int) -> str:
    """Cut to at most `limit` UTF-8 bytes without splitting a character."""
    b = text.encode("utf-8")
    if len(b) <= limit:
        return text
    return b[: limit - 3].decode("utf-8", "ignore") + "…"


def _fit(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _md_items(m: Message) -> list[str]:
    return [f"- [{i.title}]({i.url}) · {i.outlet} · {i.topics}" for i in m.items]


def _markdown(m: Message, link_label: str = "阅读原文") -> str:
    """CommonMark-ish body shared by DingTalk, WeCom and Feishu (all text in it is already inert)."""
    if m.items:
        return "\n".join([f"### 【{m.heading}】{m.title}", "", *_md_items(m)])
    parts = [f"### 【{m.heading}】{m.title}", f"**来源** {m.outlet} · {m.published}"]
    if m.topics:
        parts.append(f"**主题** {m.topic_text()}")
    if m.lead:
        parts.append(f"> {m.lead}")
    if m.also:
        parts.append(f"**另见** {'、'.join(m.also)}")
    if m.url:
        parts.append(f"[{link_label}]({m.url})")
    return "\n\n".join(parts)


def dingtalk(m: Message, keyword: str | None = None) -> dict[str, Any]:
    text = _markdown(m)
    if keyword and keyword not in text:
        text += f"\n\n{keyword}"
    return {"msgtype": "markdown",
            "markdown": {"title": _fit(f"【{m.heading}】{m.title}", 60), "text": _fit_bytes(text, 18000)},
            "at": {"atMobiles": [], "atUserIds": [], "isAtAll": False}}


def wecom(m: Message, keyword: str | None = None) -> dict[str, Any]:
    while m.items and len(_markdown(m).encode()) > 4000:   # a digest too long: fewer items (the rest: see the store)
        m = Message(**{**m.__dict__, "items": m.items[:-1]})
    text = _markdown(m).replace("### ", "#### ", 1)
    if len(text.encode()) > 4000:
        # shorten the lead first so that the link, which comes last, survives
        over = len(text.encode()) - 4000
        lead = m.lead.encode()[: max(0, len(m.lead.encode()) - over - 8)].decode("utf-8", "ignore") + "…"
        text = _markdown(Message(**{**m.__dict__, "lead": lead}))
    return {"msgtype": "markdown", "markdown": {"content": _fit_bytes(text, 4000)}}


def feishu(m: Message, keyword: str | None = None) -> dict[str, Any]:
    if m.items:
        return {"msg_type": "interactive", "card": {
            "config": {"wide_screen_mode": True},
            "header": {"title": {"tag": "plain_text", "content": _fit(f"【{m.heading}】{m.title}", 200)}, "template": "blue"},
            "elements": [{"tag": "markdown", "content": _fit_bytes("\n".join(_md_items(m)), 15000)}]}}
    elements: list[dict[str, Any]] = [
        {"tag": "div", "text": {"tag": "plain_text", "content": f"来源: {m.outlet} · {m.published}"}}]
    if m.topics:
        elements.append({"tag": "div", "text": {"tag": "plain_text", "content": f"主题: {m.topic_text()}"}})
    if m.lead:
        elements.append({"tag": "div", "text": {"tag": "plain_text", "content": _fit(m.lead, 1000)}})
    if m.also:
        elements.append({"tag": "div", "text": {"tag": "plain_text", "content": f"另见: {'、'.join(m.also)}"}})
    if m.url:
        elements.append({"tag": "action", "actions": [{"tag": "button", "text": {"tag": "plain_text", "content": "阅读原文"},
                                                       "type": "primary", "url": m.url}]})
    if keyword:
        elements.append({"tag": "note", "elements": [{"tag": "plain_text", "content": keyword}]})
    return {"msg_type": "interactive", "card": {
        "config": {"wide_screen_mode": True},
        "header": {"title": {"tag": "plain_text", "content": _fit(f"【{m.heading}】{m.title}", 200)},
                   "template": "red" if m.kind == "health" else "blue"},
        "elements": elements}}


def _slack_escape(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(m: Message, keyword: str | None = None) -> dict[str, Any]:
    lines = [f"*来源* {_slack_escape(m.outlet)} · {m.published}"]
    if m.topics:
        lines.append(f"*主题* {_slack_escape(m.topic_text())}")
    if m.lead:
        lines.append(f"> {_slack_escape(m.lead)}")
    if m.also:
        lines.append(f"*另见* {_slack_escape('、'.join(m.also))}")
    if m.url:
        lines.append(f"<{m.url}|阅读原文>")
    if m.items:
        lines = [f"• <{i.url}|{_slack_escape(i.title)}> · {_slack_escape(i.outlet)} · {_slack_escape(i.topics)}" for i in m.items]
    return {"text": _fit(_slack_escape(f"【{m.heading}】{m.title}") + (f" {m.url}" if m.url else ""), 3000),
            "blocks": [{"type": "header", "text": {"type": "plain_text", "text": _fit(m.title, 150)}},
                       {"type": "section", "text": {"type": "mrkdwn", "text": _fit("\n".join(lines), 2900)}}],
            "unfurl_links": False}


def discord(m: Message, keyword: str | None = None) -> dict[str, Any]:
    desc = "\n".join(x for x in [f"**主题** {m.topic_text()}" if m.topics else "", m.lead,
                                 f"**另见** {'、'.join(m.also)}" if m.also else "", *_md_items(m)] if x)
    embed = {"title": _fit(m.title, 256), "description": _fit(desc, 3000),
             "fields": [{"name": "来源", "value": _fit(m.outlet or "-", 1024), "inline": True},
                        {"name": "时间", "value": m.published, "inline": True}]}
    if m.url:
        embed["url"] = m.url
    return {"content": _fit(f"【{m.heading}】", 2000), "embeds": [embed], "allowed_mentions": {"parse": []}}


def teams(m: Message, keyword: str | None = None) -> dict[str, Any]:
    body: list[dict[str, Any]] = [
        {"type": "TextBlock", "text": m.title, "weight": "Bolder", "size": "Medium", "wrap": True},
        {"type": "TextBlock", "text": f"来源: {m.outlet} · {m.published}", "isSubtle": True, "wrap": True}]
    if m.topics:
        body.append({"type": "TextBlock", "text": f"主题: {m.topic_text()}", "wrap": True})
    if m.lead:
        body.append({"type": "TextBlock", "text": _fit(m.lead, 2000), "wrap": True})
    if m.items:
        body.append({"type": "TextBlock", "text": _fit("\n".join(_md_items(m)), 20000), "wrap": True})
    card: dict[str, Any] = {"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard",
                            "version": "1.4", "body": body, "msteams": {"width": "full"}}
    if m.url:
        card["actions"] = [{"type": "Action.OpenUrl", "title": "阅读原文", "url": m.url}]
    return {"type": "message", "attachments": [{"contentType": "application/vnd.microsoft.card.adaptive",
                                                "contentUrl": None, "content": card}]}


def _html(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def telegram(m: Message, keyword: str | None = None, chat_id: str | None = None) -> dict[str, Any]:
    parts = [f"<b>【{_html(m.heading)}】{_html(m.title)}</b>", f"来源: {_html(m.outlet)} · {m.published}"]
    if m.topics:
        parts.append(f"主题: {_html(m.topic_text())}")
    if m.lead:
        parts.append(_html(m.lead))
    if m.url:
        parts.append(f'<a href="{_html(m.url)}">阅读原文</a>')
    parts += [f'• <a href="{_html(i.url)}">{_html(i.title)}</a> · {_html(i.outlet)}' for i in m.items]
    return {"chat_id": chat_id, "text": _fit("\n".join(parts), 4000), "parse_mode": "HTML",
            "link_preview_options": {"is_disabled": True}}


def webhook(m: Message, keyword: str | None = None, data: dict[str, Any] | None = None) -> dict[str, Any]:
    kind = {"article": "article.matched", "digest": "articles.digest"}.get(m.kind, "source.health")
    return {"type": kind, "data": data or {}}


def console(m: Message, keyword: str | None = None) -> dict[str, Any]:
    return {"text": m.plain()}


def apprise(m: Message, keyword: str | None = None) -> dict[str, Any]:
    """Plain text for Apprise, which formats for each of its services itself."""
    return {"title": f"【{m.heading}】{m.title}", "body": m.plain()}


RENDERERS: dict[str, Callable[..., dict[str, Any]]] = {
    "dingtalk": dingtalk, "wecom": wecom, "feishu": feishu, "slack": slack, "discord": discord,
    "teams": teams, "telegram": telegram, "webhook": webhook, "console": console, "apprise": apprise,
}
