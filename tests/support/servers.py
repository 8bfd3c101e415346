"""Real servers on 127.0.0.1 for the tests: a news site and chat webhooks that answer like the platforms."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import threading
import time
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks import Webhook, WebhookVerificationError

from . import platforms


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request, client_address):
        pass


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass


class _Loopback:
    """A server on 127.0.0.1 at a free port (`url`), each request answered in a thread of its own, until `stop()`."""

    server: _Server
    url: str

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        self.server = _Server(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@dataclass
class Page:
    body: bytes
    status: int = 200
    ctype: str = "text/html; charset=utf-8"
    etag: bool = False
    headers: dict = field(default_factory=dict)
    raw: Callable | None = None        # writes the whole answer itself (trickles, loops…)


def redirect(to: str) -> Page:
    """A 302 to `to`, with no body and no Content-Type."""
    return Page(b"", 302, ctype="", headers={"Location": to})


def trickling(writes: int, every: float, ctype: str = "text/html; charset=utf-8") -> Page:
    """A page that promises 100,000 bytes and sends a space every `every` seconds, `writes` times at the most (until
    the client hangs up): a slow body, never finished."""
    def raw(h: BaseHTTPRequestHandler) -> None:
        h.send_response(200)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", "100000")
        h.end_headers()
        for _ in range(writes):
            try:
                h.wfile.write(b" ")
                h.wfile.flush()
                time.sleep(every)
            except OSError:
                return
    return Page(b"", ctype=ctype, raw=raw)


class Site(_Loopback):
    """A news site: `site.pages[path] = Page(...)` (or a callable returning one); every request is logged."""

    def __init__(self):
        self.pages: dict[str, Page | Callable[[], Page]] = {}
        self.log: list[dict] = []
        site = self

        class H(_Handler):
            def do_GET(self):
                site._answer(self)

            def do_POST(self):
                n = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(n)
                site._answer(self)

        self._serve(H)

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        path = h.path.split("?")[0] if h.path.split("?")[0] in self.pages else h.path
        page = self.pages.get(path)
        if callable(page):
            page = page()
        if page is not None and page.raw is not None:
            self.log.append({"method": h.command, "path": h.path, "status": 0, "ua": h.headers.get("User-Agent", ""),
                             "t": time.time()})
            page.raw(h)
            return
        if page is None:
            page = Page(b"<html><body>not found</body></html>", 404) if path != "/robots.txt" else Page(b"", 404, "text/plain")
        status, headers = page.status, dict(page.headers)
        if page.etag:
            tag = '"' + hashlib.sha1(page.body).hexdigest()[:12] + '"'
            headers["ETag"] = tag
            if h.headers.get("If-None-Match") == tag:
                status = 304
        body = b"" if status == 304 else page.body
        self.log.append({"method": h.command, "path": h.path, "status": status, "ua": h.headers.get("User-Agent", ""),
                         "if_none_match": h.headers.get("If-None-Match"), "t": time.time()})
        h.send_response(status)
        if page.ctype and status != 304:
            h.send_header("Content-Type", page.ctype)
        for k, v in headers.items():
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        h.wfile.write(body)

    def requests(self, path_prefix: str = "") -> list[dict]:
        return [r for r in self.log if r["path"].startswith(path_prefix)]


OK = {"dingtalk": (200, {"errcode": 0, "errmsg": "ok"}), "wecom": (200, {"errcode": 0, "errmsg": "ok"}),
      "feishu": (200, {"code": 0, "msg": "success", "data": {}}), "slack": (200, "ok"), "webhook": (204, ""),
      "discord": (200, {"id": "1"}), "teams": (202, ""), "telegram": (200, {"ok": True, "result": {"message_id": 1}})}
RATE = {"dingtalk": (200, {"errcode": 130101, "errmsg": "send too fast, exceed 20 times per minute"}),
        "wecom": (200, {"errcode": 45009, "errmsg": "api freq out of limit"}),
        "feishu": (200, {"code": 11232, "msg": "frequency limited"}),
        "slack": (429, "rate_limited"), "webhook": (429, {"error": "slow down"}),
        "discord": (429, {"message": "You are being rate limited.", "retry_after": 0.2, "global": False}),
        "teams": (429, ""), "telegram": (429, {"ok": False, "error_code": 429, "description": "Too Many Requests: retry after 1",
                                               "parameters": {"retry_after": 1}})}
BROKEN = {"dingtalk": (200, {"errcode": 310000, "errmsg": "sign not match"}),
          "wecom": (200, {"errcode": 93000, "errmsg": "invalid webhook url"}),
          "feishu": (200, {"code": 19021, "msg": "sign match fail or timestamp is not within one hour from current time"}),
          "slack": (404, "channel_not_found"), "webhook": (410, ""),
          "discord": (404, {"code": 10015, "message": "Unknown Webhook"}),
          "teams": (401, ""), "telegram": (403, {"ok": False, "error_code": 403, "description": "Forbidden: bot was kicked"})}


# a payload the platform refuses (tests/support/platforms.py says why); Teams accepts it and the flow fails later
INVALID = {"dingtalk": (200, {"errcode": 460101, "errmsg": "message too long, exceed 20000 bytes"}),   # code unconfirmed
           "wecom": (200, {"errcode": 40058, "errmsg": "invalid request parameter"}),
           "feishu": (200, {"code": 9499, "msg": "Bad Request"}),
           "slack": (400, "invalid_blocks"), "discord": (400, {"code": 50035, "message": "Invalid Form Body"}),
           "teams": (202, ""), "telegram": (400, {"ok": False, "error_code": 400,
                                                  "description": "Bad Request: can't parse entities"})}


# the robot's credential is in the URL's query: without it the platform knows no robot
NO_TOKEN = {"dingtalk": (200, {"errcode": 300001, "errmsg": "token is not exist"}),
            "wecom": (200, {"errcode": 93000, "errmsg": "invalid webhook url, hint: [1700000000_1]"})}


def credential_ok(kind, token, query) -> bool:
    """DingTalk needs `access_token`, WeCom `key` in the query (the configured one, when the route names it)."""
    name = {"dingtalk": "access_token", "wecom": "key"}.get(kind)
    if name is None:
        return True
    return bool(query.get(name)) and (token is None or query.get(name) == token)


class Receiver(_Loopback):
    """Chat webhooks on /<route>: `receiver.routes[name] = {"type": ..., "secret": ...}`; each checks the
    credential, the signature, then the payload (as the platform would: `platforms.problems`);
    `routes[name]["keyword"]`: a DingTalk robot's security keyword, refused without it;
    `routes[name]["answer"]`: the route's own answer, `(status, payload)` of the request's record (its `path`, `body`…:
    a refusal that echoes what it was sent), once the credential, signature and payload have passed;
    `receiver.fail[name] = ["rate", "500", "broken", "drop", "slow"]` answers the next requests so ("trickle": the
    answer a byte every half second; "retry-after:V": HTTP 429 with `Retry-After: V`);
    `receiver.poison[name] = "text"`: every request whose body holds that text is answered HTTP 500 (a message the
    channel refuses every time, while it takes the others), or as `receiver.poison_mode[name]` says
    ("500-retry-after:V": HTTP 500 with `Retry-After: V`, a gateway that names a wait on its 5xx)."""

    def __init__(self):
        self.routes: dict[str, dict] = {}
        self.fail: dict[str, list[str]] = {}
        self.poison: dict[str, str] = {}
        self.poison_mode: dict[str, str] = {}
        self.messages: list[dict] = []
        self.release = threading.Event()     # "hold" answers wait for it (a hanging endpoint)
        rx = self

        class H(_Handler):
            def do_POST(self):
                rx._answer(self)

        self._serve(H)

    def _answer(self, h: BaseHTTPRequestHandler) -> None:
        raw = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        parsed = urllib.parse.urlsplit(h.path)
        name = parsed.path.strip("/").split("/")[0]
        route = self.routes.get(name, {"type": "webhook"})
        kind = route["type"]
        query = dict(urllib.parse.parse_qsl(parsed.query))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
        headers = {k.lower(): v for k, v in h.headers.items()}
        sig_ok = verify(kind, route.get("secret"), query, body or {}, headers, raw)
        token_ok = credential_ok(kind, route.get("token"), query)
        bad = platforms.problems(kind, body)
        mode = self.fail.get(name, []).pop(0) if self.fail.get(name) else None
        if mode is None and name in self.poison and self.poison[name] in json.dumps(body, ensure_ascii=False):
            mode = self.poison_mode.get(name, "500")
        rec = {"route": name, "path": h.path, "body": body, "query": query, "headers": headers, "sig_ok": sig_ok,
               "token_ok": token_ok, "problems": bad, "mode": mode, "t": time.time()}
        self.messages.append(rec)
        if mode == "drop":
            h.close_connection = True
            h.connection.shutdown(2)
            return
        if mode == "slow":
            time.sleep(3)
        if mode and mode.startswith("slow:"):           # an answer after that many seconds
            time.sleep(float(mode.split(":", 1)[1]))
        if mode == "hold":
            self.release.wait(20)
        rec["done"] = time.time()
        if not token_ok:
            code, payload = NO_TOKEN[kind]
        elif sig_ok is False:
            code, payload = BROKEN[kind]
        elif bad:
            code, payload = INVALID[kind]
        elif route.get("keyword") and route["keyword"] not in raw.decode("utf-8", "replace"):
            code, payload = 200, {"errcode": 310000, "errmsg": "keywords not in content"}    # DingTalk's answer
        elif "answer" in route:
            code, payload = route["answer"](rec)
        elif mode == "rate":
            code, payload = RATE[kind]
        elif mode == "500" or (mode and mode.startswith("500-retry-after:")):
            code, payload = 500, {"error": "internal"}
        elif mode == "broken":
            code, payload = BROKEN[kind]
        elif mode and mode.startswith("retry-after:"):
            code, payload = 429, {"error": "slow down"}
        elif mode == "gone":                 # a deleted robot or webhook
            code, payload = 404, "<html><body><h1>404 Not Found</h1></body></html>"
        else:
            code, payload = OK[kind]
        rec["answer"] = ("invalid" if bad and token_ok and sig_ok is not False else
                         "ok" if (code, payload) == OK[kind] else (mode or "badsig"))
        data = payload.encode() if isinstance(payload, str) else json.dumps(payload).encode()
        if mode == "trickle" and code == 204:
            code = 200                  # (an answer with a body)
        if mode == "trickle":
            data += b" " * 10           # (at least five seconds of it)
        h.send_response(code)
        h.send_header("Content-Type", ("text/html" if payload.startswith("<") else "text/plain") if isinstance(payload, str)
                      else "application/json")
        if code == 429:
            h.send_header("Retry-After", mode.split(":", 1)[1] if mode and mode.startswith("retry-after:") else "1")
        elif code == 500 and mode and mode.startswith("500-retry-after:"):
            h.send_header("Retry-After", mode.split(":", 1)[1])
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        if mode == "trickle":
            for i in range(len(data)):
                h.wfile.write(data[i:i + 1])
                h.wfile.flush()
                time.sleep(0.5)
            return
        h.wfile.write(data)

    def delivered(self, route: str) -> list[dict]:
        return [m for m in self.messages if m["route"] == route and m.get("answer") == "ok"]


def verify(kind, secret, query, body, headers, raw) -> bool | None:
    """Each platform's own signature check (None: the platform does not sign)."""
    if not secret:
        return None
    if kind == "dingtalk":
        ts, sign = query.get("timestamp"), query.get("sign")
        if not ts or not sign or abs(time.time() * 1000 - int(ts)) > 3_600_000:
            return False
        want = base64.b64encode(hmac.new(secret.encode(), f"{ts}\n{secret}".encode(), hashlib.sha256).digest()).decode()
        return hmac.compare_digest(want, sign)
    if kind == "feishu":
        ts, sign = str(body.get("timestamp", "")), body.get("sign")
        if not ts or not sign or abs(time.time() - int(ts)) > 3600:
            return False
        want = base64.b64encode(hmac.new(f"{ts}\n{secret}".encode(), b"", hashlib.sha256).digest()).decode()
        return hmac.compare_digest(want, sign)
    if kind == "webhook":   # the Standard Webhooks reference library, as a receiver would run it
        try:
            Webhook(secret).verify(raw, headers, json_parse=False)
        except (WebhookVerificationError, ValueError):   # ValueError: a malformed header or body
            return False
        return True
    return None


def _self_signed() -> tuple[str, str]:
    """A certificate for 127.0.0.1 signed by its own key, and the key: their files (in a temporary folder)."""
    import datetime
    import ipaddress
    import tempfile
    from pathlib import Path

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False)
            .sign(key, hashes.SHA256()))
    folder = Path(tempfile.mkdtemp(prefix="rw-tls-"))
    (folder / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (folder / "key.pem").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                       serialization.NoEncryption()))
    return str(folder / "cert.pem"), str(folder / "key.pem")


class TlsSite(Site):
    """The news site over HTTPS (`https://127.0.0.1:PORT`), with a self-signed certificate: Scrapy checks none."""

    def _serve(self, handler: type[BaseHTTPRequestHandler]) -> None:
        import ssl

        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(*_self_signed())
        self.server = _Server(("127.0.0.1", 0), handler)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.url = f"https://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
