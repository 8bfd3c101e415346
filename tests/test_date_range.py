"""`--since` / `--until` out of range: one line naming the option, never an OverflowError traceback."""

import pytest
from conftest import regwatch


@pytest.mark.parametrize("args", [["search", "征信", "--since", "0001-01-01"], ["export", "--since", "0001-01-01"],
                                  ["alerts", "--since", "0001-01-01"], ["report", "--since", "0001-01-01"],
                                  ["search", "征信", "--until", "0001-01-02"]])
def test_a_date_before_the_range_is_refused_naming_the_option(world, args):
    r = regwatch(*args, "-c", world.config)
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr
    option = "--until" if "--until" in args else "--since"
    assert option in r.stderr and "out of range" in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_a_duration_too_long_is_said_out_of_range(world):
    r = regwatch("search", "征信", "--since", "99999d", "-c", world.config)
    assert r.returncode == 2 and "out of range" in r.stderr and "neither" not in r.stderr, r.stderr
