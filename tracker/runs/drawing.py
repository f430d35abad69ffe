"""A run's figures drawn where they do not hold the run up: in a process of its own (python
running this module: it imports matplotlib and not torch), while the run exports its model.
Each figure is a plots function, its arguments (plain numbers and numpy arrays) and the PNG file
it becomes; they reach the process pickled on its stdin, the PNG paths come back on its stdout.

    tracker train experiments/mnist-demo.toml --data-dir ../shared/datasets
"""
from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

Figure = tuple[str, str, tuple]  # (plots function, PNG path, its arguments)


def draw(figures: list[Figure]) -> list[str]:
    """Every figure saved as its PNG; returns the paths."""
    from ..results import plots

    for kind, path, args in figures:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        getattr(plots, kind)(*args).savefig(path, dpi=100)
    return [path for _, path, _ in figures]


class Drawing:
    """Figures being drawn by a child process; `paths()` waits for them. A plain subprocess, not
    multiprocessing: no resource tracker outlives the run's process."""

    def __init__(self, figures: list[Figure]):
        self.proc = subprocess.Popen([sys.executable, "-m", __name__], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self.proc.stdin.write(pickle.dumps(figures))  # a few kB: fits the pipe, no deadlock
        self.proc.stdin.close()
        self.proc.stdin = None  # written and closed: communicate() leaves it alone

    def paths(self) -> list[str]:
        out, err = self.proc.communicate()
        if self.proc.returncode != 0:
            raise RuntimeError(f"drawing the run's figures failed: {err.decode(errors='replace')[-300:]}")
        return json.loads(out)

    def cancel(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
        self.proc.wait()


if __name__ == "__main__":
    print(json.dumps(draw(pickle.load(sys.stdin.buffer))))
