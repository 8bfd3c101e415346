"""Exit 141 (128 + SIGPIPE) is for a reader of stdout or stderr that left (`| head`): any BrokenPipeError a
command met was taken for it, so a socket whose other end closed ended the command quietly with 141, its failure
unsaid. Such a one is the error it is: one line, exit 2; a closed stdout pipe still ends quietly with 141."""

import json
import subprocess
import sys

from conftest import REGWATCH

# a command (the real decorator every regwatch command wears) whose own socket's other end has closed
SOCKET = """
import socket
import click
from regwatch.service.commands.common import user_errors

@click.command()
@user_errors
def send():
    mine, theirs = socket.socketpair()
    theirs.close()
    print("sending")
    for _ in range(100):
        mine.send(b"x" * 65536)

send(prog_name="regwatch")
"""


def test_a_broken_socket_is_one_line_and_exit_2_not_141():
    r = subprocess.run([sys.executable, "-c", SOCKET], capture_output=True, text=True, timeout=60)
    assert r.returncode == 2, (r.returncode, r.stderr)
    assert r.stdout == "sending\n"
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith("regwatch: broken pipe") and "Traceback" not in r.stderr, r.stderr


def test_a_reader_that_left_stdout_is_still_141_and_quiet(tmp_path):
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"id": i, "title": "消费金融利率上限降至20%", "text": "年化利率上限"},
                                                          ensure_ascii=False) + "\n" for i in range(3000)),
                                       encoding="utf-8")
    writer = subprocess.Popen([REGWATCH, "classify", "--json", "in.jsonl"], cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE)
    writer.stdout.readline()
    writer.stdout.close()                                   # the reader leaves after one line
    err = writer.stderr.read().decode()
    assert writer.wait(timeout=120) == 141 and err == "", (writer.returncode, err)


def test_only_a_pipe_whose_reader_left_counts(tmp_path):
    import os

    from regwatch.service.commands.common import reader_left

    r, w = os.pipe()
    with open(w, "w") as out, open(tmp_path / "f", "w") as file:
        assert not reader_left(out) and not reader_left(file)
        os.close(r)
        assert reader_left(out)


def test_every_command_piped_into_a_reader_that_left_is_141_and_quiet(tmp_path):
    """`regwatch sources | head -1` gave 1, not 141: a line Rich printed met the broken pipe, and Rich's own answer
    (stdout to /dev/null, exit 1) ended the command before `user_errors` saw it. The pipe holds one page (4 KiB), so
    every command below is still writing when its reader leaves after one line."""
    import fcntl

    from support.config import write_config

    from regwatch.pipeline.store import ArticleRecord, Store

    store = Store(str(tmp_path / "rw.db"))
    for i in range(300):
        store.insert_article(ArticleRecord(url=f"http://127.0.0.1:9/a/{i}.html", source=f"src{i % 60}",
                                           title=f"征信修复骗局提醒第{i}号", body="人民银行提醒公众警惕征信修复骗局。" * 3,
                                           lang="zh", published_at=None))
    store.close()
    cfg = write_config(tmp_path, sources=[{"name": f"src{i}", "kind": "feed", "url": f"http://127.0.0.1:9/feed{i}.xml"}
                                          for i in range(60)])
    commands = [["sources"], ["sources", "--json"], ["search", "征信", "--limit", "300"],
                ["search", "征信", "--limit", "300", "--json"], ["export", "--format", "csv"]]
    for args in commands:
        for _ in range(3):                                  # the race the trial met every time, tried again
            writer = subprocess.Popen([REGWATCH, *args, "-c", str(cfg)], cwd=tmp_path, stdout=subprocess.PIPE,
                                      stderr=subprocess.PIPE, bufsize=0)
            fcntl.fcntl(writer.stdout.fileno(), 1031, 4096)  # F_SETPIPE_SZ: the pipe holds one page
            assert writer.stdout.readline()
            writer.stdout.close()                               # the reader leaves after one line
            err = writer.stderr.read().decode()
            assert (writer.wait(timeout=120), err) == (141, ""), args
