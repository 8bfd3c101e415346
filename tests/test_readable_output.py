"""What the commands print, as a user reads it: aligned columns with times, an empty answer said, help for
every option, colour on a terminal and plain text in a pipe, a quiet `| head`, a report by topic names,
a CSV that Excel reads, a demo that cleans up, and a README whose quick start matches what `init` writes."""

import csv
import io
import json
import os
import pty
import re
import subprocess
from pathlib import Path

import click
from conftest import REGWATCH, regwatch
from rich.cells import cell_len

ROOT = Path(__file__).resolve().parent.parent
CAP = "监管部门要求持牌消费金融公司将综合融资成本压降至20%以内，年化利率上限进一步下调。"


def column_starts(lines, word):
    """The screen column (in cells) where `word` starts on each line."""
    return {cell_len(ln[: ln.index(word)]) for ln in lines if word in ln}


def test_alerts_rows_have_a_time_and_aligned_columns(world):
    r = regwatch("alerts", "-c", world.config)
    lines = r.stdout.splitlines()
    assert lines[0].split() == ["#", "time", "(北京时间)", "status", "channel", "subscription", "tries", "what"]
    rows = [ln for ln in lines[1:] if re.match(r"\s*\d+\s", ln)]
    # caps ×2, huabei-watch, morning-digest's pending repair (one alert per story per channel: archive had cap from caps)
    assert len(rows) == 4 and all(re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d", ln) for ln in rows)
    for status in ("sent", "digest"):
        assert len(column_starts([lines[0].replace("status", status)] + rows, f" {status} ")) == 1
    assert len({cell_len(ln[: ln.index("archive")]) for ln in rows if "archive" in ln} |
               {cell_len(ln[: ln.index("risk-dingtalk")]) for ln in rows if "risk-dingtalk" in ln}) == 1


def test_an_empty_answer_is_said(world):
    r = regwatch("alerts", "--status", "broken", "-c", world.config)
    assert r.returncode == 0 and r.stdout == "" and r.stderr == "regwatch: no alerts with status broken\n"


def test_classify_explain_is_readable_without_json():
    r = regwatch("classify", "--explain", "-", input="消费金融利率上限降至20%\n" + CAP)
    lines = r.stdout.splitlines()
    assert not r.stdout.lstrip().startswith("{")
    header = next(ln for ln in lines if ln.startswith("topic"))
    # the rules' score against the topic's threshold; the learned stage's probability against its own
    assert header.split() == ["topic", "name", "score", "/", "threshold", "probability", "/", "threshold", "tagged"]
    cap = next(ln for ln in lines if ln.startswith("rate_cap"))
    assert re.search(r"rate_cap\s+利率上限.*\s\d+(\.\d+)? / 4\s+\d\.\d\d / \d\.\d\d\s+yes$", cap)
    assert column_starts([header, cap], "yes" if "yes" in cap else "tagged") == column_starts([header], "tagged")
    assert any(ln.strip().startswith("fired: ") for ln in lines)
    j = regwatch("classify", "--explain", "--json", "-", input="消费金融利率上限降至20%\n" + CAP)
    assert json.loads(j.stdout)["topics"][0]["threshold"]


def test_topics_line_up_with_chinese_names():
    lines = regwatch("topics").stdout.splitlines()
    rows = [ln for ln in lines[1:] if re.match(r"^[a-z_]+\s", ln)]
    assert len(rows) == 7 and len(column_starts(rows, "cn-consumer-finance")) == 1


def test_every_option_of_every_command_has_help():
    from regwatch.service.cli import main

    def walk(group, prefix):
        ctx = click.Context(group)
        for name in group.list_commands(ctx):       # (the top group's commands are imported when asked for)
            cmd = group.get_command(ctx, name)
            yield f"{prefix} {name}", cmd
            if isinstance(cmd, click.Group):
                yield from walk(cmd, f"{prefix} {name}")

    commands = dict(walk(main, "regwatch"))
    assert {"regwatch run", "regwatch alerts resend", "regwatch sources"} <= set(commands) and len(commands) > 20
    missing = [f"{path} {opt.opts[0]}" for path, cmd in commands.items() for opt in cmd.params
               if isinstance(opt, click.Option) and not opt.help]
    assert missing == []
    r = regwatch("search", "--help")
    assert re.search(r"--json\s+One JSON object per line", r.stdout) and re.search(r"--limit .*At most this many", r.stdout)


def test_sources_pack_shows_each_note_and_durations_as_written():
    r = regwatch("sources", "--pack")
    assert "900.0" not in r.stdout and re.search(r"pbc-xinwen-fabu\s+listing\s+15m\s+http", r.stdout)
    notes = [ln.strip() for ln in r.stdout.splitlines() if ln.startswith(" ")]
    assert len(notes) >= 13 and any("column 931" in n for n in notes)
    row = json.loads(regwatch("sources", "--pack", "--json").stdout.splitlines()[0])
    assert row["every"] == "15m" and row["note"]


def test_a_pipe_closed_early_is_no_error(tmp_path):
    lines = "".join(json.dumps({"id": i, "title": "消费金融利率上限降至20%", "text": CAP}, ensure_ascii=False) + "\n"
                    for i in range(3000))
    (tmp_path / "in.jsonl").write_text(lines, encoding="utf-8")
    for args in ("--json", "--explain"):
        r = subprocess.run(["bash", "-c", f'"{REGWATCH}" classify {args} in.jsonl | head -2'], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120)
        assert len(r.stdout.splitlines()) == 2 and r.stderr == "", r.stderr


def run_on_a_terminal(*args):
    """The command with its stdout on a pseudo-terminal, as a user at a terminal runs it."""
    master, slave = pty.openpty()
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    p = subprocess.Popen([REGWATCH, *args], stdout=slave, stderr=subprocess.PIPE, env={**env, "TERM": "xterm-256color"})
    os.close(slave)
    out = b""
    while True:
        try:
            chunk = os.read(master, 65536)
        except OSError:
            break
        if not chunk:
            break
        out += chunk
    p.wait(timeout=60)
    os.close(master)
    return out.decode("utf-8", "replace")


def test_colour_on_a_terminal_plain_text_in_a_pipe(world):
    shown = run_on_a_terminal("sources", "-c", str(world.config))
    assert "\x1b[" in shown and "feed" in shown
    piped = regwatch("sources", "-c", world.config).stdout
    assert "\x1b" not in piped and "feed" in piped
    assert "\x1b" not in regwatch("sources", "-c", world.config, env={"NO_COLOR": "1"}).stdout


def test_the_report_names_topics_keeps_times_whole_and_counts_health_apart(world, tmp_path):
    out = tmp_path / "r.html"
    assert regwatch("report", "--out", out, "-c", world.config).returncode == 0
    page = out.read_text(encoding="utf-8")
    chart = page[page.index("<svg"): page.index("</svg>")]
    assert "利率上限 / loan-rate caps" in chart and "信用修复" in chart
    stories = page[page.index("Largest stories"): page.index("Alerts per subscription")]
    assert "利率上限 / loan-rate caps" in stories
    assert "td.t,th{white-space:nowrap}" in page and re.search(r"<td class=t>\d{4}-\d\d-\d\d \d\d:\d\d</td>", page)
    assert re.search(r"<b>3</b>alerts sent", page)      # caps ×2, huabei-watch; no health notice (repair: in the digest)


def test_csv_export_starts_with_a_bom_for_excel(world):
    r = subprocess.run([REGWATCH, "export", "--format", "csv", "-c", str(world.config)], capture_output=True, timeout=60)
    assert r.stdout.startswith("\ufeff".encode())
    rows = list(csv.DictReader(io.StringIO(r.stdout.decode("utf-8-sig"))))
    assert rows[0]["id"] and any("利率上限" in x["title"] for x in rows)


def test_the_demo_leaves_nothing_behind_unless_asked(tmp_path):
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    r = regwatch("demo", env={"TMPDIR": str(tmp)})
    assert r.returncode == 0, r.stderr
    assert "--keep DIR" in r.stdout and list(tmp.iterdir()) == []
    kept = tmp_path / "kept"
    r = regwatch("demo", "--keep", kept, env={"TMPDIR": str(tmp)})
    assert r.returncode == 0 and (kept / "regwatch.db").exists()
    # the kept store comes with a config its hint uses: searched from that folder, not the bundled sources' store
    assert f'cd {kept} && regwatch search "credit repair"' in r.stdout, r.stdout
    import sqlite3
    stored = sqlite3.connect(kept / "regwatch.db").execute("SELECT count(*) FROM articles").fetchone()[0]
    assert stored > 0           # (pytest's TMPDIR is long: the extraction workers' socket once could not be made)
    # what the hint suggests finds the demo's articles
    hinted = regwatch("search", "credit repair", "--json", cwd=kept)
    assert hinted.returncode == 0 and len(hinted.stdout.splitlines()) >= 3, hinted.stdout + hinted.stderr
    # each article stored as a reader sees it: an English summary under a Chinese title was stored `en`, outlets
    # in pinyin (`Hua Er Jie Jian Wen`); a Chinese one is `zh` with a Chinese title, an English one `en` with an
    # English title, an outlet by its name
    han = re.compile(r"[\u4e00-\u9fff]")
    rows = sqlite3.connect(kept / "regwatch.db").execute("SELECT lang, title, body, outlet FROM articles").fetchall()
    assert {lang for lang, *_ in rows} == {"zh", "en"}
    for lang, title, body, outlet in rows:
        assert bool(han.search(title)) == bool(han.search(body[:200])) == (lang == "zh"), (lang, title)
        assert outlet is None or han.search(outlet), outlet
    # the kept store read through that config: without it, "no store at …", exit 2
    found = regwatch("export", "--format", "jsonl", "--since", "3650d", cwd=kept)
    assert found.returncode == 0 and len(found.stdout.splitlines()) == stored, found.stderr
    # the kept config carries the subscription that sent the demo's alerts (it had none: `subscriptions` said nothing)
    subs = regwatch("subscriptions", "--json", cwd=kept)
    assert subs.returncode == 0, subs.stderr
    assert [(x["name"], x["topics"], x["channels"]) for x in map(json.loads, subs.stdout.splitlines())] == [
        ("regulatory", ["*"], ["terminal"])]
    sent = regwatch("alerts", "--json", cwd=kept)
    assert sent.returncode == 0 and {json.loads(x)["subscription"] for x in sent.stdout.splitlines()} == {"regulatory"}
    (kept / "regwatch.toml").write_text("# mine\n[store]\npath = \"regwatch.db\"\n", encoding="utf-8")
    assert regwatch("demo", "--keep", kept, env={"TMPDIR": str(tmp)}).returncode == 0
    assert (kept / "regwatch.toml").read_text(encoding="utf-8").startswith("# mine")     # never overwritten


def test_the_readme_quick_start_works_with_what_init_writes(tmp_path, receiver):
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme[readme.index("## Quick start"): readme.index("## Commands")]
    named = re.findall(r"regwatch alerts test (\S+)", quick)
    assert named == ["console", "risk-dingtalk"]
    cfg = tmp_path / "regwatch.toml"
    assert regwatch("init", cfg).returncode == 0
    r = regwatch("alerts", "test", "console", "-c", cfg)
    assert r.returncode == 0 and "regwatch 测试消息" in r.stdout and "console: sent" in r.stdout

    # as the quick start says: uncomment the risk-dingtalk channel, add it to the subscription, export the secrets
    text = cfg.read_text(encoding="utf-8")
    block = re.search(r'# \[\[channels\]\]\n# name = "risk-dingtalk"\n(# .*\n)+', text).group(0)
    text = text.replace(block, "".join(ln[2:] + "\n" for ln in block.splitlines()))
    text = text.replace('\nchannels = ["console"]', '\nchannels = ["console", "risk-dingtalk"]')
    text = text.replace("https://oapi.dingtalk.com", receiver.url)         # the one change: no internet here
    cfg.write_text(text, encoding="utf-8")
    receiver.routes["robot"] = {"type": "dingtalk", "secret": "SECquickstart", "token": "T0KEN"}
    r = regwatch("alerts", "test", "risk-dingtalk", "-c", cfg,
                 env={"DINGTALK_TOKEN": "T0KEN", "DINGTALK_SECRET": "SECquickstart"})
    assert r.returncode == 0 and "risk-dingtalk: sent" in r.stdout, r.stderr
    assert [m["sig_ok"] for m in receiver.delivered("robot")] == [True]


def test_a_pipe_closed_early_exits_141_like_any_writer(tmp_path):
    lines = "".join(json.dumps({"id": i, "title": "消费金融利率上限降至20%", "text": CAP}, ensure_ascii=False) + "\n"
                    for i in range(3000))
    (tmp_path / "in.jsonl").write_text(lines, encoding="utf-8")
    r = subprocess.run(["bash", "-c", f'set -o pipefail; "{REGWATCH}" classify --json in.jsonl | head -2'],
                       cwd=tmp_path, capture_output=True, text=True, timeout=120)
    assert r.returncode == 141 and len(r.stdout.splitlines()) == 2 and r.stderr == "", (r.returncode, r.stderr)


def test_sources_keeps_a_long_reason_whole_when_piped_and_cuts_it_with_an_ellipsis_on_a_terminal(tmp_path):
    """Piped, `sources` cut the reason mid-word (`DNS lookup failed: no results f`): the long URL comes first."""
    url = "http://127.0.0.1:9/api/v2/news/list?" + "&".join(f"param{i}=value{i}" for i in range(14)) + "&pageSize=18.json"
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[crawl]\ndelay = "0s"\n[[sources]]\nname = "long"\nkind = "feed"\nurl = "{url}"\n',
                   encoding="utf-8")
    assert regwatch("run", "--once", "-c", cfg).returncode == 0
    piped = regwatch("sources", "-c", cfg)
    assert piped.returncode == 0 and "Connection refused." in piped.stdout, piped.stdout
    shown = run_on_a_terminal("sources", "-c", str(cfg))
    assert "…" in shown and "Connection refused." not in shown, shown


def test_sources_on_a_terminal_cuts_a_long_reason_after_a_whole_word(tmp_path):
    """On a terminal the reason was cut mid-word (`refused by oth…`); it is cut after the last whole word that fits."""
    url = "http://127.0.0.1:9/" + "news/" * 16 + "list-of-the-day.xml"          # 160 characters end in "other"
    cfg = tmp_path / "regwatch.toml"
    cfg.write_text(f'[crawl]\ndelay = "0s"\n[[sources]]\nname = "long"\nkind = "feed"\nurl = "{url}"\n',
                   encoding="utf-8")
    assert regwatch("run", "--once", "-c", cfg).returncode == 0
    assert f"list page {url}: Connection was refused by other side: 111: Connection refused." in \
        regwatch("sources", "-c", cfg).stdout
    shown = run_on_a_terminal("sources", "-c", str(cfg))
    assert "Connection was refused by…" in shown, shown
