"""The read guard (tests/support/readguard) catches a read outside the repository, in the pytest
process and in a process a test starts; reads inside the repository pass."""

import os
import subprocess
import sys

from conftest import ROOT, outside_reads


def test_a_read_outside_the_repository_is_caught():
    probe = ROOT.parent / "shared" / "datasets" / "seed-articles" / "articles.jsonl"   # where tests once read
    try:
        probe.read_bytes()
    except OSError:
        pass
    (ROOT / "README.md").read_bytes()
    assert outside_reads() == [f"open {os.path.realpath(probe)}"]


def test_a_read_by_a_process_a_test_starts_is_caught():
    code = f"import os; os.listdir({str(ROOT.parent)!r}); open({str(ROOT / 'README.md')!r}).close()"
    subprocess.run([sys.executable, "-c", code], check=True)
    seen = outside_reads()
    assert len(seen) == 1 and seen[0].endswith(f"os.listdir {os.path.realpath(ROOT.parent)}"), seen
