"""The bundled source pack: each real source's config reads a response shaped like the real one.
When a site changes, the test that names it fails."""

from datetime import datetime
from pathlib import Path

import pytest

from regwatch.crawler.kinds import parser_for
from regwatch.crawler.kinds.jsonapi import detail_body
from regwatch.service.source_packs import load_source_pack

FIX = Path(__file__).parent / "fixtures" / "sources"
PACK = {s.name: s for s in load_source_pack("cn-finance")}

NFRA = {"nfra-jianguan-dongtai": "915", "nfra-zhengce-fagui": "926", "nfra-gonggao-tongzhi": "925",
        "nfra-xingzheng-chufa": "931", "nfra-xiaofeizhe-baohu": "4097"}
EXPECT = {
    **{name: (f"nfra-{col}.json", f"https://www.nfra.gov.cn/cn/view/pages/ItemDetail.html?docId=1200001&itemId={col}",
              None, "2025-04-11T17:30:00+08:00", 2) for name, col in NFRA.items()},
    "pbc-xinwen-fabu": ("pbc-xinwen-fabu.html", "http://www.pbc.gov.cn/goutongjiaoliu/113456/113469/5612345/index.html",
                        "中国人民银行发布一次性信用修复政策", None, 2),
    "pbc-zhengce-yanjiu": ("pbc-zhengce-yanjiu.html", "http://www.pbc.gov.cn/redianzhuanti/118742/4122386/4122510/5600001/index.html",
                           "关于规范发展消费金融的研究", None, 2),
    "csrc-yaowen": ("csrc-yaowen.html", "http://www.csrc.gov.cn/csrc/c100028/c7512345/content.shtml",
                    "证监会依法对某证券公司作出行政处罚", None, 2),
    "sina-finance-roll": ("sina-finance-roll.json", "https://finance.sina.com.cn/roll/2025-12-22/doc-inhaaaaa1.shtml",
                          "多家消金公司下调贷款利率", "2025-12-22T07:41:00+00:00", 2),
    "wallstreetcn-news": ("wallstreetcn-news.json", "https://wallstreetcn.com/articles/3761234",
                          "助贷新规落地首月：银行收缩合作", "2025-12-22T07:41:00+00:00", 2),
    "yicai-latest": ("yicai-latest.json", "https://www.yicai.com/news/102950001.html", "金融监管总局：严禁暴力催收",
                     "2025-12-22T15:41:00+08:00", 2),
    "chinadaily-business": ("chinadaily-business.xml", "http://www.chinadaily.com.cn/a/202512/22/WS6948a1b2a310d6866eb2f001.html",
                            "Regulator tightens rules on loan facilitation", "2025-12-22T07:41:00+00:00", 2),
    "caixin-global-news": ("caixin-global-news.xml",
                           "https://www.caixinglobal.com/2025-12-22/consumer-lenders-cut-rates-under-new-cap-102394001.html",
                           "Consumer lenders cut rates under new cap", "2025-12-22T01:10:00+00:00", 2),
}


def test_the_pack_has_a_dozen_real_sources_each_with_a_fixture():
    assert len(PACK) >= 12
    assert set(PACK) == set(EXPECT), "every bundled source needs its recorded response and expectations here"
    assert all(s.note for s in PACK.values())


@pytest.mark.parametrize("name", sorted(EXPECT))
def test_source_reads_its_recorded_response(name):
    src = PACK[name]
    fixture, url, title, when, count = EXPECT[name]
    entries = parser_for(src.kind)((FIX / fixture).read_bytes(), src.url, src, None)
    assert len(entries) == count
    first = entries[0]
    assert first.url == url
    if title:
        assert first.title == title
    if when:
        assert first.published_at.timestamp() == datetime.fromisoformat(when).timestamp()


def test_nfra_detail_document_and_attachment():
    src = PACK["nfra-xingzheng-chufa"]
    entries = parser_for("json")((FIX / "nfra-931.json").read_bytes(), src.url, src, None)
    assert entries[0].detail_url == "https://www.nfra.gov.cn/cn/static/data/DocInfo/SelectByDocId/data_docId=1200001.json"
    assert entries[0].attachment_url == "https://www.nfra.gov.cn/chinese/docfile/2025/1200001.pdf"
    assert entries[1].attachment_url is None
    html, _, _ = detail_body((FIX / "nfra-detail.json").read_bytes(), "application/json", src)
    assert "名单制管理" in html


def test_wallstreetcn_skips_ads_and_reads_the_article_json():
    src = PACK["wallstreetcn-news"]
    entries = parser_for("json")((FIX / "wallstreetcn-news.json").read_bytes(), src.url, src, None)
    assert all("ad.example" not in e.url for e in entries)
    assert entries[0].detail_url == "https://api-one.wallstcn.com/apiv1/content/articles/3761234?extract=0"
    html, _, _ = detail_body((FIX / "wallstreetcn-detail.json").read_bytes(), "application/json", src)
    assert "合作机构名单" in html


def test_pbc_asks_by_post():
    assert PACK["pbc-xinwen-fabu"].method == "POST" and PACK["pbc-xinwen-fabu"].extract.body == "#zoom"


def test_users_can_exclude_and_override_bundled_sources(tmp_path):
    from regwatch.service.config import load_config
    p = tmp_path / "c.toml"
    p.write_text('source_packs = ["cn-finance"]\nexclude_sources = ["yicai-latest"]\n'
                 '[[sources]]\nname = "sina-finance-roll"\nkind = "feed"\nurl = "http://127.0.0.1:9/mine.xml"\n',
                 encoding="utf-8")
    cfg = load_config(p)
    names = [s.name for s in cfg.sources]
    assert "yicai-latest" not in names and names.count("sina-finance-roll") == 1
    assert cfg.source("sina-finance-roll").kind == "feed"


def test_sources_pack_command_lists_them(rw):
    r = rw("sources", "--pack", "--json")
    assert r.returncode == 0 and r.stdout.count("\n") >= 12
