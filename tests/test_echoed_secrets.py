"""A receiver that echoes a channel's bare token or secret in its error: `regwatch alerts test`'s line, the store
and the health notice sent to another chat hold none of them (every secret part is redacted, not only the
channel's whole URL)."""

import asyncio
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from regwatch.alerts.dispatcher import Dispatcher
from regwatch.pipeline.store import Store
from regwatch.service.config import load_config

TOKEN = "DTTOKENzz222echo"
SECRET = "SECzz333secretvalue"
PATH_KEY = "XXfeishuHookKey0123456789"


class Echo:
    """/robot/send answers DingTalk's "token is not exist" echoing the token and the secret (as written and bare);
    /hook/<key> answers Feishu's refusal echoing its path key; /ops takes anything (the health notices)."""

    def __init__(self):
        self.got: list[dict] = []
        rx = self

        class H(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                rx.got.append({"path": self.path, "body": raw.decode("utf-8", "replace")})
                if self.path.startswith("/robot/send"):
                    body = {"errcode": 300001, "errmsg": f"token is not exist: {TOKEN} url=http://x{self.path} "
                                                         f"secret {SECRET}"}
                elif self.path.startswith("/hook/"):
                    body = {"code": 19001, "msg": f"param invalid: incoming webhook access token invalid {PATH_KEY}"}
                else:
                    self.send_response(204)
                    self.end_headers()
                    return
                data = json.dumps(body).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def echo():
    e = Echo()
    yield e
    e.stop()


def _files(folder) -> bytes:
    return b"".join(p.read_bytes() for p in folder.iterdir() if p.name.startswith("rw.db"))


def test_echoed_token_and_secret_are_redacted_everywhere(tmp_path, echo, rw, monkeypatch):
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f"""
[store]
path = "{tmp_path}/rw.db"
[alerts]
health_channels = ["ops"]
[[channels]]
name = "dt"
type = "dingtalk"
url = "{echo.url}/robot/send?access_token=${{DT_TOKEN}}"
secret = "${{DT_SECRET}}"
[[channels]]
name = "ops"
type = "webhook"
url = "{echo.url}/ops"
""", encoding="utf-8")
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
    notices = [g["body"] for g in echo.got if g["path"] == "/ops"]
    assert notices and any("token is not exist" in n for n in notices), notices
    assert not any(TOKEN in n or SECRET in n for n in notices), notices
    assert "token is not exist" in store.one("SELECT last_error FROM channel_state WHERE channel = 'dt'")
    store.close()
    stored = _files(tmp_path)
    assert TOKEN.encode() not in stored and SECRET.encode() not in stored


def test_an_echoed_path_key_is_redacted(tmp_path, echo, rw):
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f"""
[store]
path = "{tmp_path}/rw.db"
[[channels]]
name = "fs"
type = "feishu"
url = "{echo.url}/hook/{PATH_KEY}"
""", encoding="utf-8")
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
