"""Scrapy settings for regwatch's crawls, from the user's `[crawl]` config.

Script settings do not inherit a project template's politeness, so it is all set here:
robots.txt, per-domain concurrency and delay, timeouts well under Scrapy's 180 s default, size
caps, only http(s) to allowed addresses, and no listeners (the 2.19 remote-control server and the telnet console are off).
"""

from __future__ import annotations

from typing import Any

from scrapy.settings import default_settings

from ..defaults import MAX_REDIRECTS, MIN_DELAY

MW = "regwatch.crawler.middlewares"
CONTEXT = "REGWATCH_CRAWL"   # the setting that hands a crawl's CrawlContext to its components
GUARDED = "regwatch.crawler.netguard.GuardedHTTPDownloadHandler"


def crawl_settings(crawl) -> dict[str, Any]:
    return {
        "BOT_NAME": "regwatch",
        "USER_AGENT": crawl.user_agent,
        "ROBOTSTXT_OBEY": crawl.obey_robots,
        "ROBOTSTXT_USER_AGENT": crawl.user_agent,
        # Protego on the first 500 KiB of a robots.txt, and on no more rules than it can check at once (ROBOTS_RULES)
        "ROBOTSTXT_PARSER": f"{MW}.BoundedRobotParser",
        "CONCURRENT_REQUESTS": crawl.concurrency,
        "CONCURRENT_REQUESTS_PER_DOMAIN": crawl.per_domain,
        # never 0: Scrapy (2.19) dispatches a slot's whole queue at once when its delay is 0, per_domain or not
        "DOWNLOAD_DELAY": max(crawl.delay, MIN_DELAY),
        "DOWNLOAD_DELAY_JITTER": 0.5,
        "DOWNLOAD_TIMEOUT": crawl.timeout,
        "DOWNLOAD_MAXSIZE": crawl.max_size,
        "DOWNLOAD_WARNSIZE": 0,
        "REDIRECT_MAX_TIMES": MAX_REDIRECTS,
        "RETRY_ENABLED": True,
        "RETRY_TIMES": 1,
        # a timeout is not retried: `timeout` is how long a request may take, not half of it
        "RETRY_EXCEPTIONS": [e for e in default_settings.RETRY_EXCEPTIONS
                             if e != "scrapy.exceptions.DownloadTimeoutError"],
        "COOKIES_ENABLED": True,
        "TELNETCONSOLE_ENABLED": False,
        "REMOTE_CONTROL_ENABLED": False,
        "LOG_ENABLED": False,
        "LOG_LEVEL": "ERROR",
        "STATS_DUMP": False,
        "HTTPCACHE_ENABLED": False,
        # only the web: http and https through the guarded handler (addresses checked where the
        # connection is made, see netguard), and no file:, data:, ftp: or s3: at all
        "DOWNLOAD_HANDLERS": {"http": GUARDED, "https": GUARDED, "file": None, "data": None, "ftp": None, "s3": None},
        "DOWNLOADER_MIDDLEWARES": {
            "scrapy.downloadermiddlewares.offsite.OffsiteMiddleware": None,      # no allowed_domains
            "scrapy.downloadermiddlewares.httpauth.HttpAuthMiddleware": None,    # no spider credentials
            "scrapy.downloadermiddlewares.stats.DownloaderStats": None,
            # robots.txt kept across crawls for a while (ROBOTS_KEEP), not fetched again by each one
            "scrapy.downloadermiddlewares.robotstxt.RobotsTxtMiddleware": None,
            f"{MW}.KeptRobotsTxtMiddleware": 100,
            f"{MW}.PrivateNetworkMiddleware": 90,
            f"{MW}.RedirectSchemeMiddleware": 610,   # sees a 3xx before Scrapy's RedirectMiddleware (600)
            f"{MW}.ProxiedTargetMiddleware": 760,   # after Scrapy's HttpProxyMiddleware (750) sets meta["proxy"]
            f"{MW}.SeenUrlMiddleware": 95,
            f"{MW}.ConditionalGetMiddleware": 560,
            f"{MW}.GuardMiddleware": 580,  # after decompression and redirects
            f"{MW}.GzipListMiddleware": 585,  # a .xml.gz list, before the guard sees it
            # Scrapy's decompression, its size limit said in regwatch's words
            "scrapy.downloadermiddlewares.httpcompression.HttpCompressionMiddleware": None,
            f"{MW}.SizedHttpCompressionMiddleware": 590,
        },
        # Scrapy's components that regwatch does not use cost CPU on every request: off. (Kept: robots.txt,
        # timeouts, retries, meta refresh, decompression with its size limits, redirects with their checks,
        # cookies, proxies, the URL length limit, HTTP errors, referers.)
        "SPIDER_MIDDLEWARES": {"scrapy.spidermiddlewares.depth.DepthMiddleware": None,
                               "scrapy.spidermiddlewares.metacopy.MetaCopyDetectionMiddleware": None},
        "STATS_CLASS": "scrapy.statscollectors.DummyStatsCollector",
        "ITEM_PIPELINES": {"regwatch.crawler.pipelines.ProcessPipeline": 100},
        # none of Scrapy's extensions (telnet and remote consoles, stats, log counts, memory checks, feed
        # exports, AutoThrottle …): their base list emptied, not each one set to None in EXTENSIONS — Scrapy
        # imports every key named there to normalize it (the remote console alone imports aiohttp: ~0.25 s of
        # CPU in every run)
        "EXTENSIONS_BASE": {},
        # items of one response processed at once: Scrapy starts this many tasks for every response (an
        # article page yields one item); a list carrying its articles' text still stores them in batches
        "CONCURRENT_ITEMS": 4,
        # Scrapy's check of each callback's source (inspect + ast) misses its cache for bound methods:
        # ~1 ms of CPU per list page; the spider's callbacks return nothing
        "WARN_ON_GENERATOR_RETURN_VALUE": False,
        "DNS_TIMEOUT": 10,
        "TWISTED_REACTOR": "twisted.internet.asyncioreactor.AsyncioSelectorReactor",
    }
