"""Host spellings that parsers read differently: refused wherever a URL is taken (a crawl's every request, `regwatch
extract URL`, a source's configured URL when the config is loaded). Standard library only (and w3lib, Scrapy's URL
reading, when a host is not ASCII): the config imports it."""

from __future__ import annotations

import unicodedata
from urllib.parse import urlsplit

# the dots IDNA (UTS-46, as Scrapy's requests encode a host) reads as '.': NFKC makes U+FF0E one, U+FF61 U+3002
_IDEOGRAPHIC_DOT = str.maketrans({"\u3002": "."})


def as_fetched(host: str) -> str:
    """The host spelt as the fetcher will read it: fullwidth letters, digits and dots (`ｅｘａｍｐｌｅ。com`,
    `127.0.0.1．．`) mapped as UTS-46 maps them, in lower case; an ASCII host as it is (lower case)."""
    if host.isascii():
        return host.lower()
    return unicodedata.normalize("NFKC", host).translate(_IDEOGRAPHIC_DOT).lower()


def bare_host(host: str) -> str:
    """The host as every check reads it: without its trailing dot (`example.com.`, a name written fully qualified).
    One with more than one is refused (`spelling_refusal`): a check that removed them all and one that removed one
    read `010.0.0.1..` differently."""
    return host.removesuffix(".")


def spelling_refusal(host: str) -> str | None:
    """Why a host is spelt so that parsers disagree on where it leads, else None: a `%` (no host name has one; a proxy
    or a URL parser that percent-decodes hosts, as WHATWG's and Go's do, reads `127%2e0%2e0%2e1` as 127.0.0.1), more
    than one trailing dot (no host name has an empty label; parsers strip one, all, or none), an IPv4 address with
    a trailing dot (`127.0.0.1.`: an address to browsers, a name the resolver is asked for to others), or one with
    a part in hex or with a leading zero (`0x7f.1`, `010.0.0.1`: octal to inet_aton and most resolvers, 10.0.0.1 to
    others, invalid to Python's `ipaddress`)."""
    if "%" in host:
        return "is not a valid host name (a '%' in it)"
    if host.endswith(".."):
        return "is not a valid host name (more than one trailing dot)"
    parts = bare_host(host).split(".")
    numeric = host.isascii() and all(p.isdigit() or (p[:2] == "0x" and all(c in "0123456789abcdef" for c in p[2:]))
                                     for p in parts)
    if numeric and any(p[:2] == "0x" or (len(p) > 1 and p[0] == "0") for p in parts):
        return "is an ambiguous IP address (a part in hex or with a leading zero, read differently by different parsers)"
    if numeric and host.endswith("."):
        return "is an IP address with a trailing dot (a name to some parsers and resolvers, the address to others)"
    return None


def host_refusal(url: str) -> str | None:
    """Why a URL's host is refused, read as the fetcher reads it (`as_fetched`), else None: `spelling_refusal`'s
    reasons, or one IDNA cannot encode (a bidi override in it; spelt as a crawl's request spells it, Scrapy's
    `Request`). A source's URL when the config is loaded, and a crawl's or `regwatch extract URL`'s request whose
    host is not ASCII: refused alike, in the same words."""
    host = urlsplit(url).hostname or ""
    why = spelling_refusal(as_fetched(host))       # fullwidth dots and digits judged as the fetcher reads them
    if why is None and not host.isascii():
        from w3lib.url import safe_url_string

        try:
            fetched = urlsplit(safe_url_string(url)).hostname or ""
        except (ValueError, UnicodeError):
            fetched = host
        if not fetched.isascii():
            why = "is not a valid host name (IDNA cannot encode it)"
    return why
