"""A receiver that echoes a channel's bare token or secret in its error: `regwatch alerts test`'s line, the store
and the health notice sent to another chat hold none of them (every secret part is redacted, not only the
channel's whole URL)."""

import asyncio
import json
import time

from support.config import write_config

from regwatch.alerts.dispatcher import Dispatcher
from regwatch.pipeline.store import Store
from regwatch.service.config import load_config

TOKEN = "DTTOKENzz222echo"
SECRET = "SECzz333secretvalue"
PATH_KEY = "XXfeishuHookKey0123456789"


def echoing(receiver) -> None:
    """/robot/send answers DingTalk's "token is not exist" echoing the token and the secret (as written and bare);
    /hook/<key> answers Feishu's refusal echoing its path key; /ops takes anything (the health notices)."""
    receiver.routes["robot"] = {"type": "dingtalk", "answer": lambda m: (200, {
        "errcode": 300001, "errmsg": f"token is not exist: {TOKEN} url=http://x{m['path']} secret {SECRET}"})}
    receiver.routes["hook"] = {"type": "feishu", "answer": lambda m: (200, {
        "code": 19001, "msg": f"param invalid: incoming webhook access token invalid {PATH_KEY}"})}


def _files(folder) -> bytes:
    return b"".join(p.read_bytes() for p in folder.iterdir() if p.name.startswith("rw.db"))


def test_echoed_token_and_secret_are_redacted_everywhere(tmp_path, receiver, rw, monkeypatch):
    echoing(receiver)
    cfg = write_config(tmp_path, alerts={"health_channels": ["ops"]}, subscriptions=[], channels=[
        {"name": "dt", "type": "dingtalk", "url": f"{receiver.url}/robot/send?access_token=${{DT_TOKEN}}",
         "secret": "${DT_SECRET}"},
        {"name": "ops", "type": "webhook", "url": f"{receiver.url}/ops"}])
    Store(str(tmp_path / "rw.db")).close()      # a store: the channel's answer is kept there
    env = {"DT_TOKEN": TOKEN, "DT_SECRET": SECRET}
    r = rw("alerts", "test", "dt", "-c", cfg, env=env)
    said = r.stdout + r.stderr
    assert r.returncode == 2 and "300001" in said and "token is not exist" in said, said
    assert TOKEN not in said and SECRET not in said, said

    for k, v in env.items():
        monkeypatch.setenv(k, v)
    conf = load_config(cfg)
    store = Store(conf.store.path)

    async def go():
        async with Dispatcher(store, conf.channels, {}, conf.alerts) as d:
            return await d.deliver_due(wait_until=time.time() + 5)

    asyncio.run(go())
    notices = [json.dumps(m["body"], ensure_ascii=False) for m in receiver.messages if m["path"] == "/ops"]
    assert notices and any("token is not exist" in n for n in notices), notices
    assert not any(TOKEN in n or SECRET in n for n in notices), notices
    assert "token is not exist" in store.one("SELECT last_error FROM channel_state WHERE channel = 'dt'")
    store.close()
    stored = _files(tmp_path)
    assert TOKEN.encode() not in stored and SECRET.encode() not in stored


def test_an_echoed_path_key_is_redacted(tmp_path, receiver, rw):
    echoing(receiver)
    cfg = write_config(tmp_path, subscriptions=[], channels=[
        {"name": "fs", "type": "feishu", "url": f"{receiver.url}/hook/{PATH_KEY}"}])
    Store(str(tmp_path / "rw.db")).close()
    r = rw("alerts", "test", "fs", "-c", cfg)
    said = r.stdout + r.stderr
    assert r.returncode == 2 and "19001" in said, said
    assert PATH_KEY not in said, said
    assert PATH_KEY.encode() not in _files(tmp_path)


def test_a_telegram_token_echoed_without_its_bot_prefix_is_redacted():
    """Review: only the path segment `bot<token>` was a secret; a receiver echoing `<token>` alone leaked it."""
    from regwatch.pipeline.redact import redact, url_secrets

    token = "123456789:ABCdefGhIJKlmNoPQRstuVWXyz0123456"
    url = f"https://api.telegram.org/bot{token}/sendMessage"
    assert token not in redact(f"Unauthorized: bad token {token}", url_secrets(url))
