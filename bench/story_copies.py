"""How outlets republish a piece, and how a template notice differs from its twin — for bench/stories.py.

Every function is deterministic for a given piece (seeded by its id), so every run measures the same
copies. A copy keeps the original's facts; a twin changes them.
"""

from __future__ import annotations

import random
import re

from opencc import OpenCC

OUTLETS = ["财经网", "经济观察网", "新浪财经", "证券时报网", "中国证券报·中证网", "第一财经", "21世纪经济报道",
           "中国银行保险报", "金融时报", "每日经济新闻", "界面新闻", "澎湃新闻", "国泰君安证券研究", "财联社"]
EDITORS = ["李华", "王敏", "张伟", "刘洋", "陈静", "赵磊"]
SENTENCE = re.compile(r"[^。！？!?\n]+[。！？!?]?")

# copy editors shorten the regulators' names; they do not rename the banks and firms a story is about
ABBREVIATIONS = [("中国人民银行", "央行"), ("国家金融监督管理总局", "金融监管总局"), ("中国银保监会", "银保监会"),
                 ("中国证监会", "证监会"), ("国务院新闻办公室", "国新办"), ("全国银行间同业拆借中心", "外汇交易中心")]

# another institution of the same kind: a template notice about someone else
OTHER_INSTITUTION = [
    ("中国银行", "建设银行"), ("包商银行", "锦州银行"), ("恒大地产", "融创中国"), ("许家印", "孙宏斌"),
    ("康美药业", "康得新"), ("马兴田", "钟玉"), ("蚂蚁集团", "京东科技"), ("重庆蚂蚁消费金融", "北银消费金融"),
    ("百行征信", "朴道征信"), ("永城煤电", "华晨汽车"), ("中国华融", "中国信达"), ("河南", "安徽"),
    ("重庆银保监局", "天津银保监局"), ("上海证券交易所", "深圳证券交易所"), ("北京证券交易所", "深圳证券交易所"),
    ("禹州新民生村镇银行", "固镇新淮河村镇银行"), ("天安财产保险", "安邦财产保险"), ("潘功胜", "易纲"),
    ("吴清", "易会满"), ("工商银行", "招商银行"), ("科创板", "创业板"), ("创业板", "科创板"), ("财付通", "支付宝"),
]

_FIGURE = re.compile(r"(?<![\d.])(\d+(?:\.\d+)?)(?=\s*(?:%|％|亿元|万元|元|亿|万|个百分点|个基点|家|倍|名|只|部|笔|年))")

_S2T = None


def sentences(text: str) -> list[str]:
    return [s.strip() for s in SENTENCE.findall(text) if s.strip()]


def _rng(item: dict, salt: str) -> random.Random:
    return random.Random(f"{item['id']}/{salt}")


def reprint(item: dict, title: str, body: str) -> tuple[str, str]:
    """Reprint notes: a source line, a byline with the time it went up, credits and disclaimers."""
    rng = _rng(item, "reprint")
    o, e, e2 = rng.choice(OUTLETS), rng.choice(EDITORS), rng.choice(EDITORS)
    y, m, d = (item.get("date", "2024-01-01") + "-01-01").split("-")[:3]
    hh, mm = rng.randint(7, 22), rng.randint(0, 59)
    top = rng.choice([
        f"（本文转载自{o}）", f"来源：{o}", f"本文来源：{o} 作者：{e}", f"原标题：{item['title']}",
        f"{y}-{m}-{d} {hh:02d}:{mm:02d} 来源：{o}", f"{y}年{m}月{d}日 {hh:02d}:{mm:02d}　{o}",
        f"【{o}】", f"{o}讯 记者 {e}", ""])
    bottom = rng.choice([
        f"（责任编辑：{e}）", f"编辑：{e} 审核：{e2}", "声明：本文仅代表作者观点，不构成投资建议。", f"（来源：{o}）",
        "（完）", "【版权声明】本文为转载内容，版权归原作者所有，如有侵权请联系删除。",
        f"文章来源：{o}　阅读量：{rng.randint(1000, 99999)}", f"责编：{e}　校对：{e2}"])
    if top.startswith("【") or top.endswith(f"记者 {e}"):
        body = top + " " + body      # inline, in front of the lead
    elif top:
        body = top + "\n" + body
    return rng.choice(["转载：", "", "", "[转]"]) + title, body + "\n" + bottom


def new_headline(item: dict, body: str) -> str:
    """An editor's own headline: a phrase from the body, dressed up."""
    rng = _rng(item, "headline")
    clauses = [c for s in sentences(body)[1:] for c in re.split(r"[，,；;：:]", s) if 8 <= len(c) <= 22]
    core = rng.choice(clauses) if clauses else item["title"][::-1]
    return (rng.choice(["", "重磅！", "刚刚，", "定了！", "最新！"]) + core.rstrip("。")
            + rng.choice(["", "｜深度", "，影响几何？", "：一文读懂"]))


def drop_lead(body: str) -> str:
    ss = sentences(body)
    lead = ss[0]
    return body[body.index(lead) + len(lead):].lstrip()


def excerpt_70(item: dict, body: str) -> str:
    """About 70% of the text, as aggregators cut it: from the top, cut mid-sentence, from the middle, or the end."""
    rng = _rng(item, "excerpt")
    ss = sentences(body)
    target = 0.7 * len(body)
    how = rng.choice(["head", "head_cut", "middle", "tail"])
    if how == "head_cut":
        return body[: int(target)] + "……"
    if how == "tail":
        ss = ss[::-1]
    start = rng.randint(1, max(1, len(ss) // 3)) if how == "middle" else 0
    out: list[str] = []
    for s in ss[start:] + ss[:start]:
        if sum(map(len, out)) + len(s) / 2 > target:
            break
        out.append(s)
    if how == "tail":
        out = out[::-1]
    return "\n".join(out)


def reorder(item: dict, body: str) -> str:
    """Its sentences in another order (an editor restructures the piece)."""
    rng = _rng(item, "reorder")
    ss = sentences(body)
    for _ in range(5):
        shuffled = ss[:]
        rng.shuffle(shuffled)
        if shuffled != ss or len(ss) < 2:
            break
    out, para = [], []
    for s in shuffled:
        para.append(s)
        if rng.random() < 0.4:
            out.append("".join(para))
            para = []
    return "\n".join(out + (["".join(para)] if para else []))


def light_edits(item: dict, body: str) -> str:
    """A copy editor's touch: regulators' short names, half-width punctuation; a third in Traditional script."""
    global _S2T
    rng = _rng(item, "edits")
    for long_, short in ABBREVIATIONS:
        if rng.random() < 0.7:
            body = body.replace(long_, short)
    body = body.replace("（", "(").replace("）", ")").replace("：", ":")
    if rng.random() < 0.33:
        _S2T = _S2T or OpenCC("s2t")
        body = _S2T.convert(body)
    return body


# what an editor adds around a copy: generic remarks of this field's press, no facts of their own
REMARKS = ["业内人士认为，这一举措释放了积极信号，有助于稳定市场预期。",
           "分析人士表示，相关机构需要尽快调整业务模式，以适应新的监管要求。",
           "专家提醒，投资者应理性看待政策变化，注意防范风险。", "有市场人士指出，后续政策效果仍有待观察。",
           "对此，多位受访人士表示，监管部门的态度十分明确。", "记者注意到，这一话题在社交媒体上引发热议。"]


def commentary(item: dict, body: str) -> str:
    """An editor's own lead-in and closing remarks around the copied text."""
    rng = _rng(item, "remarks")
    a, b, c = rng.sample(REMARKS, 3)
    return a + "\n" + body + "\n" + b + c


def related(item: dict, body: str, others: list[dict]) -> str:
    """Page chrome that extraction kept: a list of related articles (other pieces' headlines, with dates)."""
    rng = _rng(item, "related")
    lines = [f"{o['title']} {o.get('date', '2024-01-01')[:10]}" for o in rng.sample(others, min(3, len(others)))]
    return body + "\n相关阅读：\n" + "\n".join(lines) + "\n分享到：微信 微博 QQ空间"


def sampled_70(item: dict, body: str) -> str:
    """About 70% of the sentences, not all in one run (an editor's cut), in their order."""
    rng = _rng(item, "sampled")
    ss = sentences(body)
    keep = sorted(rng.sample(range(len(ss)), max(1, round(len(ss) * 0.7))))
    return "\n".join(ss[i] for i in keep)


SYNONYMS = [("发布消息", "宣布"), ("表示", "称"), ("日前", "近日"), ("发布", "印发"), ("明确", "提出"), ("要求", "明确"),
            ("近期", "近日"), ("决定", "宣布"), ("联合", "共同")]


def rewrite_lead(item: dict, body: str) -> str:
    """An editor's own lead sentence: credited, the date clause dropped, a clause cut, words swapped."""
    rng = _rng(item, "lead")
    lead = sentences(body)[0]
    rest = body[body.index(lead) + len(lead):]
    clauses = re.split(r"(?<=[，,])", lead)
    if len(clauses) > 2 and re.search(r"\d+月\d+日|\d{4}年", clauses[0]):
        clauses = clauses[1:]                                   # "12月5日，" goes
    if len(clauses) > 3:
        del clauses[rng.randrange(1, len(clauses) - 1)]         # a clause cut
    lead = "".join(clauses)
    for a, b in ABBREVIATIONS:
        lead = lead.replace(a, b)
    for a, b in rng.sample(SYNONYMS, 3):
        lead = lead.replace(a, b, 1)
    return rng.choice([f"据{rng.choice(OUTLETS)}报道，", f"{rng.choice(OUTLETS)}讯，", "", "记者获悉，"]) + lead + rest


def year_dropped(item: dict, body: str) -> str:
    """The year left out of the dates of the piece's own year (2024年5月20日 → 5月20日), as retellings and flashes
    write them; a date of another year (自2020年1月1日至…) keeps it."""
    year = item.get("date", "")[:4]
    if not year:
        return body
    return re.sub(rf"{year}年(\d{{1,2}})月(\d{{1,2}})日", r"\1月\2日",
                  re.sub(rf"{year}-(\d\d)-(\d\d)", lambda m: f"{int(m[1])}月{int(m[2])}日", body))


# a lead that opens with its date and its party (9月24日，国务院新闻办公室举行…) or names the party first
# (中国人民银行9月14日宣布…): the party, what it did
_LEAD_DATE_FIRST = re.compile(r"(\d{1,2})月(\d{1,2})日(上午|下午|晚间)?，([^，。]{2,40}?)"
                              r"((?:连续|联合|再次|正式)?(?:发布|公布|宣布|印发|举行|召开|依法|就|对|在|表示|有关|揭牌|挂牌))")
_LEAD_PARTY_FIRST = re.compile(r"([^，。\d]{2,40}?)(\d{1,2})月(\d{1,2})日(上午|下午|晚间)?"
                               r"((?:连续|联合|再次|正式)?(?:发布|公布|宣布|印发|举行|召开|依法|就|对|在|表示|有关|揭牌|挂牌))")


def date_attributed(item: dict, body: str) -> str | None:
    """The lead's date retold with its party, as the press writes a day of the current month: 人民银行20日在其官网
    发布… / 记者20日从人民银行获悉，人民银行发布… for 5月20日，人民银行发布… — None when the lead opens with no
    date of its party."""
    rng = _rng(item, "attributed")
    lead = sentences(body)[0]
    m = _LEAD_DATE_FIRST.match(lead)
    if m:
        day, when, party, verb, rest = m[2], m[3] or "", m[4], m[5], lead[m.end():]
    else:
        m = _LEAD_PARTY_FIRST.match(lead)
        if not m:
            return None
        day, when, party, verb, rest = m[3], m[4] or "", m[1], m[5], lead[m.end():]
    forms = [f"{party}{day}日{when}{verb}{rest}", f"记者{day}日从{party}获悉，{party}{verb}{rest}"]
    if verb in ("发布", "公布"):
        forms.append(f"{party}{day}日在其官网{verb}{rest}")
    return body.replace(lead, rng.choice(forms), 1)


KINDS = ["reprint", "new_headline_lead_dropped", "excerpt_70", "reordered", "edited", "sentences_sampled_70",
         "commentary_added", "related_links", "new_headline_lead_rewritten",
         "reprint+new_headline_lead_dropped", "new_headline_lead_dropped+excerpt_70", "reprint+excerpt_70+reordered",
         "lead_dropped+excerpt_70+commentary", "all_of_them", "year_dropped", "date_attributed"]


def copies(item: dict, others: list[dict] | None = None) -> dict[str, tuple[str, str]]:
    """Every kind of republished copy of a piece: {kind: (title, body)}. `others`: pieces whose headlines
    a related-articles list may show."""
    t, b = item["title"], item["text"]
    nh = new_headline(item, b)
    others = [o for o in (others or []) if o["id"] != item["id"]] or [item]
    out = {
        "reprint": reprint(item, t, b),
        "new_headline_lead_dropped": (nh, drop_lead(b)),
        "excerpt_70": (t, excerpt_70(item, b)),
        "reordered": (t, reorder(item, b)),
        "edited": (t, light_edits(item, b)),
        "sentences_sampled_70": (t, sampled_70(item, b)),
        "commentary_added": (nh, commentary(item, b)),
        "related_links": (t, related(item, b, others)),
        "new_headline_lead_rewritten": (nh, rewrite_lead(item, b)),
        "reprint+new_headline_lead_dropped": reprint(item, nh, drop_lead(b)),
        "new_headline_lead_dropped+excerpt_70": (nh, excerpt_70(item, drop_lead(b))),
        "reprint+excerpt_70+reordered": reprint(item, t, reorder(item, excerpt_70(item, b))),
        "lead_dropped+excerpt_70+commentary": (nh, commentary(item, excerpt_70(item, drop_lead(b)))),
    }
    out["year_dropped"] = (t, year_dropped(item, b))
    attributed = date_attributed(item, b)
    if attributed is not None:
        out["date_attributed"] = (nh, attributed)
    out["all_of_them"] = reprint(item, nh, related(item, light_edits(item, reorder(item, excerpt_70(item, drop_lead(b)))),
                                                   others))
    return out


def _other_figure(m: re.Match, rng: random.Random) -> str:
    s = m.group(1)
    if "." in s:
        dec = len(s.split(".")[1])
        step = 10 ** -dec * rng.choice([1, 2, 3, 5])
        return f"{float(s) + step:.{dec}f}"
    return str(int(s) + rng.choice([1, 2, 3, 5, 10]))


_DATE = re.compile(r"(\d{4}年)?(\d{1,2}月\d{1,2}日)")


def dates_swapped(body: str) -> str | None:
    """The first sentence naming two days with their days swapped, each keeping its place's year (发布于9月27日，
    自2022年1月1日起施行 → 发布于1月1日，自2022年9月27日起施行: the effective date and another swapped) — None when no
    sentence names two days."""
    for s in sentences(body):
        found = list(_DATE.finditer(s))
        other = next((m for m in found[1:] if m[2] != found[0][2]), None)
        if other is None:
            continue
        first = found[0]
        swapped = (s[:first.start(2)] + other[2] + s[first.end(2):other.start(2)] + first[2] + s[other.end(2):])
        return body.replace(s, swapped, 1)
    return None


def twins(item: dict) -> dict[str, tuple[str, str]]:
    """The same wording about another event: other figures (one or two of them), another institution, or two
    days of a sentence swapped."""
    rng = _rng(item, "twin")
    t, b = item["title"], item["text"]
    out = {}
    figs = list(_FIGURE.finditer(b))
    if figs:
        chosen = sorted(rng.sample(figs, min(len(figs), rng.choice([1, 2]))), key=lambda m: m.start(), reverse=True)
        tb, tt = b, t
        for m in chosen:
            new = _other_figure(m, rng)
            tt = tt.replace(m.group(0), new)     # the twin's headline names its own figure
            tb = tb[: m.start(1)] + new + tb[m.end(1):]
        out["other_figures"] = (tt, tb)
    for name, other in OTHER_INSTITUTION:
        if name in b:
            out["other_institution"] = (t.replace(name, other), b.replace(name, other))
            break
    swapped = dates_swapped(b)
    if swapped is not None:
        out["dates_swapped"] = (t, swapped)
    return out
