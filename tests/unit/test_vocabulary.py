"""Each fact of the analysis has one spelling. A metric's, a recorded param's or a tag's name, a
judged metric's key, column or title written as a string anywhere in tracker/ but where it is
defined (names.py, study.py) is a second definition waiting to disagree; so is a second table of
the keys that say where a run executes (config.PLACEMENT and NAMING)."""
from __future__ import annotations

import ast
from pathlib import Path

from tracker import config, names, study

PACKAGE = Path(__file__).resolve().parents[2] / "tracker"

METRICS = {*names.EPOCH_METRICS, *names.VAL_METRICS, *names.RUNNING_METRICS, names.TEST_ACC_AT_BEST_VAL,
           names.VAL_ACC_BEST, names.PEAK_RSS, names.PEAK_GPU}
TAGS = {v for k, v in vars(names).items() if isinstance(v, str) and k.isupper() and v.startswith(("tracker.", "mlflow."))}
DEFINED = {
    "names.py": METRICS | set(names.RECORDED) | TAGS,
    "study.py": {x for j in study.REFERENCE for x in (j.key, j.column, j.title)},
}
WHERE = set(config.PLACEMENT) | set(config.NAMING)
# the same text meaning another fact: torch's own key of an optimizer's param group, and the
# config key lr that another tool's name for it points to
NOT_OURS = {("runs/epochs.py", "lr"), ("config.py", "lr")}


def _docstrings(tree: ast.AST) -> set[int]:
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                out.add(id(first.value))
    return out


def second_spellings(sources: dict[str, str]) -> list[str]:
    """'file:line value' for each string literal that spells a fact defined elsewhere, and each
    tuple or list of two or more placement keys outside config.py."""
    facts = {v: home for home, values in reversed(DEFINED.items()) for v in values}  # names.py first
    out = []
    for rel, text in sources.items():
        tree = ast.parse(text)
        skip = _docstrings(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in skip:
                home = facts.get(node.value)
                if home is not None and Path(rel).name != home and (rel, node.value) not in NOT_OURS:
                    out.append(f"{rel}:{node.lineno} {node.value!r}")
            if isinstance(node, (ast.Tuple, ast.List)) and Path(rel).name != "config.py":
                keys = [e.value for e in node.elts if isinstance(e, ast.Constant) and e.value in WHERE]
                if len(keys) >= 2:
                    out.append(f"{rel}:{node.lineno} a table of placement keys {keys}")
    return out


def test_no_second_spelling_of_a_metric_param_column_or_placement_key():
    sources = {str(p.relative_to(PACKAGE)): p.read_text() for p in PACKAGE.rglob("*.py")}
    assert second_spellings(sources) == []


def test_the_check_finds_a_second_spelling():
    found = second_spellings({
        "ml/train.py": '"""train_loss in a docstring is prose"""\nout = {"train_loss": 1.0}\n',
        "results/cells.py": 'TITLE = "test final %"\n',
        "runs/resume.py": 'RELOCATABLE = ("data_dir", "download", "device")\n',
        "names.py": 'TRAIN_LOSS = "train_loss"\n',
    })
    assert found == ["ml/train.py:2 'train_loss'", "results/cells.py:1 'test final %'",
                     "runs/resume.py:1 a table of placement keys ['data_dir', 'download', 'device']"]
