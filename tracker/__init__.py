"""tracker: tracked, repeatable PyTorch studies on MLflow.

The folders say the architecture (README.md, "Layout"): `ml/` trains (torch, no MLflow),
`runs/` gives a run its life (start, train, end, resume, sweep), `results/` says what the runs
mean (compare, statistics, reports), `tracking/` is the only MLflow I/O, `cli/` parses and
prints. `errors`, `settings` and `config` are the facts every folder reads.

    tracker demo --data-dir ../shared/datasets
"""
