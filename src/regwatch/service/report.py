"""`regwatch report`: one self-contained HTML page (no network at view time) about what the store holds:
topic volume per day as an SVG chart, the largest stories, source health, alerts per subscription and
per channel. Topics are shown by their names, times in the display zone (Beijing time by default), days
counted in that zone; health notices are counted apart from alerts."""

from __future__ import annotations

import html
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Protocol
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

from ..defaults import DISPLAY_TIME, DISPLAY_TZ, ERROR_SHOWN, UNSAFE_CHARS, display_zone_label
from ..pipeline.redact import redact
from ..pipeline.store import SourceState, Store, shown_state
from ..pipeline.timeutil import iso
from .output import shorten

LARGEST_STORIES = 15


class ErrorShown(Protocol):
    """A stored error as shown (`Config.error_shown`)."""

    def __call__(self, text: str | None, *, channel: str | None = None, source: str | None = None) -> str | None: ...


def _shape_only(text: str | None, *, channel: str | None = None, source: str | None = None) -> str | None:
    return redact(text)    # (no config: what URLs carry by their shape)

_UNSAFE = re.compile(f"[{UNSAFE_CHARS}]")


def _e(value: str) -> str:
    """Text for the page: escaped, and without the control, bidi and invisible characters a page may carry (a
    right-to-left override turned `…gnp.exe` round in the browser)."""
    return html.escape(_UNSAFE.sub("", value))

PALETTE = ["#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c", "#0891b2", "#ca8a04", "#4b5563"]


def gather(store: Store, since: datetime, tz: str = DISPLAY_TZ) -> dict:
    s = iso(since)
    zone = ZoneInfo(tz)
    counts: dict[tuple[str, str], int] = {}
    for when, topic in store.topic_times(s):     # days in the display zone, not UTC's
        day = datetime.fromisoformat(when).astimezone(zone).date().isoformat()
        counts[day, topic] = counts.get((day, topic), 0) + 1
    per_day = [{"day": d, "topic": t, "n": n} for (d, t), n in sorted(counts.items())]
    stories = store.largest_stories(s, LARGEST_STORIES)
    health = store.source_health()
    channels = store.channel_counts(s)
    totals = {"articles": store.count_articles(since=s), "stories": store.count_stories(since=s),
              "alerts_sent": sum(c["alerts_sent"] or 0 for c in channels),
              "health": sum(c["health"] or 0 for c in channels)}
    return {"per_day": per_day, "stories": stories, "health": health, "subscriptions": store.subscription_counts(s),
            "channels": channels, "totals": totals}


def svg_chart(per_day: list[dict], since: datetime, until: datetime, width: int = 860, height: int = 260,
              names: dict[str, str] | None = None) -> str:
    """Articles per topic per day as lines, drawn as inline SVG; topics labelled by their names."""
    names = names or {}
    days = []
    d = since.date()
    while d <= until.date():
        days.append(d.isoformat())
        d += timedelta(days=1)
    topics = sorted({r["topic"] for r in per_day})
    counts = {(r["day"], r["topic"]): r["n"] for r in per_day}
    top = max([1, *counts.values()])
    left, right, top_pad, bottom = 40, 160, 16, 28
    pw, ph = width - left - right, height - top_pad - bottom
    x = lambda i: left + (pw * i / max(1, len(days) - 1))
    y = lambda v: top_pad + ph - ph * v / top
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" width="{width}" height="{height}" '
           f'role="img" aria-label="Articles per topic per day">',
           f'<rect x="{left}" y="{top_pad}" width="{pw}" height="{ph}" fill="#f8fafc" stroke="#e2e8f0"/>']
    for v in sorted({0, top // 2, top}):
        out.append(f'<text x="{left - 6}" y="{y(v) + 4:.1f}" font-size="11" text-anchor="end" fill="#64748b">{v}</text>')
    step = max(1, len(days) // 8)
    for i in range(0, len(days), step):
        out.append(f'<text x="{x(i):.1f}" y="{height - 8}" font-size="11" text-anchor="middle" fill="#64748b">'
                   f'{days[i][5:]}</text>')
    for k, topic in enumerate(topics):
        color = PALETTE[k % len(PALETTE)]
        pts = " ".join(f"{x(i):.1f},{y(counts.get((day, topic), 0)):.1f}" for i, day in enumerate(days))
        out.append(f'<polyline fill="none" stroke="{color}" stroke-width="2" points="{pts}"/>')
        out.append(f'<rect x="{width - right + 12}" y="{top_pad + 18 * k}" width="12" height="12" fill="{color}"/>'
                   f'<text x="{width - right + 30}" y="{top_pad + 18 * k + 10}" font-size="12">'
                   f"<title>{_e(topic)}</title>{_e(names.get(topic, topic))}</text>")
    if not topics:
        out.append(f'<text x="{left + pw / 2}" y="{top_pad + ph / 2}" text-anchor="middle" fill="#64748b">'
                   'no tagged articles in this period</text>')
    out.append("</svg>")
    return "".join(out)


def _head(*columns: str) -> str:
    """A table's header row (the columns are regwatch's own text, escaped already)."""
    return "<tr>" + "".join(f"<th>{c}</th>" for c in columns) + "</tr>"


def _link(url: str | None, text: str) -> str:
    """A link only to an http(s) URL (a stored URL is text from the web: no javascript:, data:…)."""
    e = _e
    if url and urlsplit(url).scheme.lower() in ("http", "https"):
        return f'<a href="{e(url)}" rel="noopener noreferrer">{e(text)}</a>'
    return e(text)


def _error_cell(error: str) -> str:
    """A source's last error: cut after a whole word with `…` as `sources` cuts it on a terminal, the whole of it in
    the cell's `title` (shown on hover)."""
    text = _UNSAFE.sub("", error)
    cut = shorten(text, ERROR_SHOWN)
    return f"<td>{_e(cut)}</td>" if cut == text else f'<td title="{_e(text)}">{_e(cut)}</td>'


def render(store: Store, since: datetime, now: datetime | None = None, shown: ErrorShown | None = None,
           tz: str = DISPLAY_TZ, topic_names: dict[str, str] | None = None) -> str:
    """The page; a source's stored error as `shown` gives it (`Config.error_shown`)."""
    shown = shown or _shape_only
    now = now or datetime.now(UTC)
    zone = ZoneInfo(tz)
    names = topic_names or {}
    data = gather(store, since, tz)
    e = _e
    label = e(display_zone_label(tz, now))

    def when(value: str | None) -> str:
        return datetime.fromisoformat(value).astimezone(zone).strftime(DISPLAY_TIME) if value else "-"

    def topics(ids: str | None) -> str:
        return e("、".join(names.get(t, t) for t in (ids or "").split(",") if t))

    stories = "".join(
        f"<tr><td class=n>{r['copies']}</td><td>{_link(r['url'], r['title'] or '')}</td><td>{topics(r['topics'])}</td>"
        f"<td>{e('、'.join(json.loads(r['outlets'] or '[]')))}</td><td class=t>{e(when(r['first_seen']))}</td></tr>"
        for r in data["stories"]) or '<tr><td colspan="5">no stories</td></tr>'
    health = "".join(
        f"<tr class=\"{'ok' if r['state'] == SourceState.OK else 'bad'}\"><td>{e(r['source'])}</td>"
        f"<td>{e(shown_state(r['state']))}</td>"
        f"<td class=t>{e(when(r['last_success_at']))}</td>"
        f"{_error_cell(shown(r['last_error'], source=r['source']) or '')}</tr>"
        for r in data["health"]) or '<tr><td colspan="4">no sources have run</td></tr>'
    subs = "".join(
        f"<tr><td>{e(r['subscription'])}</td><td class=n>{r['stories']}</td><td class=n>{r['sent'] or 0}</td>"
        f"<td class=n>{r['in_digests'] or 0}</td><td class=n>{r['failed'] or 0}</td><td class=n>{r['waiting'] or 0}</td></tr>"
        for r in data["subscriptions"]) or '<tr><td colspan="6">no alerts</td></tr>'
    chans = "".join(
        f"<tr><td>{e(r['channel'])}</td><td class=n>{r['matches'] or 0}</td><td class=n>{r['alerts_sent'] or 0}</td>"
        f"<td class=n>{r['digests'] or 0}</td><td class=n>{r['failed'] or 0}</td><td class=n>{r['health'] or 0}</td></tr>"
        for r in data["channels"]) or '<tr><td colspan="6">no messages</td></tr>'
    stories_head = _head("copies", "title", "topics", "outlets", f"first seen ({label})")
    subs_head = _head("subscription", "stories matched", "alerts sent", "of them in digests", "failed", "waiting")
    chans_head = _head("channel", "matches", "alerts sent", "digests sent", "messages failed", "health notices")
    health_head = _head("source", "state", f"last success ({label})", "last error")
    t = data["totals"]
    return f"""<!DOCTYPE html><html lang="zh-CN"><head><meta charset="utf-8"><title>regwatch report</title>
<style>body{{font:14px/1.5 -apple-system,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:24px;color:#0f172a}}
h1{{font-size:20px}}h2{{font-size:16px;margin-top:28px}}table{{border-collapse:collapse;width:100%;max-width:1000px}}
td,th{{border-bottom:1px solid #e2e8f0;padding:4px 8px;text-align:left;vertical-align:top}}tr.bad td{{color:#b91c1c}}
td.t,th{{white-space:nowrap}}td.n{{text-align:right}}.note{{color:#64748b}}
.kpi{{display:inline-block;margin-right:24px}}.kpi b{{font-size:20px;display:block}}</style></head><body>
<h1>regwatch — {e(since.astimezone(zone).date().isoformat())} to {e(now.astimezone(zone).date().isoformat())}</h1>
<p class="note">Times and days in {label}.</p>
<div class="kpi"><b>{t['articles']}</b>articles</div><div class="kpi"><b>{t['stories']}</b>stories</div>
<div class="kpi"><b>{t['alerts_sent']}</b>alerts sent</div><div class="kpi"><b>{t['health']}</b>health notices</div>
<h2>Topic volume per day</h2>{svg_chart(data['per_day'], since.astimezone(zone), now.astimezone(zone), names=names)}
<h2>Largest stories</h2><table>{stories_head}{stories}</table>
<h2>Alerts per subscription</h2><table>{subs_head}{subs}</table>
<h2>Alerts per channel</h2><table>{chans_head}{chans}</table>
<h2>Source health</h2><table>{health_head}{health}</table>
</body></html>"""
