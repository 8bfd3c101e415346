"""Files and folders regwatch creates are its user's alone (`PRIVATE_FILE`, `PRIVATE_DIR`), whatever the umask:
the store is confidential and configs hold secrets. One that exists keeps its mode."""

from __future__ import annotations

import os
from pathlib import Path

from ..defaults import PRIVATE_DIR, PRIVATE_FILE


def private_opener(path: str, flags: int) -> int:
    """`open(…, opener=private_opener)`: a file it creates is PRIVATE_FILE."""
    return os.open(path, flags, PRIVATE_FILE)


def write_private(path: str | os.PathLike[str], text: str) -> None:
    """`Path.write_text` that creates the file PRIVATE_FILE."""
    with open(path, "w", encoding="utf-8", opener=private_opener) as f:
        f.write(text)


def make_private_dirs(folder: str | os.PathLike[str]) -> None:
    """`folder` and each of its missing parents made PRIVATE_DIR (`Path.mkdir(parents=True, mode=…)` gives the mode to
    the last one only: `data/deep` made `data` 0755); a folder that exists is not touched."""
    missing = []
    here = Path(folder)
    while not here.exists() and here != here.parent:
        missing.append(here)
        here = here.parent
    for part in reversed(missing):
        try:
            part.mkdir(mode=PRIVATE_DIR)
        except FileExistsError:     # (made meanwhile, by another process)
            pass


def create_private(path: str | os.PathLike[str]) -> None:
    """An empty PRIVATE_FILE file at `path` (its missing folders PRIVATE_DIR) unless one is there: SQLite then opens
    it, and gives its -wal and -shm files the same mode."""
    make_private_dirs(Path(path).parent)
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    except FileExistsError:
        pass
