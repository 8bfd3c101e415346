"""A health notice shows the platform's own error code as the platform wrote it (`channel_not_found`, not
`channel＿not＿found`: first-hour review F11), on every platform, while the rest of the answer stays inert: a `_`
at a word's edge (`_italic_`), a mention, a link or markup in it still arrives as full-width look-alikes."""

import json

import pytest
from support.platforms import problems
from test_render import platform

from regwatch.alerts.message import health_message, health_summary_message

ANSWER = "HTTP 404 channel_not_found: the robot or webhook is gone _italic_ <@all> [x](http://evil.example) *b*"
KINDS = ["dingtalk", "wecom", "feishu", "slack", "discord", "teams", "telegram", "console", "apprise"]


def sent(kind, m):
    p = platform(kind, keyword="regwatch" if kind in ("dingtalk", "wecom", "feishu") else None)
    payload = p.render_fitted(m)
    if kind not in ("console", "apprise"):
        assert problems(kind, payload) == [], kind
    return json.dumps(payload, ensure_ascii=False)


@pytest.mark.parametrize("kind", KINDS)
def test_a_health_notice_keeps_the_platforms_error_code_and_the_rest_inert(kind):
    for m in (health_message("channel ops_slack", "broken", ANSWER, False),
              health_summary_message([{"source": "channel ops_slack", "state": "broken", "detail": ANSWER}])):
        text = sent(kind, m)
        assert "channel_not_found" in text and "＿" in text, text       # the code whole; `_italic_` still inert
        assert "ops_slack" in text
        assert "_italic_" not in text and "＿italic＿" in text
        assert "<@all>" not in text and "[x](" not in text and "*b*" not in text
