"""What one crawl saw of each source: found, new, errors, statuses, and the signs of its health."""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from ..pipeline.redact import redact


@dataclass
class SourceReport:
    source: str
    started: float = field(default_factory=time.time)
    found: int = 0
    new: int = 0
    errors: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    messages: list[str] = field(default_factory=list)
    not_modified: bool = False
    blocked: bool = False
    empty: bool = False
    list_ok: bool = False
    secrets: list[str] = field(default_factory=list, repr=False)   # the source's `${VAR}` values

    def status(self, code: int) -> None:
        self.statuses[str(code)] = self.statuses.get(str(code), 0) + 1

    def error(self, message: str) -> None:
        self.errors += 1
        if len(self.messages) < 20:
            self.messages.append(message)

    @property
    def message(self) -> str | None:
        """The run's errors, secrets redacted (this is what the store, health alerts and the CLI see)."""
        return redact("; ".join(dict.fromkeys(self.messages)), self.secrets) if self.messages else None
