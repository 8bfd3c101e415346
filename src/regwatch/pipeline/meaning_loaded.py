"""Imported by the extraction workers' forkserver (`crawler/run.py`) when the learned stage reads the
meaning: the sentence encoder is loaded there once, and every worker forked from it starts with it,
sharing its weights' pages, instead of loading its own (~1 s of CPU and ~120 MB a worker)."""

from .meaning import load

load()
