"""Text normalization before matching: full-width → half-width (NFKC), Traditional → Simplified,
case folded; and the reprint boilerplate (转载/来源/责任编辑 lines) that says nothing about the story."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from functools import lru_cache

import regex
from opencc import OpenCC

from ..defaults import CONTROL_CHARS

_T2S = OpenCC("t2s")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")
_CONTROLS = re.compile(f"[{CONTROL_CHARS}]")
_GRAPHEME = regex.compile(r"\X")


def web_text(text: str) -> str:
    """Text from the web (a page, a feed's or a JSON item's title, an attachment) without its control characters
    (`CONTROL_CHARS`: an ESC, a BEL, a NUL): the one place they are dropped, whatever kind of source it came from."""
    return _CONTROLS.sub("", text)


def clip(text: str, limit: int, size: Callable[[str], int] = len) -> str:
    """`text`, or as many of its whole grapheme clusters as fit in `limit` with "…" marking the cut, measured by
    `size` (characters; a platform's bytes or UTF-16 units). Never half a flag, an emoji sequence or an accent."""
    if size(text) <= limit:
        return text
    room = limit - size("…")
    if room < 0:
        return ""
    out, used = [], 0
    for g in _GRAPHEME.finditer(text):
        n = size(g.group())
        if used + n > room:
            break
        out.append(g.group())
        used += n
    return "".join(out).rstrip() + "…"


@lru_cache(maxsize=4096)
def _t2s_cached(s: str) -> str:
    return _T2S.convert(s)


def to_simplified(text: str) -> str:
    # Simplified text passes unchanged, so convert only the lines where a character outside GB2312's
    # Simplified range could be Traditional (most text never reaches OpenCC)
    maybe = _maybe_traditional()
    if maybe.search(text) is None:
        return text
    return "\n".join(_t2s_cached(line) if maybe.search(line) else line for line in text.split("\n"))


_MAYBE_TRADITIONAL: re.Pattern[str] | None = None


def _maybe_traditional() -> re.Pattern[str]:
    """A character class of the CJK Unified Ideographs that are not among GB2312's Simplified characters:
    a text without any of them is Simplified already (one regex scan, no character looked at in Python).
    GB2312 holds a few Traditional forms OpenCC converts (徵 → 征, 後 → 后, 於 → 于, 乾 → 干, …): those are
    in the class too, or `徵信` would stay `徵信` in a line of GB2312 characters only."""
    global _MAYBE_TRADITIONAL
    if _MAYBE_TRADITIONAL is None:
        gb2312 = sorted(_gb2312_hanzi())
        simple = {c for c, s in zip(gb2312, _T2S.convert("\n".join(gb2312)).split("\n"), strict=True) if c == s}
        ranges: list[list[int]] = []
        for cp in range(0x4E00, 0xA000):
            if chr(cp) in simple:
                continue
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
        _MAYBE_TRADITIONAL = re.compile("[" + "".join(f"{chr(a)}-{chr(b)}" for a, b in ranges) + "]")
    return _MAYBE_TRADITIONAL


def _gb2312_hanzi() -> frozenset[str]:
    chars = set()
    for hi in range(0xB0, 0xF8):
        for lo in range(0xA1, 0xFF):
            try:
                chars.add(bytes([hi, lo]).decode("gb2312"))
            except UnicodeDecodeError:
                pass
    return frozenset(chars)


def normalize(text: str) -> str:
    """NFKC (full-width digits and letters become ASCII), Simplified Chinese, lower case, spaces folded."""
    text = unicodedata.normalize("NFKC", text)
    text = to_simplified(text)
    return _SPACES.sub(" ", text).lower()


_BOILERPLATE = re.compile(
    # within one line and unambiguous (`^\s*[(]?\s*` spans blank lines: cubic on a page of them)
    r"^[ \t\u3000]*(?:[(（\[【][ \t\u3000]*)?(本文)?"
    r"(转载|转自|来源|来自|责任编辑|责编|编辑|校对|审核|原标题|声明|免责声明|文章来源|作者[ \t\u3000]*[:：])"
    r"[^\n]{0,60}$",
    re.M,
)
# page furniture that extraction sometimes keeps: a related-articles list (and all after it), share buttons
# (horizontal spaces only: a line start never scans past its own line)
_CHROME = re.compile(r"^[ \t]*[【\[(（]?"
                     r"(相关阅读|相关新闻|相关文章|相关报道|推荐阅读|延伸阅读|热门推荐|猜你喜欢|热点推荐)[】\])）]?"
                     r"[ \t]*[:：]?[ \t]*$.*|^[ \t]*(分享到|分享至|扫一扫|扫码关注|点击关注|打开APP|打开app)[^\n]{0,40}$",
                     re.M | re.S)


def strip_chrome(text: str) -> str:
    """The text without page furniture: share buttons (分享到…, 扫一扫…) and a related-articles list with all after it."""
    return _CHROME.sub("", text)


def strip_boilerplate(text: str) -> str:
    """Drop short reprint/credit lines such as `(本文转载自财经网)` or `责任编辑:王小明` — unless they are all
    the text has: a one-line statement or flash (声明：…, 来自…的消息：…) is the body, not a credit."""
    return _BOILERPLATE.sub("", text) if boilerplate_lines(text) else text


# of those lines, the ones that are a credit (a name after a colon, a disclaimer, a reprint note): what an alert's lead
# leaves out — a 声明 or a line starting 来源于… may be the news itself
_CREDIT = re.compile(r"[ \t\u3000]*(?:[(（\[【][ \t\u3000]*)?(本文)?"
                     r"(?:(?:转载|来源|来自|责任编辑|责编|编辑|校对|审核|原标题|文章来源|免责声明|作者)[ \t\u3000]*[:：]"
                     r"|转载自|转自|转载请)")


def credit_lines(text: str) -> list[int]:
    """The numbers of `boilerplate_lines` that are credits or reprint notes (`作者：…`, `来源：…`, `转自…`)."""
    lines = text.split("\n")
    return [i for i in boilerplate_lines(text) if _CREDIT.match(lines[i])]


def boilerplate_lines(text: str) -> list[int]:
    """The numbers (from 0) of the lines `strip_boilerplate` empties: each of its matches is a whole line;
    none when they are every line of the text that is not blank."""
    out, line, at = [], 0, 0
    for m in _BOILERPLATE.finditer(text):
        line += text.count("\n", at, m.start())
        at = m.start()
        out.append(line)
    if out and not _BOILERPLATE.sub("", text).strip():
        return []
    return out
