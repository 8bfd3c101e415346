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


# what a user puts in the environment for the README's channel examples (a DingTalk secret starts SEC, a webhook's is base64)
CHANNEL_SECRETS = {
    "DINGTALK_TOKEN": "dt-token", "DINGTALK_SECRET": "SEC0123456789abcdef", "WECOM_KEY": "693a91f6-7xxx",
    "FEISHU_TOKEN": "fs-token", "FEISHU_SECRET": "fs-secret", "LARK_TOKEN": "lk-token", "LARK_SECRET": "lk-secret",
    "SLACK_WEBHOOK_URL": "https://hooks.slack.com/services/T0/B0/abc",
    "DISCORD_WEBHOOK_URL": "https://discord.com/api/webhooks/1/tok",
    "TEAMS_WORKFLOW_URL": "https://prod-1.westeurope.logic.azure.com:443/workflows/a/triggers/manual/paths/invoke?sig=s",
    "TELEGRAM_TOKEN": "123:abc", "WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "SMTP_PASSWORD": "pw",
}


def test_the_readmes_channel_examples_load_one_for_every_platform(tmp_path, monkeypatch):
    from regwatch.alerts.platforms import PLATFORMS

    cfg_path = tmp_path / "regwatch.toml"
    cfg_path.write_text(toml_block("### Channels: one per platform"), encoding="utf-8")
    for name, value in CHANNEL_SECRETS.items():
        monkeypatch.setenv(name, value)
    cfg = load_config(cfg_path)
    cfg.require_channel_secrets()  # every ${VAR} the examples name is one a user sets, and what they make is valid
    assert {c.type for c in cfg.channels} == set(PLATFORMS)
    urls = {c.name: c.url for c in cfg.channels}
    assert urls["risk-wecom"] == "https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=693a91f6-7xxx"
    assert urls["risk-lark"] == "https://open.larksuite.com/open-apis/bot/v2/hook/lk-token"
    assert urls["risk-slack"] == CHANNEL_SECRETS["SLACK_WEBHOOK_URL"]
