"""benchmarks/gpu_check.sh, the check the first machine with a GPU runs: its dry run on a machine
with no .venv, a failed step named and the exit code non-zero (a fake interpreter plays the
steps), and its pipeline step on the meta device (no GPU here: the model and every batch must
live on the device timed, or the first step fails as it would on CUDA)."""
import importlib.util
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import torch

from tracker.ml.data import Split

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu_check.sh"
STEPS = ("tests", "pipeline, channels_last off", "pipeline, channels_last on", "memory")
ROW = re.compile(r"^\| (mnist-fast, MNIST-shaped|s8, CIFAR-shaped) \| (batch|layer|group) \|(.*)\|$")


def steps(out: str) -> dict[str, str]:
    """The steps' table: each step's result."""
    rows = [line.split(" | ") for line in out.splitlines() if line.startswith("| ") and line.count(" | ") == 2]
    return {row[0][2:]: row[2][:-2] for row in rows if row[0][2:] in STEPS}


def _split(n: int, shape: tuple[int, ...]) -> Split:
    gen = torch.Generator().manual_seed(0)
    return Split(torch.randint(0, 256, (n, *shape), dtype=torch.uint8, generator=gen),
                 torch.randint(0, 10, (n,), generator=gen))


@pytest.fixture
def meta_pipeline(monkeypatch):
    """benchmarks/pipeline.py timing the meta device, as gpu_check.sh runs it (--mnist-arch mnist-fast)."""
    spec = importlib.util.spec_from_file_location("pipeline", ROOT / "benchmarks" / "pipeline.py")
    pipeline = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(pipeline)
    monkeypatch.setattr(pipeline, "DEVICE", torch.device("meta"))
    monkeypatch.setitem(pipeline.ARCH, "mnist", "mnist-fast")
    real = torch.Tensor.item
    monkeypatch.setattr(torch.Tensor, "item", lambda self: 0.0 if self.is_meta else real(self))  # no values
    return pipeline


def overhead_lines(pipeline, capsys) -> str:
    """pipeline.py --only overhead's lines for both datasets, on its device."""
    for dataset, shape in (("mnist", (1, 28, 28)), ("cifar10", (3, 32, 32))):
        split = _split(300, shape)
        pipeline.overhead(split, Split(split.images[:50], split.labels[:50]), dataset, 1)
    return capsys.readouterr().out


def test_the_pipeline_trains_on_the_device_it_times(meta_pipeline, capsys):
    lines = overhead_lines(meta_pipeline, capsys).splitlines()
    assert [line.split(":")[0].split() for line in lines] == [
        [d, n] for d in ("mnist", "cifar10") for n in ("batch", "layer", "group")]
    assert all(re.search(r"tracker picks channels_last (on|off)\)$", line) for line in lines)
    split = _split(300, (1, 28, 28))  # the other sections too: layout and bf16, the seed loop
    meta_pipeline.pairs(split, "mnist", 1, (False, "fp32"), (True, "fp32"), "channels_last")
    meta_pipeline.seed_loop(_split(200, (3, 32, 32)), 1)
    out = capsys.readouterr().out
    assert out.count("as fast") == 3 and out.count("tracker is") == 4


def fake_python(folder: Path, pipeline: str = "", failing: tuple[str, ...] = (), cuda: bool = True,
                xdist: bool = True) -> Path:
    """An interpreter that plays gpu_check.sh's steps: pytest, pipeline.py (printing `pipeline`),
    gpu_memory.py; those named in `failing` exit 3."""
    (folder / "pipeline.txt").write_text(pipeline)
    rc = {step: 3 if step in failing else 0 for step in ("tests", "pipeline", "memory")}
    fake = folder / "python"
    fake.write_text(f"""#!/bin/sh
case "$*" in
  *cuda.is_available*) exit {0 if cuda else 1} ;;
  *"import xdist"*) exit {0 if xdist else 1} ;;
  *"-m pytest"*) echo "{'2 failed, ' if rc['tests'] else ''}40 passed in 9.0s"; exit {rc['tests']} ;;
  *pipeline.py*) cat "{folder / 'pipeline.txt'}"; exit {rc['pipeline']} ;;
  *gpu_memory.py*) echo "memory outside torch's allocator loaded by the first steps: 612 MiB"; exit {rc['memory']} ;;
esac
""")
    fake.chmod(0o755)
    return fake


def check(*args: str, cwd: Path, script: Path = SCRIPT, env: dict | None = None):
    """gpu_check.sh run from `cwd`, its outputs there too."""
    return subprocess.run(["bash", str(script), *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={**os.environ, "TMPDIR": str(cwd), **(env or {})})


def test_the_dry_run_prints_the_plan_and_an_empty_table_with_no_venv(tmp_path):
    clone = tmp_path / "clone"  # a fresh clone: the script and nothing set up beside it
    (clone / "benchmarks").mkdir(parents=True)
    shutil.copy(SCRIPT, clone / "benchmarks" / "gpu_check.sh")
    for quick in ((), ("--quick",)):
        done = check("--dry-run", *quick, cwd=tmp_path, script=clone / "benchmarks" / "gpu_check.sh",
                     env={"PATH": "/usr/bin:/bin"})
        assert (done.returncode, done.stderr) == (0, "")
        out = done.stdout
        assert "note: no .venv/bin/python here" in out
        assert [line.split(":")[0][3:] for line in out.splitlines() if line.startswith("== ")] == list(STEPS)
        rows = [ROW.match(line) for line in out.splitlines() if ROW.match(line)]
        assert len(rows) == 6 and all(set(r[3].replace("|", "").split()) == {"·"} for r in rows)
        assert "memory: · (not run)" in out and "tests: · (not run)" in out
        assert steps(out) == dict.fromkeys(STEPS, "· (not run)")
    assert "-m not\\ server\\ and\\ not\\ slow" in out and "--images 5000 --rounds 1" in out  # --quick
    assert "pytest -q -p no:cacheprovider -n 4 --dist loadfile -m" in out  # four test files at once
    missing = check(cwd=tmp_path, script=clone / "benchmarks" / "gpu_check.sh", env={"PATH": "/usr/bin:/bin"})
    assert missing.returncode == 2 and missing.stderr.startswith("error: no Python environment at .venv/bin/python")
    assert "no CUDA GPU" not in missing.stderr  # a missing set-up is not a missing GPU


def test_a_failed_step_fails_the_check_and_is_named(meta_pipeline, capsys, tmp_path):
    lines = overhead_lines(meta_pipeline, capsys)  # the real pipeline's lines, on the meta device
    passed = check("--python", str(fake_python(tmp_path, lines, xdist=False)), "--quick", cwd=tmp_path)
    assert "has no pytest-xdist (the README's set-up installs it): the tests run one at a time" in passed.stdout
    assert " -n " not in passed.stdout.split("== tests: ")[1].splitlines()[0]
    assert passed.returncode == 0 and "every step passed" in passed.stdout and "FAILED" not in passed.stdout
    assert steps(passed.stdout) == dict.fromkeys(STEPS, "passed")
    rows = {(r[1], r[2]): r[3].split("|") for line in passed.stdout.splitlines() if (r := ROW.match(line))}
    assert len(rows) == 6 and all("·" not in cell for row in rows.values() for cell in row)  # every cell filled
    pure = re.search(r"mnist +group: pure +([\d.]+) s", lines)[1]
    assert rows[("mnist-fast, MNIST-shaped", "group")][0].strip() == pure
    assert "tests: 40 passed in 9.0s" in passed.stdout and "612 MiB" in passed.stdout

    failed = check("--python", str(fake_python(tmp_path, lines, failing=("tests", "memory"))), cwd=tmp_path)
    assert failed.returncode == 1 and "a step FAILED: see the steps' table" in failed.stdout
    assert " -n 4 --dist loadfile " in failed.stdout.split("== tests: ")[1].splitlines()[0]
    results = steps(failed.stdout)
    assert [name for name, result in results.items() if result.startswith("FAILED (exit 3; output in ")] == [
        "tests", "memory"]
    assert results["pipeline, channels_last off"] == results["pipeline, channels_last on"] == "passed"
    assert "tests: 2 failed, 40 passed" in failed.stdout
    assert len([line for line in failed.stdout.splitlines() if ROW.match(line) and "·" not in line]) == 6  # still filled

    no_gpu = check("--python", str(fake_python(tmp_path, lines, cuda=False)), cwd=tmp_path)
    assert no_gpu.returncode == 2 and "error: no CUDA GPU on this machine" in no_gpu.stderr
