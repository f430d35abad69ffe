"""tracker report: a small real sweep on a real-MNIST subset written as IDX files, then its
report, checked against the runs; and the report of hand-made runs, and its bad input."""
import hashlib
import json
import math
import re
import shutil
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from scipy import stats

from tests.helpers import BEST, REAL_MNIST, all_runs, cli, log_run, store_client
from tracker.testkit.browser import page
from tracker.testkit.fakedata import real_subset

ROOT = Path(__file__).resolve().parents[2]
ARTIFACTS = ROOT / "test-artifacts"
HEADINGS = ["Findings", "Results", "Curves", "What was compared", "Data", "Models",
            "Errors of each condition's best run", "Runs left out"]

SWEEP = """
dataset = "mnist"
arch = "mnist-small"
epochs = 2  # curves need two steps
batch_size = 64
dropout = 0.0
download = false
experiment = "reported"
data_dir = "{data}"

[grid]
norm = ["batch", "group"]
seed = [1, 2]
"""


def write_real_subset(root: Path, n_train: int = 2000, n_test: int = 500) -> Path:
    return real_subset(REAL_MNIST, root, n_train, n_test)


def chromium_screenshot(page_file: Path, shot: Path, tmp_path: Path) -> str:
    """Render the page headless; returns its DOM after scripts (none here) ran."""
    return page(page_file.resolve().as_uri(), tmp_path / "chrome", shot, size="1200,2000")


def markdown_table(text: str, after: str) -> list[dict]:
    lines = text.split(f"## {after}\n", 1)[1].split("\n## ", 1)[0].splitlines()
    rows = [line for line in lines if line.startswith("|")]
    header = [c.strip() for c in rows[0].strip("|").split(" | ")]
    return [dict(zip(header, (c.strip() for c in r.strip("|").split(" | ")))) for r in rows[2:]]


def assert_self_contained(html: str) -> None:
    refs = re.findall(r"""(?:src|href|action|poster|srcset)\s*=\s*["']?([^"'\s>]+)""", html, re.I)
    assert refs and all(r.startswith("data:image/png;base64,") for r in refs), refs[:3]
    assert not re.search(r"https?:|file:|url\(|@import|<script|<link|<iframe", html, re.I)


@pytest.mark.slow
@pytest.mark.skipif(not (REAL_MNIST / "MNIST" / "raw").is_dir(), reason="real MNIST not present")
@pytest.mark.skipif(not shutil.which("chromium"), reason="chromium is installed by .ci/run")
def test_report_of_a_real_sweep(tmp_path):
    data = write_real_subset(tmp_path / "data")
    sweep_file = tmp_path / "norms.toml"
    sweep_file.write_text(SWEEP.format(data=data))
    swept = cli("sweep", str(sweep_file))
    assert swept.exit_code == 0 and "4 finished" in swept.output, swept.output
    runs = all_runs()
    (parent,) = [r for r in runs if r.data.tags.get("tracker.kind") == "sweep"]
    children = [r for r in runs if r.data.tags.get("tracker.kind") == "train"]
    c = store_client()

    # what each run logged for the report: dataset inputs and its final evaluation's outcomes
    raw = data / "MNIST" / "raw"
    sha = {ctx: hashlib.sha256(b"".join(f.name.encode() + b"\0" + f.read_bytes() for f in files)).hexdigest()
           for ctx, files in (("train", [raw / "train-images-idx3-ubyte", raw / "train-labels-idx1-ubyte"]),
                              ("test", [raw / "t10k-images-idx3-ubyte", raw / "t10k-labels-idx1-ubyte"]))}
    for child in children:
        full = c.get_run(child.info.run_id)
        inputs = {i.tags[0].value: i.dataset for i in full.inputs.dataset_inputs}
        assert set(inputs) == {"train", "test"}
        for ctx, n in (("train", 2000), ("test", 500)):
            assert inputs[ctx].name == "mnist" and inputs[ctx].digest == sha[ctx][:16]
            profile = json.loads(inputs[ctx].profile)
            assert profile["images"] == n and profile["sha256"] == sha[ctx]
        dest = tmp_path / "dl" / child.info.run_id
        matrix = np.array(json.loads(Path(c.download_artifacts(
            child.info.run_id, "confusion_matrix.json", str(dest))).read_text())["matrix"])
        assert matrix.sum() == 500
        assert np.trace(matrix) / 500 == pytest.approx(full.data.metrics["test_acc"], abs=1e-12)
        for k in range(10):
            assert full.data.metrics[f"test_acc_class_{k}"] == pytest.approx(matrix[k, k] / matrix[k].sum())
        wrong = json.loads(Path(c.download_artifacts(child.info.run_id, "misclassified.json", str(dest))).read_text())
        assert wrong["misclassified"] == 500 - np.trace(matrix) and len(wrong["indices"]) == min(20, wrong["misclassified"])
        labels = np.frombuffer((raw / "t10k-labels-idx1-ubyte").read_bytes()[8:], dtype=np.uint8)
        assert wrong["true"] == [int(labels[i]) for i in wrong["indices"]]
        assert all(p != t for p, t in zip(wrong["predicted"], wrong["true"]))

    out = tmp_path / "report"
    result = cli("report", "--sweep", parent.info.run_id, "--output", str(out))
    assert result.exit_code == 0, result.output
    readme = (out / "README.md").read_text()
    assert [h for h in re.findall(r"^## (.+)$", readme, re.M)] == HEADINGS  # the answer first
    assert "`norm`: batch, group" in readme and "repeated over seed 1, 2" in readme
    assert "batch_size `64`" in readme and "epochs `2`" in readme  # held fixed
    assert sha["train"] in readme and sha["test"] in readme and "| train | mnist | 2,000 |" in readme
    assert readme.count("Total params: 14,864") == 2 and "receptive field 32" in readme

    # the results table against the runs
    rows = {r["norm"]: r for r in markdown_table(readme, "Results")}
    assert set(rows) == {"batch", "group"}
    for norm, row in rows.items():  # judged on the final accuracy; the best epoch's for reference
        runs = [r for r in children if r.data.params["norm"] == norm]
        for key, title in (("test_acc", "test final %"), ("test_acc_best", "test best % (picked on test)")):
            v = np.array([r.data.metrics[key] for r in runs])
            assert row[title] == f"{v.mean() * 100:.2f} ± {v.std(ddof=1) * 100:.2f}"
        assert row["n"] == "2"
    first, second = sorted(rows.values(), key=lambda r: r["verdict"] != "baseline")
    assert first["norm"] == "batch" and first["Δ vs baseline (CI decided on), pp"] == "baseline"  # the grid's first
    # the verdict from the runs by hand: Welch's test at alpha 0.05 (no margin), spreads at least one test image
    # of the 10,000 the runs' config names
    final = {n: np.array([r.data.metrics["test_acc"] for r in children if r.data.params["norm"] == n]) for n in rows}
    a, b = final["group"], final["batch"]
    va, vb = (max(v.var(ddof=1), 1e-8) / len(v) for v in (a, b))
    t = (a.mean() - b.mean()) / math.sqrt(va + vb)
    p = 2 * stats.t.sf(abs(t), (va + vb) ** 2 / (va ** 2 / (len(a) - 1) + vb ** 2 / (len(b) - 1)))
    assert second["verdict"] == (("better" if t > 0 else "worse") if p < 0.05 else "undecided")
    findings = readme.split("## Findings\n", 1)[1].split("## Results", 1)[0]
    assert "Judged on the final test accuracy" in findings and "picked on the test set" in findings
    assert f"norm={second['norm']}**" in findings  # a sentence about the one comparison

    # every image link resolves to a valid PNG beside README.md
    links = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme)
    assert len(links) == 5  # curves, and a confusion matrix and a gallery per condition
    for link in links:
        with Image.open(out / link) as im:
            im.verify()
            assert im.format == "PNG"
    with Image.open(out / "norm-batch-misclassified.png") as im:
        assert im.size[0] >= 500

    html = (out / "report.html").read_text()
    assert_self_contained(html)
    assert html.count("data:image/png;base64,") == 5 and "<td>batch</td>" in html
    ARTIFACTS.mkdir(exist_ok=True)
    dom = chromium_screenshot(out / "report.html", ARTIFACTS / "report.png", tmp_path)
    assert "Errors of each condition" in dom and sha["test"] in dom
    with Image.open(ARTIFACTS / "report.png") as im:
        assert im.size == (1200, 2000) and sum(1 for v in im.convert("L").histogram() if v) > 50  # not blank

    # a copy next to the runs, in the sweep's parent run
    logged = {a.path for a in c.list_artifacts(parent.info.run_id, "report")}
    assert {"report/README.md", "report/report.html", "report/curves.png",
            "report/norm-group-confusion.png"} <= logged


def test_report_of_hand_made_runs_says_what_is_missing(tmp_path):
    c = store_client()
    exp = c.create_experiment("hand")
    for norm, values in BEST.items():
        for seed, best in enumerate(values, 1):
            log_run(c, exp, norm, seed, best)
    killed = log_run(c, exp, "layer", 9, 0.2, status="KILLED")
    out = tmp_path / "r"
    result = cli("report", "--experiment", "hand", "--by", "norm", "--output", str(out))
    assert result.exit_code == 0, result.output
    assert "left out 1 run(s)" in result.stderr
    readme = (out / "README.md").read_text()
    rows = markdown_table(readme, "Results")
    assert [(r["norm"], r["n"]) for r in rows] == [("batch", "3"), ("layer", "3"), ("group", "1")]
    assert rows[0]["test final %"] == "98.57 ± 0.25" and rows[2]["test final %"] == "95.80"  # n = 1
    d = (np.mean(BEST["layer"]) - np.mean(BEST["batch"])) * 100
    assert rows[1]["Δ vs baseline (CI decided on), pp"].startswith(f"{d:+.2f} (")
    assert rows[2]["Δ vs baseline (CI decided on), pp"] == f"{(0.960 - np.mean(BEST['batch'])) * 100:+.2f}"
    assert "**norm=layer** is worse than **norm=batch**" in readme
    assert "**norm=group** has one counted run: it has no spread and no test" in readme
    assert "logged no dataset inputs" in readme and readme.count("logged no confusion matrix") == 3
    assert f"`{killed}`: status KILLED" in readme and "Left out 1 run(s)" in readme
    assert re.findall(r"!\[[^\]]*\]\(([^)]+)\)", readme) == ["curves.png"]
    assert_self_contained((out / "report.html").read_text())
    assert not math.isnan(float(rows[0]["test final %"].split(" ± ")[0]))


def test_report_bad_input_is_one_line(tmp_path):
    assert cli("report", "--output", str(tmp_path / "r")).exit_code == 2
    result = cli("report", "--experiment", "nope", "--output", str(tmp_path / "r"))
    assert result.exit_code == 2 and "'nope' not found" in result.stderr and result.stderr.count("\n") == 1
    (tmp_path / "file").write_text("x")
    result = cli("report", "--experiment", "nope", "--output", str(tmp_path / "file"))
    assert result.exit_code == 2 and "is a file" in result.stderr  # click's own check
