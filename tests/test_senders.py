"""Signatures reproduce the platforms' vectors; every answer maps to the right action."""

import base64
import hashlib
import hmac
import json
from datetime import UTC

import httpx
import pytest

from regwatch.alerts.platforms import PLATFORMS, platform_for, redact
from regwatch.alerts.platforms.dingtalk import dingtalk_sign
from regwatch.alerts.platforms.feishu import feishu_sign
from regwatch.alerts.platforms.webhook import standard_webhook_sign
from regwatch.service.config import ChannelConfig


def test_signature_vectors_from_the_reference():
    assert dingtalk_sign("SEC0123456789abcdef", 1700000000000) == "TSZbRFUuvaSQaRKUpF970OPCb2/LcQAP3wOvwZIzBZk="
    assert feishu_sign("demo-secret", 1700000000) == "mYHw2R2SOm8Rw/sne3lQdmz4sOfntKR+1P/8RKKTwmA="
    assert standard_webhook_sign("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330,
                                 b'{"test": 2432232314}') == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="


def test_dingtalk_sign_is_url_encoded_exactly_once():
    ch = ChannelConfig(name="d", type="dingtalk", url="http://127.0.0.1/robot/send?access_token=T", secret="SEC0123456789abcdef")
    req = platform_for(ch).request({"msgtype": "text", "text": {"content": "x"}}, "msg_1", now=1700000000.0)
    q = req.url.query.decode()
    assert "sign=TSZbRFUuvaSQaRKUpF970OPCb2%2FLcQAP3wOvwZIzBZk%3D" in q and "%25" not in q
    assert q.startswith("access_token=T&")            # the robot's token is kept (httpx `params=` would drop it)
    assert json.loads(req.body)["msgUuid"] == "msg_1"


@pytest.mark.parametrize("url,added,want", [
    ("https://oapi.dingtalk.com/robot/send?access_token=ab%2Bc", {"timestamp": "1", "sign": "a+b/c="},
     "access_token=ab%2Bc&timestamp=1&sign=a%2Bb%2Fc%3D"),
    ("https://discord.com/api/webhooks/1/x?thread_id=5", {"wait": "true"}, "thread_id=5&wait=true"),
    ("https://discord.com/api/webhooks/1/x", {"wait": "true"}, "wait=true"),
])
def test_the_configured_query_is_kept_and_signing_appended(url, added, want):
    from regwatch.alerts.platforms.base import with_query

    assert with_query(url, added).query.decode() == want


def test_webhook_signs_the_exact_bytes_sent():
    ch = ChannelConfig(name="g", type="webhook", url="http://127.0.0.1/h", secret="whsec_" + base64.b64encode(b"k" * 24).decode())
    req = platform_for(ch).request({"type": "article.matched", "data": {}}, "msg_abc", now=1700000000.0)
    body, headers = req.body, req.headers
    signed = f"msg_abc.{headers['webhook-timestamp']}.".encode() + body
    want = base64.b64encode(hmac.new(b"k" * 24, signed, hashlib.sha256).digest()).decode()
    assert headers["webhook-signature"] == "v1," + want and headers["webhook-id"] == "msg_abc"


def resp(status, body, headers=None):
    content = body if isinstance(body, bytes) else (body.encode() if isinstance(body, str) else json.dumps(body).encode())
    return httpx.Response(status, content=content, headers=headers or {})


@pytest.mark.parametrize("platform,status,body,action", [
    ("dingtalk", 200, {"errcode": 0, "errmsg": "ok"}, "sent"),
    ("dingtalk", 200, {"errcode": 130101, "errmsg": "send too fast"}, "retry"),
    ("dingtalk", 200, {"errcode": 310000, "errmsg": "sign not match"}, "broken"),
    ("dingtalk", 200, {"errcode": 300005, "errmsg": "token is not exist"}, "broken"),
    ("dingtalk", 200, {"errcode": -1, "errmsg": "系统繁忙"}, "retry"),
    ("dingtalk", 200, "<html>gateway</html>", "retry"),
    ("dingtalk", 502, "", "retry"),
    ("wecom", 200, {"errcode": 45009, "errmsg": "api freq out of limit"}, "retry"),
    ("wecom", 200, {"errcode": 93000, "errmsg": "invalid webhook url"}, "broken"),
    ("wecom", 200, {"errcode": 40058, "errmsg": "markdown.content exceed max length 4096"}, "payload"),
    ("feishu", 200, {"code": 11232, "msg": "frequency limited"}, "retry"),
    ("feishu", 200, {"code": 9499, "msg": "too many request"}, "retry"),
    ("feishu", 200, {"code": 9499, "msg": "Bad Request"}, "payload"),
    ("feishu", 200, {"code": 19021, "msg": "sign match fail"}, "broken"),
    ("feishu", 200, {"StatusCode": 0, "StatusMessage": "success"}, "sent"),
    ("slack", 200, "ok", "sent"),
    ("slack", 429, "rate_limited", "retry"),
    ("slack", 404, "channel_not_found", "broken"),
    ("slack", 410, "channel_is_archived", "broken"),
    ("slack", 400, "invalid_payload", "payload"),
    ("discord", 204, "", "sent"),
    ("discord", 404, {"code": 10015}, "broken"),
    ("teams", 202, "", "sent"),
    ("telegram", 400, {"ok": False, "description": "Bad Request: can't parse entities"}, "payload"),
    ("telegram", 403, {"ok": False, "description": "Forbidden: bot was kicked"}, "broken"),
    ("webhook", 204, "", "sent"),
    ("webhook", 410, "", "broken"),
    ("webhook", 503, "", "retry"),
    ("webhook", 301, "", "broken"),
    # a deleted robot or webhook: the platforms answer 404 (DingTalk, WeCom and Feishu too, from their gateways)
    ("dingtalk", 404, "<html><body>404 Not Found</body></html>", "broken"),
    ("wecom", 404, "", "broken"),
    ("feishu", 404, {"code": 404, "msg": "404 page not found"}, "broken"),
    ("dingtalk", 410, "", "broken"),
    ("wecom", 302, "", "broken"),
    ("feishu", 301, "", "broken"),
    ("teams", 404, "", "broken"),
    ("telegram", 404, {"ok": False, "error_code": 404, "description": "Not Found"}, "broken"),
])
def test_every_answer_maps_to_an_action(platform, status, body, action):
    assert classify(platform, resp(status, body)).action == action


def classify(platform, response):
    return PLATFORMS[platform].classify(None, response)   # classification reads only the answer


def test_retry_after_is_honoured():
    assert classify("slack", resp(429, "rate_limited", {"Retry-After": "7"})).retry_after == 7
    tg = {"ok": False, "error_code": 429, "description": "retry after 35", "parameters": {"retry_after": 35}}
    assert classify("telegram", resp(429, tg)).retry_after == 35
    assert classify("discord", resp(429, {"retry_after": 0.5})).retry_after == 0.5


def test_a_retry_after_written_as_an_http_date_is_honoured():
    """RFC 9110 lets Retry-After be a date: a 503 asking for ten minutes was retried after 2 s, then 4, then 6."""
    from datetime import datetime, timedelta
    from email.utils import format_datetime

    later = format_datetime(datetime.now(UTC) + timedelta(minutes=10), usegmt=True)
    for status in (503, 429):
        wait = classify("webhook", resp(status, "", {"Retry-After": later})).retry_after
        assert wait is not None and 590 <= wait <= 600
    past = format_datetime(datetime.now(UTC) - timedelta(minutes=10), usegmt=True)
    assert classify("webhook", resp(503, "", {"Retry-After": past})).retry_after == 0   # due now: the backoff decides
    assert classify("webhook", resp(503, "", {"Retry-After": "soon"})).retry_after is None     # unreadable: ignored
    # Discord's 429 without the body's seconds, and Telegram's 5xx, read the header as every platform does
    wait = classify("discord", resp(429, "", {"Retry-After": later})).retry_after
    assert wait is not None and 590 <= wait <= 600
    wait = classify("telegram", resp(503, {"ok": False, "description": "busy"}, {"Retry-After": "120"})).retry_after
    assert wait == 120


def test_secrets_are_redacted():
    text = redact("POST https://oapi.dingtalk.com/robot/send?access_token=abcdef123&sign=xyz failed (SECsecret)",
                  ["SECsecret"])
    assert "abcdef123" not in text and "xyz" not in text and "SECsecret" not in text
    assert "bot123456:AAH" not in redact("https://api.telegram.org/bot123456:AAHxyz/sendMessage")


@pytest.mark.parametrize("errmsg,hint", [
    ("sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]", "加签 secret"),
    ("description:机器人发送签名不匹配;solution:请确认签名和生成签名的时间戳是否正确", "加签 secret"),
    ("keywords not in content, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]", "`keyword`"),
    ("ip 10.1.2.3 not in whitelist", "IP whitelist"),
    ("invalid timestamp", "clock"),
])
def test_dingtalk_310000_says_what_to_fix(errmsg, hint):
    """310000 (sign, keyword, IP, clock) got the platform's text but no hint of the fix, while a 404 got one."""
    out = classify("dingtalk", resp(200, {"errcode": 310000, "errmsg": errmsg}))
    assert out.action == "broken" and out.error.startswith("errcode 310000 ") and hint in out.error, out.error
