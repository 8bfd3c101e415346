"""A store made the way a user makes one: the real `regwatch run --once` against the local news site,
a baseline run, then new articles — a rate-cap story, a credit-repair notice, a keyword match, an
article too old to alert — and a run later their copies on another source; a subscription's daily
digest is still pending."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from . import config
from .news import art, publish, site_sources
from .servers import Receiver, Site

CAP = ("监管部门近日窗口指导，要求持牌消费金融公司新发放贷款的综合融资成本压降至20%以内。"
       "业内人士表示，年化利率上限下调后，部分机构已暂停高定价产品。")
REPAIR = ("中国人民银行宣布实施一次性信用修复政策，符合条件的个人逾期记录将不予展示。"
          "人民银行提醒公众警惕征信修复骗局，征信记录不能通过付费删除。")
OLD_NEUTRAL = ("某银行发布年度报告，全年营业收入同比增长5%，净利润保持稳定，"
               "零售业务占比进一步提升，数字化转型持续推进。")
HUABEI = ("花呗近日调整部分用户的分期手续费，用户可在应用内查看新的费率说明。"
          "业内人士表示，消费信贷产品的收费透明度仍有待提高。")
OLD_CAP = ("去年，最高人民法院将民间借贷利率的司法保护上限调整为一年期LPR的4倍，"
           "此前的24%和36%两条红线随之退出。多家网贷平台据此调整了产品定价。")

STALE = ("某地金融监管局就网络小贷平台的借款利率约谈多家机构，要求综合年化利率上限不得超过24%，"
         "并限期整改违规收取的服务费和担保费。")

TOKEN_VAR = "RW_FIRSTHOUR_TOKEN"     # the DingTalk channel's secret: set only for `run`
# the daily digest's time (Beijing): half a day from the world's making, so that it never falls due while tests read
# the world (at "daily 09:00", a run made just before nine sent it, and the report counted its alerts as sent)
DIGEST_AT = (datetime.now(ZoneInfo("Asia/Shanghai")) + timedelta(hours=12)).strftime("%H:%M")


@dataclass
class World:
    dir: Path
    config: Path
    site: Site
    receiver: Receiver
    env: dict[str, str]
    bin: str

    def ids(self) -> dict[str, int]:
        """Article id by the page's name (`cap`, `capcopy`…), read back with `regwatch export`."""
        import json
        import re

        out = subprocess.run([self.bin, "export", "-c", str(self.config)], capture_output=True, text=True, timeout=60).stdout
        rows = [json.loads(ln) for ln in out.splitlines()]
        return {re.search(r"/a/([\w-]+)\.html", r["url"]).group(1): r["id"] for r in rows}

    def stop(self) -> None:
        self.site.stop()
        self.receiver.stop()


def config_text(site: Site, receiver: Receiver, store: str = "rw.db", extra: str = "") -> str:
    channels = [config.chat(receiver, "risk-dingtalk", "dingtalk", route="dt", query=f"?access_token=${{{TOKEN_VAR}}}",
                            secret="SECtest"),
                config.chat(receiver, "archive", route="gw")]
    subscriptions = [
        {"name": "caps", "topics": ["rate_cap"], "channels": ["risk-dingtalk", "archive"]},
        {"name": "repair-from-list", "topics": ["credit_repair"], "sources": ["list"], "channels": ["archive"]},
        {"name": "huabei-watch", "keywords": ["花呗"], "channels": ["archive"]},
        {"name": "morning-digest", "topics": ["*"], "channels": ["archive"], "digest": f"daily {DIGEST_AT}"},
    ]
    return config.config_text(".", store={"path": store}, crawl={"max_article_age": "3d"}, sources=site_sources(site)[:2],
                              channels=channels, subscriptions=subscriptions,
                              alerts={"once_wait": "10s", "health_channels": ["archive"]}, extra=extra)


def make_world(folder: Path, regwatch_bin: str, extra: str = "") -> World:
    site, receiver = Site(), Receiver()
    cfg = folder / "regwatch.toml"
    cfg.write_text(config_text(site, receiver, extra=extra), encoding="utf-8")
    env = {TOKEN_VAR: "t0ken"}
    old = {"feed": [art("b1", "银行发布年度报告", OLD_NEUTRAL, 300)], "listing": [art("b2", "去年的利率新规回顾", OLD_CAP, 301)]}
    publish(site, old)
    _run(regwatch_bin, cfg, env)                                   # the baseline
    new = {k: list(v) for k, v in old.items()}
    new["feed"] += [art("cap", "消费金融利率上限降至20%", CAP),
                    art("repair", "央行推出一次性信用修复政策", REPAIR, 20),
                    art("huabei", "花呗调整分期手续费", HUABEI, 25),
                    art("stale", "十天前的利率上限旧闻", STALE, 60 * 24 * 10)]
    publish(site, new)
    _run(regwatch_bin, cfg, env)
    new["listing"] += [art("capcopy", "转载：消费金融利率上限降至20%", "（本文转载自财经网）\n" + CAP, 5),   # copies, a run later
                       art("repaircopy", "转载：央行推出一次性信用修复政策", "（来源：财经网）\n" + REPAIR, 15)]
    publish(site, new)
    _run(regwatch_bin, cfg, env)
    return World(folder, cfg, site, receiver, env, regwatch_bin)


def _run(regwatch_bin: str, cfg: Path, env: dict[str, str]) -> None:
    import os

    r = subprocess.run([regwatch_bin, "run", "--once", "-c", str(cfg)], capture_output=True, text=True, timeout=180,
                       env={**os.environ, **env}, cwd=cfg.parent)
    assert r.returncode == 0, r.stderr
