"""A network partition on loopback: a TCP proxy between regwatch and the test PostgreSQL that can be told to
blackhole — forward nothing either way, keep every socket open, read and drop what arrives (no FIN, no RST: the
peers see silence, as behind a dead link) — and later to heal.

What it cannot do is withhold TCP's acknowledgements: the proxy's kernel acknowledges what the client sends, so the
client's own TCP timers (keepalives, `tcp_user_timeout`) never fire — the partition is the one a middlebox makes (a
pooler, a load balancer, a cloud proxy whose far side is cut off), and only what regwatch bounds itself bounds a
wait. A connection whose bytes were dropped is broken for good (the protocol lost a message): on healing it is reset,
as a server that gave the connection up during the partition would; one that carried nothing meanwhile goes on."""

from __future__ import annotations

import socket
import struct
import threading
from urllib.parse import urlsplit, urlunsplit


class Partition:
    """`Partition(url)`: `.url` reaches the same database through the proxy; `blackhole()`, `heal()`, `close()`."""

    def __init__(self, url: str):
        parts = urlsplit(url)
        self._upstream = (parts.hostname or "127.0.0.1", parts.port or 5432)
        self._listener = socket.create_server(("127.0.0.1", 0))
        port = self._listener.getsockname()[1]
        self.url = urlunsplit(parts._replace(netloc=f"{parts.username}@127.0.0.1:{port}" if parts.username
                                             else f"127.0.0.1:{port}"))
        self._lock = threading.Lock()
        self._open = threading.Event()
        self._open.set()                  # set: forwarding; clear: blackholed
        self._pairs: list[_Pair] = []
        self.accepted = 0                 # connections the proxy accepted (each a connection regwatch made)
        self.dropped = 0                  # bytes dropped while blackholed
        self._closed = False
        threading.Thread(target=self._accept, daemon=True, name="partition-accept").start()

    def blackhole(self) -> None:
        self._open.clear()

    def heal(self, forget: bool = False) -> None:
        """Forward again. `forget`: every connection made before is reset, as after a partition longer than the
        server's keepalives (it ended their sessions meanwhile); else only those whose bytes were dropped."""
        with self._lock:
            broken = [p for p in self._pairs if p.dropped or forget]
            self._pairs = [p for p in self._pairs if p not in broken]
        for p in broken:          # their streams lost bytes: reset, as a server that gave them up meanwhile
            p.reset()
        self._open.set()

    @property
    def blackholed(self) -> bool:
        return not self._open.is_set()

    def close(self) -> None:
        self._closed = True
        self._listener.close()
        with self._lock:
            pairs = list(self._pairs)
        for p in pairs:
            p.reset()

    # -- the proxy --------------------------------------------------------------------------------

    def _accept(self) -> None:
        while not self._closed:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return
            self.accepted += 1
            pair = _Pair(self, client)
            with self._lock:
                self._pairs.append(pair)
            threading.Thread(target=pair.start, daemon=True, name="partition-pair").start()

    def _drop(self, pair: _Pair, n: int) -> None:
        with self._lock:
            self.dropped += n
            pair.dropped += n


class _Pair:
    """One client connection and its upstream one (made when the link is up: a connection made while
    blackholed is accepted and then hears nothing, as a SYN lost would leave it — until healed)."""

    def __init__(self, part: Partition, client: socket.socket):
        self.part = part
        self.client = client
        self.server: socket.socket | None = None
        self.dropped = 0
        self._gone = False

    def start(self) -> None:
        while not self.part._open.wait(0.05):          # blackholed: what the client sends is dropped
            if self._gone:
                return
            if not self._drain(self.client):
                self.reset()
                return
        if self._gone:
            return
        try:
            self.server = socket.create_connection(self.part._upstream)
        except OSError:
            self.reset()
            return
        threading.Thread(target=self._pump, args=(self.server, self.client), daemon=True).start()
        self._pump(self.client, self.server)

    def _drain(self, sock: socket.socket) -> bool:
        """Read what is waiting and drop it; False when the peer closed."""
        sock.settimeout(0)
        try:
            data = sock.recv(65536)
        except (BlockingIOError, InterruptedError):
            return True
        except OSError:
            return False
        finally:
            sock.settimeout(None)
        if not data:
            return False
        self.part._drop(self, len(data))
        return True

    def _pump(self, src: socket.socket, dst: socket.socket) -> None:
        src.settimeout(0.05)
        while not self._gone:
            try:
                data = src.recv(65536)
            except TimeoutError:
                continue
            except OSError:
                break
            if not data:
                break
            if not self.part._open.is_set():
                self.part._drop(self, len(data))
                continue
            try:
                dst.sendall(data)
            except OSError:
                break
        self.close()

    def close(self) -> None:
        if self._gone:
            return
        self._gone = True
        for s in (self.client, self.server):
            if s is not None:
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                s.close()

    def reset(self) -> None:
        """Close with an RST (SO_LINGER 0): the peer's next read or write fails at once."""
        if self._gone:
            return
        for s in (self.client, self.server):
            if s is not None:
                try:
                    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                except OSError:
                    pass
        self._gone = True
        for s in (self.client, self.server):
            if s is not None:
                s.close()
