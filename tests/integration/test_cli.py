"""The CLI surface: fast --help, summary without data."""
import subprocess
import sys

from tests.helpers import cli


def test_help_imports_neither_torch_nor_mlflow():
    code = ("import sys; from tracker.cli import main\n"
            "try: main(['--help'])\nexcept SystemExit: pass\n"
            "print(sorted(m for m in ('torch', 'mlflow', 'torchvision') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"
    for cmd in ("train", "summary", "compare", "demo"):
        assert cli(cmd, "--help").exit_code == 0


def test_version_names_tracker_and_what_it_runs_on_without_importing_them():
    from importlib.metadata import version

    code = ("import sys; from tracker.cli import main\n"
            "try: main(['--version'])\nexcept SystemExit: pass\n"
            "print(sorted(m for m in ('torch', 'mlflow', 'pandas') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    line, imported = out.stdout.strip().splitlines()
    assert line == (f"tracker {version('tracker')} (mlflow {version('mlflow')}, torch {version('torch')}, "
                    f"python {sys.version.split()[0]})")
    assert imported == "[]"
    assert cli("--version").stdout == line + "\n"


def test_summary_needs_no_data():
    result = cli("summary", "--set", "arch=s8", "--set", "dataset=cifar10", "--set", "norm=group",
                 "--set", "data_dir=/nonexistent")
    assert result.exit_code == 0
    assert "48,178 params" in result.output and "receptive field 72" in result.output
    assert "GroupNorm" in result.output
