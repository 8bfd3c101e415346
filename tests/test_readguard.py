"""The read guard (tests/support/readguard) catches a read outside the repository, in the pytest
process and in a process a test starts; reads inside the repository pass."""

import subprocess
import sys

from conftest import ROOT, outside_reads, readguard

PROBE = "/regwatch-readguard-probe/articles.jsonl"   # outside the repository and every allowed root


def test_a_read_outside_the_repository_is_caught():
    try:
        open(PROBE, "rb").close()
    except OSError:
        pass
    (ROOT / "README.md").read_bytes()
    assert outside_reads() == [f"open {PROBE}"]


def test_a_read_by_a_process_a_test_starts_is_caught():
    code = f"import os\ntry: os.listdir({PROBE!r})\nexcept OSError: pass\nopen({str(ROOT / 'README.md')!r}).close()"
    subprocess.run([sys.executable, "-c", code], check=True)
    seen = outside_reads()
    assert len(seen) == 1 and seen[0].endswith(f"os.listdir {PROBE}"), seen


def test_beside_the_repository_is_outside_even_under_tmp():
    roots = readguard.allowed_roots("/tmp/ci.1/regwatch")
    shared = "/tmp/ci.1/shared/datasets/a.jsonl"
    assert readguard.outside(shared, "/tmp/ci.1/regwatch", roots) == shared
    assert readguard.outside("/srv/ci/shared/a.jsonl", "/srv/ci/regwatch", roots) == "/srv/ci/shared/a.jsonl"
    assert readguard.outside("/tmp/ci.1/regwatch/tests/fixtures/x", "/tmp/ci.1/regwatch", roots) is None
    assert readguard.outside("/tmp/pytest-of-root/t/rw.db", "/tmp/ci.1/regwatch", roots) is None
    assert readguard.outside("file:/srv/ci/shared/s.db?mode=ro", "/srv/ci/regwatch", roots) == "/srv/ci/shared/s.db"
    assert readguard.outside(":memory:", "/srv/ci/regwatch", roots) is None
