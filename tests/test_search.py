"""Full-text search finds exactly the articles that contain a term: 2, 3, 4+ Chinese characters, English;
in an SQLite store (FTS5) and in a PostgreSQL one (a tsvector) alike."""

import json

import pytest

from regwatch.pipeline.classify import Classifier, load_topics
from regwatch.pipeline.process import Processor
from regwatch.pipeline.searchtext import QueryError
from regwatch.pipeline.store import Store
from regwatch.service.queries import search

DOCS = [
    ("征信修复骗局频发", "不法中介宣称可以修复征信，收取高额费用。"),
    ("小贷公司牌照被注销", "多地地方金融管理局注销小额贷款公司试点资格。"),
    ("消费金融利率上限", "Licensed consumer finance companies must keep pricing below the 20% cap."),
    ("央行发布一次性信用修复政策", "符合条件的逾期信息不予展示，个人征信记录得以修复。"),
]


def processed(store, docs, prefix: str, *sources: str):
    """`store` with `docs` (title, body) processed as Chinese articles: the i-th at `prefix`i, from `sources` in turn."""
    p = Processor(store, Classifier(load_topics()))
    for i, (t, b) in enumerate(docs):
        p.process(url=f"{prefix}{i}", source=sources[i % len(sources)], title=t, body=b, lang="zh", published_at=None)
    return store


@pytest.fixture
def store(store_location):          # an SQLite file and a PostgreSQL database: the same results from both
    return processed(Store(store_location), DOCS, "http://x/", "src-b", "src-a")


def urls(rows):
    return sorted(r["url"] for r in rows)


@pytest.mark.parametrize("query,want", [
    ("征信", ["http://x/0", "http://x/3"]),            # two characters: what a trigram index misses
    ("注销", ["http://x/1"]),
    ("小贷公司", ["http://x/1"]),
    ("信用修复政策", ["http://x/3"]),
    ("cap", ["http://x/2"]),
    ('"consumer finance"', ["http://x/2"]),
    ("征信 AND 骗局", ["http://x/0"]),
    ("征信 OR 注销", ["http://x/0", "http://x/1", "http://x/3"]),
    ("征信 NOT 骗局", ["http://x/3"]),
    ("征修", []),                                      # not a substring anywhere
    ("徵信", ["http://x/0", "http://x/3"]),            # Traditional script: 徵 is a GB2312 character too
    ("徵信 AND 騙局", ["http://x/0"]),
])
def test_terms_find_exactly_the_articles_that_contain_them(store, query, want):
    assert urls(search(store, query)) == want


def test_traditional_text_is_found_by_either_script(store):
    """A query is normalized as the indexed text is: Traditional → Simplified, even in a line whose
    characters are all in GB2312 (徵, 後, 於 are), as keywords and topics read it."""
    p = Processor(store, Classifier(load_topics()))
    p.process(url="http://x/t", source="src-t", title="徵信机构名单", body="於今日公布後生效", lang="zh", published_at=None)
    for query in ("征信机构", "徵信机构", "公布后", "公布後", "于今日"):
        assert urls(search(store, query, source="src-t")) == ["http://x/t"], query


def test_filters_combine(store):
    assert urls(search(store, "修复", source="src-b")) == ["http://x/0"]
    assert urls(search(store, "修复", topic="credit_repair")) == ["http://x/0", "http://x/3"]


def test_result_has_snippet_topics_and_story_size(store):
    r = search(store, "征信")[0]
    assert "[征信]" in r["snippet"] and r["story_size"] == 1 and isinstance(r["topics"], list)


@pytest.mark.parametrize("bad", ['"unbalanced', "(征信", "AND", "   ", "征信 AND OR 骗局", "征信 (AND 骗局)"])
def test_malformed_queries_are_a_clear_error(store, bad):
    with pytest.raises(QueryError):
        search(store, bad)


@pytest.mark.parametrize("bad", ["NOT 征信", "征信 OR NOT 骗局", "征信 (NOT 骗局)", "(NOT 骗局) 征信"])
def test_a_not_without_a_word_before_it_is_refused_by_both_engines(store, bad):
    """`a NOT b` is a without b; a NOT with nothing before it would list every article without a word (FTS5
    cannot; PostgreSQL could): both engines refuse it, saying how NOT is written."""
    with pytest.raises(QueryError, match="NOT needs a word before it"):
        search(store, bad)


def test_cli_search_json_and_bad_query(tmp_path, rw, store):
    cfg = tmp_path / "c.toml"
    key = "url" if "://" in getattr(store, "url", "") else "path"
    cfg.write_text(f'[store]\n{key} = "{getattr(store, key)}"\n', encoding="utf-8")
    r = rw("search", "征信", "--json", "-c", cfg)
    rows = [json.loads(line) for line in r.stdout.splitlines()]
    assert len(rows) == 2 and {"url", "title", "source", "published_at", "topics", "story_id", "snippet"} <= set(rows[0])
    r = rw("search", '"oops', "-c", cfg)
    assert r.returncode == 2 and "unbalanced quote" in r.stderr and "Traceback" not in r.stderr


def test_accents_fold_alike_in_the_query_and_the_text(store):
    """PostgreSQL folds the query's terms as the tsvector's (and as FTS5's remove_diacritics does)."""
    p = Processor(store, Classifier(load_topics()))
    p.process(url="http://x/e", source="src-e", title="Café lending", body="Crédit à la consommation", lang="en",
              published_at=None)
    for query in ("café", "cafe", "CAFÉ", "credit", "crédit", '"crédit à la"'):
        assert urls(search(store, query, source="src-e")) == ["http://x/e"], query


MIXED = [("A股三大指数集体收涨", "沪深两市成交额放大，P2P网贷板块领涨，港股通资金净流入。"),
         ("B股市场观察", "H股 与 A股 的价差收窄；部分3C产品以旧换新。"),
         ("TA股东大会", "公司召开股东大会。")]


@pytest.fixture
def mixed(store):
    return processed(store, MIXED, "http://m/", "src-m")


@pytest.mark.parametrize("query,want", [
    ("A股", ["http://m/0", "http://m/1"]),          # a Latin letter and one Chinese character: 股 starts 股三 in A股三大
    ("a股", ["http://m/0", "http://m/1"]),
    ("Ａ股", ["http://m/0", "http://m/1"]),         # full width, as the text is normalized
    ("B股", ["http://m/1"]),
    ("H股", ["http://m/1"]),
    ("A股三大", ["http://m/0"]),
    ("P2P网", ["http://m/0"]),
    ("P2P网贷", ["http://m/0"]),
    ("3C产品", ["http://m/1"]),
    ("A股 AND 港股", ["http://m/0"]),
    ('"A股 与"', []),                                # a phrase: 股 then 与, not A股 followed by 与
    ("A股 NOT 网贷", ["http://m/1"]),
    ("C股", []),                                     # no such term
    ("TA股", ["http://m/2"]),                        # Latin words are whole words: A股 is not in TA股
])
def test_latin_joined_to_one_chinese_character_is_found(mixed, query, want):
    assert urls(search(mixed, query, source="src-m")) == want


def test_one_chinese_character_before_latin_is_refused_with_the_reason(mixed):
    with pytest.raises(QueryError, match=r"\(股a\).*pairs of characters"):
        search(mixed, "股A")


def test_datasette_canned_search_finds_what_search_finds_and_says_why_not(tmp_path):
    """`make browse`'s canned `search` query: the same terms as `regwatch search`; a query it cannot search
    (one Chinese character) answers with the reason as its one row, not an empty table."""
    import asyncio
    from pathlib import Path

    import yaml
    from datasette.app import Datasette

    root = Path(__file__).resolve().parent.parent
    processed(Store(tmp_path / "rw.db"), DOCS + MIXED, "http://d/", "src-d")
    ds = Datasette([str(tmp_path / "rw.db")], metadata=yaml.safe_load((root / "deploy/datasette/metadata.yml").read_text()),
                   plugins_dir=str(root / "deploy/datasette/plugins"))

    async def canned(q):
        r = await ds.client.get("/rw/search.json", params={"q": q, "_shape": "objects"})
        assert r.status_code == 200, r.text
        return r.json()["rows"]

    async def go():
        assert [r["url"] for r in await canned("徵信")] == ["http://d/3", "http://d/0"]   # newest first
        assert sorted(r["url"] for r in await canned("A股")) == ["http://d/4", "http://d/5"]
        for q in ("罚", "催"):
            rows = await canned(q)
            assert len(rows) == 1 and rows[0]["url"] is None, rows
            assert f"one-character words cannot be searched ({q})" in rows[0]["title"], rows
        assert await canned("") == []                  # the form, before a query: nothing to say
    asyncio.run(go())
