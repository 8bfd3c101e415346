"""Recognising what is not content: JavaScript gates, challenge pages, binary bodies."""

from __future__ import annotations

import re

_GATE = re.compile(
    rb"wzwsquestion|wzwschallenge|__jsl_clearance|_jsl_clearance|acw_sc__v2|cf-chl|challenge-platform|"
    rb"\xe8\xaf\xb7\xe5\xbc\x80\xe5\x90\xafJavaScript|please enable javascript|enable javascript and cookies",
    re.I,
)
_TAGS = re.compile(rb"<script.*?</script>|<style.*?</style>|<[^>]+>", re.I | re.S)


def is_challenge(status: int, body: bytes) -> bool:
    """A gate instead of content: HTTP 412 (WZWS's answer) or a small script-only page naming a JS check."""
    if status == 412:
        return True
    if len(body) > 200_000:
        return False
    if _GATE.search(body):
        visible = _TAGS.sub(b"", body).strip()
        return len(visible) < 600
    return False


from ..pipeline.decode import looks_binary  # noqa: F401  (one definition, shared with extraction)
