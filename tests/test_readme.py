"""The README's complete examples work as written: its config reference loads (and shows the defaults where it
says it does), and its worked topic file tags what it is about — so neither can rot unnoticed."""

import re
from pathlib import Path

from regwatch.service.config import AlertsConfig, CrawlConfig, StoriesConfig, WorkerConfig, load_config
from regwatch.service.topics import load_classifier

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def toml_block(after: str) -> str:
    """The first ```toml block after the heading or line `after`."""
    return re.search(r"```toml\n(.*?)```", README[README.index(after):], re.S).group(1)


def test_the_config_reference_example_loads_and_shows_the_defaults(tmp_path):
    cfg_path = tmp_path / "regwatch.toml"
    cfg_path.write_text(toml_block("## Config reference"), encoding="utf-8")
    cfg = load_config(cfg_path)          # (a channel's unset ${VAR} is an error only for what sends)
    assert [c.name for c in cfg.channels] == ["risk-dingtalk"] and cfg.subscriptions[0].channels == ["risk-dingtalk"]
    assert cfg.store.path == str(tmp_path / "regwatch.db")
    # the example's values are the defaults, but for what it sets to show a key (a channel, a subscription)
    assert cfg.crawl.model_dump(exclude={"workers"}) == CrawlConfig().model_dump(exclude={"workers"})
    assert cfg.worker == WorkerConfig() and cfg.stories == StoriesConfig()
    assert cfg.alerts.model_copy(update={"health_channels": []}) == AlertsConfig()


def test_the_readmes_worked_topic_file_loads_and_tags_its_topic(tmp_path):
    (tmp_path / "my-topics.toml").write_text(toml_block("Worked example"), encoding="utf-8")
    cfg_path = tmp_path / "regwatch.toml"
    cfg_path.write_text('[topics]\nfiles = ["my-topics.toml"]\n', encoding="utf-8")
    clf = load_classifier(load_config(cfg_path))
    tags = clf.classify("监管部门规范先买后付业务", "监管部门发布通知，规范先买后付（BNPL）产品的营销和定价。")
    assert "bnpl" in [t.topic for t in tags]
