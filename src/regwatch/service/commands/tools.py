"""Commands that read pages and tune topics: `extract`, `classify`, `eval`, `label`, `topics`.

None of them sends anything or needs the channels' secrets.
"""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import click

from ...defaults import SOURCE_TZ
from ...pipeline.redact import redact
from ..output import Clock, Table, echo, json_line, json_text, note, plural, safe
from .common import Setup, UserError, config_option, json_option, since_option, user_errors, zone_value

# -- extract --------------------------------------------------------------------------------------

@click.command()
@click.argument("inputs", nargs=-1, required=True)
@json_option
@click.option("--tz", default=SOURCE_TZ, show_default=True, callback=zone_value,
              help="Time zone (an IANA name) for page times written without an offset.")
@click.option("-c", "--config", "config_path", type=click.Path(dir_okay=False), default=None,
              help="Config whose [crawl] limits and address rules a URL is fetched under (default: the embedded "
                   "default's; $REGWATCH_CONFIG and ./regwatch.toml are not read).")
@user_errors
def extract(inputs: tuple[str, ...], as_json: bool, tz: str, config_path: str | None) -> None:
    """What regwatch reads from a page (a FILE or an http(s) URL): title, body, published time, language.

    A URL is fetched as the crawler fetches, under the [crawl] limits and address rules (its own origin and
    public addresses; see Security in the README) of the config -c names, else the defaults'. Each input that
    cannot be read is one line on stderr; the exit code is 2 if any failed."""
    from ...pipeline.extract import ExtractError, extract_bytes
    from ..config import default_config, load_config

    failed = 0
    clock = Clock()
    # (only a config named with -c: one found in the folder, whose other values need secrets, is not extract's)
    crawl = functools.cache(lambda: (load_config(config_path) if config_path else default_config()).crawl)
    for inp in inputs:
        shown = redact(inp)      # a URL's `user:password@` never shown (as a crawl's errors never show it)
        try:
            body, ctype = _fetch(inp, crawl)
            ex = extract_bytes(body, url=inp if inp.startswith(("http://", "https://")) else None,
                               content_type=ctype, tz=tz)
        except (ExtractError, OSError, ValueError) as e:
            failed += 1
            if as_json:
                json_line({"input": shown, "error": redact(str(e))})
            click.echo(f"regwatch: {safe(shown)}: {safe(redact(str(e)))}", err=True)
            continue
        d = {"input": shown, **ex.to_json()}
        d.pop("encoding", None)
        d.pop("date_from", None)
        d["published_at"] = clock.iso(d["published_at"])        # one clock: the display zone, to the second
        if as_json:
            json_line(d)
        else:
            echo((f"# {safe(d['title'])}", "head"))
            echo((f"{clock.full(d['published_at'], 'no date')} · {d['lang']} · {safe(shown)}", "dim"))
            echo("")
            echo(safe(d["body"], keep="\n"))
            echo("")
    if failed:
        raise SystemExit(2)


def _fetch(inp: str, crawl: Callable[[], Any]) -> tuple[bytes, str | None]:
    """A page's bytes: from the web, fetched as the crawler fetches (`crawler.fetch`: the address guard on every
    redirect, `max_size`, `timeout`; a refusal, a 404 or no network is an OSError with one line to show), or
    from a file (`.gz` decompressed). `crawl()`: the config's `[crawl]` table, loaded for the first URL."""
    if inp.startswith(("http://", "https://")):
        from ...crawler.fetch import fetch_page

        return fetch_page(inp, crawl())[:2]
    p = Path(inp)
    if not p.is_file():
        raise OSError("no such file" if not p.exists() else "not a file")
    data = p.read_bytes()
    if inp.endswith(".gz"):
        import gzip

        data = gzip.decompress(data)
    return data, None


# -- classify -------------------------------------------------------------------------------------

def read_items(path: str, labelled: Setup | None = None) -> list[dict[str, Any]]:
    """The articles of a file (or stdin, `-`): JSONL with id / title / text (or body, as `regwatch export --body`
    writes it), or plain text (the first line is the title). A file with a line that is a JSON object is JSONL,
    and every line of it must be one. A JSON line with neither text nor body is tagged on its title, with a
    warning on stderr.

    `labelled` (eval and train, with the command's setup): the articles are labelled, so the file must be JSONL
    and each line's `labels` (and `not_labels`, when given) a list of the loaded topics, by id or by name as
    `--topic` takes them (kept as ids). The whole file is read before the first article is used: a mistake is
    one line naming the file, the line and the problem."""
    try:
        raw = sys.stdin.read() if path == "-" else Path(path).read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text") from None
    raw = raw.removeprefix("\ufeff")
    name = "stdin" if path == "-" else path
    # (lines end at "\n" alone: str.splitlines() would also cut a JSON string at U+2028, U+0085 …)
    lines = [(n, ln) for n, ln in enumerate(raw.split("\n"), 1) if ln.strip()]
    parsed: dict[int, Any] = {}
    for n, line in lines:
        if line.lstrip().startswith("{"):
            try:
                parsed[n] = json.loads(line)
            except json.JSONDecodeError as e:
                parsed[n] = e
    if not any(isinstance(v, dict) for v in parsed.values()):
        if labelled is not None:
            raise UserError(f"{name}: not JSON lines: labelled articles are one JSON object a line, with "
                            "`title`, `text` and `labels` (a list of topic ids)")
        title, _, text = raw.partition("\n")
        return [{"id": None, "title": title.strip(), "text": text}]
    items = []
    for n, _ in lines:
        item = parsed.get(n)
        if isinstance(item, json.JSONDecodeError):
            raise UserError(f"{name}:{n}: not a JSON line ({item.msg})")
        if not isinstance(item, dict):      # (every line that starts with `{` was read as JSON)
            raise UserError(f"{name}:{n}: not a JSON line (an object, {{…}}, with title and text)")
        if labelled is not None:
            item["labels"] = _topic_ids(item.get("labels"), "labels", labelled, f"{name}:{n}")
            if "not_labels" in item:
                item["not_labels"] = _topic_ids(item["not_labels"], "not_labels", labelled, f"{name}:{n}")
        if item.get("text") is None:
            if item.get("body") is not None:
                item["text"] = item["body"]
            else:
                note(f"{name}:{n}: no `text` or `body` (tagged on its title alone)")
        items.append(item)
    return items


def _topic_ids(value: Any, key: str, setup: Setup, where: str) -> list[str]:
    """A line's `labels` / `not_labels`: a list of the loaded topics, by id or name (as ids); else one line."""
    if value is None:
        raise UserError(f"{where}: no `{key}` (a list of topic ids; [] for an article about none of them)")
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise UserError(f"{where}: `{key}` is not a list of topic ids: {json.dumps(value, ensure_ascii=False)[:80]}")
    ids = []
    for t in value:
        tid = setup.topic_id(t)
        if tid is None:
            raise UserError(f"{where}: `{key}`: no topic {t!r}; known topics: {', '.join(sorted(setup.topic_names))}")
        ids.append(tid)
    return ids


@click.command()
@click.argument("path", default="-")
@click.option("--json", "as_json", is_flag=True, help="JSON lines (the default for JSONL input).")
@click.option("--explain", is_flag=True, help="Every topic's score against its threshold, the signals that "
                                              "fired and the required words missing.")
@config_option
@user_errors
def classify(path: str, as_json: bool, explain: bool, config_path: str | None) -> None:
    """Tag JSONL (id, title, text or body) or plain text (first line = title) from PATH or stdin (-)."""
    setup = Setup(config_path)
    clf = setup.classifier
    for item in read_items(path):
        title, text = item.get("title") or "", item.get("text") or ""
        if explain:
            rows = clf.explain(title, text)
            if as_json:
                json_line({"id": item.get("id"), "topics": rows})
            else:
                print_explain(item.get("id"), title, rows, setup.topic_names)
            continue
        tags = clf.classify(title, text)
        topics = [{"id": t.topic, "score": round(t.score, 2), "evidence": t.evidence} for t in tags]
        out: dict[str, Any] = {"id": item.get("id"), "topics": topics}
        if as_json or item.get("id") is not None:
            json_line(out)
        else:
            echo(", ".join(f"{t['id']} ({t['score']})" for t in out["topics"]) or "(no topic)")


def print_explain(item_id: Any, title: str, rows: list[dict[str, Any]], names: dict[str, str]) -> None:
    """`classify --explain` and `why`: each topic's rules score against its threshold (and, with the learned
    stage, its probability against its threshold), then what fired and what was missing."""
    if item_id is not None or title:
        echo((f"{'#' + str(item_id) + ' ' if item_id is not None else ''}{safe(title)}", "head"))
    learned = any("probability" in r for r in rows)
    cols = [("topic", None, False), ("name", 24, False), ("score / threshold", None, True)]
    if learned:
        cols.append(("probability / threshold", None, True))
    t = Table([*cols, ("tagged", None, False)])
    for r in sorted(rows, key=lambda r: (not r["tagged"], -r["score"])):
        fired = [f"{safe(e['term'])} ({e['where']} {e['weight']:+g})" for e in r["evidence"]]
        under = []
        if fired:
            under.append("fired: " + ", ".join(fired))
        if r["missing_required"]:
            under.append("missing a required word, e.g. " + ", ".join(safe(w) for w in r["missing_required"]))
        if r.get("model_evidence"):
            stage = f" ({r['model_stage']})" if r.get("model_stage") else ""
            under.append(f"learned{stage}: weighed most " + ", ".join(f"{safe(m['feature'])} (+{m['contribution']:g})"
                                                             for m in r["model_evidence"][:6]))
        cells = [r["topic"], names.get(r["topic"], ""), f"{r['score']:g} / {r['threshold']:g}"]
        if learned:
            cells.append(f"{r['probability']:.2f} / {r['model_threshold']:.2f}" if "probability" in r else "-")
        t.add(*cells, ("yes", "ok") if r["tagged"] else ("no", "dim"), under=under)
    t.print()


# -- eval -----------------------------------------------------------------------------------------

@click.command(name="eval")
@click.argument("path", required=False)
@click.option("--store", "use_store", is_flag=True, help="Backtest: re-tag the stored articles with the current packs.")
@click.option("--labels", "use_labels", is_flag=True, help="Score the packs on the corrections kept by `regwatch label`.")
@click.option("--folds", type=click.IntRange(2, 20),
              help="k-fold cross-validation by event (mean and spread); the learned stage is retrained per fold.")
@click.option("--by", "cv_by", type=click.Choice(["event", "writer"]), default="event", show_default=True,
              help="Cross-validate by event (k folds), or leave one writer out (`writer`, else the id's prefix "
                   "before its last '-'), their events kept out of training; `--by writer` needs no --folds.")
@click.option("--rules", "rules_only", is_flag=True, help="The packs' rules alone, without the learned stage.")
@since_option(what="stored (with --store)")
@click.option("--json", "as_json", is_flag=True, help="The whole report as one JSON document.")
@click.option("--mistakes/--no-mistakes", default=True, help="List false positives and misses.")
@config_option
@user_errors
def eval_(path: str | None, use_store: bool, use_labels: bool, folds: int | None, cv_by: str, rules_only: bool,
          since: str | None, as_json: bool, mistakes: bool, config_path: str | None) -> None:
    """Precision / recall / F1 per topic against a labeled JSONL (`labels`); with --labels, against your
    corrections in the store; with --store, what the current packs would tag and alert differently."""
    from ...pipeline.evaluate import SplitError, cross_validate, evaluate

    setup = Setup(config_path)
    clf = setup.rules if rules_only else setup.classifier
    if use_store:
        _backtest(setup, clf, since, as_json)
        return
    if use_labels:
        items = setup.store.labelled_articles()
        if not items:
            raise UserError("no labels in the store yet: add some with `regwatch label URL_OR_ID --topic T` / `--not T`")
    elif not path:
        raise UserError("give a labeled JSONL file, --labels (your corrections) or --store (a backtest)")
    else:
        items = read_items(path, labelled=setup)
    if cv_by == "writer" and folds:
        raise UserError("--by writer holds out each writer in turn: --folds does not apply to it")
    if folds or cv_by == "writer":
        # the learned stage learns each fold anew, from that fold's training part: whenever the config uses
        # one (also when the bundled model file is stale after a change to the pack, and the rules decide)
        from ...pipeline.learned import ModelError, ships_model

        auto = setup.cfg.topics.model == "auto" and not setup.cfg.topics.files and ships_model(setup.cfg.topics.packs)
        learned = not rules_only and (clf.model is not None or auto)
        if learned:
            from ...pipeline.classify import Classifier
            from ...pipeline.learned import train as train_model

            rules = Classifier(clf.topics)
            meaning = clf.model.meaning if clf.model is not None else True    # the kind of model the config uses
            make = lambda items_: Classifier(clf.topics, model=train_model(rules, items_, with_meaning=meaning))  # noqa: E731
        else:
            make = lambda items_: clf  # noqa: E731
        try:
            cv = cross_validate(items, folds or 0, make, by=cv_by).summary()
        except ModelError as e:          # (training needs scikit-learn)
            raise UserError(f"{e} (or cross-validate the rules alone with --rules)") from None
        except SplitError as e:
            raise UserError(str(e)) from None
        if folds and cv["folds"] < folds:      # (an event is never split: fewer events than folds leave some empty)
            note(f"--folds {folds}: the articles' events fill only {cv['folds']} folds (each event's articles stay "
                 f"in one): {cv['folds']}-fold cross-validation")
        if as_json:
            click.echo(json_text(cv, indent=1))
            return
        def f(s: dict[str, Any]) -> str:
            if s["mean"] is None:
                return "— (defined in no fold)"
            return f"{s['mean']:.3f} ± {s['sd']:.3f} (min {s['min']:.3f}, max {s['max']:.3f})"
        echo((f"{cv['folds']}-fold cross-validation by event" if cv_by == "event" else
              f"leave one writer out ({cv['folds']} writers, their events kept out of training)")
             + f", {cv['articles']} articles, "
             + ("rules + learned stage (retrained in each fold)" if learned else "rules alone"))
        echo(f"micro-F1   {f(cv['micro_f1'])}\nprecision  {f(cv['precision'])}\nrecall     {f(cv['recall'])}")
        for lang, st in cv["recall_by_lang"].items():
            echo(f"recall {lang:3} {f(st)}")
        for t, st in cv["topics_f1"].items():
            echo(f"F1 {t:20} {_score(st['pooled'])} all folds pooled; per fold holding it "
                 + (f(st) if st["mean"] is not None else "— (no fold holds it)"))
        pooled = cv["pooled"]
        g = lambda s: (f"{_score(s['f1'])} (P {_score(s['precision'])}, R {_score(s['recall'])}; "  # noqa: E731
                       f"tp {s['tp']}, fp {s['fp']}, fn {s['fn']})")
        echo(f"all folds pooled (every article scored once): micro-F1 {g(pooled['micro'])}")
        for lang, st in pooled["by_lang"].items():
            echo(f"  {lang:3} {g(st)}")
        return
    report = evaluate(clf, items)
    if as_json:
        click.echo(json_text(report.to_json(), indent=1))
        return
    t = Table([("topic", None, False), ("P", None, True), ("R", None, True), ("F1", None, True), ("tp", None, True),
               ("fp", None, True), ("fn", None, True)])
    rows = [*report.topics.items(), ("micro", report.micro), *((f"micro, {k}", v) for k, v in sorted(report.by_lang.items()))]
    for name, s in rows:
        # a score that is undefined (nothing tagged: precision; nothing labelled: recall) is "—", not a perfect one
        t.add(name, _score(s.precision), _score(s.recall), _score(s.f1), str(s.tp), str(s.fp), str(s.fn))
    t.print()
    negatives = [*([f"{report.negatives_tagged} of {report.negatives} negatives tagged"]
                   if report.negatives else []),
                 *([f"{report.nots_tagged} of {report.nots} judged not about a topic (`label --not`) tagged with it"]
                   if report.nots else [])]
    echo(f"{report.n} articles; " + ("; ".join(negatives) or "no negatives among them"))
    if mistakes:
        for m in report.mistakes:
            ev = ", ".join(" ".join(str(e["term"]).split()) for e in m.get("evidence", []))
            echo(f"  {m['kind']:14} {m['topic']:20} {m['id']}: {safe(str(m['title'])[:50])}" + (f"  [{ev}]" if ev else ""))


def _score(v: float | None) -> str:
    """A precision, recall or F1 as `eval` shows it: "—" where it is undefined (0/0)."""
    return "—" if v is None else f"{v:.3f}"


def _backtest(setup: Setup, clf: Any, since: str | None, as_json: bool) -> None:
    from ..backtest import backtest

    result = backtest(setup.store, clf, setup.cfg.subscriptions, setup.since_iso(since))
    if as_json:
        click.echo(json_text(result, indent=1))
        return
    for c in result["changed"]:
        change = " ".join([*(f"+{t}" for t in c["added"]), *(f"-{t}" for t in c["removed"])])
        subs = ""
        if c.get("would_alert"):
            subs += f"  would alert: {', '.join(c['would_alert'])}"
        if c.get("would_not_alert"):
            subs += f"  would not alert: {', '.join(c['would_not_alert'])}"
        echo((f"#{c['id']:<6}", "id"), f" {change:40} {safe((c['title'] or '')[:50])}{subs}")
    gained = ", ".join(f"{k} +{v}" for k, v in result["alerts_gained"].items()) or "none"
    lost = ", ".join(f"{k} -{v}" for k, v in result["alerts_lost"].items()) or "none"
    echo(f"{plural(result['articles'], 'stored article')} in {plural(result['stories'], 'story', 'stories')}, "
         f"{len(result['changed'])} tagged differently; alerts (one per story) gained: {gained}; lost: {lost}")


@click.command()
@click.argument("paths", nargs=-1)
@click.option("--labels", "use_labels", is_flag=True, help="Learn from your corrections in the store too.")
@click.option("--select", is_flag=True,
              help="Keep the model only for topics where it beats the rules in a cross-validation by event.")
@click.option("--meaning/--no-meaning", default=True, show_default=True,
              help="Learn from the articles' embeddings by a multilingual sentence encoder too (better tags on "
                   "wordings and languages the labels lack; ~20 ms of CPU an article the model is not sure of "
                   "without it, and ~120 MB).")
@click.option("--out", "out_path", default="regwatch-model.json", show_default=True,
              type=click.Path(dir_okay=False), help="Where to write the model.")
@config_option
@user_errors
def train(paths: tuple[str, ...], use_labels: bool, select: bool, meaning: bool, out_path: str,
          config_path: str | None) -> None:
    """Rebuild the learned stage from labelled JSONL files (e.g. the project's eval/dev.jsonl) and, with
    --labels, your corrections; then set `[topics] model = "<out>"` to use it."""
    from ...pipeline.learned import ModelError, unlearnable
    from ...pipeline.learned import train as train_model

    if not paths and not use_labels:
        raise UserError("give labelled JSONL files (eval/dev.jsonl of the project) and/or --labels")
    setup = Setup(config_path)
    rules = setup.rules
    items = [it for p in paths for it in read_items(p, labelled=setup)]
    if use_labels:
        items += setup.store.labelled_articles()
    if not items:
        raise UserError("nothing to learn from: the files and the store hold no labelled articles")
    # a model file replaces the shipped learned stage: one that learned no topic would leave the rules alone
    lacking = unlearnable(rules.topics, items)
    if len(lacking) == len(rules.topics):
        more = ("corrections alone are too few: train on the project's set and yours, `regwatch train eval/dev.jsonl "
                "--labels`" if use_labels and not paths else "label articles about each topic and articles about none")
        raise UserError(f"nothing learned from {plural(len(items), 'article')}, nothing written: each topic needs at "
                        f"least 1 article labelled with it and 1 judged not about it, and none has both "
                        f"({_counts(lacking)}); {more}")
    try:
        model = train_model(rules, items, select=select, with_meaning=meaning)
    except ModelError as e:
        raise UserError(str(e)) from None
    if not model.topics:
        raise UserError("the model beat the rules on no topic in the cross-validation (--select), nothing written: "
                        "the rules alone are `[topics] model = \"\"`")
    if lacking:
        note(f"not learned, the rules decide them: {_counts(lacking)} (each topic needs at least 1 article labelled "
             f"with it and 1 judged not about it)")
    model.meta["trained_on"] = ", ".join([*paths, *(["the store's labels"] if use_labels else [])])
    model.save(out_path)
    echo(f"wrote {out_path}: {len(items)} articles, {plural(len(model.topics), 'topic')} learned; "
         f'use it with [topics] model = "{out_path}"')


def _counts(lacking: dict[str, tuple[int, int]]) -> str:
    """`rate_cap: 1 positive, 0 negatives; credit_repair: none judged`."""
    return "; ".join(f"{t}: {plural(pos, 'positive')}, {plural(neg, 'negative')}" if pos + neg else f"{t}: none judged"
                     for t, (pos, neg) in lacking.items())


# -- label, topics --------------------------------------------------------------------------------

@click.command()
@click.argument("article")
@click.option("--topic", "topics", multiple=True, help="The article IS about this topic (repeatable).")
@click.option("--not", "nots", multiple=True, help="The article is NOT about this topic (repeatable).")
@click.option("--forget", "forgets", multiple=True,
              help="Withdraw your correction on this topic, either way (repeatable).")
@config_option
@user_errors
def label(article: str, topics: tuple[str, ...], nots: tuple[str, ...], forgets: tuple[str, ...],
          config_path: str | None) -> None:
    """Record a correction of a stored ARTICLE's tagging (its id or URL) for `eval --labels` and `train --labels`:
    the stored tags, which search, export and alerts use, are unchanged."""
    if not topics and not nots and not forgets:
        raise UserError("say what the article is about: --topic T and/or --not T (or --forget T to withdraw one)")
    setup = Setup(config_path)
    topics, nots = (tuple(setup.check_topic(t) or t for t in ts) for ts in (topics, nots))
    both = sorted(set(topics) & set(nots) | (set(topics) | set(nots)) & set(forgets))
    if both:
        raise UserError(f"{', '.join(both)}: given twice (--topic, --not, --forget); say once what the article is")
    store = setup.store
    row = store.find_article(article)
    if row is None:
        raise UserError(f"no stored article {article!r} (give its id, as `regwatch search --json` shows, or its URL)")
    with store.tx():
        for t in topics:
            store.set_label(row["id"], t, True)
        for t in nots:
            store.set_label(row["id"], t, False)
        forgotten = [t for t in forgets if store.forget_label(row["id"], t)]
        unknown = sorted(set(forgets) - set(forgotten))
        if unknown:         # (the transaction is rolled back: nothing of this command is kept)
            raise UserError(f"#{row['id']} has no correction on {', '.join(unknown)}: nothing changed")
    shown = ", ".join([*topics, *(f"not {t}" for t in nots), *(f"{t} forgotten" for t in forgotten)])
    # a correction re-tags nothing: say so, beside the tags search, export, report and alerts go on reading
    stored = ", ".join(t["topic"] for t in store.topics_of(row["id"])) or "none"
    echo((f"#{row['id']}", "id"), f" {safe(row['title'] or row['url'])}: correction recorded: {shown}")
    echo(f"  for `regwatch eval --labels` and `regwatch train … --labels` (and `regwatch why`); the stored tags "
         f"({stored}) are unchanged: search, export, report and alerts go on using them")


@click.command()
@json_option
@config_option
@user_errors
def topics(as_json: bool, config_path: str | None) -> None:
    """The topics of the loaded packs: id, Chinese name, pack, threshold, what each is about."""
    setup = Setup(config_path)
    t = Table([("id", None, False), ("name", None, False), ("pack", None, False), ("threshold", None, True)])
    for topic in setup.topics:
        if as_json:
            json_line({"id": topic.id, "name": topic.name, "pack": topic.pack, "threshold": topic.threshold,
                       "description": topic.description})
        else:
            t.add(topic.id, topic.name, topic.pack, f"{topic.threshold:g}",
                  under=[topic.description] if topic.description else [])
    t.print()
