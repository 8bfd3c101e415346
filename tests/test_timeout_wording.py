"""A page over `crawl.timeout` is worded as regwatch's other limits are (`took longer than 1 s (the limit: timeout)`,
the wording's one home `defaults.too_slow`), not in Scrapy's words (`Getting http://… took longer than 1.0 seconds.`)."""

import json

from support.config import write_config
from support.news import art, feed, publish
from support.servers import trickling

OLD = art("old", "银行发布年度报告", "某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定。", 100)
NEW = art("hung", "消费金融利率上限下调", "监管部门要求持牌消费金融公司新发放贷款的综合融资成本压降至20%以内。", 2)


def test_a_timed_out_page_is_worded_as_regwatch_words_its_limits(tmp_path, site, rw):
    publish(site, {"feed": [OLD]})
    cfg = write_config(tmp_path, crawl={"timeout": "1s"},
                       sources=[{"name": "feed", "kind": "feed", "url": f"{site.url}/feed.xml"}])
    assert rw("run", "--once", "-c", cfg).returncode == 0           # the baseline
    site.pages["/feed.xml"] = feed(site, [OLD, NEW])
    site.pages["/a/hung.html"] = trickling(20, every=0.5)
    assert rw("run", "--once", "-c", cfg).returncode == 0
    row = json.loads(rw("sources", "--json", "-c", cfg).stdout.splitlines()[0])
    assert row["last_error"] == f"{site.url}/a/hung.html: took longer than 1 s (the limit: timeout)", row
    shown = rw("sources", "-c", cfg).stdout
    assert "Getting" not in shown and "seconds." not in shown, shown
