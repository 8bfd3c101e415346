"""Text normalization before matching: full-width → half-width (NFKC), Traditional → Simplified,
case folded; and the reprint boilerplate (转载/来源/责任编辑 lines) that says nothing about the story."""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache

from opencc import OpenCC

_T2S = OpenCC("t2s")
_SPACES = re.compile(r"[ \t\u00a0\u3000]+")


@lru_cache(maxsize=4096)
def _t2s_cached(s: str) -> str:
    return _T2S.convert(s)


def to_simplified(text: str) -> str:
    # Simplified text passes unchanged, so convert only when a character outside GB2312's
    # Simplified range could be Traditional (most text never reaches OpenCC).
    if not _has_maybe_traditional(text):
        return text
    return "\n".join(_t2s_cached(line) if _has_maybe_traditional(line) else line for line in text.split("\n"))


_SIMPLE = None


def _has_maybe_traditional(s: str) -> bool:
    global _SIMPLE
    if _SIMPLE is None:
        _SIMPLE = _gb2312_hanzi()
    return any("\u4e00" <= ch <= "\u9fff" and ch not in _SIMPLE for ch in s)


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
    r"^[ \t\u3000]*(?:[(（\[【][ \t\u3000]*)?(本文)?(转载|转自|来源|来自|责任编辑|责编|编辑|校对|审核|原标题|声明|免责声明|文章来源)"
    r"[^\n]{0,60}$",
    re.M,
)


def strip_boilerplate(text: str) -> str:
    """Drop short reprint/credit lines such as `(本文转载自财经网)` or `责任编辑:王小明`."""
    return _BOILERPLATE.sub("", text)
