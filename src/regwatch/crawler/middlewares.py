"""Downloader middlewares: conditional GET on list pages, the seen-URL filter, and the guards."""

from __future__ import annotations

import ipaddress
import socket
import time
from typing import Any
from urllib.parse import urljoin, urlsplit

from scrapy import signals
from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest, NotConfigured, StopDownload
from scrapy.http.request import NO_CALLBACK
from scrapy.robotstxt import ProtegoRobotParser, decode_robotstxt
from scrapy.utils._compression import _DecompressionMaxSizeExceeded
from scrapy.utils.gz import gunzip
from scrapy.utils.httpobj import urlparse_cached

from ..defaults import MAX_ENCODINGS, ROBOTS_BYTES, ROBOTS_KEEP, ROBOTS_RULES, ROBOTS_WILDCARD_RULES
from ..pipeline.decode import looks_binary  # one definition, shared with extraction
from .guards import is_challenge
from .hostnames import bare_host, host_refusal, spelling_refusal
from .netguard import PUBLIC, WEB_SCHEMES, AddressRefused, first_url, origin_of, over_size, own_origin, refusal, target_decision
from .settings import CONTEXT


class _CtxMixin:
    """A component of regwatch's crawl: built by Scrapy `from_crawler`, with the crawl's context handed
    over in the crawler's settings (never reached for through the spider)."""

    def __init__(self, ctx: Any):
        self.ctx = ctx

    @classmethod
    def from_crawler(cls, crawler):
        ctx = crawler.settings.get(CONTEXT)
        if ctx is None:
            raise NotConfigured(f"{cls.__name__} runs only in regwatch's crawls (no {CONTEXT} setting)")
        return cls(ctx)


class NotAPage(IgnoreRequest):
    """An article URL that answers with a binary file: skipped for good, not an error every run."""


class ConditionalGetMiddleware(_CtxMixin):
    """List pages carry If-None-Match / If-Modified-Since from the source's last clean fetch of that
    URL (validators are the source's own: two sources on one URL never share them); a 304 costs
    nothing. The cached row also goes to the spider (body hash, a sitemap index's children)."""

    def process_request(self, request):
        if request.meta.get("role") != "list":
            return None
        cached = self.ctx.store.list_cache(request.meta["source"], request.meta.get("list_url", request.url))
        request.meta["list_cached"] = cached
        if cached and request.method == "GET":
            if cached.get("etag"):
                request.headers.setdefault(b"If-None-Match", cached["etag"])
            if cached.get("last_modified"):
                request.headers.setdefault(b"If-Modified-Since", cached["last_modified"])
        return None


class GzipListMiddleware(_CtxMixin):
    """A list page served as a gzip file (`sitemap.xml.gz`) is decompressed, within the size limit,
    rather than refused as binary."""

    def process_response(self, request, response):
        if request.meta.get("role") != "list" or not response.body.startswith(b"\x1f\x8b"):
            return response
        limit = request.meta.get("download_maxsize") or self.ctx.max_size
        try:
            body = gunzip(response.body, max_size=limit)
        except _DecompressionMaxSizeExceeded:
            raise IgnoreRequest(f"{request.url}: over {limit} bytes once decompressed") from None
        except (OSError, EOFError, ValueError) as e:
            raise IgnoreRequest(f"{request.url}: not a readable gzip file ({e})") from None
        return response.replace(body=body)


class TooManyEncodings(ValueError):
    """A response naming more content encodings than `MAX_ENCODINGS`; str() says how many."""


def decode_body(body: bytes, content_encoding: list[bytes], max_size: int) -> tuple[bytes, list[bytes]]:
    """A body decoded from its `Content-Encoding` header values by Scrapy's own decoders (the encodings it knows,
    from the last), and the encodings left undecoded; a crawl's (`SizedHttpCompressionMiddleware`) and `regwatch
    extract URL`'s. More than `MAX_ENCODINGS` named is `TooManyEncodings`, nothing decoded; the bytes every layer
    produces count together against `max_size` (0: no limit), past it `_DecompressionMaxSizeExceeded`."""
    names = [e for value in content_encoding for e in value.split(b",") if e.strip()]
    if len(names) > MAX_ENCODINGS:
        raise TooManyEncodings(f"too many content encodings ({len(names)})")
    to_decode, to_keep = HttpCompressionMiddleware._split_encodings(content_encoding)
    produced = 0
    for encoding in to_decode:
        left = max_size - produced
        if max_size and left <= 0:
            raise _DecompressionMaxSizeExceeded(produced + 1, max_size)
        body = HttpCompressionMiddleware._decode(body, encoding, left if max_size else 0)
        produced += len(body)
    return body, to_keep


class SizedHttpCompressionMiddleware(HttpCompressionMiddleware):
    """Scrapy's decompression (a `Content-Encoding` body) with its size limit counted over every layer's output, a
    body past it said in regwatch's words (`…: exceeded the size limit (max_size: N bytes)`), not Scrapy's (`…
    exceeded DOWNLOAD_MAXSIZE …`), and a response naming more than `MAX_ENCODINGS` encodings refused undecoded
    (`…: too many content encodings (N)`)."""

    def _handle_encoding(self, body, content_encoding, max_size):
        return decode_body(body, content_encoding, max_size)

    def process_response(self, request, response, spider=None):
        try:
            return super().process_response(request, response)
        except TooManyEncodings as e:
            raise IgnoreRequest(f"{request.url}: {e}") from None
        except IgnoreRequest as e:
            if not isinstance(e.__cause__, _DecompressionMaxSizeExceeded):
                raise
            limit = request.meta.get("download_maxsize", self._max_size)
            raise IgnoreRequest(f"{request.url}: {over_size(limit)}") from None


class SeenUrlMiddleware(_CtxMixin):
    """An article URL already in the store is never fetched again."""

    def process_request(self, request):
        if request.meta.get("role") == "article" and self.ctx.store.has_url(request.meta.get("article_url", request.url)):
            raise IgnoreRequest("already stored")
        return None


WEB_ONLY = "regwatch fetches only http and https URLs"     # the end of every refusal of another scheme
REDIRECTS = (301, 302, 303, 307, 308)                       # the statuses Scrapy's RedirectMiddleware follows


class PrivateNetworkMiddleware(_CtxMixin):
    """Only the web: every request is http or https, to a host that is a host name (checked first, before
    robots.txt or anything else acts on it). Addresses are checked where the connection is made (`netguard`)."""

    def process_request(self, request):
        why = link_refusal(request.url, request.meta.get("source"), self.ctx, own_origin(request), first_url(request))
        if why is not None:
            raise AddressRefused(f"{request.url[:200]}: {why}")
        return None


def link_refusal(url: str, source: str | None, ctx: Any, own: str = "this source's own origin",
                 first: str | None = None) -> str | None:
    """Why a request to this URL is refused before anything is sent (`refused, a link with a user name or password
    in it`), or None: a scheme other than http(s), a host that is no host name or that parsers read differently
    (`spelling_refusal`), a user name or password (to an IP literal the request may not reach, the address refusal).
    The crawl's check (`PrivateNetworkMiddleware`) and `regwatch extract URL`'s (`fetch`, `own`: "this page's own
    origin"), for every request and redirect."""
    target = origin_of(url)
    if target is None:
        return f"refused, {WEB_ONLY}"
    # a host Scrapy's `Request` could not IDNA-encode: read as a source's URL is when the config is loaded (fullwidth
    # dots, `127.0.0.1．．`: more than one trailing dot), else one IDNA cannot encode (a bidi override in it)
    if not target[1].isascii():
        why: str | None = host_refusal(url) or "is not a valid host name"
    else:
        why = spelling_refusal(target[1])
    if why is not None:
        return f"refused, its host {target[1][:100]!r} {why}"
    if "@" in urlsplit(url).netloc:   # user:password@: regwatch sends no credentials a link carries
        why = refusal(target[1].strip("[]"))
        if why is not None and "not an IP address" not in why and target_decision(url, source, ctx, first) == PUBLIC:
            return f"refused, {why} and not {own} (see block_private_networks)"
        return "refused, a link with a user name or password in it"
    return None


class RedirectSchemeMiddleware(_CtxMixin):
    """A redirect to another scheme (`file:`, `ftp:`, `data:`, `javascript:`) is refused, saying so: Scrapy's
    RedirectMiddleware (600) would hand the 3xx on as an HTTP error, or fail on a URL it cannot build. Before it
    in the response's way (a higher number)."""

    def process_response(self, request, response):
        location = response.headers.get(b"Location")
        if response.status not in REDIRECTS or not location or request.meta.get("dont_redirect") \
                or response.status in request.meta.get("handle_httpstatus_list", ()):
            return response
        scheme = urlsplit(urljoin(request.url, location.decode("latin-1").strip())).scheme.lower()
        if scheme not in WEB_SCHEMES:
            raise AddressRefused(f"{request.url[:200]}: redirect to {scheme[:20]}: refused, {WEB_ONLY}")
        return response


class ProxiedTargetMiddleware(_CtxMixin):
    """A request through a proxy is connected by the proxy, so `netguard` cannot see the address: its host is
    checked here, after Scrapy's `HttpProxyMiddleware` has chosen the proxy. An IP literal in any spelling a
    resolver accepts (`127.1`, `2130706433`, `[::ffff:127.0.0.1]`; a `%` in a host and a part in hex or with a leading
    zero are refused before, by `link_refusal`) and the `localhost` names are refused unless they are the source's own
    origin; other names are the proxy's."""

    def process_request(self, request):
        if request.meta.get("proxy"):
            why = proxied_refusal(request.url, request.meta.get("source"), self.ctx, first_url(request))
            if why:
                raise AddressRefused(f"{request.url}: refused, {why} and not {own_origin(request)} "
                                     f"(see block_private_networks)")
        return None


def proxied_refusal(url: str, source: str | None, ctx: Any, first: str | None = None) -> str | None:
    """Why a request through a proxy to this URL is refused (`127.0.0.1 is a loopback address`): its host is an IP
    literal that is not public, or a `localhost` name, and not its source's own origin; None: the proxy's to connect."""
    if target_decision(url, source, ctx, first) != PUBLIC:
        return None
    host = bare_host(urlsplit(url).hostname or "")
    if host == "localhost" or host.endswith(".localhost"):
        return f"{host} is a loopback name"
    address = literal_address(host)
    return refusal(address) if address else None


def literal_address(host: str) -> str | None:
    """The IP address a host written as an IP literal stands for, in any spelling a resolver accepts (IPv4 in
    one to four parts, decimal, octal or hex; IPv6), else None (a name)."""
    try:
        return str(ipaddress.ip_address(host))
    except ValueError:
        pass
    if not host or not all(c in "0123456789abcdefxABCDEFX." for c in host) or not host[0].isdigit():
        return None
    try:
        return socket.inet_ntoa(socket.inet_aton(host))
    except OSError:
        return None


class GuardMiddleware(_CtxMixin):
    """Challenge pages and binary bodies are not content: they become errors of their source."""

    def process_response(self, request, response):
        role = request.meta.get("role")
        source = request.meta.get("source")
        if not role or not source:
            return response
        report = self.ctx.report(source)
        report.status(response.status)
        if is_challenge(response.status, response.body):
            report.blocked = True
            raise IgnoreRequest(f"{request.url}: a JavaScript gate or challenge page (HTTP {response.status}) instead of content")
        if response.status == 200 and role != "attachment" and looks_binary(response.body):
            raise (NotAPage if role == "article" else IgnoreRequest)(
                f"{request.url}: binary content where a page was expected")
        return response


def robots_part(body: bytes) -> tuple[str, str | None]:
    """The part of a robots.txt that is read, and what was left unread (None: nothing): its first `ROBOTS_BYTES`
    (Google's 500 KiB, to the end of the last whole line in them; the download stops soon after them), and of those
    its lines up to the rule that makes `ROBOTS_RULES` rules (a rule counted once for each user agent of its group,
    as Protego keeps it; a user-agent line once for each one before it in its group, as Protego looks for it among
    them) or `ROBOTS_WILDCARD_RULES` rules with a `*` or `$`: Protego's parse costs those rules, and each URL
    checked is searched for every wildcard rule. What follows is ignored, as Google ignores what follows its first
    500 KiB. Lines are read by Protego's own reader (`_extract_directive`), so the count is of what Protego builds."""
    from protego._protego import (
        _ALLOW_DIRECTIVE,
        _DISALLOW_DIRECTIVE,
        _SITE_WIDE_DIRECTIVES,
        _USER_AGENT_DIRECTIVE,
        _extract_directive,
    )

    unread = []
    if len(body) > ROBOTS_BYTES:
        end = body.rfind(b"\n", 0, ROBOTS_BYTES) + 1 or ROBOTS_BYTES
        unread.append(f"over 500 KiB, read to its first {end} bytes")
        body = body[:end]
    text = decode_robotstxt(body, None)
    rules = wildcards = agents = 0
    agent_lines = False         # the last directive was a user-agent line (another one joins its group)
    at = 0
    for number, line in enumerate(text.splitlines(keepends=True), 1):
        directive = _extract_directive(line.split("#", 1)[0].strip())
        field, value = directive if directive else ("", "")
        if field in _USER_AGENT_DIRECTIVE:
            agents = agents + 1 if agent_lines else 1
            rules += agents
        elif field in _ALLOW_DIRECTIVE or field in _DISALLOW_DIRECTIVE:
            rules += agents
            wildcards += "*" in value or "$" in value
        if field and field not in _SITE_WIDE_DIRECTIVES:
            agent_lines = field in _USER_AGENT_DIRECTIVE
        if rules > ROBOTS_RULES or wildcards > ROBOTS_WILDCARD_RULES:
            what = (f"more than {ROBOTS_WILDCARD_RULES} rules with a * or $" if wildcards > ROBOTS_WILDCARD_RULES else
                    f"more than {ROBOTS_RULES} rules (each counted once for each user agent of its group)")
            unread.append(f"{what}, read to its line {number - 1}")
            return text[:at], "; ".join(unread)
        at += len(line)
    return text, "; ".join(unread) or None


class BoundedRobotParser(ProtegoRobotParser):
    """Scrapy's robots.txt parser (Protego) on the part of a robots.txt that is read (`robots_part`); `unread` says
    what was not, or None. A 10 MB robots.txt of wildcard rules took 11.5 s to parse and 1.6 s for each URL checked,
    on the event loop."""

    def __init__(self, robotstxt_body: bytes, spider: Any):
        from protego import Protego

        self.spider = spider
        text, self.unread = robots_part(robotstxt_body)
        self.rp = Protego.parse(text)


_ROBOTS: dict[tuple[str, str], tuple[float, Any]] = {}   # (scheme, host[:port]) → (when fetched, parsed robots.txt)


class KeptRobotsTxtMiddleware(RobotsTxtMiddleware):
    """Scrapy's robots.txt middleware, with each site's parsed robots.txt kept by the process for `ROBOTS_KEEP`
    seconds: the daemon's crawls (one every `every`) do not each fetch it again. Only an answer that says something
    is kept (a robots.txt, or a 4xx: none), not a 5xx, a failed download or one the address guards refused: those
    are asked for again next crawl. A robots.txt the address guards refused (a redirect to another origin that is not
    public) is, like one that cannot be fetched, no robots.txt: one note of the source whose request asked for it
    says so."""

    def __init__(self, crawler):
        super().__init__(crawler)
        self._answered: dict[str, int] = {}     # host → the HTTP status its robots.txt answered in this crawl
        self._refused: dict[str, str] = {}      # host → why the guards refused its robots.txt in this crawl
        self.ctx = crawler.settings.get(CONTEXT)
        crawler.signals.connect(self._bytes_received, signal=signals.bytes_received)

    @staticmethod
    def _bytes_received(data, request, spider=None):
        """A robots.txt request (Scrapy's: `dont_obey_robotstxt`, no callback; its redirects too) stops downloading
        once past `ROBOTS_BYTES`: what follows is not read (`robots_part`), so it is not received either."""
        if request.meta.get("dont_obey_robotstxt") and request.callback is NO_CALLBACK:
            received = request.meta["robots_received"] = request.meta.get("robots_received", 0) + len(data)
            if received > ROBOTS_BYTES:
                raise StopDownload(fail=False)

    def _robots_error(self, exc, netloc):
        if isinstance(exc, AddressRefused):
            self._refused[netloc] = str(exc)
        super()._robots_error(exc, netloc)

    async def _parse_robots(self, response, netloc, request):
        self._answered[netloc] = response.status
        await super()._parse_robots(response, netloc, request)

    async def robot_parser(self, request):
        url = urlparse_cached(request)
        key = (url.scheme, url.netloc.lower())
        kept = _ROBOTS.get(key)
        if url.netloc not in self._parsers and kept is not None and time.monotonic() - kept[0] < ROBOTS_KEEP:
            self._parsers[url.netloc] = kept[1]
            return kept[1]
        fetching = url.netloc not in self._parsers
        parser = await super().robot_parser(request)
        if fetching and parser is not None and self._answered.get(url.netloc, 500) < 500:
            _ROBOTS[key] = (time.monotonic(), parser)
        why = self._refused.pop(url.netloc, None) if fetching else None
        if why and self.ctx is not None and request.meta.get("source"):
            self.ctx.report(request.meta["source"]).note(
                f"{url.scheme}://{url.netloc}/robots.txt: not read, {why}; crawled as a site without one")
        unread = getattr(parser, "unread", None) if fetching else None
        if unread and self.ctx is not None and request.meta.get("source"):
            self.ctx.report(request.meta["source"]).note(
                f"{url.scheme}://{url.netloc}/robots.txt: {unread}; the rest ignored")
        return parser
