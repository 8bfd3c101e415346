"""robots.txt is fetched once by the daemon and kept for its later crawls (ROBOTS_KEEP), still obeyed by them:
at `every = "1s"` it was fetched again by every crawl (a quarter of a site's requests at 20 s)."""

import signal
import subprocess
import time

from conftest import REGWATCH
from support.news import art, feed_to_webhook_config, publish
from support.servers import Page

OLD = art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 100)
NEW = art("secret", "央行推出一次性信用修复政策", "中国人民银行宣布实施一次性信用修复政策，符合条件的个人逾期记录将不予展示。", 1)


def test_robots_txt_is_fetched_once_across_the_daemons_crawls_and_still_obeyed(tmp_path, site, receiver):
    publish(site, {"feed": [OLD]})
    site.pages["/robots.txt"] = Page(b"User-agent: *\nDisallow: /a/secret\n", ctype="text/plain")
    cfg = feed_to_webhook_config(tmp_path, site, receiver)
    p = subprocess.Popen([REGWATCH, "run", "-c", str(cfg)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.time() + 60
        while time.time() < deadline and len(site.requests("/feed.xml")) < 4:
            time.sleep(0.2)
        publish(site, {"feed": [OLD, NEW]})     # a later crawl finds an article robots.txt forbids
        seen = len(site.requests("/feed.xml"))
        while time.time() < deadline and len(site.requests("/feed.xml")) < seen + 3:
            time.sleep(0.2)
    finally:
        p.send_signal(signal.SIGTERM)
        _, err = p.communicate(timeout=60)
    assert p.returncode == 0, err[-2000:]
    assert len(site.requests("/feed.xml")) >= 7           # seven crawls …
    assert len(site.requests("/robots.txt")) == 1         # … one robots.txt
    assert site.requests("/a/old") and not site.requests("/a/secret")
