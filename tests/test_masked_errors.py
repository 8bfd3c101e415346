"""A secret in an error is masked, and only the secret: the text after it (`: Connection refused`, the sentence's
`.` or `)`) is kept as the error said it — `…?token=SECRET: Connection refused` was shown `…?token=*** Connection
refused`, the `:` between the URL and the reason lost."""

import pytest
from conftest import regwatch
from support.config import write_config

from regwatch.pipeline.redact import redact

CASES = {
    "query secret": (
        "list page http://127.0.0.1:9/feed.xml?token=abc123XYZ789: Connection refused.",
        "list page http://127.0.0.1:9/feed.xml?token=***: Connection refused.",
    ),
    "query secret, then another field": (
        "https://x.example/api?api_key=k3y12345&page=2: HTTP 403 Forbidden",
        "https://x.example/api?api_key=***&page=2: HTTP 403 Forbidden",
    ),
    "query secret ending a sentence": (
        "fetched https://x.example/list?sig=0a1b2c3d4e.",
        "fetched https://x.example/list?sig=***.",
    ),
    "query secret in parentheses": (
        "refused (https://x.example/list?secret=s3cr3tvalue) twice",
        "refused (https://x.example/list?secret=***) twice",
    ),
    "a key holding a colon": ("https://x.example/?sig=ab12:cd34: timed out", "https://x.example/?sig=***: timed out"),
    "userinfo": (
        "https://reader:pa55word@news.example/feed.xml: DNS lookup failed: news.example",
        "https://***@news.example/feed.xml: DNS lookup failed: news.example",
    ),
    "DingTalk access_token": (
        "https://oapi.dingtalk.com/robot/send?access_token=0123456789abcdef: Connection refused",
        "https://oapi.dingtalk.com/robot/send?access_token=***: Connection refused",
    ),
    "Feishu hook path": (
        "https://open.feishu.cn/open-apis/bot/v2/hook/0a1b2c3d-4e5f-6789-abcd-ef0123456789: Connection refused",
        "https://open.feishu.cn/open-apis/bot/v2/hook/***: Connection refused",
    ),
    "Slack hook path": (
        "https://hooks.slack.com/services/T0001/B0001/XXXXsecretXXXX: Connection refused",
        "https://hooks.slack.com/services/***: Connection refused",
    ),
}


@pytest.mark.parametrize("error, shown", CASES.values(), ids=CASES.keys())
def test_only_the_secret_is_masked(error, shown):
    assert redact(error) == shown


def test_sources_keeps_the_reason_after_a_masked_query_secret(tmp_path):
    """A source whose URL carries its key as `${VAR}`, refused: `sources` shows the URL, masked, then `: ` and why."""
    cfg = write_config(tmp_path, sources=[{"name": "a", "kind": "feed", "url": "http://127.0.0.1:9/feed.xml?token=${RW_KEY}"}])
    env = {"RW_KEY": "abc123XYZ789"}
    assert regwatch("run", "--once", "-c", cfg, env=env).returncode == 0
    r = regwatch("sources", "-c", cfg, env=env)
    assert r.returncode == 0 and "list page http://127.0.0.1:9/feed.xml?token=***: Connection" in r.stdout, r.stdout
    assert "abc123XYZ789" not in r.stdout
