"""regwatch: watch finance news and regulators, tag regulatory topics, alert team chats once per story."""

__version__ = "0.1.0"
