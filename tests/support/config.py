"""A test's regwatch.toml, from one builder: `write_config(folder, …)` writes the preamble every crawling test
shares — a SQLite store in the folder (`[store] path = "<folder>/rw.db"`), a crawl without delay
(`[crawl] delay = "0s"`) — with what the test changes, and returns the file's path; `config_text` is the text alone.

Each keyword is one part of the file, in this order: `store` (replaces the default store), `worker`, `crawl` (keys
over the default delay), `sources`, `channels`, `subscriptions`, `alerts`, then `extra`, text written last. A table
(`store`, `worker`, `crawl`, `alerts`) is a dict of its keys, or TOML lines as a str (the crawl's written after its
delay); `sources`, `channels` and `subscriptions` are lists of tables, each a dict (in the order given, a dict
value a sub-table: `{"extract": {"date": "span.d"}}` is `[sources.extract]`) or TOML text written as is (all of
`sources` may be TOML text too).
`chat()` is a channel to the test receiver (its route told what to check), `everything()` a subscription to
every topic; with channels and no `subscriptions`, the config has `everything()` to all of them.
`refused(path)` is what loading a config that must be refused says: one line, naming the file."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, TypeAlias

import pytest

from regwatch.service.config import ConfigError, load_config

Table: TypeAlias = Mapping[str, Any]
Part: TypeAlias = Table | str


def value(v: Any) -> str:
    """A TOML value: a string (JSON's escapes are TOML's), a number, a boolean or a list of them."""
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v, ensure_ascii=False)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(value(x) for x in v) + "]"
    raise TypeError(f"no TOML value for {v!r}")


def table(header: str, fields: Part, path: str = "") -> str:
    """`[header]` (or `[[header]]`) and its keys; a dict value is a sub-table `[path.key]`."""
    if isinstance(fields, str):
        return _lines(fields if fields.lstrip().startswith("[") else f"{header}\n{fields}")
    path = path or header.strip("[]")
    lines = [header] + [f"{k} = {value(v)}" for k, v in fields.items() if not isinstance(v, Mapping)]
    text = "\n".join(lines) + "\n"
    for k, v in fields.items():
        if isinstance(v, Mapping):
            text += table(f"[{path}.{k}]", v, f"{path}.{k}")
    return text


def _lines(text: str) -> str:
    """TOML text as written, ending its last line."""
    return text if not text or text.endswith("\n") else text + "\n"


def chat(receiver: Any, name: str, type: str = "webhook", *, route: str = "", query: str = "", **keys: Any) -> dict:
    """A `[[channels]]` table posting to the receiver's `/<route>` (the channel's name unless told), `query` after
    it; the route is told the platform and the `secret` to check."""
    route = route or name
    receiver.routes[route] = {"type": type, "secret": keys.get("secret")}
    return {"name": name, "type": type, "url": f"{receiver.url}/{route}{query}", **keys}


def everything(*channels: str, name: str = "all") -> dict:
    """A `[[subscriptions]]` table: every topic to the channels."""
    return {"name": name, "topics": ["*"], "channels": list(channels)}


def config_text(folder: Path | str, *, store: Part | None = None, worker: Part | None = None, crawl: Part = "",
                sources: Sequence[Part] | str = (), channels: Sequence[Part] = (),
                subscriptions: Sequence[Part] | None = None, alerts: Part | None = None, extra: str = "") -> str:
    parts = [table("[store]", store if store is not None else {"path": f"{folder}/rw.db"})]
    if worker is not None:
        parts.append(table("[worker]", worker))
    if isinstance(crawl, str):
        parts.append(table("[crawl]", {"delay": "0s"}) + _lines(crawl))
    else:
        parts.append(table("[crawl]", {"delay": "0s", **crawl}))
    if subscriptions is None:
        subscriptions = [everything(*(c["name"] for c in channels if not isinstance(c, str)))] if channels else []
    for header, items in (("[[sources]]", sources), ("[[channels]]", channels), ("[[subscriptions]]", subscriptions)):
        parts += [_lines(items)] if isinstance(items, str) else [table(header, t) for t in items]
    if alerts is not None:
        parts.append(table("[alerts]", alerts))
    return "\n" + "".join(parts) + extra


def write_config(folder: Path, *, name: str = "regwatch.toml", **parts: Any) -> Path:
    """`folder/name` written from `config_text(folder, **parts)`: its path."""
    path = folder / name
    path.write_text(config_text(folder, **parts), encoding="utf-8")
    return path


def refused(path: Path) -> str:
    """The config at `path`, refused at load: what it says, checked to be one line that begins with the file's path."""
    with pytest.raises(ConfigError) as e:
        load_config(path)
    said = str(e.value)
    assert "\n" not in said and said.startswith(str(path)), said
    return said
