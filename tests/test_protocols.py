"""The platforms' protocols as their own libraries read them: Standard Webhooks secrets and signatures
(the reference library `standardwebhooks`), Slack blocks (slack_sdk's models), the signing test vectors,
and every platform's rendered output within its documented limits (tests/support/platforms.py)."""

import base64
import json
import time

import pytest
from slack_sdk.models.blocks import Block
from standardwebhooks import Webhook
from support import platforms

from regwatch.alerts.message import build_message, digest_message, health_message
from regwatch.alerts.platforms import PLATFORMS
from regwatch.alerts.platforms.dingtalk import dingtalk_sign
from regwatch.alerts.platforms.feishu import feishu_sign
from regwatch.alerts.platforms.webhook import standard_webhook_key, standard_webhook_sign
from regwatch.service.config import ChannelConfig

KEY = b"regwatch-standard-webhooks-key!!"   # 32 bytes
B64 = base64.b64encode(KEY).decode()


# --- signing test vectors (the platforms' documented recipes; see the README's "Alerts") ---

def test_dingtalk_vector():
    assert dingtalk_sign("SEC0123456789abcdef", 1700000000000) == "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk="


def test_feishu_vector_is_not_dingtalks_recipe():
    assert feishu_sign("demo-secret", 1700000000) == "mYHw2R2SOm8Rw/sne3lQdmz4sOfntKR+1P/8RKKTwmA="
    assert feishu_sign("demo-secret", 1700000000) != "QpuQa+geSeGNFIceuqIn2wMB7bl/MUclyiNJmHCj0uU="


@pytest.mark.parametrize("secret", ["whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"])
def test_standard_webhooks_vector_with_and_without_prefix(secret):
    body = b'{"test": 2432232314}'
    sig = standard_webhook_sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body)
    assert sig == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


@pytest.mark.parametrize("secret", ["whsec_" + B64, B64, B64.rstrip("="), "whsec_" + B64.rstrip("="), f" {B64}\n"])
def test_the_reference_library_verifies_what_regwatch_signs(secret):
    """Every form a provider hands out: with or without `whsec_`, padded or not."""
    body = json.dumps({"type": "article.matched", "data": {"title": "央行"}}, ensure_ascii=False).encode()
    ts = int(time.time())
    headers = {"webhook-id": "msg_1", "webhook-timestamp": str(ts),
               "webhook-signature": standard_webhook_sign(secret, "msg_1", ts, body)}
    assert standard_webhook_key(secret) == KEY
    Webhook(secret.strip()).verify(body, headers, json_parse=False)   # raises when it does not verify
    Webhook("whsec_" + B64).verify(body, headers, json_parse=False)


@pytest.mark.parametrize("secret", ["hello world", "abcde", "a-b_c", "whsec_", "s3cret!", "whsec_%%%"])
def test_a_secret_that_is_not_base64_is_refused(secret):
    with pytest.raises(ValueError):
        standard_webhook_key(secret)


@pytest.mark.parametrize("secret", ["not base64!", "raw-secret_text"])
def test_config_refuses_a_webhook_secret_that_is_not_base64(tmp_path, rw, secret):
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n[[channels]]\nname = "gw"\ntype = "webhook"\n'
                   f'url = "http://127.0.0.1:9/hook"\nsecret = "${{RW_GW_SECRET}}"\n', encoding="utf-8")
    r = rw("alerts", "test", "gw", "-c", cfg, env={"RW_GW_SECRET": secret})
    assert r.returncode == 2
    assert r.stderr.strip().count("\n") == 0, r.stderr
    assert "channels[0] (gw): `secret` is not a Standard Webhooks secret" in r.stderr
    assert secret not in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("secret", [B64, "whsec_" + B64])
def test_a_test_alert_verifies_at_a_reference_receiver(tmp_path, receiver, rw, secret):
    """The receiver verifies with `standardwebhooks.Webhook`, given the secret as the provider wrote it."""
    receiver.routes["gw"] = {"type": "webhook", "secret": secret}
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n[[channels]]\nname = "gw"\ntype = "webhook"\n'
                   f'url = "{receiver.url}/gw"\nsecret = "{secret}"\n', encoding="utf-8")
    r = rw("alerts", "test", "gw", "-c", cfg)
    assert r.returncode == 0, r.stderr
    assert [m["sig_ok"] for m in receiver.messages] == [True]


def test_the_receiver_refuses_a_wrong_standard_webhooks_signature(tmp_path, receiver, rw):
    receiver.routes["gw"] = {"type": "webhook", "secret": "whsec_" + base64.b64encode(b"another key, 24 bytes!!").decode()}
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[store]\npath = "{tmp_path}/rw.db"\n[[channels]]\nname = "gw"\ntype = "webhook"\n'
                   f'url = "{receiver.url}/gw"\nsecret = "{B64}"\n', encoding="utf-8")
    r = rw("alerts", "test", "gw", "-c", cfg)
    assert r.returncode == 2
    assert [m["sig_ok"] for m in receiver.messages] == [False]


# --- every renderer's output, within each platform's limits ---

LONG = "央行与金融监管总局联合发布关于规范消费金融公司贷款定价的通知，要求综合融资成本不超过百分之二十四。"
TOPICS = [{"topic": "rate_cap", "evidence": [{"term": "利率上限"}, {"term": "综合融资成本"}]},
          {"topic": "credit_repair", "evidence": [{"term": "信用修复"}]}]
NAMES = {"rate_cap": "利率上限", "credit_repair": "信用修复"}


def article(i=1, title=LONG, body=LONG * 20, url=None):
    return {"url": url or f"https://news.example.com/2025/12/{i}.html?from=rss&id={i}", "title": title, "source": "src",
            "outlet": "21世纪经济报道", "published_at": "2025-12-22T07:41:00+00:00", "body": body}


def message(case):
    hostile = '<b>央行</b> & <a href="x">@all</a> <@all> <!channel> *粗* _斜_ [点](http://evil) `c` # 标题 &amp; </b>'
    if case == "article":
        return build_message(article(), TOPICS, NAMES, "caps")
    if case == "hostile":
        return build_message(article(title=hostile, body=hostile * 20), TOPICS, NAMES, "caps<&>")
    if case == "longest":   # every field at its longest: a 200-character title, a 3000-character lead, 40 outlets
        return build_message(article(title="标题很长" * 100, body="正文内容足够长。" * 1000), TOPICS * 5, NAMES, "s",
                             lead_chars=3000, also=[f"第{i}家转载媒体的名称比较长比较长比较长" for i in range(40)])
    if case == "health":
        return health_message("source csrc", "failing", "HTTP 503 " + hostile * 10, recovered=False)
    n = int(case.removeprefix("digest-"))
    return digest_message([build_message(article(i), TOPICS, NAMES, "caps") for i in range(n)], "caps")


def payloads(kind, case):
    """What regwatch sends for this message: one fitted message, or a digest packed into messages."""
    p = PLATFORMS[kind](ChannelConfig(name=kind, type=kind, url="https://127.0.0.1/x",
                                      keyword="监控" if PLATFORMS[kind].takes_keyword else None,
                                      chat_id="-1001" if kind == "telegram" else None))
    m = message(case)
    return [payload for _, payload in p.pack(m)] if m.items else [p.render_fitted(m)]


CASES = ["article", "hostile", "longest", "health", "digest-1", "digest-20", "digest-200"]
KINDS = ["dingtalk", "wecom", "feishu", "slack", "discord", "teams", "telegram"]


@pytest.mark.parametrize("case", CASES)
@pytest.mark.parametrize("kind", KINDS)
def test_rendered_payloads_are_what_the_platform_accepts(kind, case):
    for payload in payloads(kind, case):
        assert platforms.problems(kind, payload) == []


@pytest.mark.parametrize("case", CASES)
def test_slack_blocks_load_in_slack_sdk_models(case):
    for payload in payloads("slack", case):
        models = Block.parse_all(payload["blocks"])
        assert all(models)
        for b in models:
            b.validate_json()
        assert [b.to_dict() for b in models] == payload["blocks"]   # nothing the models do not know


def test_teams_card_is_an_adaptive_card_teams_renders():
    card = payloads("teams", "article")[0]["attachments"][0]["content"]
    assert card["type"] == "AdaptiveCard" and card["version"] in platforms.TEAMS_CARD_VERSIONS


# --- the checks themselves catch what the platforms refuse ---

def test_the_checks_catch_what_each_platform_refuses():
    assert platforms.problems("slack", {"text": "x", "blocks": [{"type": "header", "text": {"type": "plain_text",
                                                                                          "text": "x" * 151}}]})
    assert platforms.problems("slack", {"text": "x", "blocks": [{"type": "section", "text": {"type": "mrkdwn",
                                                                                           "text": "x" * 3001}}]})
    assert platforms.problems("slack", {"blocks": [{"type": "divider"}]})   # no fallback text
    assert platforms.problems("discord", {"embeds": [{"title": "t", "description": "d" * 4097}],
                                          "allowed_mentions": {"parse": []}})
    assert platforms.problems("discord", {"embeds": [{"title": "t" * 256, "description": "d" * 4096},
                                                     {"description": "d" * 2000}], "allowed_mentions": {"parse": []}})
    assert platforms.problems("discord", {"content": "x"})   # allowed_mentions missing
    assert platforms.problems("telegram", {"chat_id": 1, "text": "a" * 4097})
    assert not platforms.problems("telegram", {"chat_id": 1, "parse_mode": "HTML", "text": "<b>" + "a" * 4000 + "</b>&amp;"})
    for bad in ("<b>x", "<b>x</i>", "a < b", "AT&T", "<div>x</div>", "&nbsp;", '<a href="x">y</a', "x &am"):
        assert platforms.problems("telegram", {"chat_id": 1, "parse_mode": "HTML", "text": bad}), bad
    card = {"contentType": "application/vnd.microsoft.card.adaptive", "content": {"type": "AdaptiveCard", "version": "1.6"}}
    assert platforms.problems("teams", {"type": "message", "attachments": [card]})
    assert platforms.problems("wecom", {"msgtype": "markdown", "markdown": {"content": "中" * 1366}})   # 4098 bytes
    assert not platforms.problems("wecom", {"msgtype": "markdown", "markdown": {"content": "中" * 1365}})
    assert platforms.problems("wecom", {"msgtype": "text", "text": {"content": "中" * 683}})   # 2049 bytes
    assert platforms.problems("dingtalk", {"msgtype": "markdown", "markdown": {"title": "t", "text": "中" * 6667},
                                           "at": {"isAtAll": False}})
    assert platforms.problems("feishu", {"msg_type": "interactive", "card": {"elements": [{"tag": "markdown",
                                                                                       "content": "中" * 7000}]}})
