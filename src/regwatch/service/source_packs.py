"""Bundled source packs: data files of real sources, used by the embedded default config."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import ValidationError

from .config import ConfigError, SourceConfig, format_validation_error

PACK_DIR = Path(__file__).parent / "sources"


def bundled_source_packs() -> list[str]:
    return sorted(p.stem for p in PACK_DIR.glob("*.toml"))


def load_source_pack(name: str) -> list[SourceConfig]:
    path = PACK_DIR / f"{name}.toml"
    if not path.exists():
        raise ConfigError(f"source pack {name!r} is not bundled; bundled: {', '.join(bundled_source_packs())}")
    data = tomllib.loads(path.read_text(encoding="utf-8"))
    out = []
    for i, raw in enumerate(data.get("sources", [])):
        try:
            out.append(SourceConfig.model_validate(raw))
        except ValidationError as e:
            raise ConfigError(f"{path}: sources[{i}]: {format_validation_error(e, raw)}") from None
    return out
