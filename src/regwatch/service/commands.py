"""The read-only and tool commands: extract, classify, eval, search, sources, alerts, export, topics."""

from __future__ import annotations

import csv
import json
import re
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import click

from .config import ConfigError, load_config
from .durations import parse_duration


_BIDI = "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
_CONTROL = re.compile(f"[\x00-\x1f\x7f-\x9f{_BIDI}]")


def _t(text, keep: str = "") -> str:
    """Text from the web, safe for a terminal: control characters (ANSI escapes, carriage returns,
    bidi overrides…) shown escaped (`\\x1b`), except those in `keep`."""
    text = "" if text is None else str(text)
    return _CONTROL.sub(lambda m: m.group() if m.group() in keep else
                        (f"\\x{ord(m.group()):02x}" if ord(m.group()) < 0x100 else f"\\u{ord(m.group()):04x}"), text)


_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _csv_cell(value):
    """A spreadsheet never runs a cell from the web as a formula: a leading = + - @ (or tab, CR) gets a `'`."""
    return "'" + value if isinstance(value, str) and value.startswith(_FORMULA) else value


def _since(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        return datetime.now(timezone.utc) - timedelta(seconds=parse_duration(value))
    except ValueError:
        pass
    try:
        dt = datetime.fromisoformat(value)
    except ValueError:
        raise ConfigError(f"{value!r} is neither a duration (7d) nor a date (2025-12-01)") from None
    return dt if dt.tzinfo else dt.replace(tzinfo=timezone(timedelta(hours=8)))


def _store(config_path):
    from ..pipeline.store import Store

    cfg = load_config(config_path)
    return cfg, Store(cfg.store.location)


def _read_items(path: str):
    """JSONL with id/title/text, or plain text (one article)."""
    raw = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    lines = [l for l in raw.splitlines() if l.strip()]
    if lines and all(l.lstrip().startswith("{") for l in lines):
        for n, line in enumerate(lines, 1):
            try:
                item = json.loads(line)
            except json.JSONDecodeError as e:
                raise ConfigError(f"{path}:{n}: not a JSON line ({e.msg})") from None
            if not isinstance(item, dict):
                raise ConfigError(f"{path}:{n}: expected an object with title and text")
            yield item
    else:
        title, _, text = raw.partition("\n")
        yield {"id": None, "title": title.strip(), "text": text}


def register(main, config_option, errors, UserError) -> None:
    @main.command()
    @click.argument("inputs", nargs=-1, required=True)
    @click.option("--json", "as_json", is_flag=True, help="One JSON line per input.")
    @click.option("--tz", default="Asia/Shanghai", show_default=True, help="Timezone for times without an offset.")
    @errors
    def extract(inputs, as_json, tz):
        """What regwatch reads from a page: title, body, published time, language."""
        from ..pipeline.extract import ExtractError, extract_bytes

        failed = 0
        for inp in inputs:
            try:
                body, ctype = _fetch(inp)
                ex = extract_bytes(body, url=inp if inp.startswith("http") else None, content_type=ctype, tz=tz)
            except (ExtractError, OSError, ValueError) as e:
                failed += 1
                if as_json:
                    click.echo(json.dumps({"input": inp, "error": str(e)}, ensure_ascii=False))
                else:
                    click.echo(f"regwatch: {_t(inp)}: {_t(e)}", err=True)
                continue
            d = {"input": inp, **ex.to_json()}
            d.pop("encoding", None)
            d.pop("date_from", None)
            if as_json:
                click.echo(json.dumps(d, ensure_ascii=False))
            else:
                click.echo(f"# {_t(d['title'])}\n{d['published_at'] or 'no date'} · {d['lang']} · {_t(inp)}\n\n"
                           f"{_t(d['body'], keep=chr(10))}\n")
        if failed == len(inputs):
            raise SystemExit(1)

    @main.command()
    @click.argument("path", default="-")
    @click.option("--json", "as_json", is_flag=True, help="JSON lines (the default for JSONL input).")
    @click.option("--explain", is_flag=True, help="Every topic's score, threshold and evidence.")
    @config_option
    @errors
    def classify(path, as_json, explain, config_path):
        """Tag JSONL (id, title, text) or plain text with topics and their evidence."""
        from .app import load_classifier

        clf = load_classifier(load_config(config_path))
        for item in _read_items(path):
            if explain:
                out = {"id": item.get("id"), "topics": clf.explain(item.get("title", ""), item.get("text", ""))}
            else:
                tags = clf.classify(item.get("title", ""), item.get("text", ""))
                out = {"id": item.get("id"), "topics": [{"id": t.topic, "score": round(t.score, 2), "evidence": t.evidence}
                                                        for t in tags]}
            if as_json or explain or item.get("id") is not None:
                click.echo(json.dumps(out, ensure_ascii=False))
            else:
                click.echo(", ".join(f"{t['id']} ({t['score']})" for t in out["topics"]) or "(no topic)")

    @main.command(name="eval")
    @click.argument("path", required=False)
    @click.option("--store", "use_store", is_flag=True, help="Backtest: re-tag the stored articles with the current packs.")
    @click.option("--labels", "use_labels", is_flag=True, help="Score the packs on the corrections kept by `regwatch label`.")
    @click.option("--folds", type=click.IntRange(2, 20),
                  help="k-fold cross-validation by event (mean and spread); the learned stage is retrained per fold.")
    @click.option("--rules", "rules_only", is_flag=True, help="The packs' rules alone, without the learned stage.")
    @click.option("--since", help="With --store: only articles fetched since (7d, or a date).")
    @click.option("--json", "as_json", is_flag=True, help="The whole report as JSON.")
    @click.option("--mistakes/--no-mistakes", default=True, help="List false positives and misses.")
    @config_option
    @errors
    def eval_(path, use_store, use_labels, folds, rules_only, since, as_json, mistakes, config_path):
        """Precision / recall / F1 per topic against a labeled JSONL (`labels`); with --labels, against your
        corrections in the store; with --store, what the current packs would tag and alert differently."""
        from ..pipeline.evaluate import cross_validate, evaluate
        from .app import load_classifier

        cfg = load_config(config_path)
        clf = load_classifier(cfg, rules_only=rules_only)
        if use_store:
            _backtest(cfg, clf, since, as_json)
            return
        if use_labels:
            _, store = _store(config_path)
            items = store.labelled_articles()
            if not items:
                raise UserError("no labels in the store yet: add some with `regwatch label URL_OR_ID --topic T` / `--not T`")
        elif not path:
            raise UserError("give a labeled JSONL file, --labels (your corrections) or --store (a backtest)")
        else:
            items = list(_read_items(path))
        if folds:
            if clf.model is not None:
                from ..pipeline.classify import Classifier
                from ..pipeline.learned import train as train_model

                rules = Classifier(clf.topics)
                make = lambda items_: Classifier(clf.topics, model=train_model(rules, items_))  # noqa: E731
            else:
                make = lambda items_: clf  # noqa: E731
            cv = cross_validate(items, folds, make).summary()
            if as_json:
                click.echo(json.dumps(cv, ensure_ascii=False, indent=1))
                return
            f = lambda s: f"{s['mean']:.3f} ± {s['sd']:.3f} (min {s['min']:.3f}, max {s['max']:.3f})"
            click.echo(f"{cv['folds']}-fold cross-validation by event, {cv['articles']} articles")
            click.echo(f"micro-F1   {f(cv['micro_f1'])}\nprecision  {f(cv['precision'])}\nrecall     {f(cv['recall'])}")
            for lang, st in cv["recall_by_lang"].items():
                click.echo(f"recall {lang:3} {f(st)}")
            for t, st in cv["topics_f1"].items():
                click.echo(f"F1 {t:20} {f(st)}")
            return
        report = evaluate(clf, items)
        if as_json:
            click.echo(json.dumps(report.to_json(), ensure_ascii=False, indent=1))
            return
        click.echo(f"{'topic':22} {'P':>6} {'R':>6} {'F1':>6} {'tp':>4} {'fp':>4} {'fn':>4}")
        rows = [*report.topics.items(), ("micro", report.micro), *((f"micro, {k}", v) for k, v in sorted(report.by_lang.items()))]
        for name, s in rows:
            click.echo(f"{name:22} {s.precision:6.3f} {s.recall:6.3f} {s.f1:6.3f} {s.tp:4} {s.fp:4} {s.fn:4}")
        click.echo(f"{report.n} articles; {report.negatives_tagged} of {report.negatives} negatives tagged")
        if mistakes:
            for m in report.mistakes:
                ev = ", ".join(e["term"] for e in m.get("evidence", []))
                click.echo(f"  {m['kind']:14} {m['topic']:20} {m['id']}: {str(m['title'])[:50]}" + (f"  [{ev}]" if ev else ""))

    @main.command()
    @click.argument("paths", nargs=-1)
    @click.option("--labels", "use_labels", is_flag=True, help="Learn from your corrections in the store too.")
    @click.option("--select", is_flag=True,
                  help="Keep the model only for topics where it beats the rules in a cross-validation by event.")
    @click.option("--out", "out_path", default="regwatch-model.json", show_default=True,
                  type=click.Path(dir_okay=False), help="Where to write the model.")
    @config_option
    @errors
    def train(paths, use_labels, select, out_path, config_path):
        """Rebuild the learned stage from labelled JSONL files (e.g. the project's eval/dev.jsonl) and, with
        --labels, your corrections; then set `[topics] model = "<out>"` to use it."""
        from ..pipeline.learned import ModelError, train as train_model
        from .app import load_classifier

        if not paths and not use_labels:
            raise UserError("give labelled JSONL files (eval/dev.jsonl of the project) and/or --labels")
        cfg = load_config(config_path)
        rules = load_classifier(cfg, rules_only=True)
        items = [it for p in paths for it in _read_items(p)]
        if use_labels:
            _, store = _store(config_path)
            items += store.labelled_articles()
        if not items:
            raise UserError("nothing to learn from: the files and the store hold no labelled articles")
        try:
            model = train_model(rules, items, select=select)
        except ModelError as e:
            raise UserError(str(e)) from None
        model.save(out_path)
        click.echo(f"wrote {out_path}: {len(items)} articles, {len(model.topics)} topics learned; "
                   f'use it with [topics] model = "{out_path}"')

    @main.command()
    @click.argument("article")
    @click.option("--topic", "topics", multiple=True, help="The article IS about this topic (repeatable).")
    @click.option("--not", "nots", multiple=True, help="The article is NOT about this topic (repeatable).")
    @config_option
    @errors
    def label(article, topics, nots, config_path):
        """Correct the tagging of a stored ARTICLE (its id or URL): kept in the store for `eval --labels`."""
        from .app import load_classifier

        if not topics and not nots:
            raise UserError("say what the article is about: --topic T and/or --not T")
        cfg = load_config(config_path)
        known = {t.id for t in load_classifier(cfg).topics}
        for t in (*topics, *nots):
            if t not in known:
                raise UserError(f"no topic {t!r}; known topics: {', '.join(sorted(known))}")
        _, store = _store(config_path)
        row = store.find_article(article)
        if row is None:
            raise UserError(f"no stored article {article!r} (give its id, as `regwatch search --json` shows, or its URL)")
        with store.tx():
            for t in topics:
                store.set_label(row["id"], t, True)
            for t in nots:
                store.set_label(row["id"], t, False)
        shown = ", ".join([*topics, *(f"not {t}" for t in nots)])
        click.echo(f"#{row['id']} {row['title'] or row['url']}: {shown}")

    @main.command()
    @click.argument("query")
    @click.option("--topic", help="Only articles tagged with this topic.")
    @click.option("--source", help="Only this source.")
    @click.option("--since", help="A duration back from now (7d) or a date.")
    @click.option("--until", help="A duration back from now or a date.")
    @click.option("--limit", default=20, show_default=True)
    @click.option("--json", "as_json", is_flag=True)
    @config_option
    @errors
    def search(query, topic, source, since, until, limit, as_json, config_path):
        """Full-text search of the store (Chinese words of two characters too; AND / OR / NOT, "phrases")."""
        from ..pipeline.queries import search as do_search

        _, store = _store(config_path)
        rows = do_search(store, query, topic=topic, source=source, since=_since(since), until=_since(until), limit=limit)
        for r in rows:
            if as_json:
                click.echo(json.dumps({k: r[k] for k in ("url", "title", "source", "outlet", "published_at", "topics",
                                                         "story_id", "story_size", "snippet")}, ensure_ascii=False))
            else:
                click.echo(f"{(r['published_at'] or '')[:16]}  {r['source']}  {_t(r['title'])}  "
                           f"[{', '.join(r['topics'])}] ×{r['story_size']}\n    {_t(r['snippet'])}\n    {_t(r['url'])}")
        if not rows and not as_json:
            click.echo("no results", err=True)

    @main.command()
    @click.option("--pack", "pack", is_flag=True, help="List the bundled source pack instead.")
    @click.option("--json", "as_json", is_flag=True)
    @config_option
    @errors
    def sources(pack, as_json, config_path):
        """Each source's health: state, last run, found / new, errors."""
        cfg = load_config(config_path)
        if pack:
            from .source_packs import bundled_source_packs, load_source_pack

            for name in bundled_source_packs():
                for s in load_source_pack(name):
                    row = {"pack": name, "name": s.name, "kind": s.kind, "url": s.url, "every": s.every, "note": s.note}
                    click.echo(json.dumps(row, ensure_ascii=False) if as_json else f"{name:22} {s.name:28} {s.kind:8} {s.url}")
            return
        from ..pipeline.queries import sources_overview
        from ..pipeline.redact import redact
        from ..pipeline.store import Store

        rows = sources_overview(Store(cfg.store.location), [s.name for s in cfg.sources])
        for r in rows:
            r["last_error"] = redact(r["last_error"], cfg.secrets)   # rows stored before redaction too
            if as_json:
                click.echo(json.dumps(r, ensure_ascii=False))
                continue
            dash = lambda v: "-" if v is None else v  # noqa: E731
            click.echo(f"{r['source']:28} {r['state']:10} last {str(r['last_run'] or '-')[:19]:19} "
                       f"found {dash(r['found']):>4} new {dash(r['new']):>4} errors {dash(r['errors']):>3}  "
                       f"stored {r['articles']}")
            notes = []
            if r["last_run"] and not r["baselined"]:
                notes.append("not yet baselined: its first run that stores what its list names is the baseline "
                             "(stored, no alerts)")
            if r["deferred"]:
                notes.append(f"{r['deferred']} new articles deferred to the next run (max_articles_per_source)")
            if r["skipped"]:
                notes.append(f"{r['skipped']} articles skipped for good (robots.txt, 404/410, not a page)")
            if r["last_error"] and r["state"] != "ok":
                notes.append(_t(r["last_error"][:160]))
            for n in notes:
                click.echo(f"{'':28} {n}")

    @main.group(invoke_without_command=True)
    @click.option("--status", type=click.Choice(["pending", "sending", "retry", "sent", "failed", "broken", "digest"]))
    @click.option("--limit", default=50, show_default=True)
    @click.option("--json", "as_json", is_flag=True)
    @config_option
    @click.pass_context
    @errors
    def alerts(ctx, status, limit, as_json, config_path):
        """The outbox: what was sent, what waits, what failed (and why)."""
        if ctx.invoked_subcommand:
            return
        from ..pipeline.queries import outbox
        from ..pipeline.redact import redact

        cfg, store = _store(config_path)
        secrets = [c.secret for c in cfg.channels] + [c.url for c in cfg.channels] + cfg.secrets
        for r in outbox(store, status, limit):
            r["last_error"] = redact(r["last_error"], secrets) if r["last_error"] else None
            if as_json:
                click.echo(json.dumps(r, ensure_ascii=False))
            else:
                click.echo(f"#{r['id']:<5} {r['status']:8} {r['channel']:16} {r['subscription']:16} "
                           f"tries {r['attempts']}  {_t((r['title'] or r['kind'])[:40])}"
                           + (f"\n       {_t(r['last_error'])}" if r["last_error"] else ""))

    @alerts.command(name="test")
    @click.argument("channel")
    @config_option
    @errors
    def alerts_test(channel, config_path):
        """Send a test message to CHANNEL and say what the platform answered."""
        from . import reactor
        from ..alerts.dispatcher import send_test

        cfg = load_config(config_path)
        names = {c.name: c for c in cfg.channels}
        if channel not in names:
            raise ConfigError(f"no channel named {channel!r}; configured: {', '.join(names) or 'none'}")
        outcome = reactor.run(lambda: send_test(names[channel]))
        if outcome.ok:
            click.echo(f"{channel}: sent")
        else:
            raise UserError(f"{channel}: {outcome.action}: {outcome.error}")

    @main.command()
    @click.option("--format", "fmt", type=click.Choice(["csv", "jsonl"]), default="jsonl", show_default=True)
    @click.option("--since", help="A duration (7d) or a date.")
    @click.option("--topic", help="Only articles tagged with this topic.")
    @click.option("--body/--no-body", default=False, help="Include the article text.")
    @config_option
    @errors
    def export(fmt, since, topic, body, config_path):
        """Articles with their topics and story, as CSV or JSON lines."""
        from ..pipeline.queries import export_rows

        _, store = _store(config_path)
        rows = export_rows(store, _since(since), topic)
        out = click.get_text_stream("stdout")
        writer = None
        for r in rows:
            if not body:
                r.pop("body")
            if fmt == "jsonl":
                out.write(json.dumps(r, ensure_ascii=False) + "\n")
            else:
                r["topics"] = ";".join(r["topics"])
                if writer is None:
                    writer = csv.DictWriter(out, fieldnames=list(r))
                    writer.writeheader()
                writer.writerow({k: _csv_cell(v) for k, v in r.items()})

    _report_command(main, config_option, errors)

    @main.command()
    @click.option("--json", "as_json", is_flag=True)
    @config_option
    @errors
    def topics(as_json, config_path):
        """The topics of the loaded packs."""
        from .app import load_classifier

        clf = load_classifier(load_config(config_path))
        for t in clf.topics:
            if as_json:
                click.echo(json.dumps({"id": t.id, "name": t.name, "pack": t.pack, "threshold": t.threshold,
                                       "description": t.description}, ensure_ascii=False))
            else:
                click.echo(f"{t.id:22} {t.name:28} {t.pack}\n{'':22} {t.description}")


def _report_command(main, config_option, errors):
    @main.command()
    @click.option("--since", default="30d", show_default=True, help="A duration back from now or a date.")
    @click.option("--out", "out_path", default="report.html", show_default=True, type=click.Path(dir_okay=False))
    @config_option
    @errors
    def report(since, out_path, config_path):
        """One self-contained HTML page: topic volume per day, largest stories, source health, alerts."""
        from ..pipeline.report import render

        cfg, store = _store(config_path)
        Path(out_path).write_text(render(store, _since(since), secrets=cfg.secrets), encoding="utf-8")
        click.echo(f"wrote {out_path}")


def _backtest(cfg, clf, since, as_json) -> None:
    from ..pipeline.store import Store
    from ..pipeline.timeutil import iso
    from .backtest import backtest

    result = backtest(Store(cfg.store.location), clf, cfg.subscriptions, iso(_since(since)) if since else None)
    if as_json:
        click.echo(json.dumps(result, ensure_ascii=False, indent=1))
        return
    for c in result["changed"]:
        change = " ".join([*(f"+{t}" for t in c["added"]), *(f"-{t}" for t in c["removed"])])
        subs = ""
        if c.get("would_alert"):
            subs += f"  would alert: {', '.join(c['would_alert'])}"
        if c.get("would_not_alert"):
            subs += f"  would not alert: {', '.join(c['would_not_alert'])}"
        click.echo(f"#{c['id']:<6} {change:40} {(c['title'] or '')[:50]}{subs}")
    gained = ", ".join(f"{k} +{v}" for k, v in result["alerts_gained"].items()) or "none"
    lost = ", ".join(f"{k} -{v}" for k, v in result["alerts_lost"].items()) or "none"
    click.echo(f"{result['articles']} stored articles, {len(result['changed'])} tagged differently; "
               f"alerts gained: {gained}; lost: {lost}")


def _fetch(inp: str) -> tuple[bytes, str | None]:
    if inp.startswith(("http://", "https://")):
        import httpx

        r = httpx.get(inp, follow_redirects=True, timeout=30, headers={"User-Agent": "regwatch/0.1"})
        r.raise_for_status()
        return r.content, r.headers.get("content-type")
    p = Path(inp)
    if not p.is_file():
        raise OSError(f"no such file: {inp}")
    data = p.read_bytes()
    if inp.endswith(".gz"):
        import gzip

        data = gzip.decompress(data)
    return data, None
