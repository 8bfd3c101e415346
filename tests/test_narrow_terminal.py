"""Output to a stdout that cannot encode Chinese (`PYTHONIOENCODING=ascii`, a C locale): escaped text, never
a traceback; a CSV export is UTF-8 whatever the terminal's encoding (its BOM says so)."""

import csv
import io
import os
import subprocess

import pytest
from conftest import REGWATCH

ASCII = {**os.environ, "PYTHONIOENCODING": "ascii"}


@pytest.mark.parametrize("args", [["sources"], ["search", "利率"], ["search", "利率", "--json"],
                                  ["export"], ["alerts"]])
def test_an_ascii_stdout_gets_escapes_not_a_traceback(world, args):
    r = subprocess.run([REGWATCH, *args, "-c", str(world.config)], capture_output=True, timeout=60, env=ASCII)
    assert r.returncode == 0, r.stderr.decode()
    assert b"Traceback" not in r.stderr and b"UnicodeEncodeError" not in r.stderr
    assert r.stdout.isascii() and b"\\u" in r.stdout


def test_a_csv_export_to_an_ascii_stdout_is_utf8(world):
    r = subprocess.run([REGWATCH, "export", "--format", "csv", "-c", str(world.config)], capture_output=True,
                       timeout=60, env=ASCII)
    assert r.returncode == 0 and b"Traceback" not in r.stderr, r.stderr.decode()
    assert r.stdout.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(r.stdout.decode("utf-8-sig"))))
    assert any("利率上限" in x["title"] for x in rows)
