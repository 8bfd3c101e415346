"""A response's headers bounded: `HEADERS_MAX` bytes and `HEADER_LINES_MAX` lines, whatever the server sends.

Scrapy's `DOWNLOAD_MAXSIZE` (`max_size`) counts the body only, and Twisted's HTTP client (the parser Scrapy's
HTTP/1.1 handler uses) limits one header line to 16 KB but neither how many lines come nor a header folded over
continuation lines: a server sending `X-Flood: aaaa…` lines without end grew the crawl by gigabytes. Here the
pool's connections parse each response with Scrapy's own parser, counting the lines of its head (status line,
header and continuation lines, and the lines of any 1xx answer before it) as they arrive; one past either limit
cuts the connection at once and fails the request with `HeadersTooLarge` (`…: response headers over 64 KB`). One
line may take the whole allowance (browsers do not limit single lines either): Twisted's own 16 KB per line is
replaced by what is left of it.
"""

from __future__ import annotations

from scrapy.core.downloader.handlers.http11 import (
    _LenientHTTP11ClientFactory,
    _LenientHTTP11ClientProtocol,
    _LenientHTTPClientParser,
)
from twisted.python.failure import Failure
from twisted.web.client import ResponseFailed

from ..defaults import HEADER_LINES_MAX, HEADERS_MAX


def headers_over_size() -> str:
    """A response whose headers are past `HEADERS_MAX`, said alike by a crawl and by `regwatch extract URL`."""
    return f"response headers over {HEADERS_MAX // 1024} KB"


def headers_over_lines() -> str:
    return f"response headers over {HEADER_LINES_MAX:,} lines"


class HeadersTooLarge(Exception):
    """A response's headers past their limit; str() says which."""


def too_large(exc: BaseException | None) -> HeadersTooLarge | None:
    """The `HeadersTooLarge` a failed download carries (Scrapy's wrapper of Twisted's `ResponseFailed`), if any."""
    while exc is not None and not isinstance(exc, ResponseFailed):
        exc = exc.__cause__
    if exc is None:
        return None
    return next((r.value for r in exc.reasons if isinstance(r, Failure) and isinstance(r.value, HeadersTooLarge)), None)


class _CountingParser(_LenientHTTPClientParser):
    """Scrapy's response parser, counting the head's bytes and lines. (Put in place of the parser's class once it is
    made, as Scrapy's protocol puts its own: the counts start at the class's zeros.)"""

    MAX_LENGTH = HEADERS_MAX  # LineReceiver's limit on a line not yet ended: what is left of the allowance
    _head_bytes = 0
    _head_lines = 0

    def lineReceived(self, line: bytes) -> None:
        self._head_bytes += len(line) + 1  # (its "\n"; a "\r" before it is still in the line)
        self._head_lines += 1
        if self._head_bytes > HEADERS_MAX:
            raise HeadersTooLarge(headers_over_size())
        if self._head_lines > HEADER_LINES_MAX:
            raise HeadersTooLarge(headers_over_lines())
        self.MAX_LENGTH = HEADERS_MAX - self._head_bytes
        super().lineReceived(line)

    def lineLengthExceeded(self, line: bytes) -> None:
        # a line (ended or not) longer than what is left: past the limit whatever follows
        raise HeadersTooLarge(headers_over_size())


class _BoundedProtocol(_LenientHTTP11ClientProtocol):
    """Scrapy's HTTP/1.1 client protocol with the counting parser; headers past their limit cut the connection."""

    def request(self, request):
        d = super().request(request)
        if type(self._parser) is _LenientHTTPClientParser:
            self._parser.__class__ = _CountingParser
        return d

    def dataReceived(self, data: bytes) -> None:
        try:
            self._parser.dataReceived(data)  # type: ignore[union-attr]   # (None: handled below, as Twisted does)
        except HeadersTooLarge:
            # aborted, not closed: Twisted's loseConnection over TLS waits for the server's close_notify, reading on
            assert self.transport is not None
            self.transport.abortConnection()
            self._disconnectParser(Failure())  # the request fails with it (ResponseFailed)
        except BaseException:
            self._giveUp(Failure())  # (Twisted's own handling of every other parse error)


class BoundedHTTP11ClientFactory(_LenientHTTP11ClientFactory):
    """The connection pool's factory (`HTTPConnectionPool._factory`): connections whose responses' headers are
    bounded."""

    def buildProtocol(self, addr):
        return _BoundedProtocol(self._quiescentCallback)
