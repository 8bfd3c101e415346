"""One page fetched outside a crawl (`regwatch extract URL`), under a crawl's rules.

The page's URL stands for a source's configured URL: its own origin may be at any address, and every
redirect may reach that origin and public addresses only (`netguard.target_decision`, `[crawl]
block_private_networks`), at most `MAX_REDIRECTS` of them; the URL and every redirect first pass the crawl's own
check (`middlewares.link_refusal`: http and https only, a host name, no user name or password). As in a crawl, the
address checked is the address connected to: a name is resolved once, every address in the answer is
checked (`netguard.refusal`), and the connection is made to the checked address (the name kept for the
Host header, TLS's SNI and the certificate check). Behind a proxy (`http_proxy`, `https_proxy`,
`no_proxy`, as Scrapy chooses it) the proxy connects, and the host is checked as the crawl checks it
(`middlewares.proxied_refusal`). The response is read to `max_size` bytes, and decompressed (by
Scrapy's own decoders, as in a crawl) to `max_size` bytes counted over every layer, `MAX_ENCODINGS` layers at
most; the whole fetch, redirects included, ends at `timeout` seconds. A size past its limit is said in the crawl's
words (`netguard.over_size`), and so are headers past theirs (`headlimit`: h11 under httpx reads at most 100 KB of
them; what it read is counted as the crawl counts it).
"""

from __future__ import annotations

import asyncio
import socket
from typing import Any
from urllib.parse import urljoin, urlsplit
from urllib.request import getproxies, proxy_bypass

from w3lib.url import safe_url_string

from ..defaults import HEADER_LINES_MAX, HEADERS_MAX, MAX_REDIRECTS, too_slow
from .headlimit import headers_over_lines, headers_over_size
from .middlewares import TooManyEncodings, decode_body, link_refusal, proxied_refusal
from .netguard import PUBLIC, over_size, refusal, target_decision

_PAGE = "page"      # the one "source" of a fetch: the page as the user gave it
_REDIRECTS = (301, 302, 303, 307, 308)


class FetchError(OSError):
    """The page could not be fetched, or was refused; str() is one line saying why."""


class _Source:
    def __init__(self, url: str):
        self.url = url


class _Rules:
    """What `netguard.target_decision` reads of a crawl's context: the page as the one source."""

    def __init__(self, url: str, block_private: bool):
        self.block_private = block_private
        self.sources = {_PAGE: _Source(url)}


def fetch_page(url: str, crawl: Any) -> tuple[bytes, str | None, str]:
    """The page's body (decompressed), its content type and the URL it was read from (after redirects), fetched
    under `crawl` (a `[crawl]` config: block_private_networks, user_agent, max_size, timeout). A refusal, an HTTP
    error, a size or time over its limit or a failed connection is a `FetchError`."""
    try:
        return asyncio.run(_fetch(url, crawl))
    except TimeoutError:
        raise FetchError(too_slow(crawl.timeout, "timeout")) from None


async def _fetch(url: str, crawl: Any) -> tuple[bytes, str | None, str]:
    url = safe_url_string(url)          # (the page's own origin as its requests name it: an IDN host encoded)
    rules = _Rules(url, crawl.block_private_networks)
    async with asyncio.timeout(crawl.timeout):
        for hop in range(MAX_REDIRECTS + 1):
            # as a crawl's request has it (Scrapy's): an IDN host IDNA-encoded (人民银行.中国 → xn--…), the path escaped
            url = safe_url_string(url)
            where = f"redirected to {url[:200]}: " if hop else ""
            why = link_refusal(url, _PAGE, rules, own="this page's own origin")     # (the crawl's own check)
            if why is not None:
                raise FetchError(f"{where}{why}")
            status, reason, headers, body = await _get(url, rules, crawl, where)
            location = headers.get("location")
            if status in _REDIRECTS and location:
                url = urljoin(url, location.strip())
                continue
            if status >= 300:      # (a redirect without a Location is an answer without the page, as in a crawl)
                raise FetchError(f"{where}HTTP {status} {reason}")
            return _decoded(body, headers, crawl.max_size, where), headers.get("content-type"), url
    raise FetchError(f"more than {MAX_REDIRECTS} redirects (the last to {url[:200]})")


def _proxy_for(url: str) -> str | None:
    """The proxy Scrapy's HttpProxyMiddleware would use for this URL (from the environment), or None."""
    parts = urlsplit(url)
    proxy = getproxies().get(parts.scheme)
    if proxy and parts.hostname and not proxy_bypass(parts.hostname):
        return proxy
    return None


async def _addresses(host: str, port: int, where: str) -> list[str]:
    """The addresses to connect to (in turn) for a request that may reach public addresses only: every address
    the name resolves to is checked, as the crawl's resolver checks its answer."""
    try:
        answer = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as e:
        raise FetchError(f"{where}cannot resolve {host}: {e}") from None
    addresses = list(dict.fromkeys(str(a[4][0]) for a in answer))
    why = next((r for r in map(refusal, addresses) if r), None)
    if why or not addresses:
        raise FetchError(f"{where}refused, {why or f'{host} has no address'} and not this page's own origin "
                         f"(see block_private_networks)")
    return addresses


async def _get(url: str, rules: _Rules, crawl: Any, where: str) -> tuple[int, str, Any, bytes]:
    """One request to this URL, its address checked first when it may reach public addresses only."""
    import httpx
    from scrapy.downloadermiddlewares.httpcompression import ACCEPTED_ENCODINGS

    headers = {"User-Agent": crawl.user_agent, "Accept-Encoding": b", ".join(ACCEPTED_ENCODINGS).decode()}
    extensions: dict[str, Any] = {}
    proxy = _proxy_for(url)
    try:
        targets = [httpx.URL(url)]
        if proxy:
            why = proxied_refusal(url, _PAGE, rules)
            if why:
                raise FetchError(f"{where}refused, {why} and not this page's own origin (see block_private_networks)")
        elif target_decision(url, _PAGE, rules) == PUBLIC:     # connect to the checked addresses, not the name
            name = targets[0]
            host = name.raw_host.decode("ascii")
            addresses = await _addresses(host, name.port or (443 if name.scheme == "https" else 80), where)
            headers["Host"] = name.netloc.decode("ascii")
            extensions["sni_hostname"] = host
            targets = [name.copy_with(host=a) for a in addresses]
        for target in targets[:-1]:      # (an address that cannot be connected to: the next one, as a resolver's)
            try:
                return await _read(target, proxy, headers, extensions, crawl, where)
            except httpx.ConnectError:
                pass
        return await _read(targets[-1], proxy, headers, extensions, crawl, where)
    except (httpx.HTTPError, httpx.InvalidURL) as e:
        raise FetchError(f"{where}cannot fetch: {type(e).__name__}: {e}") from None


async def _read(target: Any, proxy: str | None, headers: dict[str, str], extensions: dict[str, Any], crawl: Any,
                where: str) -> tuple[int, str, Any, bytes]:
    """One request, no redirect followed: status, reason, headers and the raw body (to `max_size`; not read for a
    redirect)."""
    import httpx

    async with httpx.AsyncClient(trust_env=False, proxy=proxy, follow_redirects=False, timeout=crawl.timeout) as client:
        answered = False
        try:
            async with client.stream("GET", target, headers=headers, extensions=extensions) as r:
                answered = True
                too_many = _headers_over(r)
                if too_many:
                    raise FetchError(f"{where}{too_many}")
                if r.status_code in _REDIRECTS:
                    return r.status_code, r.reason_phrase, r.headers, b""
                declared = r.headers.get("content-length", "")
                if declared.isdigit() and int(declared) > crawl.max_size:
                    raise FetchError(f"{where}{over_size(crawl.max_size)}")
                chunks, size = [], 0
                async for chunk in r.aiter_raw():
                    size += len(chunk)
                    if size > crawl.max_size:
                        raise FetchError(f"{where}{over_size(crawl.max_size)}")
                    chunks.append(chunk)
                return r.status_code, r.reason_phrase, r.headers, b"".join(chunks)
        except httpx.RemoteProtocolError as e:
            # before any response, h11's limit on what it holds of a head unended (httpcore's 100 KB): headers past
            # the crawl's limit
            if not answered and "Receive buffer too long" in str(e):
                raise FetchError(f"{where}{headers_over_size()}") from None
            raise


def _headers_over(r: Any) -> str | None:
    """Why the response's headers are past the crawl's limits, counted as the crawl counts them (each line with its
    CRLF; a header h11 unfolded counted as one line), or None."""
    raw = r.headers.raw
    size = len(f"{r.http_version} {r.status_code} {r.reason_phrase}") + 2 + sum(len(k) + len(v) + 4 for k, v in raw) + 2
    if size > HEADERS_MAX:
        return headers_over_size()
    if len(raw) + 2 > HEADER_LINES_MAX:
        return headers_over_lines()
    return None


def _decoded(body: bytes, headers: Any, max_size: int, where: str) -> bytes:
    """The body decoded from its Content-Encoding(s) to `max_size` bytes over every layer, by the decoders Scrapy's
    HttpCompressionMiddleware runs in a crawl (an encoding it does not know is left as it is, as there), and as a
    crawl does it (`middlewares.decode_body`: more than `MAX_ENCODINGS` refused, nothing decoded)."""
    from scrapy.utils._compression import _DecompressionMaxSizeExceeded

    encodings = [v.encode("latin-1") for v in headers.get_list("content-encoding")]
    try:
        return decode_body(body, encodings, max_size)[0]
    except TooManyEncodings as e:
        raise FetchError(f"{where}{e}") from None
    except _DecompressionMaxSizeExceeded:
        raise FetchError(f"{where}{over_size(max_size)}") from None
    except Exception as e:       # zlib.error, OSError, EOFError, brotli's and zstd's errors
        named = b", ".join(e.strip() for e in encodings).decode("latin-1")
        raise FetchError(f"{where}not readable {named} content ({type(e).__name__}: {e})") from None
