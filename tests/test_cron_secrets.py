"""The crontab line of deploy/crontab.example, run as cron runs it (no environment but HOME and PATH, `\\%` read as
`%`): the secrets file is read as data — `NAME=value`, and the shell style users copy from the quick start
(`export NAME=value`, `NAME = value`, a quoted value) — and a line it cannot read stops the run with one line in the
log naming the file and the line (a shell-style line was set as a variable named `export NAME`, silently, and every
run then exited 2 saying `NAME is not set (export it, …)`)."""

import os
import shutil
import stat
import subprocess
from pathlib import Path

import pytest
from conftest import REGWATCH, ROOT

pytestmark = pytest.mark.skipif(not all(map(shutil.which, ("flock", "awk", "xargs"))), reason="flock, awk, xargs")


def cron_line() -> str:
    lines = [x for x in (ROOT / "deploy" / "crontab.example").read_text(encoding="utf-8").splitlines() if x.startswith("*/10")]
    assert len(lines) == 1
    return lines[0].split(None, 5)[5].replace("\\%", "%")  # the command, as cron hands it to sh


def run_as_cron(home: Path, secrets: str, program: str) -> str:
    (home / "regwatch").mkdir(parents=True, exist_ok=True)
    (home / ".config" / "regwatch").mkdir(parents=True, exist_ok=True)
    (home / ".config" / "regwatch" / "secrets.env").write_text(secrets, encoding="utf-8")
    env = {"HOME": str(home), "PATH": "/usr/bin:/bin"}
    if os.environ.get("PYTHONPATH"):
        env["PYTHONPATH"] = os.environ["PYTHONPATH"]  # (this checkout's regwatch)
    line = cron_line().replace("/opt/regwatch/.venv/bin/regwatch", program)
    subprocess.run(["sh", "-c", line], env=env, timeout=180, check=True)
    return (home / "regwatch" / "regwatch.log").read_text(encoding="utf-8")


def fake_regwatch(tmp_path: Path) -> Path:
    """A `regwatch` that writes the environment it was given."""
    p = tmp_path / "fake-regwatch"
    p.write_text('#!/bin/sh\nenv > "$HOME/env.out"\n', encoding="utf-8")
    p.chmod(p.stat().st_mode | stat.S_IXUSR)
    return p


SECRETS = (
    "# the robots\n"
    "\n"
    "export WECOM_KEY=good-key\n"
    "FEISHU_SECRET = fs-secret\n"
    '  export SLACK_URL="https://hooks.slack.com/services/T0/B0/x y"  \n'
    "TG_TOKEN='123:abc'\n"
    'RAW=a$HOME"b=c\n'
    "CRLF=windows\r\n"
)


def test_shell_style_secrets_lines_are_read_as_the_user_meant(tmp_path):
    home = tmp_path / "home"
    log = run_as_cron(home, SECRETS, str(fake_regwatch(tmp_path)))
    assert log == "", log
    got = dict(x.split("=", 1) for x in (home / "env.out").read_text(encoding="utf-8").splitlines() if "=" in x)
    assert got["WECOM_KEY"] == "good-key" and got["FEISHU_SECRET"] == "fs-secret"
    assert got["SLACK_URL"] == "https://hooks.slack.com/services/T0/B0/x y" and got["TG_TOKEN"] == "123:abc"
    assert got["RAW"] == 'a$HOME"b=c' and got["CRLF"] == "windows"  # data, never shell: no expansion
    assert not any(k.startswith("export") or k.endswith(" ") for k in got), got


def test_a_line_it_cannot_read_stops_the_run_with_one_line_naming_it(tmp_path):
    home = tmp_path / "home"
    log = run_as_cron(home, "WECOM_KEY=good-key\n# a note\nBADLINE-with-the-secret\n", str(fake_regwatch(tmp_path)))
    assert not (home / "env.out").exists()  # regwatch not run
    assert log.count("\n") == 1, log
    assert f"regwatch: {home}/.config/regwatch/secrets.env line 3: not NAME=value" in log and "not run" in log, log
    assert "BADLINE" not in log and "No such file" not in log, log


def test_regwatch_under_cron_gets_an_exported_secret(tmp_path):
    home = tmp_path / "home"
    cfg = home / ".config" / "regwatch" / "regwatch.toml"
    cfg.parent.mkdir(parents=True)
    cfg.write_text(
        f'[store]\npath = "{home}/regwatch/regwatch.db"\n'
        '[[sources]]\nname = "s"\nkind = "feed"\nurl = "http://127.0.0.1:9/feed"\n'
        '[[channels]]\nname = "wecom"\ntype = "wecom"\n'
        'url = "http://127.0.0.1:9/cgi-bin/webhook/send?key=${WECOM_KEY}"\n',
        encoding="utf-8",
    )
    log = run_as_cron(home, "export WECOM_KEY=good-key\n", REGWATCH)
    assert "is not set" not in log and "Traceback" not in log, log
    assert "regwatch: 1 sources" in log or "regwatch: 1 source" in log, log


def test_a_secrets_file_of_comments_only_still_runs_regwatch(tmp_path):
    home = tmp_path / "home"
    assert run_as_cron(home, "# no secrets: the config uses no ${VAR}\n\n", str(fake_regwatch(tmp_path))) == ""
    assert (home / "env.out").exists()
