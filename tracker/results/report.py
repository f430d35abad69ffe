"""A study's write-up, generated from its runs alone (no data, no model), in the seed studies'
order: what was compared and what was held fixed, the data, each condition's model, the curves,
the results table, each condition's best run's confusion matrix and misclassified images, and
the runs left out. The content is a list of blocks; render.py writes it as markdown and
as one self-contained html page.

    tracker report --sweep PARENT_RUN_ID --output reports/mnist-norms
"""
from __future__ import annotations

import json
import re
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .. import names
from ..config import FIELDS, NAMING, PLACEMENT
from ..study import Judged
from ..tracking.records import RunRecord
from . import compare, findings, render, tuning
from .cells import cells, level_label, notes
from .counted import SEED, best_runs, label as condition_label

# vary by design, name the study, or say where a run executed (the Data and Environment lines say)
NOT_COMPARED = (SEED, *NAMING, *PLACEMENT)
OUTCOME_FILES = (names.SUMMARY, names.CONFUSION_JSON, names.CONFUSION_PNG,
                 names.MISCLASSIFIED_JSON, names.MISCLASSIFIED_PNG)


@dataclass
class Written:
    readme: Path
    html: Path
    logged: str | None  # where the sweep's parent run keeps a copy
    footnote: str


def _slug(label: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", label).strip("-").lower() or "all"


def _values(runs: list[RunRecord], key: str) -> list[str]:
    return sorted({r.params.get(key, "") for r in runs}, key=lambda v: (len(v), v))


def _tracker_runs(runs: list[RunRecord]) -> bool:
    """Runs tracker trained (with their config, model summary and final evaluation)."""
    return all(names.KIND in r.tags for r in runs)


def setup_blocks(runs: list[RunRecord], by: list[str], seed: str = SEED) -> list:
    """What was compared, what varied within a condition, and what was held fixed: tracker's
    config, or for runs tracker did not make every param they logged."""
    out = [("h2", "What was compared")]
    out.append(("list", [f"`{k}`: {', '.join(_values(runs, k))}" for k in by]))
    seeds = [s for s in _values(runs, seed) if s]
    out.append(("p", f"Each condition was repeated over {seed} {', '.join(seeds)}; the table gives n per "
                     "condition and the spread across seeds." if seeds else
                     f"The runs name no `{seed}`: each run is one replicate of its condition."))
    keys = FIELDS if _tracker_runs(runs) else sorted({k for r in runs for k in r.params})
    config = [k for k in keys if k not in by and k not in NOT_COMPARED and k != seed]
    pooled = [k for k in config if len(_values(runs, k)) > 1]
    if pooled:
        out.append(("p", "Also varied, pooled within a condition: " + "; ".join(
            f"`{k}` {', '.join(_values(runs, k))}" for k in pooled) + "."))
    fixed = [(k, runs[0].params.get(k, "") or "none") for k in config if k not in pooled]
    out.append(("p", "Held fixed (the rest of the config, equal in every run): "
                + ", ".join(f"{k} `{v}`" for k, v in fixed) + "."))
    env = [(k, v) for k in names.ENVIRONMENT if len(vals := _values(runs, k)) == 1 and (v := vals[0])]
    if env:
        out.append(("p", "Environment: " + ", ".join(f"{k} `{v}`" for k, v in env) + "."))
    return out


def data_blocks(runs: list[RunRecord]) -> list:
    """The data every run read: each split's name, size, sha256 of its files and where it was."""
    from ..tracking import inputs

    seen: dict[tuple, dict] = {}
    for r in runs:
        for d in inputs.of_run(r.run_id):
            seen.setdefault((d["context"], d["name"], d["digest"]), {**d, "runs": 0})["runs"] += 1
    out = [("h2", "Data")]
    if not seen:
        named = [v for v in _values(runs, "dataset") if v]
        out.append(("p", (f"Dataset {', '.join(named)}: these" if named else "These") + " runs logged no "
                         "dataset inputs (MLflow's `log_input`), so the files they read are not known."))
        return out
    rows = [{"split": d["context"], "dataset": d["name"], "images": f"{d['profile'].get('images', 0):,}",
             "sha256 of its files": d["profile"].get("sha256", d["digest"]),
             "files": ", ".join(d["profile"].get("files", [])), "runs": d["runs"]}
            for d in sorted(seen.values(), key=lambda d: (d["context"] != "train", d["name"]))]
    out.append(("table", pd.DataFrame(rows)))
    shown = sorted({_shareable(d["source"]) for d in seen.values()})
    where = (f"Read from {', '.join(f'`{p}`' for p in shown if p)}. " if any(shown) else
             "Read from a folder outside the project; the files are named by dataset, name and sha256 above. ")
    out.append(("p", where + ("Every run read the same files." if len(seen) == 2 else
                              "The runs did not all read the same files (see the runs column).")))
    return out


PROJECT = Path(__file__).resolve().parents[2]  # the checkout: paths inside it are shareable


def _shareable(source: str) -> str:
    """A dataset's folder as a write-up meant to be shared may name it: relative to the project
    when inside it, else nothing (no machine's absolute paths)."""
    try:
        return str(Path(source).resolve().relative_to(PROJECT))
    except ValueError:
        return ""


def _per_class(matrix: list[list[int]], classes: list[str]) -> str:
    accs = [row[i] / max(1, sum(row)) for i, row in enumerate(matrix)]
    return ", ".join(f"{c} {a:.1%}" for c, a in zip(classes, accs))


def condition_blocks(groups: dict[str, list[RunRecord]], out_dir: Path, scratch: Path,
                     judged: Judged) -> tuple[list, list]:
    """Per condition: its model (from its best run), and that run's errors; two sections."""
    models, errors = [("h2", "Models")], [("h2", "Errors of each condition's best run")]
    errors.append(("p", "From each run's final evaluation on the test split: the confusion matrix "
                        "(rows true, columns predicted) and the first misclassified images."))
    for label, runs in groups.items():
        (best,) = best_runs(runs, judged, [])  # by the judged metric
        files = _fetch(best.run_id, scratch / best.run_id)
        rf = best.params.get(names.RECEPTIVE_FIELD, "?")
        total = best.params.get(names.PARAMS_TOTAL, "?")
        models.append(("h3", label))
        models.append(("p", f"{int(total):,} parameters, receptive field {rf} (run `{best.name}`)."
                            if total.isdigit() else f"receptive field {rf} (run `{best.name}`)."))
        if names.SUMMARY in files:
            models.append(("pre", files[names.SUMMARY].read_text().rstrip()))
        acc = best.metrics.get(names.TEST_ACC, float("nan"))
        errors.append(("h3", f"{label}: run `{best.name}`, final test accuracy {acc:.2%}"))
        if names.CONFUSION_JSON not in files or names.CONFUSION_PNG not in files:
            errors.append(("p", f"Run `{best.name}` ({best.run_id}) logged no confusion matrix."))
            continue
        cm = json.loads(files[names.CONFUSION_JSON].read_text())
        errors.append(("p", "Per-class accuracy: " + _per_class(cm["matrix"], cm["classes"]) + "."))
        errors.append(("img", _keep(files[names.CONFUSION_PNG], out_dir, f"{_slug(label)}-confusion.png"),
                       f"confusion matrix, {label}"))
        if names.MISCLASSIFIED_PNG in files:
            wrong = json.loads(files[names.MISCLASSIFIED_JSON].read_text()) \
                if names.MISCLASSIFIED_JSON in files else {}
            if wrong:
                errors.append(("p", f"{wrong['misclassified']:,} of {wrong['n']:,} test images "
                                    f"misclassified; the first {len(wrong['indices'])} "
                                    f"(test indices {', '.join(map(str, wrong['indices']))}):"))
            errors.append(("img", _keep(files[names.MISCLASSIFIED_PNG], out_dir,
                                        f"{_slug(label)}-misclassified.png"),
                           f"misclassified test images, {label}, predicted and true labels"))
    return models, errors


def _fetch(run_id: str, dest: Path) -> dict[str, Path]:
    from ..tracking import artifacts

    return artifacts.fetch(run_id, OUTCOME_FILES, dest)


def _keep(src: Path, out_dir: Path, name: str) -> str:
    shutil.copyfile(src, out_dir / name)
    return name


def leftout_blocks(frame: pd.DataFrame, reason: pd.Series, footnote: str) -> list:
    out = [("h2", "Runs left out")]
    if not footnote:
        out.append(("p", f"None: all {len(frame)} runs FINISHED with the judged metric, one per seed."))
        return out
    out.append(("p", footnote[0].upper() + footnote[1:] + "."))
    left = frame[reason != ""]
    out.append(("list", [f"`{rid}`: {why}" for rid, why in zip(left["_run_id"], reason[reason != ""])]))
    return out


def curve_blocks(comparison, out_dir: Path) -> list:
    """The judged metric per step, per condition: test accuracy and loss for tracker's runs, or
    the metric judged when the runs logged it at several steps (none otherwise)."""
    counted, judged = comparison.counted, comparison.judged
    figure = compare.condition_curves(counted, comparison.level)
    if figure is None:
        return []
    figure.savefig(out_dir / "curves.png", dpi=100)
    what = "Test accuracy and loss" if judged.percent else f"`{judged.metric}`"
    return [("h2", "Curves"), ("p", f"{what} per step: the mean across seeds and its "
                                    f"{level_label(comparison.level)} interval."),
            ("img", "curves.png", f"{what} per step, per condition")]


def build(experiment: str | None, sweep: str | None, by: tuple[str, ...], out_dir: Path,
          options: dict | None = None, seed_param: str = SEED) -> tuple[list, str]:
    """The report's blocks (its PNGs written into out_dir) and compare's footnote: the findings,
    the table and the curves first; then what was compared, the data, the models, the errors."""
    comparison = compare.compare(experiment, sweep, by=by, options=options, seed_param=seed_param)
    counted, rows = comparison.counted, comparison.rows
    keys = counted.by
    labels = [condition_label(keys, [r[k] for k in keys]) for r in rows.to_dict("records")]
    groups = counted.groups()
    groups = {lab: groups[lab] for lab in labels}  # the table's order: best first
    runs = [r for lab in labels for r in groups[lab]]
    footnote = counted.footnote()
    sweep_name = runs[0].tags.get(names.SWEEP) if sweep else None
    experiment = comparison.experiment
    title = f"{experiment}: " + " vs ".join(labels)
    source = f"sweep `{sweep_name}` (parent run `{sweep}`)" if sweep else f"experiment `{experiment}`"
    regen = f"tracker report {'--sweep ' + sweep if sweep else '--experiment ' + experiment} --output DIR"
    blocks = [("h1", title),
              ("p", f"Generated by `tracker report` from the {len(counted.runs)} runs of {source}; "
                    f"nothing here was typed by hand. Regenerate with `{regen}`.")]
    blocks += findings.blocks(comparison)
    blocks += [("h2", "Results"), ("table", cells(comparison)), ("list", notes(comparison))]
    blocks += curve_blocks(comparison, out_dir)
    blocks += tuning.blocks(comparison, sweep, out_dir)
    blocks += setup_blocks(runs, keys, counted.seed)
    blocks += data_blocks(runs)
    if _tracker_runs(runs):  # their models and final evaluations
        with tempfile.TemporaryDirectory() as scratch:
            models, errors = condition_blocks(groups, out_dir, Path(scratch), counted.judged)
        blocks += models + errors
    blocks += leftout_blocks(counted.frame, counted.reason, footnote)
    return blocks, footnote


def report(experiment: str | None, sweep: str | None, output: str, by: tuple[str, ...] = (),
           options: dict | None = None, seed_param: str = SEED) -> Written:
    """The whole `tracker report`: DIR/README.md with its PNGs, DIR/report.html (self-contained),
    and with a sweep, a copy as artifacts of its parent run (under report/)."""
    out_dir = Path(output)  # checked by the CLI's option (cli/options.output_folder)
    out_dir.mkdir(parents=True, exist_ok=True)
    blocks, footnote = build(experiment, sweep, by, out_dir, options, seed_param)
    readme, html = out_dir / "README.md", out_dir / "report.html"
    readme.write_text(render.markdown(blocks))
    html.write_text(render.html(blocks, out_dir))
    logged = None
    if sweep:
        from ..tracking import artifacts

        images = [b[1] for b in blocks if b[0] == "img"]
        logged = artifacts.log_files(sweep, [readme, html, *(out_dir / i for i in images)], names.REPORT_DIR)
    return Written(readme, html, logged, footnote)
