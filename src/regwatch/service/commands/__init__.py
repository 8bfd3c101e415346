"""The `regwatch` commands, one module per group; `service/cli.py` puts them on the `regwatch` group.

- `service`: init, run, baseline, demo
- `tools`: extract, classify, eval, label, topics
- `reading`: search, export, report, sources
- `outbox`: alerts (and `alerts test`), subscriptions (and `subscriptions test`)
- `why`: why
- `migrate`: migrate (a store copied into another engine)
- `common`: the options they share, `Setup`, and one line (exit 2) for a user's mistake
"""
