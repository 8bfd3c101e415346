"""An article's text is normalized once on its way, and every view of it is what normalizing anew gives."""

import random

import pytest
from opencc import OpenCC

import regwatch.pipeline.article as article_mod
from regwatch.pipeline.article import Article
from regwatch.pipeline.classify import Classifier, load_topics
from regwatch.pipeline.normalize import normalize, strip_boilerplate
from regwatch.pipeline.process import Processor
from regwatch.pipeline.searchtext import fts_text
from regwatch.pipeline.store import Store

BODY = """12月22日，中国人民银行发布通知，对符合条件的个人逾期信息实施一次性信用修复。
（本文转载自财经网）
通知明确，单笔金额不超过１万元的逾期信息，借款人在2026年3月31日前足额偿还的，将不予展示。
责任编辑：王小明
业内人士认为，该政策覆盖房贷、消费贷、信用卡等各类信贷产品。"""

LINES = ["（本文转载自财经网）", "责任编辑：王小明", "　　来源：新华社", "【相关阅读】", "分享到：微信", "2024年7月3日 10:30",
         "ＡＢＣ１２３　全角  空格", "轉載自香港經濟日報", "  \t  ", "…⋯㈱", "中国人民银行 央行 国家金融监督管理总局", "",
         "监管部门要求消费金融公司综合融资成本压降至24%以内。", "Loans\u00a0and CAPS", "个人徵信記錄中的逾期記錄將不予展示。"]


def _random_text(rng: random.Random) -> str:
    lines = [rng.choice(LINES) + rng.choice(["", "x" * rng.randint(0, 70), "，续写一句"]) for _ in range(rng.randint(0, 12))]
    text = "\n".join(lines)
    return OpenCC("s2t").convert(text) if rng.random() < 0.3 else text


def test_each_view_is_what_normalizing_anew_gives():
    """Normalized once, line by line: the text without reprint lines, the content hash's text and the
    search index's text are exactly those of normalizing the (stripped) text again."""
    rng = random.Random(11)
    for text in [BODY, "", "\n\n", *(_random_text(rng) for _ in range(400))]:
        a = Article("转载：" + text[:20], text, "附件：" + text[-30:] if rng.random() < 0.5 else "")
        assert a.body_text == normalize(text)
        assert a.stripped == normalize(strip_boilerplate(text))
        assert a.title_text == normalize(a.title)
        assert a.text == normalize(text + ("\n" + a.attachment_text if a.attachment_text else ""))
        assert a.search_title == fts_text(a.title)
        assert a.search_text == fts_text(text + "\n" + a.attachment_text)


def test_an_articles_text_is_normalized_once_on_its_way(tmp_path, monkeypatch):
    """Story, topics, content hash and search index all read one normalization of the body (and of the
    attachment); only the headline is read twice (as written, and without its 转载/独家 marks)."""
    seen = []

    def counting(text):
        seen.append(text)
        return normalize(text)

    monkeypatch.setattr(article_mod, "normalize", counting)
    p = Processor(Store(tmp_path / "rw.db"), Classifier(load_topics()))
    done = p.process(url="http://x/1", source="s", title="央行推出一次性信用修复政策", body=BODY, lang="zh",
                     published_at=None, attachment_text="附件：信用修复问答")
    assert done is not None and done.tags
    assert seen.count(BODY) == 1 and seen.count("附件：信用修复问答") == 1
    assert not [t for t in seen if t not in (BODY, "附件：信用修复问答") and "央行推出一次性信用修复政策" not in t]


def test_an_article_the_worker_read_is_not_normalized_again_in_the_main_process(tmp_path, monkeypatch):
    """With the extraction worker's reading, storing the article (its story, the identical-text check included)
    normalizes none of its text again: the main process does only the store's part."""
    from regwatch.pipeline.process import Incoming
    from regwatch.pipeline.reading import read

    clf = Classifier(load_topics())
    title = "央行推出一次性信用修复政策"
    reading = read(Article(title, BODY), clf)
    seen = []

    def counting(text):
        seen.append(text)
        return normalize(text)

    monkeypatch.setattr(article_mod, "normalize", counting)
    out = Processor(Store(tmp_path / "rw.db"), clf).process_many(
        [Incoming(url="http://x/1", source="s", title=title, body=BODY, lang="zh", published_at=None, reading=reading)])
    assert not isinstance(out[0], Exception) and out[0] is not None and out[0].tags
    assert seen == []


@pytest.mark.parametrize("units", [[], ["a"], list("中国人民银行"), ["loan", "rate", "中", "cap", "2024", "年"] * 50])
def test_shingle_hashes_are_the_indexed_ones(units):
    """The keys in a store stay valid: a shingle's hash is CRC-32 of its units joined by U+001F."""
    import zlib

    if len(units) < 4:
        want = [zlib.crc32("".join(units).encode())] if units else []
    else:
        want = [zlib.crc32("\x1f".join(units[i:i + 4]).encode()) for i in range(len(units) - 3)]
    assert article_mod.shingle_hashes_of(units) == want
