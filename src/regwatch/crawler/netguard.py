"""Fetching only the web: which addresses a request may connect to, checked where the connection is made.

A link found in a page (and every redirect, sitemap child, detail or attachment URL) may reach
its source's own origin (the scheme, host and port of the configured URL) and public addresses
(`ipaddress.is_global`), never another loopback, private, link-local or shared address — unless
`[crawl] block_private_networks = false`.

The check is made on the very answer that the connection uses: the reactor's name resolver is
wrapped, and a resolution made for a request that is not to its source's origin drops its answer
when any address in it is not global. So a name that first resolves to a public address and then
to 127.0.0.1 (DNS rebinding) cannot pass a check and then connect elsewhere, and an IP literal
goes through the same resolver. Twisted's connection pool keeps connections per decision too, so
a connection opened to a source's own (private) origin is never reused by a request that was
only allowed public addresses.
"""

from __future__ import annotations

import asyncio
import contextvars
import ipaddress
import weakref
from urllib.parse import urlsplit

from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler
from scrapy.exceptions import CannotResolveHostError, DownloadCancelledError, DownloadFailedError, IgnoreRequest
from twisted.internet.interfaces import IHostnameResolver, IResolutionReceiver
from twisted.web.client import HTTPConnectionPool
from zope.interface import implementer

from .headlimit import BoundedHTTP11ClientFactory, too_large
from .settings import CONTEXT

WEB_SCHEMES = ("http", "https")
_PORTS = {"http": 80, "https": 443}

ANY = "any"          # no check (block_private_networks = false, or a proxy makes the connection)
ORIGIN = "origin"    # the request is to its source's own origin: any address
PUBLIC = "public"    # global addresses only

# the decision of the request whose connection is being opened (set around the synchronous
# part of opening a connection, so the resolver reads the request's own decision)
_DECISION: contextvars.ContextVar[str | None] = contextvars.ContextVar("regwatch_net_decision", default=None)
_REFUSED: dict[tuple[str, int], str] = {}   # (host, port) → why its last answer was refused


def over_size(limit: int) -> str:
    """What a response past its size limit is, in the bytes received or once decompressed (a gzip bomb), said
    alike by a crawl and by `regwatch extract URL` (after the URL)."""
    return f"exceeded the size limit (max_size: {limit} bytes)"


class AddressRefused(IgnoreRequest):
    """A request to an address that regwatch does not fetch; str() says which and why."""


def origin_of(url: str) -> tuple[str, str, int] | None:
    """(scheme, host, port) of an http(s) URL; None for anything else or a malformed one. A host not in ASCII is read
    as a request spells it (Scrapy's, IDNA: `１２７．０．０．１` is 127.0.0.1, `人民银行.中国` xn--…): a source's configured
    URL so spelt is the origin its requests reach."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in WEB_SCHEMES or not parts.hostname:
        return None
    host = parts.hostname.lower()
    return scheme, host if host.isascii() else _ascii_host(host), port or _PORTS[scheme]


# IPv6 addresses that carry an IPv4 address a gateway or the kernel connects to: RFC 6052's NAT64 prefix (an
# IPv6-only network's DNS64 answers `64:ff9b::10.0.0.1` for a name of 10.0.0.1: its NAT64 gateway connects there),
# the deprecated IPv4-compatible and the SIIT IPv4-translated forms (the last 32 bits), 6to4 (bits 16-47)
_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_NAT64_LOCAL = ipaddress.ip_network("64:ff9b:1::/48")     # RFC 8215: a network's own translation prefixes
_LAST_32 = (("a NAT64", _NAT64), ("an IPv4-compatible", ipaddress.ip_network("::/96")),
            ("an IPv4-translated", ipaddress.ip_network("::ffff:0:0:0/96")))


def _not_public(ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What kind of address this is when it is not a public one (`a loopback address`); None for a public one."""
    if ip.is_global and not ip.is_multicast:
        return None
    for what, yes in (("a loopback", ip.is_loopback), ("a private", ip.is_private), ("a link-local", ip.is_link_local),
                      ("a multicast", ip.is_multicast), ("an unspecified", ip.is_unspecified),
                      ("a reserved", ip.is_reserved)):
        if yes:
            return f"{what} address"
    return "not a public address"  # shared (100.64.0.0/10), documentation and other special ranges


def refusal(address: str) -> str | None:
    """Why a connection to this IP address is refused (a public address: None). An IPv6 address that carries an
    IPv4 one (IPv4-mapped, NAT64, IPv4-compatible or -translated, 6to4) is refused when that one would be."""
    try:
        ip = ipaddress.ip_address(address.split("%", 1)[0])
    except ValueError:
        return f"{address} is not an IP address"
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    kind = _not_public(ip)
    if kind:
        return f"{ip} is {kind}"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _NAT64_LOCAL:
            return f"{ip} is a local-use NAT64 address"
        carried = [(what, ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)) for what, net in _LAST_32 if ip in net]
        if ip.sixtofour is not None:
            carried.append(("a 6to4", ip.sixtofour))
        for what, v4 in carried:
            kind = _not_public(v4)
            if kind:
                return f"{ip} is {what} address of {v4}, {kind}"
    return None


def target_decision(url: str, source_name: str | None, ctx, first: str | None = None) -> str:
    """ANY, ORIGIN or PUBLIC for a URL fetched for this source, from its configured URL. A request of no source (a
    robots.txt, and its redirects) is its site's own: `first`, the URL its chain of redirects began with, may be
    at its origin when that is a configured source's origin, and so may its redirects to that same origin — never
    another source's."""
    if ctx is None:
        return PUBLIC
    if not ctx.block_private:
        return ANY
    target = origin_of(url)
    source = ctx.sources.get(source_name)
    if source is not None:
        allowed = {origin_of(source.url)}
    else:
        own = origin_of(first or url)
        allowed = {own} & {origin_of(s.url) for s in ctx.sources.values()}
    return ORIGIN if target is not None and target in allowed else PUBLIC


def first_url(request) -> str:
    """The URL a request's chain of redirects began with (Scrapy's `redirect_urls`), else its own."""
    return (request.meta.get("redirect_urls") or [request.url])[0]


def own_origin(request) -> str:
    """What a refusal names as the origin this request may reach besides public addresses."""
    return "this source's own origin" if request.meta.get("source") else "this robots.txt's own origin"


def decision_for(request, ctx) -> str:
    """The decision for the connection of this request: through a proxy, the proxy connects (ANY)."""
    if request.meta.get("proxy"):
        return ANY
    return target_decision(request.url, request.meta.get("source"), ctx, first_url(request))


def _ascii_host(host: str) -> str:
    """The host as request URLs spell it (punycode, lower case): twisted hands the resolver Unicode."""
    try:
        return host.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return host.lower()


@implementer(IResolutionReceiver)
class _CheckingReceiver:
    """Passes an answer on only when every address in it is public."""

    def __init__(self, receiver, host: str, port: int):
        self.receiver, self.host, self.port = receiver, host, port
        self.addresses: list = []

    def resolutionBegan(self, resolution) -> None:
        self.receiver.resolutionBegan(resolution)

    def addressResolved(self, address) -> None:
        self.addresses.append(address)

    def resolutionComplete(self) -> None:
        why = next((r for r in (refusal(a.host) for a in self.addresses) if r), None)
        if why is None:
            for a in self.addresses:
                self.receiver.addressResolved(a)
        else:
            if len(_REFUSED) > 1000:
                _REFUSED.clear()
            _REFUSED[(_ascii_host(self.host), self.port)] = why
        self.receiver.resolutionComplete()


@implementer(IHostnameResolver)
class GuardedNameResolver:
    """The reactor's name resolver, with public-only answers for requests decided PUBLIC."""

    def __init__(self, wrapped):
        self.wrapped = wrapped

    def resolveHostName(self, resolutionReceiver, hostName, portNumber=0, addressTypes=None,
                        transportSemantics="TCP"):
        if _DECISION.get() == PUBLIC:
            resolutionReceiver = _CheckingReceiver(resolutionReceiver, hostName, portNumber)
        return self.wrapped.resolveHostName(resolutionReceiver, hostName, portNumber, addressTypes,
                                            transportSemantics)


def install(reactor) -> None:
    """Wrap the reactor's name resolver once (it only checks connections opened by `GuardedPool`)."""
    if not isinstance(reactor.nameResolver, GuardedNameResolver):
        reactor.installNameResolver(GuardedNameResolver(reactor.nameResolver))


class GuardedPool(HTTPConnectionPool):
    """Connections kept per decision; a new connection resolves under its request's decision."""

    def getConnection(self, key, endpoint):
        return super().getConnection((*key, _DECISION.get()), endpoint)

    def _newConnection(self, key, endpoint):
        # also reached later, outside the request, when a reused connection fails and is retried:
        # the decision then comes from the key
        token = _DECISION.set(key[-1])
        try:
            return super()._newConnection(key, endpoint)
        finally:
            _DECISION.reset(token)


class GuardedHTTPDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler whose connections go through the guarded resolver and bound each response's
    headers (`headlimit`), and whose downloads in flight end at once when regwatch stops (`stop_downloads`)."""

    def __init__(self, crawler):
        super().__init__(crawler)
        from twisted.internet import reactor

        install(reactor)
        pool = GuardedPool(reactor, persistent=True)
        pool.maxPersistentPerHost = self._pool.maxPersistentPerHost
        pool._factory = BoundedHTTP11ClientFactory
        self._pool = pool
        self._downloads: set[asyncio.Task] = set()
        self._stopping = False
        _HANDLERS.add(self)

    def stop(self) -> None:
        self._stopping = True
        for task in list(self._downloads):
            task.cancel()

    async def _download(self, request, decision: str):
        # the resolver and the pool read the decision in the synchronous part of opening the
        # connection; this task's own context carries it
        _DECISION.set(decision)
        return await super().download_request(request)

    async def download_request(self, request):
        if self._stopping:
            raise IgnoreRequest(f"{request.url}: not fetched, regwatch was stopping")
        decision = decision_for(request, self._crawler.settings.get(CONTEXT) if self._crawler else None)
        task = asyncio.ensure_future(self._download(request, decision))
        self._downloads.add(task)
        try:
            return await task
        except asyncio.CancelledError:
            if self._stopping and task.cancelled():
                raise IgnoreRequest(f"{request.url}: not fetched, regwatch was stopping") from None
            raise
        except DownloadCancelledError as e:
            # Scrapy cancels a body that grows past the size limit (one without a Content-Length: chunked, endless)
            if self._stopping:
                raise IgnoreRequest(f"{request.url}: not fetched, regwatch was stopping") from None
            if str(e) and "max size" not in str(e):
                raise
            limit = request.meta.get("download_maxsize", self._default_maxsize)
            raise IgnoreRequest(f"{request.url}: {over_size(limit)}") from e
        except DownloadFailedError as e:
            # headers past their limit: the connection is cut, the request fails at once (not retried: no
            # ResponseFailed for Scrapy's retries to see)
            over = too_large(e)
            if over is None:
                raise
            raise IgnoreRequest(f"{request.url}: {over}") from e
        except CannotResolveHostError as e:
            target = origin_of(request.url)
            why = _REFUSED.get((target[1], target[2])) if target and decision == PUBLIC else None
            if why is None:
                raise
            raise AddressRefused(f"{request.url}: refused, {why} and not {own_origin(request)} "
                                 f"(see block_private_networks)") from e
        finally:
            self._downloads.discard(task)


_HANDLERS: weakref.WeakSet[GuardedHTTPDownloadHandler] = weakref.WeakSet()


def stop_downloads() -> None:
    """End every download in flight now (the daemon's stop: nothing waits for a slow server)."""
    for handler in list(_HANDLERS):
        handler.stop()
