"""Every default and limit of regwatch in one place (imported by every layer; imports nothing of ours but the version)."""

from __future__ import annotations

import os
from datetime import datetime

from . import __version__

# -- time -------------------------------------------------------------------------------------
SOURCE_TZ = "Asia/Shanghai"       # a source's times without an offset are read in this zone (`tz`)
DISPLAY_TZ = "Asia/Shanghai"      # every time shown to people (`[display] tz`)
NEVER_RUN = "never run"           # what a source with no run yet is shown as (its stored state is `new`)
DISPLAY_TIME = "%Y-%m-%d %H:%M"   # how a time is shown to people (in chat, the terminal, reports), with its zone's label
_ZONE_NAMES = {"Asia/Shanghai": "北京时间", "Asia/Chongqing": "北京时间", "PRC": "北京时间", "Asia/Hong_Kong": "香港时间",
               "UTC": "UTC", "Etc/UTC": "UTC"}


def display_zone_label(tz: str, when: datetime | None = None) -> str:
    """`北京时间` for Beijing time; `UTC+05:30` style for a zone without a familiar name."""
    if tz in _ZONE_NAMES:
        return _ZONE_NAMES[tz]
    from zoneinfo import ZoneInfo

    off = (when or datetime.now()).astimezone(ZoneInfo(tz)).strftime("%z")
    return f"UTC{off[:3]}:{off[3:]}"


# -- work ------------------------------------------------------------------------------------


def too_slow(seconds: float, key: str) -> str:
    """How every page, list, download or extraction over its time limit is worded (a run's message, `regwatch
    sources`): the limit and the config key that sets it, never a library's own text."""
    return f"took longer than {seconds:g} s (the limit: {key})"


def cores() -> int:
    """The CPU cores this process may run on (its affinity, else the machine's): `crawl.workers`' default."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except (AttributeError, OSError):
        return max(1, os.cpu_count() or 1)


EXTRACT_TIMEOUT = 30.0            # seconds for one page's (or PDF's, or big list's) extraction (`crawl.extract_timeout`)
EXTRACT_TIMEOUTS_PER_RUN = 2      # pages of one source over `extract_timeout` in a run, after which its other pages wait
                                  # for the next run unread (a note): a source of pages too slow to read costs the workers
                                  # so many timeouts a run, never one per page it lists (10 such pages held another
                                  # source's alerts 2 min 40 s, every run)
EXTRACT_MEMORY = 1024**3          # bytes of memory an extraction worker may take (`crawl.extract_memory`)
STORE_BATCH = 32                  # articles stored in one transaction at most (a burst's; one alone waits for no other)
PRUNE_EVERY = 86400.0             # seconds between prunings of the story index (rows older than the window), by
                                  # the daemon (checked at its start and hourly) or `run --once`, whichever comes
PRUNE_CHECK = 3600.0              # seconds between the daemon's checks whether a pruning is due
PRUNE_CHUNK = 20000               # index rows dropped in one transaction (the daemon's loop and other writers go on between)
READ_PAGE = 500                   # articles a command replaying the store (`subscriptions test`, `eval --store`) reads at once
STORE_BATCH_WAIT = 0.02           # seconds an extracted article waits for others to share its transaction
LIMIT_MAX = 1_000_000             # the largest `--limit` a command takes (`search`, `alerts`, `subscriptions test`)
PRIVATE_FILE = 0o600              # mode of a file regwatch creates (the store and its -wal/-shm, a report, a config):
#                                   the store is confidential and configs hold secrets (one that exists keeps its own)
PRIVATE_DIR = 0o700               # mode of a folder regwatch creates (the store's, `demo --keep`'s)
METRICS_IDLE_TIMEOUT = 5.0        # seconds the metrics endpoint waits on a connection's request before closing it
METRICS_MAX_CONNECTIONS = 16      # connections the metrics endpoint serves at once (a thread each); one more is closed at once
STORE_LOCK_WAIT = 30.0            # seconds a store statement waits for another process's lock before it fails (one
                                  # line): SQLite's busy timeout, PostgreSQL's `lock_timeout` for each connection
SQLITE_MIN = (3, 35, 0)           # the oldest SQLite library the store's SQL runs on (`UPDATE … RETURNING`; upserts
                                  # need 3.24): an older one linked into Python is refused when the store opens


# -- the web ----------------------------------------------------------------------------------
USER_AGENT = f"regwatch/{__version__} (+https://github.com/regwatch/regwatch)"
MISSING_GRACE = 86400.0           # seconds an article answering 404/410 is asked again each run before it is skipped
ROBOTS_KEEP = 3600.0              # seconds a site's robots.txt, once fetched, serves the daemon's later crawls
ROBOTS_BYTES = 500 * 1024         # bytes of a robots.txt read (Google's limit, 500 KiB): what follows is ignored, said
                                  # in the run's record (10 MB of wildcard rules took 11.5 s to parse on the event loop)
ROBOTS_RULES = 20_000             # … and no further than its rule that makes this many rules (each counted once for each
                                  # user agent of its group: 1,000 user agents sharing 1,000 rules took 1.2 s to parse) …
ROBOTS_WILDCARD_RULES = 1_000     # … or this many rules with a `*` or `$` (each is searched for in every URL checked:
                                  # 34,000 of them took 0.2 s for each 2,000-character URL)
MAX_REDIRECTS = 5                 # redirects followed for one request (a crawl's, and `regwatch extract URL`'s)
MAX_ENCODINGS = 2                 # content encodings one response may name (`Content-Encoding: gzip, br`), a crawl's and
                                  # `regwatch extract URL`'s; more is refused, never decoded (browsers and curl take one or
                                  # two: 8,000 gzip layers, each within max_size, held the event loop 29 s)
MIN_DELAY = 0.001                 # seconds between requests to one domain at least (`delay = "0s"` keeps per_domain)
HEADERS_MAX = 64 * 1024           # bytes of a response's headers: its status line and header lines, folded continuation
                                  # lines and any 1xx answers before it included (`max_size` counts the body only). One
                                  # line may take all of it. Chrome allows 256 KB, httpx (httpcore) 100 KB, h11 alone and
                                  # Node 16 KB; past it the request fails at once, the connection cut
HEADER_LINES_MAX = 1_000          # … and lines of them (Node's client keeps 2,000 headers, curl fails past 5,000,
                                  # Python's http.client past 100: too few for some real sites)
LIST_INLINE_MAX = 256 * 1024      # bytes of a list page parsed in a thread of the main process (the workers not started
                                  # for it; the event loop keeps turning); a bigger one is parsed in an extraction worker
FEED_NAMESPACES_INLINE = 64       # … and so is a feed declaring more namespaces (`xmlns` written more often) than this:
                                  # feedparser looks through every declared namespace for each element (200 KB of nested
                                  # declarations took 0.7 s); a feed declares a handful (content, dc, atom, media …)
HASH_ROUTE = ("/", "!")            # a listed link's #fragment starting so is a single-page site's route (kept); others dropped
LIST_ENTRIES_MAX = 50_000         # entries read from one list page (a sitemap's own limit); the rest ignored, said so
SITEMAP_DEPTH_MAX = 3             # levels of sitemap indexes under a source's url followed in a run (an index naming
                                  # indexes naming sitemaps is 2); deeper ones not asked, said so
SITEMAP_CHILDREN_MAX = 500        # sitemaps a source's sitemap indexes name that one run asks for, in all (each once);
                                  # the rest not asked that run, said so
MAX_ARTICLES_PER_SOURCE = 1_000   # new articles fetched per source per run unless `max_articles_per_source` says
ATTACHMENT_PAGES = 50            # pages of an attachment PDF whose text is read (the rest not, said in the run)
ATTACHMENT_CHARS = 100_000        # characters of an attachment PDF's text kept (the rest not, said in the run)
TITLE_CHARS = 500                 # characters of an article's title kept (a page's, a feed entry's, a JSON item's), the
                                  # rest cut at a whole character with "…": the longest real ones run ~130 (eval/*.jsonl),
                                  # a hostile <h1> could fill `max_size` and every line `search`/`why`/`export` print
OUTLET_CHARS = 100                # characters of an article's outlet kept (og:site_name, a byline's 来源), cut alike (the
                                  # longest in eval/*.jsonl: 91)
DATE_CHARS = 100                  # a date text longer than this is no date (date parsers are superlinear on a long one)
# control characters web text loses when it is read (an HTML page's, a feed's, a JSON item's alike), before
# anything parses or stores it: the C0 controls but tab, newline and carriage return — what XML 1.0 forbids and
# HTML parsers drop (an ESC of a terminal escape, a BEL). Dropped, never replaced: no U+FFFD in their place
CONTROL_CHARS = "\x00-\x08\x0b\x0c\x0e-\x1f"
# characters of web text never shown live — in a terminal, a chat message, a CSV or JSON output: C0 controls but
# tab, newline and CR; DEL and C1 (ANSI escapes, CSI); bidi controls (U+061C, LRM/RLM, embeddings, overrides,
# isolates); the zero-width space and other invisible formatting (soft hyphen, U+180E, U+2060–2064, the deprecated
# U+206A–206F, the interlinear annotation marks U+FFF9–FFFB); the BOM; the tag characters U+E0000–E007F (invisible
# letters: text smuggled past a reader). Not the zero-width non-joiner and joiner (U+200C, U+200D): they are part of
# the text (Persian and Indic words, emoji sequences such as 👨‍👩‍👧) and can make no markup or mention live
UNSAFE_CHARS = ("\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\xad\u061c\u180e\u200b\u200e\u200f\u202a-\u202e\u2060-\u206f"
                "\ufeff\ufff9-\ufffb\U000e0000-\U000e007f")

# -- delivery ---------------------------------------------------------------------------------
DELIVERY_CONNECT_TIMEOUT = 5.0
SEND_DEADLINE = 30.0              # seconds for one whole request, a slow answer waited for and however slowly it
                                  # trickles (well inside CLAIM_LEASE: no other sender takes a message over while it
                                  # is being sent)
LATE_GRACE = 1.0                  # a send's deadline (or a stop's cut) the event loop reached this much late (held up
                                  # by a store call): the exchange gets this long again, once the loop is free, so an
                                  # answer that arrived meanwhile is read and recorded, never thrown away
CLAIM_LEASE = 90.0                # a message claimed for sending is another sender's again after this (a crash),
                                  # counted from the claim
RECORD_MARGIN = 5.0               # a send's outcome the store cannot take is tried again only while the try can end
                                  # this long before the claim's lease does, the store's longest wait for the call
                                  # (`Store.finish_wait`) counted in; past that, another sender may take the message
                                  # over, and send it again. SEND_DEADLINE + finish_wait + RECORD_MARGIN < CLAIM_LEASE
                                  # on every engine (tests/test_delivery.py): a full-length send still has its answer
                                  # recorded within the lease
PACE_WINDOW = 60.0                # platforms' "per minute" limits are counted over this many seconds
PACE_MARGIN = 0.25                # seconds added so that a window never opens early on the platform's clock
SHORT_WAIT = 1.5                  # a channel waits this long in place for its pacing; longer, it is rescheduled
PROBE_CLAIM = " (probe)"          # ends the `claimed_by` of a message claimed as a failing channel's probe
PROBE_LOOK = 1.0                  # while a failing channel's probe is out (another sender's), its other messages are
                                  # asked for again this often (at most SHORT_WAIT: waited in place)
BUSY_LOOK = 2.0                   # while a channel's send is in flight, the outbox is looked at this often for new
                                  # alerts and the other channels
ALSO_SHOWN = 5                    # outlets named in a message's "另见" (each item's of a digest); the rest counted: 等 N 家
ALSO_IN_EVENT = 20                # … named in a webhook event's `also_reported_by` (`also_reported_count` counts all)
TERM_SHOWN = 24                   # characters of a matched word shown in a message's topics; a longer match is left out
HOLD_MIN = 1.0                    # alerts a full channel cannot take wait at least this long before they are composed
FAILING_HOLD = 300.0              # alerts to a failing channel wait uncomposed at most this long (then go as digests)
BACKOFF_CAP = 3600.0              # retries wait 2, 4, 8 … seconds, at most this
RATE_LIMIT_DEFAULT_WAIT = 60.0    # a rate-limit answer without Retry-After
ERROR_CHARS = 300                 # a platform's or a page's error text kept in the store
ERROR_SHOWN = 160                 # … of which a source's last error shown in a table (`sources`, `report`)
MIN_SECRET = 4                    # a shorter value is never masked alone (`1` or `json` masked everywhere garbles text)
RESEND_WINDOW = 7 * 86400.0       # a recovered channel gets again what it refused while broken, this far back
DAEMON_IDLE = 30.0                # the delivery loop looks at the outbox at least this often
STOP_DELIVERY_WAIT = 5.0          # on SIGTERM, due alerts get this long to go out
STOP_CUT_RETRY = 30.0             # a send a stop cut off is retried no sooner than this (and its backoff): not by that
                                  # stop's own last pass (STOP_DELIVERY_WAIT) to the endpoint that just failed to answer,
                                  # but by the next start or another worker (the platform may have had it: twice at most)
CUT_SEND_BEFORE_CUT_AT = "cut off by regwatch's stop before the platform answered (it may have had the message)"
                                  # how a store of before `cut_at` (SQLite m13, PostgreSQL p4) told a cut send: by this
                                  # error text, from which those steps mark its cut sends (never to change)
CUT_SEND = CUT_SEND_BEFORE_CUT_AT # a cut send's recorded error, for users (the store knows a cut send by its `cut_at`)
POOL_START_WAIT = 10.0            # at exit, seconds to let extraction workers still starting come up (then stopped)
EARLY_STOP_WAIT = 10.0            # a stop signal while `run --once` starts: it ends by then even if still starting
                                  # (the store's open waiting on a lock), with the stop line, exit 128 + the signal
STOP_GRACE = 5.0                  # on SIGTERM, articles in hand get this long to be stored before work is cut off
STOP_CRAWLS = 15.0                # on SIGTERM, the daemon's crawls get this long to stop, then are cancelled …
STOP_CANCELLED = 5.0              # … and get this long to end once cancelled

# -- several workers on one store -------------------------------------------------------------
WORKER_LEASE = 60.0               # a worker's lease on a source it crawls (`[worker] lease`), renewed every third of it
DUE_SLACK = 0.25                  # a claim this fraction of its interval before its cycle's step counts for it (timers drift) …
DUE_SLACK_MAX = 30.0              # … but at most this many seconds early
CLOCK_TOLERANCE = 1.0            # seconds this host's clock may differ from a PostgreSQL store's server before regwatch
                                  # keeps the store's times by the server's clock instead (and says so)
PG_POOL_SIZE = 4                  # connections a process keeps to a PostgreSQL store
PG_CONNECT_TIMEOUT = 10           # seconds to connect to it
PG_POOL_WAIT = 30.0               # seconds a call waits for one of the pool's connections (all busy, or being made
                                  # again after the server went away) before it fails
PG_FINISH_STATEMENT = 5.0         # seconds each statement recording a send's outcome may take (its
                                  # `statement_timeout`: a row another worker holds is not waited for longer)
PG_FINISH_ANSWER = PG_FINISH_STATEMENT + 1.0  # … and how long regwatch waits for its answer before it cuts the
                                  # connection (a network partition; the server's own error comes first when it can)
PG_IDLE_IN_TRANSACTION = 60.0     # seconds a session may sit idle inside a transaction before the server ends it (a
                                  # hung worker holding a lock the others wait for)
PG_KEEPALIVE_IDLE = 30            # seconds of silence before the server probes a worker's connection (3 probes)
PG_ANSWER_WAIT = 60.0             # seconds a statement waits for the server's answer before its connection is cut
                                  # and the call fails (a network partition; TCP alone never ends it when a proxy or
                                  # load balancer still answers): past `lock_timeout`'s 30 s and the slowest statement
