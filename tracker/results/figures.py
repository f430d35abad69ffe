"""A run's figures drawn where they do not hold the run up: in a process of its own (spawned,
so it imports matplotlib and not torch), while the run exports its model. Each figure is a
plots function, its arguments (plain numbers and numpy arrays) and the PNG file it becomes.

    tracker train experiments/mnist-demo.toml --data-dir ../shared/datasets
"""
from __future__ import annotations

from concurrent.futures import Future, ProcessPoolExecutor
from pathlib import Path

Figure = tuple[str, str, tuple]  # (plots function, PNG path, its arguments)


def draw(figures: list[Figure]) -> list[str]:
    """Every figure saved as its PNG; returns the paths (runs in the drawing process)."""
    from . import plots

    for kind, path, args in figures:
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        getattr(plots, kind)(*args).savefig(path, dpi=100)
    return [path for _, path, _ in figures]


class Drawing:
    """Figures being drawn in a spawned process; `paths()` waits for them."""

    def __init__(self, figures: list[Figure]):
        import multiprocessing as mp

        self.pool = ProcessPoolExecutor(1, mp_context=mp.get_context("spawn"))
        self.future: Future = self.pool.submit(draw, figures)

    def paths(self) -> list[str]:
        try:
            return self.future.result()
        finally:
            self.pool.shutdown()

    def cancel(self) -> None:
        self.future.cancel()
        self.pool.shutdown(wait=False, cancel_futures=True)
